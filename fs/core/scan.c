/*
 * The mount-time scan of a backing directory: every entry there becomes a
 * node with its names (hard links found as one node), attributes and
 * user.* extended attributes. Called by registry_new() as it builds the
 * registry, before anyone else can see it; a mount with no backing
 * directory (the root has no descriptor) has nothing to scan.
 *
 * Calls: node.c (node_alloc, node_free), dentry.c, xattr.c
 * (xattr_set_local) and backing_dir.c (backing_dir_open_attrs,
 * backing_dir_is_hidden).
 */
#include "backing.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#define SCAN_DEPTH_MAX 256

/* Take n's user.*, security.* and trusted.* extended attributes from fd,
 * its backing object (n not yet shared). */
static int load_xattrs(struct registry *r, struct node *n, int fd)
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
		int fd = backing_dir_open_attrs(n);
		if (fd < 0) {
			reg_log(r, LOG_WARNING,
				"cannot open backing file %s: %s", name,
				strerror(-fd));
			return 0;
		}
		int res = load_xattrs(r, n, fd);
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
		int res = load_xattrs(r, n, n->dirfd);
		return res < 0 ? res : scan_dir(r, n, depth + 1, links);
	}
	return 0;
}

/* The hidden store of an unnamed mapping (backing_dir.c) is no name of
 * the mount: one its daemon left when it died goes; one another mount of
 * this directory uses (locked) stays. */
static void scan_hidden(int dirfd, const char *name)
{
	int fd =
	    openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlinkat(dirfd, name, 0);
	close(fd);
}

static int scan_entry(struct registry *r, struct node *dir, const char *name,
		      int depth, struct link_map *links)
{
	if (name_check(name) < 0)
		return 0; /* ".", "..", or a name we cannot serve */
	if (dir == r->root && backing_dir_is_hidden(name)) {
		scan_hidden(dir->dirfd, name);
		return 0;
	}
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

int scan_backing(struct registry *r)
{
	if (r->root->dirfd < 0)
		return 0;
	struct stat st;
	if (fstat(r->root->dirfd, &st) < 0)
		return -errno;
	node_take_stat(r->root, &st);
	struct link_map links = {0};
	int res = load_xattrs(r, r->root, r->root->dirfd);
	if (res == 0)
		res = scan_dir(r, r->root, 0, &links);
	free(links.ents);
	return res;
}
