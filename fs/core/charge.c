/*
 * The one place that counts. Every change of what a mapping holds goes
 * through here, in one call that charges the mount's capacity (where the
 * daemon counts it: registry.counts_capacity) and the owner's quota
 * (quota.c) together, and takes back what it took if either refuses, as
 * shmem_inode_acct_blocks does in the kernel.
 *
 * What a mapping holds: a committed one its size in whole pages, reserved
 * before it grows; a sparse one the pages its store has, reserved before a
 * change may add them and counted anew after it. A mapping is charged to
 * its owner's uid and gid from node_alloc() to node_free().
 *
 * Calls: quota.c (each id's usage) and the store's operations. The
 * capacity (registry.used) is an atomic counter and needs no lock; every
 * function here but charge_new_mapping runs with n->lock held (or n
 * unshared).
 */
#include "internal.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

/* The capacity alone: take bytes if they fit, or -ENOSPC. */
static int cap_take(struct registry *r, uint64_t bytes)
{
	if (!r->counts_capacity || bytes == 0)
		return 0;
	uint_fast64_t used = atomic_load(&r->used);
	do {
		if (bytes > r->cfg.capacity || used > r->cfg.capacity - bytes)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak(&r->used, &used, used + bytes));
	return 0;
}

static void cap_give(struct registry *r, uint64_t bytes)
{
	if (r->counts_capacity)
		atomic_fetch_sub(&r->used, bytes);
}

/* What n holds of the capacity. */
static uint64_t node_charge(const struct node *n)
{
	return n->sparse ? n->charged : PAGE_ROUND(n->size);
}

static int charge_take(struct registry *r, struct node *n, uint64_t bytes)
{
	int res = cap_take(r, bytes);
	if (res == 0 &&
	    (res = quota_add(r, QUOTA_BOTH, n->uid, n->gid, bytes, 0, 1)) < 0)
		cap_give(r, bytes);
	return res;
}

/* Count bytes without a check: what a store holds, seen afterwards. */
static void charge_add(struct registry *r, struct node *n, uint64_t bytes)
{
	if (r->counts_capacity)
		atomic_fetch_add(&r->used, bytes);
	quota_add(r, QUOTA_BOTH, n->uid, n->gid, bytes, 0, 0);
}

static void charge_give(struct registry *r, struct node *n, uint64_t bytes)
{
	cap_give(r, bytes);
	quota_sub(r, QUOTA_BOTH, n->uid, n->gid, bytes, 0);
}

/* Reserve the whole pages that growing from old_size to new_size adds. */
static int charge_reserve(struct registry *r, struct node *n, uint64_t old_size,
			  uint64_t new_size, uint64_t *taken)
{
	*taken = 0;
	if (PAGE_ROUND(new_size) <= PAGE_ROUND(old_size))
		return 0;
	uint64_t grow = PAGE_ROUND(new_size) - PAGE_ROUND(old_size);
	int res = charge_take(r, n, grow);
	*taken = res == 0 ? grow : 0;
	return res;
}

uint64_t charge_used(struct registry *r)
{
	return atomic_load(&r->used);
}

int charge_new_mapping(struct registry *r, uid_t uid, gid_t gid)
{
	return quota_add(r, QUOTA_BOTH, uid, gid, 0, 1, 1);
}

void charge_end_mapping(struct registry *r, struct node *n)
{
	uint64_t bytes = node_charge(n);
	cap_give(r, bytes);
	quota_sub(r, QUOTA_BOTH, n->uid, n->gid, bytes, 1);
}

/* Move n's charge from one owner to the other: the ids that differ
 * between n's owner and (uid, gid). to_new: from n's owner to (uid, gid),
 * checked against their limits; else back from (uid, gid) to n's owner,
 * unchecked: the old owner is given back what was its own. */
