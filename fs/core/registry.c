/*
 * The registry itself, the top of the core: making it (its kind of
 * backing chosen once, and a backing directory scanned), writing it out,
 * and freeing it. See internal.h for the layers below.
 *
 * Calls: scan.c, namespace.c (open listings), node.c, dentry.c, quota.c
 * and the kinds of backing (backing.h).
 */
#include "backing.h"
#include "internal.h"
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

struct node *registry_root(struct registry *r)
{
	return r->root;
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

/* The kind of backing, chosen once: a backing directory, else a tmpfs for
 * the stores, else memfds. */
static const struct backing_ops *backing_kind(const struct registry_config *c)
{
	if (c->backing_dirfd >= 0)
		return &backing_dir;
	return c->store_dirfd > 0 ? &backing_tmpfs : &backing_memfd;
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
	r->backing = backing_kind(cfg);
	atomic_init(&r->used, 0);
	atomic_init(&r->next_ino, 2);
	atomic_init(&r->resident, 0);
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
	res = r->backing->init(r);
	if (res == 0)
		res = registry_init_root(r);
	if (res == 0)
		res = scan_backing(r);
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
		/* A parked store no name reaches now (store.h) is written
		 * with its whole filesystem below. */
		if (res == -ESTALE)
			continue;
		if (res < 0 && first == 0)
			first = res;
		if (res < 0)
			reg_log(r, LOG_ERR,
				"writing out mapping (inode %llu): %s",
				(unsigned long long)n->ino, strerror(-res));
	}
	int res = r->backing->sync_all(r);
	if (res < 0 && !first)
		first = res;
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
