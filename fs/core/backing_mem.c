/*
 * Memory-backed mounts, two kinds (see backing.h): backing_tmpfs keeps
 * each mapping's data in a named file of a tmpfs the daemon owns (its
 * private tmpfs, or a directory in /dev/shm), open only while the mapping
 * is in use; backing_memfd keeps it in a memfd, open as long as the
 * mapping lives. Names and metadata live in the nodes alone, so every
 * change of them is a no-op here.
 *
 * Calls: the stores (store.h), charge.c (charge_used) and util.c.
 */
#include "backing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* A store's name in the tmpfs: the node's inode number, unique and
 * stable. */
#define STORE_NAME_LEN 20

static void store_name(const struct node *n, char name[STORE_NAME_LEN])
{
	snprintf(name, STORE_NAME_LEN, "%llx", (unsigned long long)n->ino);
}

/* The daemon counts the capacity unless the stores' tmpfs is as large as
 * it (then the kernel counts it, also for writes the daemon never sees).
 * Where the daemon must see every write, it counts the capacity too. */
static int tmpfs_init(struct registry *r)
{
	r->counts_capacity =
	    !r->cfg.store_dir_capacity || r->cfg.sees_every_write;
	return 0;
}

static int memfd_init(struct registry *r)
{
	r->counts_capacity = 1;
	return 0;
}

/* An empty file, opened when the mapping is used. */
static int tmpfs_create(struct registry *r, struct node *dir, const char *name,
			struct node *n)
{
	(void)dir;
	(void)name;
	if (!S_ISREG(n->type))
		return 0;
	char tag[STORE_NAME_LEN];
	store_name(n, tag);
	if (mknodat(r->cfg.store_dirfd, tag, S_IFREG | 0600, 0) < 0)
		return -errno;
	return 0;
}

static int memfd_create_store(struct registry *r, struct node *dir,
			      const char *name, struct node *n)
{
	(void)dir;
	if (!S_ISREG(n->type))
		return 0;
	/* memfd names are for /proc only, and shorter than ours. */
	char tag[64];
	snprintf(tag, sizeof(tag), "shmapfs:%.48s", name);
	int res = store_memfd_new(tag, &n->store);
	if (res == 0 &&
	    (res = store_wrap_faults(r->cfg.fault_write, r->cfg.fault_resize,
				     &n->store)) < 0) {
		store_destroy(n->store);
		n->store = NULL;
	}
	return res;
}

/* An unnamed mapping's store is made as any other's: in memory a store
 * never had the mapping's name. */
static int tmpfs_create_unnamed(struct registry *r, struct node *dir,
				struct node *n)
{
	return tmpfs_create(r, dir, "", n);
}

static int memfd_create_unnamed(struct registry *r, struct node *dir,
				struct node *n)
{
	return memfd_create_store(r, dir, "(unnamed)", n);
}

static int mem_name_unnamed(struct registry *r, struct node *n,
			    struct node *dir, const char *name)
{
	(void)r;
	(void)n;
	(void)dir;
	(void)name;
	return 0;
}

/* Names, modes, owners and extended attributes are the nodes' alone; the
 * store of a node that failed to get its name goes with the node. */
static void mem_undo_create(struct registry *r, struct node *dir,
			    const char *name, struct node *n)
{
	(void)r;
	(void)dir;
	(void)name;
	(void)n;
}

static int mem_link(struct registry *r, struct dentry *old, struct node *dir,
		    const char *name)
{
	(void)r;
	(void)old;
	(void)dir;
	(void)name;
	return 0;
}

static int mem_remove(struct registry *r, struct node *dir, const char *name,
		      int is_dir)
{
	(void)r;
	(void)dir;
	(void)name;
	(void)is_dir;
	return 0;
}

static int mem_rename(struct registry *r, struct node *dir, const char *name,
		      struct node *newdir, const char *newname,
		      unsigned int flags)
{
	(void)r;
	(void)dir;
	(void)name;
	(void)newdir;
	(void)newname;
	(void)flags;
	return 0;
}

static int mem_chmod(struct registry *r, struct node *n, mode_t mode)
{
	(void)r;
	(void)n;
	(void)mode;
	return 0;
}

static int mem_chown(struct registry *r, struct node *n, uid_t uid, gid_t gid)
{
	(void)r;
	(void)n;
	(void)uid;
	(void)gid;
	return 0;
}

static int mem_setxattr(struct registry *r, struct node *n, const char *name,
			const void *value, size_t size)
{
	(void)r;
	(void)n;
	(void)name;
	(void)value;
	(void)size;
	return 0;
}

/* A shared mapping's times are its store's (node_catch_up_locked). */
static int mem_utimens(struct registry *r, struct node *n,
		       const struct timespec t[2])
{
	if (!n->direct)
		return 0;
	if (!n->store) {
		char name[STORE_NAME_LEN];
		store_name(n, name);
		return utimensat(r->cfg.store_dirfd, name, t,
				 AT_SYMLINK_NOFOLLOW) < 0
			   ? -errno
			   : 0;
	}
	int fd = store_fd_get(n->store);
	if (fd < 0)
		return fd;
	int res = futimens(fd, t) < 0 ? -errno : 0;
	store_fd_put(n->store, fd);
	return res;
}

