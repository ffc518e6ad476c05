/*
 * The registry itself: creating and freeing it, nodes and their lifetime,
 * the table of names (dentries), capacity accounting and logging.
 * Operations on the namespace, attributes, data and xattrs live in
 * namespace.c, attr.c, data.c and xattr.c.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <unistd.h>

void reg_log(struct registry *r, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->cfg.log)
		r->cfg.log(r->cfg.log_ctx, level, msg);
}

void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

int name_check(const char *name)
{
	size_t len = strnlen(name, SHMAP_NAME_MAX + 1);
	if (len == 0)
		return -ENOENT;
	if (len > SHMAP_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EEXIST;
	return 0;
}

/* Capacity is reserved in whole pages of each mapping's size. */
int cap_reserve(struct registry *r, uint64_t old_size, uint64_t new_size)
{
	if (PAGE_ROUND(new_size) <= PAGE_ROUND(old_size))
		return 0;
	return cap_take(r, PAGE_ROUND(new_size) - PAGE_ROUND(old_size));
}

void cap_release(struct registry *r, uint64_t old_size, uint64_t new_size)
{
	if (!r->counts_capacity || PAGE_ROUND(new_size) >= PAGE_ROUND(old_size))
		return;
	atomic_fetch_sub(&r->used, PAGE_ROUND(old_size) - PAGE_ROUND(new_size));
}

int cap_take(struct registry *r, uint64_t bytes)
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

void cap_give(struct registry *r, uint64_t bytes)
{
	if (r->counts_capacity)
		atomic_fetch_sub(&r->used, bytes);
}

uint64_t node_charge(const struct node *n)
{
	return n->sparse ? n->charged : PAGE_ROUND(n->size);
}

static uint32_t name_hash(const struct node *dir, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uintptr_t)dir;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

