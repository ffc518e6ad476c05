/*
 * The backing directory of a file-backed mount, and the mapping objects of
 * new entries. Every function here is a no-op returning 0 on a
 * memory-backed mount, except backing_create(), which makes a regular
 * file's memfd there.
 *
 * The backing directory is a boundary: every access goes through a
 * directory descriptor the daemon holds (the root's, or a subdirectory's
 * opened with O_NOFOLLOW) and a single name that name_check() accepted (no
 * '/', not "." or ".."), never following a symlink, so nothing planted in
 * the backing directory leads the daemon outside it.
 *
 * All are called with registry.lock held.
 */
#ifndef SHMAPFS_BACKING_H
#define SHMAPFS_BACKING_H

#include "internal.h"

/* Make n's object: memfd, backing file (opened, locked), directory, ... */
int backing_create(struct registry *r, struct node *dir, const char *name,
		   struct node *n);
/* Undo a backing_create() whose name could not be added. */
void backing_undo_create(struct registry *r, struct node *dir, const char *name,
			 struct node *n);
int backing_link(struct registry *r, struct dentry *old, struct node *dir,
		 const char *name);
int backing_remove(struct registry *r, struct node *dir, const char *name,
		   int is_dir);
int backing_rename(struct registry *r, struct node *dir, const char *name,
		   struct node *newdir, const char *newname,
		   unsigned int flags);
/* Mirror a chmod / chown / utimens of n (called with n->lock held). */
int backing_chmod(struct registry *r, struct node *n, mode_t mode);
int backing_chown(struct registry *r, struct node *n, uid_t uid, gid_t gid);
int backing_utimens(struct registry *r, struct node *n,
		    const struct timespec ts[2]);
/* Mirror an extended attribute (value NULL: remove it). */
int backing_setxattr(struct registry *r, struct node *n, const char *name,
		     const void *value, size_t size);

#endif
