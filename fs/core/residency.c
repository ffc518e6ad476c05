/*
 * Residency: a regular file's store is open only while the mapping is in
 * use. The first open (or a short internal use, such as a truncate by
 * name) opens it; the last release closes it, and lets the kernel's
 * passthrough handle go with it. An idle mapping then holds no descriptor
 * and no kernel object in the daemon: its data lives in a named file (in
 * the daemon's tmpfs, or the backing file), its names and attributes in
 * the node. So a mount holds as many mappings as memory allows, and only
 * mappings open at the same moment count against RLIMIT_NOFILE.
 *
 * A memfd (a memory-backed registry given no store directory) is the one
 * exception: its data dies with its descriptor, so it stays open.
 *
 * A file-backed mapping's lock must hold while any process has it open or
 * mapped. A view made through FUSE passthrough maps the backing file
 * itself and outlives the release: such a store, found still open for
 * writing elsewhere when its mapping goes idle, lingers (stays open and
 * locked) on registry.lingering until registry_sweep() finds it free.
 *
 * Calls: the kind of backing (backing.h: open, stat, close a store) and
 * util.c.
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Out of descriptors: say so, at most once a second. */
static void log_no_fds(struct registry *r, struct node *n, int res)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint_fast64_t last = atomic_load(&r->fd_warned_at);
	if ((uint64_t)ts.tv_sec <= last ||
	    !atomic_compare_exchange_strong(&r->fd_warned_at, &last,
					    (uint_fast64_t)ts.tv_sec))
		return;
	reg_log(r, LOG_WARNING,
		"cannot open mapping (inode %llu): %s; mappings in use at "
		"the same moment are limited by the daemon's RLIMIT_NOFILE",
		(unsigned long long)n->ino, strerror(-res));
}

/* The store open that cfg.fault_open says must fail. */
static int open_fault(struct registry *r)
{
	if (!r->cfg.fault_open ||
	    atomic_fetch_add(&r->store_opens, 1) + 1 != r->cfg.fault_open)
		return 0;
	return r->cfg.fault_open_err < 0 ? r->cfg.fault_open_err : -EIO;
}

/* Open n's store as it is now (registry.lock held). */
static int store_open_locked(struct registry *r, struct node *n,
			     struct store **out)
{
	int res = open_fault(r);
	if (res == 0)
		res = r->backing->open_store(r, n, out);
	if (res == -EMFILE || res == -ENFILE)
		log_no_fds(r, n, res);
	else if (res == -EBUSY)
		reg_log(r, LOG_WARNING,
			"mapping '%s' refused: its backing file is locked by "
			"another process",
			n->aliases ? n->aliases->name : "?");
	return res;
}

static void node_unlinger_locked(struct registry *r, struct node *n)
{
	if (!n->lingering)
		return;
	n->lingering = 0;
	if (n->linger_prev)
		n->linger_prev->linger_next = n->linger_next;
	else
		r->lingering = n->linger_next;
	if (n->linger_next)
		n->linger_next->linger_prev = n->linger_prev;
}

static void node_linger_locked(struct registry *r, struct node *n)
{
	n->linger_prev = NULL;
	n->linger_next = r->lingering;
	if (r->lingering)
		r->lingering->linger_prev = n;
	r->lingering = n;
	n->lingering = 1;
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

void node_lock_for_stat(struct registry *r, struct node *n)
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
	node_lock_for_stat(r, n);
	pthread_rwlock_unlock(&n->lock);
}

/* Let n's passthrough handle go (views keep what they mapped). */
static void node_unshare_locked(struct registry *r, struct node *n)
{
	pthread_rwlock_wrlock(&n->lock);
	node_catch_up_locked(r, n);
	int share = n->share;
	n->share = 0;
	pthread_rwlock_unlock(&n->lock);
	if (share > 0)
		r->cfg.unshare_store(r->cfg.share_ctx, share);
}

/* Close n's store, now idle, and its handle with it. */
static void node_close_store_locked(struct registry *r, struct node *n)
{
	node_unshare_locked(r, n);
	node_unlinger_locked(r, n);
	pthread_rwlock_wrlock(&n->lock);
	struct store *s = n->store;
	n->store = NULL;
	pthread_rwlock_unlock(&n->lock);
	backing_close_store(r, s);
}

/* Close the store of n, idle now, unless a view still holds its backing
 * file (then its lock must stay: linger). */
static void node_idle_locked(struct registry *r, struct node *n)
{
	int views = n->share > 0 || n->lingering;
	node_unshare_locked(r, n);
	if (views && r->backing->still_mapped(n->store)) {
		if (!n->lingering)
			node_linger_locked(r, n);
		return;
	}
	node_close_store_locked(r, n);
}

void registry_sweep(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	for (struct node *n = r->lingering, *next; n; n = next) {
		next = n->linger_next;
		/* In use again, its last release decides; unlinked, it
		 * lives as long as the node. */
		if (n->opens)
			continue;
		if (!n->aliases)
			node_unlinger_locked(r, n);
		else if (!r->backing->still_mapped(n->store))
			node_close_store_locked(r, n);
	}
	pthread_mutex_unlock(&r->lock);
}

int store_wake_locked(struct registry *r, struct node *n)
{
	if (!S_ISREG(n->type) || n->store)
		return 0;
	struct store *s = NULL;
	int res = store_open_locked(r, n, &s);
	if (res < 0)
		return res;
	pthread_rwlock_wrlock(&n->lock);
	n->store = s;
	pthread_rwlock_unlock(&n->lock);
	return 0;
}

void store_rest_locked(struct registry *r, struct node *n)
{
	if (n->store && r->backing->closes_idle(n))
		node_idle_locked(r, n);
}

void store_end_locked(struct registry *r, struct node *n)
{
	node_unlinger_locked(r, n);
	if (n->share > 0)
		r->cfg.unshare_store(r->cfg.share_ctx, n->share);
	backing_close_store(r, n->store);
	r->backing->forget_store(r, n);
}

int node_keep_unlinked_locked(struct registry *r, struct node *n)
{
	if (!r->backing->data_in_name || !S_ISREG(n->type) || n->nlink != 1 ||
	    n->store || !n->lookups)
		return 0;
	/* If it fails, the data goes with the name. */
	return store_wake_locked(r, n) == 0;
}

void node_unkeep_locked(struct registry *r, struct node *n)
{
	node_close_store_locked(r, n);
}

int registry_store_fd(struct registry *r, struct node *n)
{
	(void)r;
	pthread_rwlock_rdlock(&n->lock);
	int fd = n->store ? n->store->fd : -EBADF;
	pthread_rwlock_unlock(&n->lock);
	return fd;
}

int node_store_stat(struct registry *r, struct node *n, struct stat *st)
{
	if (n->store)
		return fstat(n->store->fd, st) < 0 ? -errno : 0;
	return r->backing->stat_store(r, n, st);
}