static int buckets_grow(struct registry *r)
{
	size_t n = r->nbuckets * 2;
	struct dentry **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct dentry *d = r->buckets[i];
		while (d) {
			struct dentry *next = d->hash_next;
			d->hash_next = b[d->hash & (n - 1)];
			b[d->hash & (n - 1)] = d;
			d = next;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = n;
	return 0;
}

struct dentry *dentry_find(struct registry *r, struct node *dir,
			   const char *name)
{
	uint32_t h = name_hash(dir, name);
	for (struct dentry *d = r->buckets[h & (r->nbuckets - 1)]; d;
	     d = d->hash_next)
		if (d->hash == h && d->dir == dir && !strcmp(d->name, name))
			return d;
	return NULL;
}

/*
 * Names are added in two steps so that an operation can allocate
 * everything before it changes anything (on disk or here): dentry_new()
 * may fail, dentry_link() cannot.
 */
struct dentry *dentry_new(struct registry *r, const char *name)
{
	if (r->ndentries >= r->nbuckets * 2 && buckets_grow(r) < 0)
		return NULL;
	struct dentry *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->name = strdup(name);
	if (!d->name) {
		free(d);
		return NULL;
	}
	d->namelen = strlen(name);
	return d;
}

void dentry_free_unlinked(struct dentry *d)
{
	if (d) {
		free(d->name);
		free(d);
	}
}

void dentry_link(struct registry *r, struct dentry *d, struct node *dir,
		 struct node *n)
{
	d->dir = dir;
	d->node = n;
	d->hash = name_hash(dir, d->name);
	d->hash_next = r->buckets[d->hash & (r->nbuckets - 1)];
	r->buckets[d->hash & (r->nbuckets - 1)] = d;
	d->sib_prev = dir->last_child;
	d->sib_next = NULL;
	if (dir->last_child)
		dir->last_child->sib_next = d;
	else
		dir->first_child = d;
	dir->last_child = d;
	dir->nchildren++;
	d->alias_next = n->aliases;
	n->aliases = d;
	n->nlink++;
	if (S_ISDIR(n->type))
		dir->nlink++;
	r->ndentries++;
}

int dentry_add(struct registry *r, struct node *dir, const char *name,
	       struct node *n)
{
	struct dentry *d = dentry_new(r, name);
	if (!d)
		return -ENOMEM;
	dentry_link(r, d, dir, n);
	return 0;
}

void dentry_remove(struct registry *r, struct dentry *d)
{
	struct dentry **pp = &r->buckets[d->hash & (r->nbuckets - 1)];
	while (*pp != d)
		pp = &(*pp)->hash_next;
	*pp = d->hash_next;
	if (d->sib_prev)
		d->sib_prev->sib_next = d->sib_next;
	else
		d->dir->first_child = d->sib_next;
	if (d->sib_next)
		d->sib_next->sib_prev = d->sib_prev;
	else
		d->dir->last_child = d->sib_prev;
	d->dir->nchildren--;
	struct node *n = d->node;
	pp = &n->aliases;
	while (*pp != d)
		pp = &(*pp)->alias_next;
	*pp = d->alias_next;
	n->nlink--;
	if (S_ISDIR(n->type))
		d->dir->nlink--; /* its ".." */
	r->ndentries--;
	free(d->name);
	free(d);
}

int node_alloc(struct registry *r, mode_t type, mode_t perm, uid_t uid,
	       gid_t gid, struct node **out)
{
	if (r->nnodes >= r->cfg.max_nodes)
		return -ENOSPC;
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (pthread_rwlock_init(&n->lock, NULL) != 0) {
		free(n);
		return -ENOMEM;
	}
	/* A mapping counts against its owner's quota from now on. */
	int res = S_ISREG(type) ? quota_new_mapping(r, uid, gid) : 0;
	if (res < 0) {
		pthread_rwlock_destroy(&n->lock);
		free(n);
		return res;
	}
	n->ino = atomic_fetch_add(&r->next_ino, 1);
	n->type = type & S_IFMT;
	n->mode = perm & 07777;
	n->uid = uid;
	n->gid = gid;
	n->dirfd = -1;
	n->sparse = S_ISREG(type) && r->cfg.sparse;
	n->nlink = S_ISDIR(type) ? 1 : 0; /* "." ; the name adds one */
	now(&n->mtime);
	n->atime = n->ctime = n->mtime;
	n->all_next = r->all_nodes;
	if (r->all_nodes)
		r->all_nodes->all_prev = n;
	r->all_nodes = n;
	r->nnodes++;
	*out = n;
	return 0;
}

void node_free(struct registry *r, struct node *n)
{
	node_unlinger_locked(r, n);
	if (n->all_prev)
		n->all_prev->all_next = n->all_next;
	else if (r->all_nodes == n)
		r->all_nodes = n->all_next;
	if (n->all_next)
		n->all_next->all_prev = n->all_prev;
	if (n != r->root)
		r->nnodes--;
	if (S_ISREG(n->type)) /* a symlink's size reserves nothing */
		charge_end_mapping(r, n);
	if (n->share > 0)
		r->cfg.unshare_store(r->cfg.share_ctx, n->share);
	backing_close_store(r, n->store);
	node_store_unlink(r, n);
	if (n->dirfd >= 0)
		close(n->dirfd);
	for (struct xattr *x = n->xattrs, *next; x; x = next) {
		next = x->next;
		free(x->name);
		free(x->value);
		free(x);
	}
	free(n->symlink);
	pthread_rwlock_destroy(&n->lock);
	free(n);
}

/*
 * Free n once nothing refers to it: no name, no open handle, and no
 * reference the kernel holds. The last matters: the kernel may open an
 * unlinked inode it still knows (an open racing an unlink, or a reopen
 * through /proc/self/fd), and must then find its data, as on tmpfs. After
 * an unlink the kernel forgets the inode promptly. Called with
 * registry.lock held.
 */
void node_put_locked(struct registry *r, struct node *n)
{
	if (n == r->root || n->aliases || n->lookups || n->opens)
		return;
	node_free(r, n);
}

struct node *registry_root(struct registry *r)
{
	return r->root;
}

uint64_t registry_node_id(struct registry *r, struct node *n)
{
	return n == r->root ? 1 : (uint64_t)(uintptr_t)n;
}

struct node *registry_node(struct registry *r, uint64_t id)
{
	return id == 1 ? r->root : (struct node *)(uintptr_t)id;
}

static int registry_init_root(struct registry *r)
{
	struct node *root;
	int res = node_alloc(r, S_IFDIR, r->cfg.root_mode, r->cfg.root_uid,
			     r->cfg.root_gid, &root);
	if (res < 0)
		return res;
	r->nnodes--; /* the root does not count against nr_mappings */
	root->nlink = 2;
	root->dirfd = r->cfg.backing_dirfd;
	r->root = root;
	return 0;
}

/*
 * One shmapfs per backing directory: the directory itself is locked. A
 * daemon that was just unmounted still holds it while it writes its
 * mappings out, so wait a little (bounded) before refusing: umount
 * followed at once by mount must work.
 */
#define BACKING_LOCK_WAIT_MS 5000

static int lock_backing_dir(struct registry *r)
{
	unsigned wait =
	    r->cfg.lock_wait_ms ? r->cfg.lock_wait_ms : BACKING_LOCK_WAIT_MS;
	for (unsigned waited = 0;; waited += 50) {
		if (flock(r->cfg.backing_dirfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= wait)
			return -EBUSY;
		usleep(50 * 1000);
	}
}

/* The registry owns the backing directory's descriptor even when it
 * cannot be built: close it on every failure. */
static int refuse(const struct registry_config *cfg, int res)
{
	if (cfg->backing_dirfd >= 0)
		close(cfg->backing_dirfd);
	return res;
}

int registry_new(const struct registry_config *cfg, struct registry **out)
{
	struct registry *r = calloc(1, sizeof(*r));
	if (!r)
		return refuse(cfg, -ENOMEM);
	r->cfg = *cfg;
	r->memory_backed = cfg->backing_dirfd < 0;
	/* Where the daemon must see every write, it counts the capacity
	 * too, as where no tmpfs of its own does. */
	r->counts_capacity =
	    r->memory_backed &&
	    (!(cfg->store_dirfd > 0 && cfg->store_dir_capacity) ||
	     cfg->sees_every_write);
	atomic_init(&r->used, 0);
	atomic_init(&r->next_ino, 2);
	r->nbuckets = 1024;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	int res = r->buckets ? 0 : -ENOMEM;
	if (res == 0)
		res = pthread_mutex_init(&r->lock, NULL) ? -ENOMEM : 0;
	if (res == 0 && (res = quota_init(r)) < 0)
		pthread_mutex_destroy(&r->lock);
	if (res < 0) {
		free(r->buckets);
		free(r);
		return refuse(cfg, res);
	}
	res = r->memory_backed ? 0 : lock_backing_dir(r);
	if (res == 0)
		res = registry_init_root(r);
	if (res == 0 && !r->memory_backed)
		res = backing_scan(r);
	if (res < 0) {
		if (!r->root) /* else the root's node closes it */
			refuse(cfg, res);
		registry_free(r);
		return res;
	}
	*out = r;
	return 0;
}

int registry_sync_all(struct registry *r)
{
	int first = 0;
	pthread_mutex_lock(&r->lock);
	for (struct node *n = r->all_nodes; n; n = n->all_next) {
		if (!n->store)
			continue;
		int res = n->store->ops->sync(n->store, 0);
		if (res < 0 && first == 0)
			first = res;
		if (res < 0)
			reg_log(r, LOG_ERR,
				"writing out mapping (inode %llu): %s",
				(unsigned long long)n->ino, strerror(-res));
	}
	/* Idle mappings hold no descriptor: write the whole backing
	 * filesystem out, their data and the directory's names with it. */
	if (!r->memory_backed && syncfs(r->cfg.backing_dirfd) < 0 && !first)
		first = -errno;
	pthread_mutex_unlock(&r->lock);
	return first;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	snapshot_free_all_locked(r); /* listings never closed */
	/* All names first: a name refers to a node that may come later. */
	for (struct node *n = r->all_nodes; n; n = n->all_next)
		while (n->first_child)
			dentry_remove(r, n->first_child);
	while (r->all_nodes)
		node_free(r, r->all_nodes);
	quota_free(r);
	pthread_mutex_destroy(&r->lock);
	free(r->buckets);
	free(r);
}
