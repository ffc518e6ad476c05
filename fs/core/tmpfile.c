/*
 * open(2) with O_TMPFILE, as tmpfs: an unnamed mapping (no name, nlink 0)
 * with a store of its own, open in the caller's hands. Without O_EXCL,
 * link may give it a name once (registry_link, through its
 * name_unnamed); then it is a mapping like any other. Never named, it
 * dies as an unlinked mapping does: after its last release and the
 * kernel's forget, its store and its charges go with the node.
 *
 * Calls: namespace.c (dir_check_locked, inherit_owner), flags.c (a
 * directory's immutable flag, the flags a new entry inherits), node.c
 * (alloc, open, free), attr.c (stat), the kind of backing
 * (create_unnamed).
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>

/* Make the node and its store, open it; on failure nothing is left
 * (registry.lock held). */
static int unnamed_make_locked(struct registry *r, struct node *dir,
			       mode_t mode, gid_t gid, int flags,
			       const struct caller *c, struct node **out)
{
	struct node *n = NULL;
	int res = dir_check_locked(r, dir);
	if (res == 0)
		res = flags_check_dir_add(dir); /* as the VFS: EPERM */
	if (res == 0)
		res = node_alloc(r, S_IFREG, mode, c->uid, gid, &n);
	if (res < 0)
		return res;
	res = backing_create_unnamed(r, dir, n);
	if (res == 0) /* dir's nodump and noatime, as tmpfs's tmpfile */
		res = flags_inherit_locked(r, dir, n);
	if (res == 0)
		res = node_open_new_locked(r, n, flags);
	if (res < 0) {
		node_free(r, n); /* its store, and its charge, go with it */
		return res;
	}
	n->linkable = !(flags & O_EXCL);
	*out = n;
	return 0;
}

int registry_tmpfile(struct registry *r, struct node *dir, mode_t mode,
		     int flags, const struct caller *c, struct node **out,
		     struct stat *st)
{
	if (r->cfg.read_only)
		return -EROFS;
	mode = S_IFREG | (mode & 07777);
	gid_t gid;
	inherit_owner(dir, c, &mode, &gid);
	pthread_mutex_lock(&r->lock);
	int res = unnamed_make_locked(r, dir, mode, gid, flags, c, out);
	if (res == 0) {
		(*out)->lookups++; /* the kernel's reference, as for create */
		pthread_rwlock_rdlock(&(*out)->lock);
		node_stat_locked(r, *out, st);
		pthread_rwlock_unlock(&(*out)->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}
