/*
 * Attributes: stat, setattr (chmod, chown, truncate, utimens) and statfs.
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/statvfs.h>

void node_stat_locked(struct registry *r, struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->type | n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = n->rdev;
	st->st_size = (off_t)n->size;
	st->st_blksize = 4096;
	struct stat sst;
	if (S_ISREG(n->type) && node_store_stat(r, n, &sst) == 0)
		st->st_blocks = sst.st_blocks;
	if (S_ISDIR(n->type))
		st->st_size = (off_t)(n->nchildren + 2) * 20;
	st->st_atim = n->atime;
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
}

static int timespec_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/*
 * The kernel writes a shared mapping's store directly (registry_share()),
 * through views even after the last release: once shared, the store knows
 * the size and the modification time; the node and the capacity reserved
 * follow it. An idle store is looked at by name (registry.lock held).
 */
void node_catch_up_locked(struct registry *r, struct node *n)
{
	struct stat st;
	if (!n->direct || node_store_stat(r, n, &st) < 0)
		return;
	n->size = (uint64_t)st.st_size; /* the kernel counts capacity */
	n->mtime = st.st_mtim;
	if (timespec_before(n->ctime, st.st_ctim))
		n->ctime = st.st_ctim;
}

/* Lock n for reading its attributes: exclusively if it must catch up. */
static void lock_for_stat(struct registry *r, struct node *n)
{
	pthread_rwlock_rdlock(&n->lock);
	if (!n->direct)
		return;
	pthread_rwlock_unlock(&n->lock);
	pthread_rwlock_wrlock(&n->lock);
	node_catch_up_locked(r, n);
}

/* Catch n up, if shared, without holding its lock exclusively otherwise:
 * a release must not wait behind a long read of a mapping served here. */
void node_catch_up(struct registry *r, struct node *n)
{
	lock_for_stat(r, n);
	pthread_rwlock_unlock(&n->lock);
}

