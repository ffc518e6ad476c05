/*
 * Attributes: stat, setattr (chmod, chown, truncate, utimens) and statfs.
 *
 * Calls: node.c (a use of an idle mapping for a truncate), residency.c
 * (its store's stat and times), charge.c, the kind of backing (backing.h)
 * and util.c.
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

int registry_getattr(struct registry *r, struct node *n, struct stat *st)
{
	/* nlink and the count of entries are the namespace's. */
	pthread_mutex_lock(&r->lock);
	node_lock_for_stat(r, n);
	node_stat_locked(r, n, st);
	pthread_rwlock_unlock(&n->lock);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/*
 * Clear set-user-ID, and set-group-ID where it means "set group" (group
 * execute on), as a write, truncate or chown by an unprivileged caller
 * must. The kernel asks us to (FUSE_HANDLE_KILLPRIV_V2, see fs/fuse_io.h).
 * 1 if the mode changed, 0 if there was nothing to clear, -errno if the
 * backing file's mode could not be changed: then neither changed, and the
 * caller fails, as the kernel fails a write whose file_remove_privs()
 * fails. Lock held.
 */
int kill_suid_sgid_locked(struct registry *r, struct node *n)
{
	mode_t kill = S_ISUID;
	if (n->mode & S_IXGRP)
		kill |= S_ISGID;
	if (S_ISDIR(n->type) || !(n->mode & kill))
		return 0;
	int res = backing_chmod(r, n, n->mode & ~kill);
	if (res < 0)
		return res;
	n->mode &= ~kill;
	now(&n->ctime);
	return 1;
}

void node_trim_store_locked(struct registry *r, struct node *n)
{
	struct stat st;
	/* A shared store is written by others too: its size is the truth
	 * (node_catch_up_locked). */
	if (n->direct || node_store_stat(r, n, &st) < 0 ||
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
	uint64_t old_size = n->size, taken;
	int res = charge_resize_locked(r, n, size, &taken);
	if (res < 0)
		return res;
	res = n->store->ops->resize(n->store, n->size, size, !n->sparse);
	if (res < 0 && size > n->size) /* a part of the growth may stay */
		node_trim_store_locked(r, n);
	if (res == 0)
		n->size = size;
	charge_resized_locked(r, n, old_size, taken, res < 0);
	if (res < 0)
		return res;
	now(&n->mtime);
	n->ctime = n->mtime;
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
	int res = charge_chown_locked(r, n, uid, gid);
	if (res < 0)
		return res;
	res = backing_chown(r, n, uid, gid);
	if (res < 0) {
		charge_unchown_locked(r, n, uid, gid);
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
		if (charge_unchown_locked(r, n, uid, gid) < 0) {
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
	/* A node without a descriptor (fifo, symlink, idle mapping) may be
	 * changed through its name, which a rename may free: hold the
	 * namespace still (registry.lock, then the node's). */
	int names = r->backing->changes_by_name;
	if (names)
		pthread_mutex_lock(&r->lock);
	pthread_rwlock_wrlock(&n->lock);
	/* All or nothing: the owner first (a quota may refuse it), so that
	 * a size it takes is charged to the new owner; the size next, as
	 * it cannot be undone; then what cannot fail but on a failing
	 * backing filesystem. A failed step undoes the owner and mode. */
	struct attr_undo undo = {.uid = n->uid, .gid = n->gid, .perm = n->mode};
	res = flags_check_setattr(n, q->valid);
	if (!res && (q->valid & (SET_UID | SET_GID))) {
		res = change_owner_locked(r, n,
					  q->valid & SET_UID ? q->uid : n->uid,
					  q->valid & SET_GID ? q->gid : n->gid);
		undo.owner = !res;
	}
	if (!res && (q->valid & SET_KILL_SUIDGID) && !(q->valid & SET_MODE)) {
		res = kill_suid_sgid_locked(r, n);
		undo.mode = res > 0;
		res = res < 0 ? res : 0;
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
	int res = kill_suid_sgid_locked(r, n);
	pthread_rwlock_unlock(&n->lock);
	return res;
}

int registry_statfs(struct registry *r, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	return r->backing->statfs(r, st);
}
