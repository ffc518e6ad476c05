/*
 * Kinds of backing: where a mount keeps its mapping objects, and what of a
 * change of names and metadata reaches them. One table per kind, chosen
 * once by registry_new() (registry.backing, immutable):
 *
 *   backing_tmpfs  (backing_mem.c) memory-backed: each mapping a named file
 *                  in a tmpfs the daemon owns, open only while in use
 *   backing_memfd  (backing_mem.c) memory-backed: each mapping a memfd,
 *                  open for as long as it lives (a registry given no
 *                  store directory: tests)
 *   backing_dir    (backing_dir.c) file-backed: a backing directory that
 *                  mirrors every name, each mapping a file in it, opened
 *                  and locked while in use
 *
 * Nothing else in the core asks which kind a mount is: it calls the
 * table, through the wrappers below. Unless said otherwise, each is
 * called with registry.lock held, and returns 0 or -errno.
 */
#ifndef SHMAPFS_BACKING_H
#define SHMAPFS_BACKING_H

#include "internal.h"

struct backing_ops {
	/* Set the registry up for this kind as it is made (the root's node
	 * exists). */
	int (*init)(struct registry *r);
	/* Make a new entry's object: store, backing file, directory... */
	int (*create)(struct registry *r, struct node *dir, const char *name,
		      struct node *n);
	/* Make an unnamed mapping's object (open(2) with O_TMPFILE in dir);
	 * it may leave n's store open (n->store), and must where the store
	 * has no name to be opened by. Undone by node_free(). */
	int (*create_unnamed)(struct registry *r, struct node *dir,
			      struct node *n);
	/* Give an unnamed mapping, in use, its first name (tmpfile.c). */
	int (*name_unnamed)(struct registry *r, struct node *n,
			    struct node *dir, const char *name);
	/* Undo a create() whose name could not be added. */
	void (*undo_create)(struct registry *r, struct node *dir,
			    const char *name, struct node *n);
	int (*link)(struct registry *r, struct dentry *old, struct node *dir,
		    const char *name);
	int (*remove)(struct registry *r, struct node *dir, const char *name,
		      int is_dir);
	int (*rename)(struct registry *r, struct node *dir, const char *name,
		      struct node *newdir, const char *newname,
		      unsigned int flags);
	/* Mirror a chmod / chown / utimens / extended attribute of n
	 * (value NULL: remove it); n->lock held. */
	int (*chmod)(struct registry *r, struct node *n, mode_t mode);
	int (*chown)(struct registry *r, struct node *n, uid_t uid, gid_t gid);
	int (*utimens)(struct registry *r, struct node *n,
		       const struct timespec ts[2]);
	int (*setxattr)(struct registry *r, struct node *n, const char *name,
			const void *value, size_t size);
	/* Open an idle mapping's store as it is now, parked if park and the
	 * kind can (store.h); close one, any. */
	int (*open_store)(struct registry *r, struct node *n, int park,
			  struct store **out);
	void (*close_store)(struct registry *r, struct store *s);
	/* Stat an idle mapping's store (-ENOENT: it has none). */
	int (*stat_store)(struct registry *r, struct node *n, struct stat *st);
	/* n dies: what its store left behind goes. */
	void (*forget_store)(struct registry *r, struct node *n);
	/* May n's store close now that n is idle (else it stays open)? */
	int (*closes_idle)(const struct node *n);
	/* The mount's statfs; write out what no store holds open. */
	int (*statfs)(struct registry *r, struct statvfs *st);
	int (*sync_all)(struct registry *r);
	/* 1: a mapping's data lives under its name, and goes with its last
	 * name unless its store is open then (node_keep_unlinked_locked). */
	int data_in_name;
	/* 1: extended attributes are mirrored onto the backing object,
	 * which only the files and directories the daemon holds open have:
	 * other kinds of entry take none but user.* (which Linux refuses
	 * them anyway). */
	int xattrs_mirrored;
	/* 1: a store holds a lock that must stay while any process maps it:
	 * one a view may still hold when its mapping goes idle lingers, open
	 * and locked, until the sweep finds it free (residency.c). */
	int lingers;
	/* 1: a node without a descriptor is changed through its name, so a
	 * setattr holds the namespace still (registry.lock). */
	int changes_by_name;
};

extern const struct backing_ops backing_tmpfs, backing_memfd, backing_dir;

/* backing_dir.c: a descriptor for the attributes of an idle mapping's
 * backing file (its lock is not needed for them), or -errno. */
int backing_dir_open_attrs(struct node *n);
/* backing_dir.c: 1 if name, in the root of a backing directory, is the
 * hidden store of an unnamed mapping (none of the mount's names). */
int backing_dir_is_hidden(const char *name);

static inline int backing_create(struct registry *r, struct node *dir,
				 const char *name, struct node *n)
{
	return r->backing->create(r, dir, name, n);
}

static inline int backing_create_unnamed(struct registry *r, struct node *dir,
					 struct node *n)
{
	return r->backing->create_unnamed(r, dir, n);
}

static inline int backing_name_unnamed(struct registry *r, struct node *n,
				       struct node *dir, const char *name)
{
	return r->backing->name_unnamed(r, n, dir, name);
}

static inline void backing_undo_create(struct registry *r, struct node *dir,
				       const char *name, struct node *n)
{
	r->backing->undo_create(r, dir, name, n);
}

static inline int backing_link(struct registry *r, struct dentry *old,
			       struct node *dir, const char *name)
{
	return r->backing->link(r, old, dir, name);
}

static inline int backing_remove(struct registry *r, struct node *dir,
				 const char *name, int is_dir)
{
	return r->backing->remove(r, dir, name, is_dir);
}

static inline int backing_rename(struct registry *r, struct node *dir,
				 const char *name, struct node *newdir,
				 const char *newname, unsigned int flags)
{
	return r->backing->rename(r, dir, name, newdir, newname, flags);
}

static inline int backing_chmod(struct registry *r, struct node *n, mode_t mode)
{
	return r->backing->chmod(r, n, mode);
}

static inline int backing_chown(struct registry *r, struct node *n, uid_t uid,
				gid_t gid)
{
	return r->backing->chown(r, n, uid, gid);
}

static inline int backing_utimens(struct registry *r, struct node *n,
				  const struct timespec ts[2])
{
	return r->backing->utimens(r, n, ts);
}

static inline int backing_setxattr(struct registry *r, struct node *n,
				   const char *name, const void *value,
				   size_t size)
{
	return r->backing->setxattr(r, n, name, value, size);
}

static inline void backing_close_store(struct registry *r, struct store *s)
{
	if (s)
		r->backing->close_store(r, s);
}

#endif
