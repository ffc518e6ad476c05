/*
 * The backing directory of a file-backed mount (the table backing_dir,
 * see backing.h): every change of names and metadata mirrored onto it,
 * and each mapping's store a backing file opened and locked while the
 * mapping is in use. The mount-time scan is in scan.c.
 *
 * The backing directory is a boundary: every access goes through a
 * directory descriptor the daemon holds (the root's, or a subdirectory's
 * opened with O_NOFOLLOW) and a single name that name_check() accepted (no
 * '/', not "." or ".."), never following a symlink, so nothing planted in
 * the backing directory leads the daemon outside it.
 *
 * Calls: the stores (store.h) and util.c.
 */
#include "backing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

static int file_open_flags(struct registry *r)
{
	return (r->cfg.read_only ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC |
	       O_NOCTTY;
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
	res = store_wrap_faults(r->cfg.fault_write, r->cfg.fault_resize, &s);
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

/* Who holds the flock of the file st (/proc/locks), in words: "" if no
 * one that /proc/locks shows. */
static void lock_holder(const struct stat *st, char *buf, size_t size)
{
	buf[0] = '\0';
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		char kind[16], access[16];
		int pid;
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(line, "%*[^:]: %15s %*s %15s %d %x:%x:%llu", kind,
			   access, &pid, &maj, &min, &ino) != 6 ||
		    strcmp(kind, "FLOCK") || ino != st->st_ino ||
		    maj != major(st->st_dev) || min != minor(st->st_dev))
			continue;
		char path[64], comm[32] = "?";
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		FILE *c = fopen(path, "re");
		if (c && fgets(comm, sizeof(comm), c))
			comm[strcspn(comm, "\n")] = '\0';
		if (c)
			fclose(c);
		snprintf(buf, size, " (its flock %s held by pid %d, %s)",
			 access, pid, comm);
		break;
	}
	if (f)
		fclose(f);
}

/*
 * The mapping is held elsewhere: its file locked by another process (as
 * another shmapfs over the same directory locks it while it serves it),
 * or its open refused by the exclusivity that other mount enforces. Say
 * who holds it, and refuse with EBUSY; any other failure stays what it is.
 */