/* A parked store is reached by its name, which only its node's death
 * takes away. */
static int tmpfs_open_store(struct registry *r, struct node *n, int park,
			    struct store **out)
{
	char name[STORE_NAME_LEN];
	store_name(n, name);
	int res = park ? store_named_park(r->cfg.store_dirfd, name, out)
		       : store_named_open(r->cfg.store_dirfd, name, out);
	if (res == 0 && (res = store_wrap_faults(r->cfg.fault_write,
						 r->cfg.fault_resize, out)) < 0)
		store_destroy(*out);
	return res;
}

/* A memfd is never idle: its data dies with its descriptor. */
static int memfd_open_store(struct registry *r, struct node *n, int park,
			    struct store **out)
{
	(void)r;
	(void)n;
	(void)park;
	(void)out;
	return -ENOENT;
}

static void mem_close_store(struct registry *r, struct store *s)
{
	(void)r;
	store_destroy(s);
}

static int tmpfs_stat_store(struct registry *r, struct node *n, struct stat *st)
{
	if (!S_ISREG(n->type))
		return -ENOENT;
	char name[STORE_NAME_LEN];
	store_name(n, name);
	if (fstatat(r->cfg.store_dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int memfd_stat_store(struct registry *r, struct node *n, struct stat *st)
{
	(void)r;
	(void)n;
	(void)st;
	return -ENOENT;
}

/* The store's file goes with its node. */
static void tmpfs_forget_store(struct registry *r, struct node *n)
{
	if (!S_ISREG(n->type))
		return;
	char name[STORE_NAME_LEN];
	store_name(n, name);
	unlinkat(r->cfg.store_dirfd, name, 0);
}

static void memfd_forget_store(struct registry *r, struct node *n)
{
	(void)r;
	(void)n; /* the memfd closed with the store */
}

static int tmpfs_closes_idle(const struct node *n)
{
	(void)n;
	return 1;
}

static int memfd_closes_idle(const struct node *n)
{
	(void)n;
	return 0;
}

/* Entries are counted here, whatever holds the data. */
static int statfs_nodes(struct registry *r, struct statvfs *st)
{
	pthread_mutex_lock(&r->lock);
	uint64_t nodes = r->nnodes;
	pthread_mutex_unlock(&r->lock);
	st->f_files = r->cfg.max_nodes;
	st->f_ffree = st->f_favail =
	    nodes < r->cfg.max_nodes ? r->cfg.max_nodes - nodes : 0;
	st->f_namemax = SHMAP_NAME_MAX;
	return 0;
}

/* The capacity as the daemon counts it. */
static int statfs_counted(struct registry *r, struct statvfs *st)
{
	uint64_t used = charge_used(r);
	st->f_bsize = st->f_frsize = 4096;
	st->f_blocks = r->cfg.capacity / 4096;
	st->f_bfree = st->f_bavail =
	    used < r->cfg.capacity ? (r->cfg.capacity - used) / 4096 : 0;
	return statfs_nodes(r, st);
}

static int tmpfs_statfs(struct registry *r, struct statvfs *st)
{
	if (r->counts_capacity)
		return statfs_counted(r, st);
	/* The tmpfs of the stores counts. */
	if (fstatvfs(r->cfg.store_dirfd, st) < 0)
		return -errno;
	return statfs_nodes(r, st);
}

static int mem_sync_all(struct registry *r)
{
	(void)r;
	return 0; /* memory: nothing to write out */
}

/* What both kinds of memory do alike: names and metadata are the nodes'
 * alone. */
#define MEM_COMMON                                                             \
	.undo_create = mem_undo_create, .name_unnamed = mem_name_unnamed,      \
	.link = mem_link, .remove = mem_remove, .rename = mem_rename,          \
	.chmod = mem_chmod, .chown = mem_chown, .utimens = mem_utimens,        \
	.setxattr = mem_setxattr, .close_store = mem_close_store,              \
	.sync_all = mem_sync_all

const struct backing_ops backing_tmpfs = {
    MEM_COMMON,
    .init = tmpfs_init,
    .create = tmpfs_create,
    .create_unnamed = tmpfs_create_unnamed,
    .open_store = tmpfs_open_store,
    .stat_store = tmpfs_stat_store,
    .forget_store = tmpfs_forget_store,
    .closes_idle = tmpfs_closes_idle,
    .statfs = tmpfs_statfs,
};

const struct backing_ops backing_memfd = {
    MEM_COMMON,
    .init = memfd_init,
    .create = memfd_create_store,
    .create_unnamed = memfd_create_unnamed,
    .open_store = memfd_open_store,
    .stat_store = memfd_stat_store,
    .forget_store = memfd_forget_store,
    .closes_idle = memfd_closes_idle,
    .statfs = statfs_counted,
};
