/*
 * The table of names: dentries hashed by (directory, name), each on its
 * directory's list of entries (in order) and its node's list of names.
 * Called with registry.lock held; calls nothing else in the core but the
 * stores (store.h), whose way back by name follows the names.
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* A store opened again by name follows its node's names (store.h). */
static void store_follow_names(struct node *n)
{
	if (!n->store)
		return;
	struct dentry *d = n->aliases;
	store_set_name(n->store, d ? d->dir->dirfd : -1, d ? d->name : NULL);
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
	store_follow_names(n);
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
	store_follow_names(n);
	free(d->name);
	free(d);
}
