/*
 * The backing directory of a file-backed mount: scanning it at mount time,
 * and mirroring every change of names and metadata onto it. See backing.h
 * for the boundary rules.
 */
#include "backing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#define SCAN_DEPTH_MAX 256

static int file_open_flags(struct registry *r)
{
	return (r->cfg.read_only ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC |
	       O_NOCTTY;
}

int backing_wrap_store(struct registry *r, struct store **s)
{
	if (!r->cfg.fault_write && !r->cfg.fault_resize)
		return 0;
	struct store *w;
	int res = store_faulty_wrap(*s, r->cfg.fault_write, r->cfg.fault_resize,
				    -EIO, &w);
	if (res < 0)
		return res;
	*s = w;
	return 0;
}

/* Own fd as n's store (locking it), or fail and close it. */
static int adopt(struct registry *r, int fd, struct store **out)
{
	struct store *s;
	int res = store_file_adopt(fd, &s);
	if (res < 0) {
		close(fd);
		return res;
	}
	fd = -1; /* now owned by the store */
	res = backing_wrap_store(r, &s);
	if (res < 0) {
		store_destroy(s);
		return res;
	}
	*out = s;
	return 0;
}

/*
 * Open a backing file as it is now: something else may have been put
 * under its name behind our back. Never block on a fifo, never adopt
 * anything but a regular file.
 */
static int open_regular(struct registry *r, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, file_open_flags(r) | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int res = fstat(fd, &st) < 0 ? -errno : 0;
	if (res == 0 && !S_ISREG(st.st_mode))
		res = -EBUSY;
	if (res == 0 && fcntl(fd, F_SETFL, 0) < 0)
		res = -errno;
	if (res < 0) {
		close(fd);
		if (res == -EBUSY)
			reg_log(r, LOG_WARNING,
				"backing file %s is no longer a regular file: "
				"refused",
				name);
		return res;
	}
	return fd;
}

/* Make s's file exclusive for exactly as long as it is locked; if that
 * cannot be, close s: a mapping is never served unguarded. */
static int guard(struct registry *r, struct dentry *d, struct store *s)
{
	if (!r->cfg.guard_store)
		return 0;
	int res = r->cfg.guard_store(r->cfg.guard_ctx, s->fd);
	if (res == 0)
		return 0;
	reg_log(r, LOG_WARNING,
		"mapping '%s' refused: cannot make its backing file exclusive: "
		"%s",
		d->name, strerror(-res));
	store_destroy(s);
	return -EBUSY;
}

int backing_open_store(struct registry *r, struct dentry *d, struct store **out)
{
	int fd = open_regular(r, d->dir->dirfd, d->name);
	if (fd < 0)
		return fd;
	int res = adopt(r, fd, out);
	if (res == -EBUSY)
		reg_log(r, LOG_WARNING,
			"mapping '%s' refused: its backing file is locked by "
			"another process",
			d->name);
	if (res == 0)
		res = guard(r, d, *out);
	return res;
}

void backing_close_store(struct registry *r, struct store *s)
{
	if (s && !r->memory_backed && r->cfg.unguard_store)
		r->cfg.unguard_store(r->cfg.guard_ctx, s->fd);
	store_destroy(s);
}

static void chown_new(int dirfd, const char *name, int fd, struct node *n)
{
	/* Only root can give a file away; others keep the daemon's uid. */
	if (geteuid() != 0)
		return;
	if (fd >= 0)
		(void)!fchown(fd, n->uid, n->gid);
	else
		(void)!fchownat(dirfd, name, n->uid, n->gid,
				AT_SYMLINK_NOFOLLOW);
}

/* Make the backing file; the mapping opens (and locks) it when used. */
static int create_file(int dirfd, const char *name, struct node *n)
{
	int fd = openat(dirfd, name,
			O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
			n->mode & 07777);
	if (fd < 0)
		return -errno;
	chown_new(dirfd, name, fd, n);
	close(fd);
	return 0;
}

static int create_dir(int dirfd, const char *name, struct node *n)
{
	if (mkdirat(dirfd, name, n->mode & 07777) < 0)
		return -errno;
	n->dirfd = openat(dirfd, name,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (n->dirfd < 0) {
		int res = -errno;
		unlinkat(dirfd, name, AT_REMOVEDIR);
		return res;
	}
	chown_new(dirfd, name, n->dirfd, n);
	return 0;
}

static int create_other(int dirfd, const char *name, struct node *n)
{
	int res =
	    S_ISLNK(n->type)
		? symlinkat(n->symlink, dirfd, name)
		: mknodat(dirfd, name, n->type | (n->mode & 07777), n->rdev);
	if (res < 0)
		return -errno;
	chown_new(dirfd, name, -1, n);
	return 0;
}

int backing_create(struct registry *r, struct node *dir, const char *name,
		   struct node *n)
{
	if (r->memory_backed && S_ISREG(n->type) && r->cfg.store_dirfd > 0) {
		/* An empty file, opened when the mapping is used. */
		char tag[STORE_NAME_LEN];
		store_name(n, tag);
		if (mknodat(r->cfg.store_dirfd, tag, S_IFREG | 0600, 0) < 0)
			return -errno;
		return 0;
	}
	if (r->memory_backed) {
		if (!S_ISREG(n->type))
			return 0;
		/* memfd names are for /proc only, and shorter than ours. */
		char tag[64];
		snprintf(tag, sizeof(tag), "shmapfs:%.48s", name);
		int res = store_memfd_new(tag, &n->store);
		if (res == 0)
			res = backing_wrap_store(r, &n->store);
		return res;
	}
	if (S_ISREG(n->type))
		return create_file(dir->dirfd, name, n);
	if (S_ISDIR(n->type))
		return create_dir(dir->dirfd, name, n);
	return create_other(dir->dirfd, name, n);
}

void backing_undo_create(struct registry *r, struct node *dir, const char *name,
			 struct node *n)
{
	if (!r->memory_backed)
		unlinkat(dir->dirfd, name, S_ISDIR(n->type) ? AT_REMOVEDIR : 0);
}

int backing_link(struct registry *r, struct dentry *old, struct node *dir,
		 const char *name)
{
	if (r->memory_backed)
		return 0;
	if (linkat(old->dir->dirfd, old->name, dir->dirfd, name, 0) < 0)
		return -errno;
	return 0;
}

int backing_remove(struct registry *r, struct node *dir, const char *name,
		   int is_dir)
{
	if (r->memory_backed)
		return 0;
	if (unlinkat(dir->dirfd, name, is_dir ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

int backing_rename(struct registry *r, struct node *dir, const char *name,
		   struct node *newdir, const char *newname, unsigned int flags)
{
	if (r->memory_backed)
		return 0;
	if (renameat2(dir->dirfd, name, newdir->dirfd, newname, flags) < 0)
		return -errno;
	return 0;
}

/* The descriptor that stands for n, or -1 (symlinks, fifos, ...). */
static int node_fd(struct node *n)
{
	if (S_ISDIR(n->type))
		return n->dirfd;
	return n->store ? n->store->fd : -1;
}

int backing_chmod(struct registry *r, struct node *n, mode_t mode)
{
	if (r->memory_backed || S_ISLNK(n->type))
		return 0;
	int fd = node_fd(n);
	int res = fd >= 0 ? fchmod(fd, mode)
		  : n->aliases
		      ? fchmodat(n->aliases->dir->dirfd, n->aliases->name, mode,
				 AT_SYMLINK_NOFOLLOW)
		      : 0;
	return res < 0 ? -errno : 0;
}

int backing_chown(struct registry *r, struct node *n, uid_t uid, gid_t gid)
{
	if (r->memory_backed || geteuid() != 0)
		return 0;
	int fd = node_fd(n);
	int res = fd >= 0 ? fchown(fd, uid, gid)
		  : n->aliases
		      ? fchownat(n->aliases->dir->dirfd, n->aliases->name, uid,
				 gid, AT_SYMLINK_NOFOLLOW)
		      : 0;
	return res < 0 ? -errno : 0;
}

int backing_utimens(struct registry *r, struct node *n,
		    const struct timespec ts[2])
{
	if (r->memory_backed)
		return 0;
	int fd = node_fd(n);
	int res = fd >= 0 ? futimens(fd, ts)
		  : n->aliases
		      ? utimensat(n->aliases->dir->dirfd, n->aliases->name, ts,
				  AT_SYMLINK_NOFOLLOW)
		      : 0;
	return res < 0 ? -errno : 0;
}

/* A descriptor for the attributes of an idle mapping's backing file
 * (its lock is not needed for them), or -errno. */
static int open_for_attrs(struct node *n)
{
	if (!S_ISREG(n->type) || !n->aliases)
		return -EBUSY;
	int fd = openat(n->aliases->dir->dirfd, n->aliases->name,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int backing_setxattr(struct registry *r, struct node *n, const char *name,
		     const void *value, size_t size)
{
	if (r->memory_backed)
		return 0;
	int fd = node_fd(n), tmp = -1;
	if (fd < 0)
		fd = tmp = open_for_attrs(n);
	if (fd < 0)
		return fd;
	int res = value ? fsetxattr(fd, name, value, size, 0)
			: fremovexattr(fd, name);
	if (res < 0 && !value && errno == ENODATA)
		res = 0;
	res = res < 0 ? -errno : 0;
	if (tmp >= 0)
		close(tmp);
	return res;
}

/* Take n's user.*, security.* and trusted.* extended attributes from fd,
 * its backing object (n's lock held, or n not yet shared). */
int backing_load_xattrs(struct registry *r, struct node *n, int fd)
{
	char names[SHMAP_XATTR_TOTAL];
	ssize_t len = flistxattr(fd, names, sizeof(names));
	if (len < 0)
		return errno == ENOTSUP || errno == ERANGE ? 0 : -errno;
	for (char *p = names; p < names + len; p += strlen(p) + 1) {
		if (!xattr_name_stored(p))
			continue;
		char value[SHMAP_XATTR_TOTAL];
		ssize_t vlen = fgetxattr(fd, p, value, sizeof(value));
		if (vlen < 0)
			continue;
		int res = xattr_set_local(n, p, value, (size_t)vlen);
		if (res < 0)
			reg_log(r, LOG_WARNING,
				"ignoring extended attribute %s of inode "
				"%llu: %s",
				p, (unsigned long long)n->ino, strerror(-res));
	}
	return 0;
}

/* Hard links found while scanning: backing inode number to node. */
struct link_map {
	struct link_ent {
		dev_t dev;
		ino_t ino;
		struct node *node;
	} * ents;
	size_t count, cap;
};

static struct node *link_find(struct link_map *m, const struct stat *st)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->ents[i].ino == st->st_ino &&
		    m->ents[i].dev == st->st_dev)
			return m->ents[i].node;
	return NULL;
}

static int link_add(struct link_map *m, const struct stat *st, struct node *n)
{
	if (m->count == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		void *p = realloc(m->ents, cap * sizeof(*m->ents));
		if (!p)
			return -ENOMEM;
		m->ents = p;
		m->cap = cap;
	}
	m->ents[m->count++] = (struct link_ent){st->st_dev, st->st_ino, n};
	return 0;
}

static void node_take_stat(struct node *n, const struct stat *st)
{
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->rdev = st->st_rdev;
	n->atime = st->st_atim;
	n->mtime = st->st_mtim;
	n->ctime = st->st_ctim;
	if (S_ISREG(st->st_mode))
		n->size = (uint64_t)st->st_size;
}

static int scan_dir(struct registry *r, struct node *dir, int depth,
		    struct link_map *links);

/* Give the scanned entry name in dir its object: store, fd, target. */
static int scan_object(struct registry *r, struct node *dir, const char *name,
		       struct node *n, int depth, struct link_map *links)
{
	if (S_ISREG(n->type)) {
		/* Idle until used: read its attributes, hold nothing. */
		int fd = open_for_attrs(n);
		if (fd < 0) {
			reg_log(r, LOG_WARNING,
				"cannot open backing file %s: %s", name,
				strerror(-fd));
			return 0;
		}
		int res = backing_load_xattrs(r, n, fd);
		close(fd);
		return res;
	}
	if (S_ISLNK(n->type)) {
		char target[SHMAP_SYMLINK_MAX + 1];
		ssize_t len =
		    readlinkat(dir->dirfd, name, target, sizeof(target) - 1);
		if (len < 0)
			return -errno;
		target[len] = '\0';
		n->symlink = strdup(target);
		n->size = (uint64_t)len;
		return n->symlink ? 0 : -ENOMEM;
	}
	if (S_ISDIR(n->type)) {
		n->dirfd =
		    openat(dir->dirfd, name,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (n->dirfd < 0)
			return -errno;
		int res = backing_load_xattrs(r, n, n->dirfd);
		return res < 0 ? res : scan_dir(r, n, depth + 1, links);
	}
	return 0;
}

static int scan_entry(struct registry *r, struct node *dir, const char *name,
		      int depth, struct link_map *links)
{
	if (name_check(name) < 0)
		return 0; /* ".", "..", or a name we cannot serve */
	struct stat st;
	if (fstatat(dir->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct node *n = st.st_nlink > 1 && !S_ISDIR(st.st_mode)
			     ? link_find(links, &st)
			     : NULL;
	if (n)
		return dentry_add(r, dir, name, n);
	int res = node_alloc(r, st.st_mode & S_IFMT, st.st_mode & 07777,
			     st.st_uid, st.st_gid, &n);
	if (res < 0)
		return res;
	node_take_stat(n, &st);
	res = dentry_add(r, dir, name, n);
	if (res < 0) {
		node_free(r, n);
		return res;
	}
	if (st.st_nlink > 1 && !S_ISDIR(st.st_mode))
		res = link_add(links, &st, n);
	if (res == 0)
		res = scan_object(r, dir, name, n, depth, links);
	return res;
}

static int scan_dir(struct registry *r, struct node *dir, int depth,
		    struct link_map *links)
{
	if (depth > SCAN_DEPTH_MAX)
		return -ELOOP;
	int fd = openat(dir->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int res = -errno;
		if (fd >= 0)
			close(fd);
		return res;
	}
	int res = 0;
	struct dirent *e;
	while (res == 0 && (errno = 0, e = readdir(d)))
		res = scan_entry(r, dir, e->d_name, depth, links);
	if (res == 0 && errno)
		res = -errno;
	closedir(d);
	return res;
}

int backing_scan(struct registry *r)
{
	struct stat st;
	if (fstat(r->root->dirfd, &st) < 0)
		return -errno;
	node_take_stat(r->root, &st);
	struct link_map links = {0};
	int res = backing_load_xattrs(r, r->root, r->root->dirfd);
	if (res == 0)
		res = scan_dir(r, r->root, 0, &links);
	free(links.ents);
	return res;
}
