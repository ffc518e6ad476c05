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

/* Memory stores are named for the node's inode number: unique, stable. */
void store_name(const struct node *n, char name[STORE_NAME_LEN])
{
	snprintf(name, STORE_NAME_LEN, "%llx", (unsigned long long)n->ino);
}

int node_is_resident(struct registry *r)
{
	return !r->memory_backed || r->cfg.store_dirfd > 0;
}

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
	if (res < 0)
		return res;
	if (r->memory_backed) {
		char name[STORE_NAME_LEN];
		store_name(n, name);
		res = store_named_open(r->cfg.store_dirfd, name, out);
		if (res == 0 && (res = backing_wrap_store(r, out)) < 0)
			store_destroy(*out);
	} else {
		/* An unlinked backing file is gone once nobody uses it. */
		res = n->aliases ? backing_open_store(r, n->aliases, out)
				 : -ENOENT;
	}
	if (res == -EMFILE || res == -ENFILE)
		log_no_fds(r, n, res);
	else if (res == -EBUSY)
		reg_log(r, LOG_WARNING,
			"mapping '%s' refused: its backing file is locked by "
			"another process",
			n->aliases ? n->aliases->name : "?");
	return res;
}

void node_unlinger_locked(struct registry *r, struct node *n)
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
	if (!r->memory_backed && views && store_written_elsewhere(n->store)) {
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
		else if (!store_written_elsewhere(n->store))
			node_close_store_locked(r, n);
	}
	pthread_mutex_unlock(&r->lock);
}

int node_hold_locked(struct registry *r, struct node *n)
{
	if (S_ISREG(n->type) && !n->store) {
		struct store *s = NULL;
		int res = store_open_locked(r, n, &s);
		if (res < 0)
			return res;
		pthread_rwlock_wrlock(&n->lock);
		n->store = s;
		pthread_rwlock_unlock(&n->lock);
	}
	n->opens++;
	return 0;
}

int node_keep_unlinked_locked(struct registry *r, struct node *n)
{
	if (r->memory_backed || !S_ISREG(n->type) || n->nlink != 1 ||
	    n->store || !n->lookups)
		return 0;
	struct store *s = NULL;
	if (store_open_locked(r, n, &s) < 0)
		return 0; /* then the data goes with the name */
	pthread_rwlock_wrlock(&n->lock);
	n->store = s;
	pthread_rwlock_unlock(&n->lock);
	return 1;
}

void node_unkeep_locked(struct registry *r, struct node *n)
{
	node_close_store_locked(r, n);
}

int node_hold(struct registry *r, struct node *n)
{
	pthread_mutex_lock(&r->lock);
	int res = node_hold_locked(r, n);
	pthread_mutex_unlock(&r->lock);
	return res;
}

void node_drop_locked(struct registry *r, struct node *n)
{
	if (n->opens == 0) {
		fprintf(stderr, "shmapfs: release of inode %llu never opened\n",
			(unsigned long long)n->ino);
		abort();
	}
	n->opens--;
	/* An unlinked backing file lives only while open: keep it for the
	 * kernel, which may still open the inode (node_keep_unlinked). */
	if (n->opens == 0 && n->store && node_is_resident(r) &&
	    (r->memory_backed || n->aliases))
		node_idle_locked(r, n);
	node_put_locked(r, n);
}

void node_drop(struct registry *r, struct node *n)
{
	pthread_mutex_lock(&r->lock);
	node_drop_locked(r, n);
	pthread_mutex_unlock(&r->lock);
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
	if (!S_ISREG(n->type) || !node_is_resident(r))
		return -ENOENT;
	int res;
	if (r->memory_backed) {
		char name[STORE_NAME_LEN];
		store_name(n, name);
		res =
		    fstatat(r->cfg.store_dirfd, name, st, AT_SYMLINK_NOFOLLOW);
	} else if (n->aliases) {
		res = fstatat(n->aliases->dir->dirfd, n->aliases->name, st,
			      AT_SYMLINK_NOFOLLOW);
	} else {
		return -ENOENT;
	}
	return res < 0 ? -errno : 0;
}

int node_store_utimens(struct registry *r, struct node *n,
		       const struct timespec t[2])
{
	int res;
	if (n->store) {
		res = futimens(n->store->fd, t);
	} else {
		char name[STORE_NAME_LEN];
		store_name(n, name);
		res =
		    utimensat(r->cfg.store_dirfd, name, t, AT_SYMLINK_NOFOLLOW);
	}
	return res < 0 ? -errno : 0;
}

void node_store_unlink(struct registry *r, struct node *n)
{
	if (!S_ISREG(n->type) || !r->memory_backed || r->cfg.store_dirfd <= 0)
		return;
	char name[STORE_NAME_LEN];
	store_name(n, name);
	unlinkat(r->cfg.store_dirfd, name, 0);
}
