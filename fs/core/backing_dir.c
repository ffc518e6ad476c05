/*
 * The backing directory of a file-backed mount (the table backing_dir,
 * see backing.h): every change of names and metadata mirrored onto it,
 * and each mapping's store a backing file opened and locked while the
 * mapping is in use (parked: held by its pin, opened again at each use,
 * through the pin or by name). The mount-time scan is in
 * scan.c.
 *
 * The backing directory is a boundary: every access goes through a
 * directory descriptor the daemon holds (the root's, or a subdirectory's
 * opened with O_NOFOLLOW) and a single name that name_check() accepted (no
 * '/', not "." or ".."), never following a symlink, so nothing planted in
 * the backing directory leads the daemon outside it.
 *
 * Calls: the stores (store.h), dentry.c and util.c.
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

/* Own fd as n's store (locking it; parked: pinning and closing it), or
 * fail and close it. */
static int adopt(struct registry *r, int fd, int park, struct store **out)
{
	struct store *s;
	int res = park ? store_file_adopt_parked(
			     fd, r->cfg.read_only ? O_RDONLY : O_RDWR,
			     !r->pins_reachable, &s)
		       : store_file_adopt(fd, &s);
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
static int open_regular(struct registry *r, int dirfd, const char *name,
			int flags)
{
	int fd = openat(dirfd, name, flags | O_NONBLOCK);
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
static int guard(struct registry *r, const char *name, struct store *s)
{
	if (!r->cfg.guard_store)
		return 0;
	int fd = store_fd_get(s);
	int res = fd < 0 ? fd : r->cfg.guard_store(r->cfg.guard_ctx, fd);
	store_fd_put(s, fd);
	if (res == 0)
		return 0;
	reg_log(r, LOG_WARNING,
		"mapping '%s' refused: cannot make its backing file exclusive: "
		"%s",
		name, strerror(-res));
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

/* A parked store's own open is read-only: the pin that keeps it counts
 * as nobody's write (each use opens it as file_open_flags() says). */
static int dir_open_store(struct registry *r, struct node *n, int park,
			  struct store **out)
{
	/* An unlinked backing file is gone once nobody uses it. */
	struct dentry *d = n->aliases;
	if (!d)
		return -ENOENT;
	int flags = file_open_flags(r);
	if (park)
		flags = (flags & ~O_ACCMODE) | O_RDONLY;
	int fd = open_regular(r, d->dir->dirfd, d->name, flags);
	if (fd < 0)
		return held_elsewhere(r, d, fd);
	int res = adopt(r, fd, park, out);
	if (res < 0)
		return held_elsewhere(r, d, res);
	store_set_name(*out, d->dir->dirfd, d->name);
	return guard(r, d->name, *out);
}

static void dir_close_store(struct registry *r, struct store *s)
{
	unsigned stale = atomic_load(&s->stale);
	if (stale)
		reg_log(r, LOG_WARNING,
			"%u uses of a mapping refused with ESTALE: its backing "
			"file (inode %llu) was renamed, removed or replaced "
			"behind the daemon's back, which could not open it "
			"again by name",
			stale, (unsigned long long)s->pin_ino);
	int fd = r->cfg.unguard_store ? store_fd_get(s) : -1;
	if (fd >= 0)
		r->cfg.unguard_store(r->cfg.guard_ctx, fd);
	store_fd_put(s, fd);
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

/*
 * An unnamed mapping (O_TMPFILE) keeps its store in an unnamed file of
 * the backing directory: O_TMPFILE there too, so that a daemon that dies
 * leaves nothing behind, and its first name is one linkat(2), atomic, and
 * as durable as any other name. Where the backing filesystem has no
 * O_TMPFILE (EOPNOTSUPP; EISDIR from a kernel without it), the store is a
 * file under a hidden name in the root of the backing directory (n->hidden:
 * the root can never be removed, as a subdirectory holding it could not),
 * named by link and unlink, and removed when the mapping dies unnamed; the
 * scan at mount removes what a daemon that died left there. A name in
 * another filesystem below the backing directory then fails (EXDEV).
 */
#define HIDDEN_PREFIX ".shmapfs-tmpfile."
#define HIDDEN_LEN    (sizeof(HIDDEN_PREFIX) + 32)

/* The daemon's pid in it: another mount of the directory numbers its
 * nodes alike. */
static void hidden_name(const struct node *n, char name[HIDDEN_LEN])
{
	snprintf(name, HIDDEN_LEN, HIDDEN_PREFIX "%d.%llx", (int)getpid(),
		 (unsigned long long)n->ino);
}

int backing_dir_is_hidden(const char *name)
{
	return strncmp(name, HIDDEN_PREFIX, sizeof(HIDDEN_PREFIX) - 1) == 0;
}

/* The store's file under its hidden name (n->hidden), or -errno. */
static int open_hidden(struct registry *r, struct node *n)
{
	char name[HIDDEN_LEN];
	hidden_name(n, name);
	unlinkat(r->cfg.backing_dirfd, name, 0); /* left by a dead daemon */
	int fd = openat(r->cfg.backing_dirfd, name,
			O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
			n->mode & 07777);
	if (fd < 0)
		return -errno;
	n->hidden = 1;
	return fd;
}

/* An unnamed file in dir, or -1 and errno. For tests only:
 * SHMAPFS_TEST_NO_BACKING_TMPFILE in the environment makes it fail as on a
 * filesystem without O_TMPFILE. */
static int open_unnamed(int dirfd, mode_t mode)
{
	if (getenv("SHMAPFS_TEST_NO_BACKING_TMPFILE")) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
}

static int dir_create_unnamed(struct registry *r, struct node *dir,
			      struct node *n)
{
	int fd = open_unnamed(dir->dirfd, n->mode & 07777);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR))
		fd = open_hidden(r, n);
	else if (fd < 0)
		fd = -errno;
	if (fd < 0)
		return fd;
	chown_new(-1, NULL, fd, n);
	/* Which object it is: the one its names will show (revalidate.c). */
	struct stat st;
	if (fstat(fd, &st) == 0) {
		n->bdev = st.st_dev;
		n->bino = st.st_ino;
	}
	struct store *s;
	/* Never parked: an unnamed file has no name to open it again by, so
	 * it keeps its descriptor, and counts among those that do. */
	int res = adopt(r, fd, 0, &s); /* fd now owned by the store */
	if (res == 0)
		res = guard(r, "(unnamed)", s);
	if (res == 0) {
		n->store = s; /* n is new: nobody else sees it yet */
		n->resident = 1;
		atomic_fetch_add(&r->resident, 1);
	}
	return res;
}

/* linkat(2) of an open file: by descriptor needs CAP_DAC_READ_SEARCH (on
 * kernels before 6.10), through /proc does not. */
static int link_open_file(int fd, int dirfd, const char *name)
{
	if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

static int dir_name_unnamed(struct registry *r, struct node *n,
			    struct node *dir, const char *name)
{
	if (!n->hidden)
		return link_open_file(n->store->fd, dir->dirfd, name);
	char hidden[HIDDEN_LEN];
	hidden_name(n, hidden);
	if (linkat(r->cfg.backing_dirfd, hidden, dir->dirfd, name, 0) < 0)
		return -errno;
	unlinkat(r->cfg.backing_dirfd, hidden, 0);
	n->hidden = 0;
	return 0;
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

/*
 * A parked file opened again by name keeps a descriptor before its last
 * name goes, so that its uses still reach it (store.h). If that fails,
 * the name goes all the same, and its uses fail with ESTALE.
 */
static void keep_if_last_name(struct registry *r, struct node *dir,
			      const char *name)
{
	struct dentry *d = dentry_find(r, dir, name);
	struct node *n = d ? d->node : NULL;
	if (n && S_ISREG(n->type) && n->nlink == 1 && n->store)
		(void)store_keep_open(n->store);
}

static int dir_remove(struct registry *r, struct node *dir, const char *name,
		      int is_dir)
{
	if (!is_dir)
		keep_if_last_name(r, dir, name);
	if (unlinkat(dir->dirfd, name, is_dir ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

static int dir_rename(struct registry *r, struct node *dir, const char *name,
		      struct node *newdir, const char *newname,
		      unsigned int flags)
{
	if (!(flags & RENAME_EXCHANGE))
		keep_if_last_name(r, newdir, newname);
	if (renameat2(dir->dirfd, name, newdir->dirfd, newname, flags) < 0)
		return -errno;
	return 0;
}

/* The descriptor that stands for n in *fd, or -1 (symlinks, fifos, ...;
 * an idle mapping); 0 or -errno. Give it back with node_fd_put(). */
static int node_fd_get(struct node *n, int *fd)
{
	*fd = S_ISDIR(n->type) ? n->dirfd : -1;
	if (S_ISDIR(n->type) || !n->store)
		return 0;
	int got = store_fd_get(n->store);
	if (got < 0)
		return got;
	*fd = got;
	return 0;
}

static void node_fd_put(struct node *n, int fd)
{
	if (!S_ISDIR(n->type) && n->store)
		store_fd_put(n->store, fd);
}

static int dir_chmod(struct registry *r, struct node *n, mode_t mode)
{
	(void)r;
	if (S_ISLNK(n->type))
		return 0;
	int fd, res = node_fd_get(n, &fd);
	if (fd >= 0)
		res = fchmod(fd, mode) < 0 ? -errno : 0;
	else if (res == 0 && n->aliases)
		res = fchmodat(n->aliases->dir->dirfd, n->aliases->name, mode,
			       AT_SYMLINK_NOFOLLOW) < 0
			  ? -errno
			  : 0;
	node_fd_put(n, fd);
	return res;
}

static int dir_chown(struct registry *r, struct node *n, uid_t uid, gid_t gid)
{
	(void)r;
	if (geteuid() != 0)
		return 0;
	int fd, res = node_fd_get(n, &fd);
	if (fd >= 0)
		res = fchown(fd, uid, gid) < 0 ? -errno : 0;
	else if (res == 0 && n->aliases)
		res = fchownat(n->aliases->dir->dirfd, n->aliases->name, uid,
			       gid, AT_SYMLINK_NOFOLLOW) < 0
			  ? -errno
			  : 0;
	node_fd_put(n, fd);
	return res;
}

static int dir_utimens(struct registry *r, struct node *n,
		       const struct timespec ts[2])
{
	(void)r;
	int fd, res = node_fd_get(n, &fd);
	if (fd >= 0)
		res = futimens(fd, ts) < 0 ? -errno : 0;
	else if (res == 0 && n->aliases)
		res = utimensat(n->aliases->dir->dirfd, n->aliases->name, ts,
				AT_SYMLINK_NOFOLLOW) < 0
			  ? -errno
			  : 0;
	node_fd_put(n, fd);
	return res;
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
	int fd, tmp = -1, res = node_fd_get(n, &fd);
	if (res < 0)
		return res;
	if (fd < 0)
		fd = tmp = backing_dir_open_attrs(n);
	if (fd < 0)
		return fd;
	res = value ? fsetxattr(fd, name, value, size, 0)
		    : fremovexattr(fd, name);
	if (res < 0 && !value && errno == ENODATA)
		res = 0;
	res = res < 0 ? -errno : 0;
	if (tmp >= 0)
		close(tmp);
	else
		node_fd_put(n, fd);
	return res;
}

/*
 * Several mounts may serve one backing directory (two containers on one
 * host, or hosts on a cluster filesystem): the lock on each mapping's
 * file is the arbiter, and each mount takes in what the others change
 * (revalidate.c). The daemon's only own files there, the hidden stores
 * of unnamed mappings, carry its pid in their names, so that no other
 * mount takes or removes one while it lives.
 */
static int dir_init(struct registry *r)
{
	/* Quotas count memory; a backing directory's filesystem has its own
	 * (the options refuse them here). */
	r->cfg.quota = (struct quota_config){0};
	r->counts_capacity = 0;
	r->pins_reachable = store_pins_reachable();
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
	/* The backing file is the mapping's name; one never named goes. */
	if (n->hidden) {
		char name[HIDDEN_LEN];
		hidden_name(n, name);
		unlinkat(r->cfg.backing_dirfd, name, 0);
	}
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
    .create_unnamed = dir_create_unnamed,
    .name_unnamed = dir_name_unnamed,
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
