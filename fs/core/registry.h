/*
 * Making and freeing a registry, the top of the core: the types and the
 * operations it serves are in core.h.
 */
#ifndef SHMAPFS_REGISTRY_H
#define SHMAPFS_REGISTRY_H

#include "core.h"

/*
 * Build a registry. For a file-backed one (cfg->backing_dirfd >= 0), scan
 * the backing directory: every file there becomes a mapping, each backing
 * file opened and locked. Returns -EBUSY if the directory is in use by
 * another shmapfs.
 */
int registry_new(const struct registry_config *cfg, struct registry **out);

/* Sync every store; returns the first error (all are tried). */
int registry_sync_all(struct registry *r);

/* Release every node and store (and so every lock). */
void registry_free(struct registry *r);

struct node *registry_root(struct registry *r);

#endif
