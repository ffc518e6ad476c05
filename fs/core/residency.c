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
 * Nor do mappings in use bind the daemon to its RLIMIT_NOFILE: past half
 * of it (cfg.resident_max), a store opened is parked (store.h): it holds
 * no descriptor, and each use of it opens it again for as long as it
 * lasts. With passthrough the kernel holds the file it serves from, so
 * the daemon seldom needs one; on the fallback, each read and write of a
 * parked store opens it. Whether a store is parked is decided as it
 * opens and holds until it closes, so a descriptor in use is never
 * closed under anyone. A parked backing file is held (and stays locked)
 * by its pin, which the lease probe cannot tell from another's open: so
 * it lingers after its release until the sweep finds no view, as on a
 * filesystem without leases.
 *
 * A file-backed mapping's lock must hold while any process has it open or
 * mapped. A view made through FUSE passthrough maps the backing file
 * itself and outlives the release. A write lease probe sees it only if
 * it is writable, or if the kernel counts read-only opens too (IMA), and
 * cannot tell at all on a filesystem without leases. So, unless that
 * probe can say "nobody" for all views, a store that was shared lingers
 * (stays open, locked and exclusive) on registry.lingering when its
 * mapping goes idle, until registry_sweep() finds it free: nobody else
 * writes it (the lease) and no process maps it (views.h). A look that
 * cannot tell keeps it.
 *
 * Calls: the kind of backing (backing.h: open, stat, close a store),
 * views.c (the processes' maps) and util.c.
 */
#include "backing.h"
#include "internal.h"
#include "views.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Out of descriptors (or of memory maps for pins): say so, at most once a
 * second. */
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
		"cannot open mapping (inode %llu): %s; past half the "
		"daemon's RLIMIT_NOFILE, mappings in use at the same moment "
		"are limited by its vm.max_map_count (file-backed),",
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

/*
 * Whether a store opened now is to be parked: past cfg.resident_max
 * stores with a descriptor, or half the daemon's RLIMIT_NOFILE (the rest
 * for directories, /dev/fuse, and the short opens of parked stores; read
 * each time, as prlimit may change it). Never under injected faults: a
 * faulty store mirrors its inner store's descriptor.
 */
static int store_should_park(struct registry *r)
{
	if (r->cfg.fault_write || r->cfg.fault_resize)
		return 0;
	rlim_t most = r->cfg.resident_max;
	struct rlimit rl;
	if (!most && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		most = rl.rlim_cur / 2;
	return most && atomic_load(&r->resident) >= most;
}

/* Open n's store as it is now (registry.lock held). */
static int store_open_locked(struct registry *r, struct node *n,
			     struct store **out)
{
	int res = open_fault(r);
	if (res == 0)
		res = r->backing->open_store(r, n, store_should_park(r), out);
	if (res == -EMFILE || res == -ENFILE || res == -ENOMEM)
		log_no_fds(r, n, res);
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

/* n's store no longer counts among those with a descriptor. */
static void node_unresident_locked(struct registry *r, struct node *n)
{
	if (n->resident)
		atomic_fetch_sub(&r->resident, 1);
	n->resident = 0;
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
	node_unresident_locked(r, n);
	backing_close_store(r, s);
}

/*
 * The write lease probe of n's store: 1 if another open file writes it, 0
 * if none does (nor, where leases_see_readers, reads it), -errno if it
 * cannot tell. For tests only: SHMAPFS_TEST_NO_LEASES in the environment
 * makes it fail as on a filesystem without leases (EINVAL).
 */
static int lease_probe(struct node *n)
{
	if (getenv("SHMAPFS_TEST_NO_LEASES"))
		return -EINVAL;
	return store_written_elsewhere(n->store);
}

/*
 * Close the store of n, idle now, unless a view may still hold its
 * backing file (then its lock must stay: linger, and the sweep looks).
 * Where the lease probe sees read-only opens too, its "nobody" is the
 * whole answer, at the cost of one fcntl: no wait, no look at the maps.
 */
static void node_idle_locked(struct registry *r, struct node *n)
{
	int views = n->share > 0 || n->lingering;
	node_unshare_locked(r, n);
	if (r->backing->lingers && views &&
	    !(r->leases_see_readers && lease_probe(n) == 0)) {
		if (!n->lingering)
			node_linger_locked(r, n);
		n->idled++;
		return;
	}
	node_close_store_locked(r, n);
}

/* A lingering store the sweep looks for in the processes' maps: n as it
 * was when looked at (idled and ino tell it from a later use, or a new
 * node at the same address), and whether a view of it was found. */
struct sweep_item {
	struct node *n;
	uint64_t idled;
	uint64_t ino;
	int mapped;
};

static int item_cmp(const void *a, const void *b)
{
	const struct sweep_item *x = a, *y = b;
	return x->n < y->n ? -1 : x->n > y->n;
}

/* The lingering stores that nothing but a view may still hold, in *out
 * (registry.lock held). Returns how many, or -errno. */
static ssize_t sweep_collect_locked(struct registry *r, struct sweep_item **out)
{
	size_t cap = 0;
	for (struct node *n = r->lingering; n; n = n->linger_next)
		cap++;
	struct sweep_item *items = cap ? malloc(cap * sizeof(*items)) : NULL;
	if (cap && !items)
		return -ENOMEM;
	size_t count = 0;
	for (struct node *n = r->lingering, *next; n; n = next) {
		next = n->linger_next;
		/* In use again, its last release decides; unlinked, it
		 * lives as long as the node. */
		if (n->opens)
			continue;
		if (!n->aliases)
			node_unlinger_locked(r, n);
		else if (lease_probe(n) != 1) /* 0, or cannot tell */
			items[count++] =
			    (struct sweep_item){n, n->idled, n->ino, 1};
	}
	*out = items;
	return (ssize_t)count;
}

/* Close the stores looked at and found unmapped, unless used since
 * (registry.lock held). */
static void sweep_close_locked(struct registry *r, struct sweep_item *items,
			       size_t count)
{
	qsort(items, count, sizeof(*items), item_cmp);
	for (struct node *n = r->lingering, *next; n; n = next) {
		next = n->linger_next;
		struct sweep_item key = {.n = n};
		struct sweep_item *it =
		    bsearch(&key, items, count, sizeof(*items), item_cmp);
		if (it && !it->mapped && it->idled == n->idled &&
		    it->ino == n->ino && !n->opens && n->aliases)
			node_close_store_locked(r, n);
	}
}

/* Which items some process maps; 0, or -errno if that cannot be told
 * (then every item counts as mapped). Takes no lock: it reads /proc. */
static int sweep_find_views(struct registry *r, dev_t dev,
			    struct sweep_item *items, size_t count)
{
	uint64_t *inos = malloc(count * sizeof(*inos));
	unsigned char *found = malloc(count);
	int res = inos && found ? 0 : -ENOMEM;
	for (size_t i = 0; res == 0 && i < count; i++)
		inos[i] = items[i].ino;
	if (res == 0)
		res = views_find(dev, inos, count, found);
	for (size_t i = 0; res == 0 && i < count; i++)
		items[i].mapped = found[i];
	free(inos);
	free(found);
	if (res < 0 && !atomic_exchange(&r->views_warned, 1))
		reg_log(r, LOG_WARNING,
			"cannot tell whether views of idle mappings remain: "
			"%s; their backing files stay locked (said once)",
			strerror(-res));
	return res;
}

void registry_sweep(struct registry *r)
{
	struct sweep_item *items = NULL;
	pthread_mutex_lock(&r->lock);
	ssize_t count = sweep_collect_locked(r, &items);
	dev_t dev = r->views_dev;
	pthread_mutex_unlock(&r->lock);
	if (count > 0 && sweep_find_views(r, dev, items, (size_t)count) == 0) {
		pthread_mutex_lock(&r->lock);
		sweep_close_locked(r, items, (size_t)count);
		pthread_mutex_unlock(&r->lock);
	}
	free(items);
}

/*
 * Whether a write lease probe sees a read-only open of the file by
 * another: the kernel counts them only with IMA (i_readcount). Tried on
 * a memfd of our own, reopened read-only.
 */
static int leases_see_readers(void)
{
	int fd = memfd_create("shmapfs-lease-probe", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int reader = open(path, O_RDONLY | O_CLOEXEC);
	int seen = reader >= 0 && fcntl(fd, F_SETLEASE, F_WRLCK) < 0 &&
		   errno == EAGAIN;
	if (reader >= 0)
		close(reader);
	close(fd);
	return seen;
}

int registry_watch_views(struct registry *r, const char *mountpoint)
{
	dev_t dev;
	int res = views_mount_dev(mountpoint, &dev);
	int readers = leases_see_readers();
	pthread_mutex_lock(&r->lock);
	if (res == 0)
		r->views_dev = dev;
	r->leases_see_readers = readers;
	pthread_mutex_unlock(&r->lock);
	return res;
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
	n->resident = !store_parked(s);
	if (n->resident)
		atomic_fetch_add(&r->resident, 1);
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
	node_unresident_locked(r, n);
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
	int fd = n->store ? store_fd_get(n->store) : -EBADF;
	pthread_rwlock_unlock(&n->lock);
	return fd;
}

/* The caller's file keeps the store open, so n->store is the one the
 * descriptor came from. */
void registry_store_fd_put(struct registry *r, struct node *n, int fd)
{
	(void)r;
	pthread_rwlock_rdlock(&n->lock);
	if (n->store)
		store_fd_put(n->store, fd);
	pthread_rwlock_unlock(&n->lock);
}

int registry_store_fd_owned(struct registry *r, struct node *n, int fd)
{
	(void)r;
	pthread_rwlock_rdlock(&n->lock);
	int owned = fd >= 0 && (!n->store || fd != n->store->fd);
	pthread_rwlock_unlock(&n->lock);
	return owned;
}

int node_store_stat(struct registry *r, struct node *n, struct stat *st)
{
	if (!n->store)
		return r->backing->stat_store(r, n, st);
	int fd = store_fd_get(n->store);
	if (fd < 0)
		return fd;
	int res = fstat(fd, st) < 0 ? -errno : 0;
	store_fd_put(n->store, fd);
	return res;
}