int registry_getattr(struct registry *r, struct node *n, struct stat *st)
{
	/* nlink and the count of entries are the namespace's. */
	pthread_mutex_lock(&r->lock);
	lock_for_stat(r, n);
	node_stat_locked(r, n, st);
	pthread_rwlock_unlock(&n->lock);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/*
 * Clear set-user-ID, and set-group-ID where it means "set group" (group
 * execute on), as a write, truncate or chown by an unprivileged caller
 * must. The kernel asks us to (FUSE_HANDLE_KILLPRIV_V2, see fs/fuse_io.h).
 * Lock held.
 */
int kill_suid_sgid_locked(struct registry *r, struct node *n)
{
	mode_t kill = S_ISUID;
	if (n->mode & S_IXGRP)
		kill |= S_ISGID;
	if (S_ISDIR(n->type) || !(n->mode & kill))
		return 0;
	if (backing_chmod(r, n, n->mode & ~kill) < 0)
		return 0;
	n->mode &= ~kill;
	now(&n->ctime);
	return 1;
}

void node_trim_store_locked(struct registry *r, struct node *n)
{
	struct stat st;
	/* A shared store is written by others too: its size is the truth
	 * (node_catch_up_locked). */
	if (n->direct || fstat(n->store->fd, &st) < 0 ||
	    (uint64_t)st.st_size <= n->size)
		return;
	int res =
	    n->store->ops->resize(n->store, (uint64_t)st.st_size, n->size, 0);
	if (res < 0)
		reg_log(r, LOG_ERR,
			"inode %llu keeps %llu bytes past its size after a "
			"failed change: %s",
			(unsigned long long)n->ino,
			(unsigned long long)st.st_size - n->size,
			strerror(-res));
}

/* Change a regular file's size: the mapping object and the reservation. */
int node_resize_locked(struct registry *r, struct node *n, uint64_t size)
{
	if (S_ISDIR(n->type))
		return -EISDIR;
	if (!S_ISREG(n->type))
		return -EINVAL;
	if (n->protect != SHMAP_PROTECT_READWRITE)
		return -EACCES;
	if (size > SHMAP_MAX_FILESIZE)
		return -EFBIG;
	if (!n->store)
		return -EBUSY;
	node_catch_up_locked(r, n);
	/* A committed mapping reserves its size, a sparse one nothing. */
	int res = n->sparse ? 0 : charge_reserve(r, n, n->size, size);
	if (res < 0)
		return res;
	res = n->store->ops->resize(n->store, n->size, size, !n->sparse);
	if (res < 0 && size > n->size) /* a part of the growth may stay */
		node_trim_store_locked(r, n);
	if (!n->sparse)
		charge_release(r, n, res < 0 ? size : n->size,
			       res < 0 ? n->size : size);
	if (res < 0)
		return res;
	n->size = size;
	if (n->sparse) /* a shrink frees pages */
		sparse_recount_locked(r, n);
	now(&n->mtime);
	n->ctime = n->mtime;
	return 0;
}

/*
 * The bytes of whole pages of [off, end) in which fd has no data, as
 * SEEK_HOLE sees it: past EOF, in a hole, or (on tmpfs) reserved by
 * fallocate but not yet written. Data runs in whole pages; only a run
 * that ends at EOF ends inside one, which is data.
 */
static uint64_t hole_bytes(int fd, uint64_t off, uint64_t end)
{
	uint64_t holes = 0;
	uint64_t pos = off & ~(uint64_t)4095;
	while (pos < end) {
		off_t hole = lseek(fd, (off_t)pos, SEEK_HOLE);
		uint64_t from = hole < 0 ? pos : PAGE_ROUND((uint64_t)hole);
		if (from >= end)
			break;
		off_t data = lseek(fd, (off_t)from, SEEK_DATA);
		uint64_t to = data < 0 || (uint64_t)data > end ? PAGE_ROUND(end)
							       : (uint64_t)data;
		holes += to - from;
		pos = to;
	}
	return holes;
}

uint64_t sparse_need_locked(struct registry *r, struct node *n, uint64_t off,
			    uint64_t size)
{
	if (!r->counts_capacity || size == 0)
		return 0;
	uint64_t end = off + size;
	uint64_t holes = hole_bytes(n->store->fd, off, end);
	/* SEEK_HOLE shows fallocated pages not yet written as holes: below
	 * the size, a change adds at most the pages the store lacks there. */
	uint64_t start = off & ~(uint64_t)4095, last = PAGE_ROUND(end);
	uint64_t sized = PAGE_ROUND(n->size), span = last - start;
	uint64_t inside =
	    sized > start ? (last < sized ? last : sized) - start : 0;
	uint64_t lacks = sized > n->charged ? sized - n->charged : 0;
	uint64_t bound = inside > lacks ? span - (inside - lacks) : span;
	return holes < bound ? holes : bound;
}

void sparse_recount_locked(struct registry *r, struct node *n)
{
	struct stat st;
	if (!r->counts_capacity || !n->store || fstat(n->store->fd, &st) < 0)
		return;
	uint64_t held = (uint64_t)st.st_blocks * 512;
	if (held > n->charged)
		charge_add(r, n, held - n->charged);
	else
		charge_give(r, n, n->charged - held);
	n->charged = held;
}

int node_set_sparse_locked(struct registry *r, struct node *n, int sparse)
{
	if (!sparse == !n->sparse)
		return 0;
	if (sparse) {
		charge_give(r, n, PAGE_ROUND(n->size));
		n->sparse = 1;
		n->charged = 0;
		sparse_recount_locked(r, n);
		return 0;
	}
	/* Committed from now on: reserve the whole size, pages included. */
	uint64_t size = PAGE_ROUND(n->size);
	uint64_t need = size > n->charged ? size - n->charged : 0;
	int res = charge_take(r, n, need);
	if (res < 0)
		return res;
	if (n->size)
		res = n->store->ops->fallocate(n->store, 0, 0, n->size);
	if (res < 0) {
		charge_give(r, n, need);
		return res;
	}
	charge_give(r, n, n->charged > size ? n->charged - size : 0);
	n->sparse = 0;
	n->charged = 0;
	return 0;
}

static int change_times_locked(struct registry *r, struct node *n,
			       const struct setattr_req *q)
{
	struct timespec t[2], nowts;
	now(&nowts);
	t[0] = q->valid & SET_ATIME_NOW ? nowts : q->atime;
	t[1] = q->valid & SET_MTIME_NOW ? nowts : q->mtime;
	if (!(q->valid & (SET_ATIME | SET_ATIME_NOW)))
		t[0] = n->atime;
	if (!(q->valid & (SET_MTIME | SET_MTIME_NOW)))
		t[1] = n->mtime;
	int res = backing_utimens(r, n, t);
	if (res < 0)
		return res;
	/* A shared mapping's times are its store's (node_catch_up_locked). */
	if (r->memory_backed && n->direct) {
		res = node_store_utimens(r, n, t);
		if (res < 0)
			return res;
	}
	n->atime = t[0];
	n->mtime = t[1];
	return 0;
}

/* What a setattr changed before a later step failed, to be put back. */
struct attr_undo {
	int owner, mode; /* changed */
	uid_t uid;
	gid_t gid;
	mode_t perm;
};

/* Give n a new owner (lock held): the usage first, which a quota may
 * refuse, then the backing file. */
static int change_owner_locked(struct registry *r, struct node *n, uid_t uid,
			       gid_t gid)
{
	int res = quota_chown_locked(r, n, uid, gid);
	if (res < 0)
		return res;
	res = backing_chown(r, n, uid, gid);
	if (res < 0) {
		quota_unchown_locked(r, n, uid, gid);
		return res;
	}
	n->uid = uid;
	n->gid = gid;
	return 0;
}

/*
 * A later step failed: give n its old owner and mode back, usage included,
 * so that a setattr that fails changes nothing (lock held). The size is
 * never changed before a step that may fail but a backing file's chmod or
 * utimens, which the daemon (owner or root) is refused only by a failing
 * backing filesystem.
 */
static void undo_attrs_locked(struct registry *r, struct node *n,
			      const struct attr_undo *u)
{
	if (u->owner) {
		uid_t uid = n->uid;
		gid_t gid = n->gid;
		n->uid = u->uid;
		n->gid = u->gid;
		if (quota_unchown_locked(r, n, uid, gid) < 0) {
			n->uid = uid; /* the usage stayed: so does the owner */
			n->gid = gid;
			reg_log(r, LOG_ERR,
				"inode %llu keeps owner %u:%u after a failed "
				"setattr: no memory to give the usage back",
				(unsigned long long)n->ino, uid, gid);
		} else {
			backing_chown(r, n, u->uid, u->gid);
		}
	}
	/* A chown clears a backing file's set-ID bits: the mode too. */
	if ((u->owner || u->mode) && backing_chmod(r, n, u->perm) == 0)
		n->mode = u->perm;
}

int registry_setattr(struct registry *r, struct node *n,
		     const struct setattr_req *q, struct stat *st)
{
	if (r->cfg.read_only)
		return -EROFS;
	/* A truncate by name may come while the mapping is idle. */
	int held = (q->valid & SET_SIZE) && S_ISREG(n->type);
	int res = held ? node_hold(r, n) : 0;
	if (res < 0)
		return res;
	/* On a file-backed mount, a node without a descriptor (fifo,
	 * symlink, idle mapping) is changed through its name, which a rename
	 * may free: hold the namespace still (registry.lock, then the
	 * node's). */
	int names = !r->memory_backed;
	if (names)
		pthread_mutex_lock(&r->lock);
	pthread_rwlock_wrlock(&n->lock);
	/* All or nothing: the owner first (a quota may refuse it), so that
	 * a size it takes is charged to the new owner; the size next, as
	 * it cannot be undone; then what cannot fail but on a failing
	 * backing filesystem. A failed step undoes the owner and mode. */
	struct attr_undo undo = {.uid = n->uid, .gid = n->gid, .perm = n->mode};
	if (q->valid & (SET_UID | SET_GID)) {
		res = change_owner_locked(r, n,
					  q->valid & SET_UID ? q->uid : n->uid,
					  q->valid & SET_GID ? q->gid : n->gid);
		undo.owner = !res;
	}
	if (!res && (q->valid & SET_SIZE))
		res = node_resize_locked(r, n, q->size);
	if (!res && (q->valid & SET_MODE)) {
		res = backing_chmod(r, n, q->mode & 07777);
		if (!res)
			n->mode = q->mode & 07777;
		undo.mode = !res;
	}
	if (!res && (q->valid &
		     (SET_ATIME | SET_MTIME | SET_ATIME_NOW | SET_MTIME_NOW)))
		res = change_times_locked(r, n, q);
	if (res < 0)
		undo_attrs_locked(r, n, &undo);
	if (!res && (q->valid & SET_KILL_SUIDGID) && !(q->valid & SET_MODE))
		kill_suid_sgid_locked(r, n);
	if (!res)
		now(&n->ctime);
	if (!res && (q->valid & SET_CTIME))
		n->ctime = q->ctime;
	pthread_rwlock_unlock(&n->lock);
	if (names)
		pthread_mutex_unlock(&r->lock);
	registry_getattr(r, n, st);
	if (held)
		node_drop(r, n);
	return res;
}

int registry_kill_suid_sgid(struct registry *r, struct node *n)
{
	pthread_rwlock_wrlock(&n->lock);
	int changed = kill_suid_sgid_locked(r, n);
	pthread_rwlock_unlock(&n->lock);
	return changed;
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

int registry_statfs(struct registry *r, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	if (!r->memory_backed) {
		if (fstatvfs(r->cfg.backing_dirfd, st) < 0)
			return -errno;
		if (st->f_namemax > SHMAP_NAME_MAX)
			st->f_namemax = SHMAP_NAME_MAX;
		return 0;
	}
	if (!r->counts_capacity) { /* the tmpfs of the stores counts */
		if (fstatvfs(r->cfg.store_dirfd, st) < 0)
			return -errno;
		return statfs_nodes(r, st);
	}
	uint64_t used = atomic_load(&r->used);
	st->f_bsize = st->f_frsize = 4096;
	st->f_blocks = r->cfg.capacity / 4096;
	st->f_bfree = st->f_bavail =
	    used < r->cfg.capacity ? (r->cfg.capacity - used) / 4096 : 0;
	return statfs_nodes(r, st);
}