static int held_elsewhere(struct registry *r, struct dentry *d, int res)
{
	struct stat st;
	if (res != -EBUSY && res != -EPERM)
		return res;
	if (fstatat(d->dir->dirfd, d->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return res;
	char holder[128];
	lock_holder(&st, holder, sizeof(holder));
	if (res == -EPERM && !holder[0])
		return res;
	reg_log(r, LOG_WARNING,
		"mapping '%s' refused: its backing file is locked by another "
		"process%s",
		d->name, holder);
	return -EBUSY;
}

static int dir_open_store(struct registry *r, struct node *n,
			  struct store **out)
{
	/* An unlinked backing file is gone once nobody uses it. */
	struct dentry *d = n->aliases;
	if (!d)
		return -ENOENT;
	int fd = open_regular(r, d->dir->dirfd, d->name);
	if (fd < 0)
		return held_elsewhere(r, d, fd);
	int res = adopt(r, fd, out);
	if (res < 0)
		return held_elsewhere(r, d, res);
	return guard(r, d, *out);
}

static void dir_close_store(struct registry *r, struct store *s)
{
	if (r->cfg.unguard_store)
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

static int dir_create(struct registry *r, struct node *dir, const char *name,
		      struct node *n)
{
	int res = S_ISREG(n->type)   ? create_file(dir->dirfd, name, n)
		  : S_ISDIR(n->type) ? create_dir(dir->dirfd, name, n)
				     : create_other(dir->dirfd, name, n);
	/* Which object it is, to tell it from one put there later. */
	struct stat st;
	if (res == 0 &&
	    fstatat(dir->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		n->bdev = st.st_dev;
		n->bino = st.st_ino;
		n->checked = now_ms();
	}
	if (res == 0 && S_ISDIR(n->type))
		dir_watch_locked(r, n);
	return res;
}

static void dir_undo_create(struct registry *r, struct node *dir,
			    const char *name, struct node *n)
{
	(void)r;
	unlinkat(dir->dirfd, name, S_ISDIR(n->type) ? AT_REMOVEDIR : 0);
}

static int dir_link(struct registry *r, struct dentry *old, struct node *dir,
		    const char *name)
{
	(void)r;
	if (linkat(old->dir->dirfd, old->name, dir->dirfd, name, 0) < 0)
		return -errno;
	return 0;
}

static int dir_remove(struct registry *r, struct node *dir, const char *name,
		      int is_dir)
{
	(void)r;
	if (unlinkat(dir->dirfd, name, is_dir ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

static int dir_rename(struct registry *r, struct node *dir, const char *name,
		      struct node *newdir, const char *newname,
		      unsigned int flags)
{
	(void)r;
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

static int dir_chmod(struct registry *r, struct node *n, mode_t mode)
{
	(void)r;
	if (S_ISLNK(n->type))
		return 0;
	int fd = node_fd(n);
	int res = fd >= 0 ? fchmod(fd, mode)
		  : n->aliases
		      ? fchmodat(n->aliases->dir->dirfd, n->aliases->name, mode,
				 AT_SYMLINK_NOFOLLOW)
		      : 0;
	return res < 0 ? -errno : 0;
}

static int dir_chown(struct registry *r, struct node *n, uid_t uid, gid_t gid)
{
	(void)r;
	if (geteuid() != 0)
		return 0;
	int fd = node_fd(n);
	int res = fd >= 0 ? fchown(fd, uid, gid)
		  : n->aliases
		      ? fchownat(n->aliases->dir->dirfd, n->aliases->name, uid,
				 gid, AT_SYMLINK_NOFOLLOW)
		      : 0;
	return res < 0 ? -errno : 0;
}

static int dir_utimens(struct registry *r, struct node *n,
		       const struct timespec ts[2])
{
	(void)r;
	int fd = node_fd(n);
	int res = fd >= 0 ? futimens(fd, ts)
		  : n->aliases
		      ? utimensat(n->aliases->dir->dirfd, n->aliases->name, ts,
				  AT_SYMLINK_NOFOLLOW)
		      : 0;
	return res < 0 ? -errno : 0;
}

int backing_dir_open_attrs(struct node *n)
{
	if (!S_ISREG(n->type) || !n->aliases)
		return -EBUSY;
	int fd = openat(n->aliases->dir->dirfd, n->aliases->name,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static int dir_setxattr(struct registry *r, struct node *n, const char *name,
			const void *value, size_t size)
{
	(void)r;
	int fd = node_fd(n), tmp = -1;
	if (fd < 0)
		fd = tmp = backing_dir_open_attrs(n);
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

/*
 * Several mounts may serve one backing directory (two containers on one
 * host, or hosts on a cluster filesystem): the lock on each mapping's
 * file is the arbiter, and each mount takes in what the others change
 * (revalidate.c). The daemon keeps no state of its own in the directory.
 */
static int dir_init(struct registry *r)
{
	/* Quotas count memory; a backing directory's filesystem has its own
	 * (the options refuse them here). */
	r->cfg.quota = (struct quota_config){0};
	r->counts_capacity = 0;
	return 0;
}

static int dir_stat_store(struct registry *r, struct node *n, struct stat *st)
{
	(void)r;
	if (!S_ISREG(n->type) || !n->aliases)
		return -ENOENT;
	if (fstatat(n->aliases->dir->dirfd, n->aliases->name, st,
		    AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static void dir_forget_store(struct registry *r, struct node *n)
{
	(void)r;
	(void)n; /* the backing file is the mapping's name */
}

/* An unlinked backing file lives only while open: keep it for the
 * kernel, which may still open the inode (node_keep_unlinked). */
static int dir_closes_idle(const struct node *n)
{
	return n->aliases != NULL;
}

static int dir_statfs(struct registry *r, struct statvfs *st)
{
	if (fstatvfs(r->cfg.backing_dirfd, st) < 0)
		return -errno;
	if (st->f_namemax > SHMAP_NAME_MAX)
		st->f_namemax = SHMAP_NAME_MAX;
	return 0;
}

/* Idle mappings hold no descriptor: write the whole backing filesystem
 * out, their data and the directory's names with it. */
static int dir_sync_all(struct registry *r)
{
	return syncfs(r->cfg.backing_dirfd) < 0 ? -errno : 0;
}

const struct backing_ops backing_dir = {
    .init = dir_init,
    .create = dir_create,
    .undo_create = dir_undo_create,
    .link = dir_link,
    .remove = dir_remove,
    .rename = dir_rename,
    .chmod = dir_chmod,
    .chown = dir_chown,
    .utimens = dir_utimens,
    .setxattr = dir_setxattr,
    .open_store = dir_open_store,
    .close_store = dir_close_store,
    .stat_store = dir_stat_store,
    .forget_store = dir_forget_store,
    .closes_idle = dir_closes_idle,
    .statfs = dir_statfs,
    .sync_all = dir_sync_all,
    .data_in_name = 1,
    .lingers = 1,
    .xattrs_mirrored = 1,
    .changes_by_name = 1,
};