static int move_charge_locked(struct registry *r, struct node *n, uid_t uid,
			      gid_t gid, int to_new)
{
	int kinds =
	    (uid != n->uid ? QUOTA_USR : 0) | (gid != n->gid ? QUOTA_GRP : 0);
	if (!S_ISREG(n->type) || !kinds)
		return 0;
	/* What n holds now, which a step since a move may have changed. */
	uint64_t bytes = node_charge(n);
	uid_t to_uid = to_new ? uid : n->uid, from_uid = to_new ? n->uid : uid;
	gid_t to_gid = to_new ? gid : n->gid, from_gid = to_new ? n->gid : gid;
	int res = quota_add(r, kinds, to_uid, to_gid, bytes, 1, to_new);
	if (res == 0)
		quota_sub(r, kinds, from_uid, from_gid, bytes, 1);
	return res;
}

int charge_chown_locked(struct registry *r, struct node *n, uid_t uid,
			gid_t gid)
{
	return move_charge_locked(r, n, uid, gid, 1);
}

int charge_unchown_locked(struct registry *r, struct node *n, uid_t uid,
			  gid_t gid)
{
	return move_charge_locked(r, n, uid, gid, 0);
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

/*
 * A sparse mapping's charge before storing size bytes at off: the pages of
 * the range that hold no data yet, but no more than the mapping lacks below
 * its size (a page fallocate reserved and nothing wrote looks like a hole).
 */
static uint64_t sparse_need_locked(struct registry *r, struct node *n,
				   uint64_t off, uint64_t size)
{
	if (!r->counts_capacity || size == 0)
		return 0;
	uint64_t end = off + size;
	/* A parked store that cannot be opened now counts as holes: then
	 * too much is reserved, never too little. */
	int fd = store_fd_get(n->store);
	uint64_t holes = fd < 0 ? PAGE_ROUND(end) - (off & ~(uint64_t)4095)
				: hole_bytes(fd, off, end);
	store_fd_put(n->store, fd);
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

/* Count what a sparse mapping's store holds now (store open). */
static void sparse_recount_locked(struct registry *r, struct node *n)
{
	struct stat st;
	if (!r->counts_capacity || !n->store)
		return;
	int fd = store_fd_get(n->store);
	int res = fd < 0 || fstat(fd, &st) < 0 ? -1 : 0;
	store_fd_put(n->store, fd);
	if (res < 0)
		return;
	uint64_t held = (uint64_t)st.st_blocks * 512;
	if (held > n->charged)
		charge_add(r, n, held - n->charged);
	else
		charge_give(r, n, n->charged - held);
	n->charged = held;
}

int charge_range_locked(struct registry *r, struct node *n, uint64_t off,
			uint64_t len, uint64_t *taken)
{
	*taken = 0;
	if (n->sparse) {
		uint64_t need = sparse_need_locked(r, n, off, len);
		int res = charge_take(r, n, need);
		*taken = res == 0 ? need : 0;
		return res;
	}
	if (off + len <= n->size)
		return 0;
	return charge_reserve(r, n, n->size, off + len, taken);
}

void charge_settle_locked(struct registry *r, struct node *n, uint64_t taken,
			  int failed)
{
	if (failed || n->sparse)
		charge_give(r, n, taken);
	if (n->sparse)
		sparse_recount_locked(r, n);
}

int charge_resize_locked(struct registry *r, struct node *n, uint64_t size,
			 uint64_t *taken)
{
	/* A committed mapping reserves its size, a sparse one nothing. */
	*taken = 0;
	return n->sparse ? 0 : charge_reserve(r, n, n->size, size, taken);
}

void charge_resized_locked(struct registry *r, struct node *n,
			   uint64_t old_size, uint64_t taken, int failed)
{
	if (failed) {
		charge_give(r, n, taken);
		return;
	}
	if (n->sparse) { /* a shrink frees pages */
		sparse_recount_locked(r, n);
		return;
	}
	if (PAGE_ROUND(n->size) < PAGE_ROUND(old_size))
		charge_give(r, n, PAGE_ROUND(old_size) - PAGE_ROUND(n->size));
}

int charge_set_sparse_locked(struct registry *r, struct node *n, int sparse)
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
