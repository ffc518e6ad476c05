/*
 * Operations on names: lookup, forget, create (mknod, mkdir, symlink),
 * link, unlink, rmdir, rename, readlink and directory listings. Each takes
 * registry.lock for its whole length, and mirrors the change onto the
 * kind of backing first (backing.h: a backing directory takes it, memory
 * has nothing to do), so that a failure there changes nothing here.
 *
 * Calls: attr.c (stat), node.c (alloc, put, free), residency.c (keeping an
 * unlinked mapping's store), dentry.c, the kind of backing and util.c.
 */
#include "internal.h"
#include "backing.h"

#include <errno.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fill st from n, taking n's lock (shared unless n must catch up with
 * writes the kernel made to its store: a name given to a mapping written
 * through passthrough, an O_TMPFILE one above all, must not tell the
 * kernel a stale size). */
static void node_stat(struct registry *r, struct node *n, struct stat *st)
{
	node_lock_for_stat(r, n);
	node_stat_locked(r, n, st);
	pthread_rwlock_unlock(&n->lock);
}

static void touch_dir(struct node *dir)
{
	pthread_rwlock_wrlock(&dir->lock);
	now(&dir->mtime);
	dir->ctime = dir->mtime;
	pthread_rwlock_unlock(&dir->lock);
}

static void touch_ctime(struct node *n)
{
	pthread_rwlock_wrlock(&n->lock);
	now(&n->ctime);
	pthread_rwlock_unlock(&n->lock);
}

/* A directory that still has a name (or is the root) takes new names. */
int dir_check_locked(struct registry *r, struct node *dir)
{
	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	if (dir != r->root && !dir->aliases)
		return -ENOENT;
	return 0;
}

int registry_lookup(struct registry *r, struct node *dir, const char *name,
		    struct node **out, struct stat *st)
{
	if (strnlen(name, SHMAP_NAME_MAX + 1) > SHMAP_NAME_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&r->lock);
	int res = S_ISDIR(dir->type) ? 0 : -ENOTDIR;
	struct dentry *d = res ? NULL : dentry_find(r, dir, name);
	if (!res && !d)
		res = -ENOENT;
	if (!res) {
		d->node->lookups++;
		*out = d->node;
		node_stat(r, d->node, st);
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}

void registry_forget(struct registry *r, struct node *n, uint64_t nlookup)
{
	if (n == r->root)
		return;
	pthread_mutex_lock(&r->lock);
	if (nlookup > n->lookups) {
		fprintf(stderr,
			"shmapfs: forget %llu of inode %llu with only "
			"%llu lookups\n",
			(unsigned long long)nlookup, (unsigned long long)n->ino,
			(unsigned long long)n->lookups);
		abort();
	}
	n->lookups -= nlookup;
	node_put_locked(r, n);
	pthread_mutex_unlock(&r->lock);
}

/* The group of a new entry: the directory's if it is set-group-ID. */
void inherit_owner(struct node *dir, const struct caller *c, mode_t *mode,
		   gid_t *gid)
{
	pthread_rwlock_rdlock(&dir->lock);
	*gid = c->gid;
	if (dir->mode & S_ISGID) {
		*gid = dir->gid;
		if (S_ISDIR(*mode))
			*mode |= S_ISGID;
	}
	pthread_rwlock_unlock(&dir->lock);
}

/*
 * A new entry is made, then committed or undone, all under registry.lock,
 * so that no request (and so no cache of the kernel's) ever sees it half
 * made or made and then gone. make: the node, its object (backing file,
 * directory, store), its name. Then the step an operation needs beyond
 * the name (create opens the mapping), which may fail. Then commit (the
 * kernel's reference, the directory's times), which cannot fail, or undo:
 * name, object and node go, and a failed operation leaves nothing.
 */
struct entry_made {
	struct node *n;	  /* NULL until allocated */
	struct dentry *d; /* its name, allocated first, linked last */
};

/* Allocate the name and the node, then make the object (the last step
 * that may fail), then link the name; on failure, free what was
 * allocated. */
static int entry_make_locked(struct registry *r, struct node *dir,
			     const char *name, mode_t mode, dev_t rdev,
			     const char *target, uid_t uid, gid_t gid,
			     struct entry_made *e)
{
	*e = (struct entry_made){0};
	int res = dir_check_locked(r, dir);
	if (!res && dentry_find(r, dir, name))
		res = -EEXIST;
	if (!res)
		res = flags_check_dir_add(dir);
	if (!res && !(e->d = dentry_new(r, name)))
		res = -ENOMEM;
	if (!res)
		res = node_alloc(r, mode & S_IFMT, mode, uid, gid, &e->n);
	if (!res && target) {
		e->n->symlink = strdup(target);
		e->n->size = strlen(target);
		res = e->n->symlink ? 0 : -ENOMEM;
	}
	if (!res) {
		e->n->rdev = rdev;
		res = backing_create(r, dir, name, e->n);
	}
	if (res < 0) {
		if (e->n)
			node_free(r, e->n);
		dentry_free_unlinked(e->d);
		return res;
	}
	dentry_link(r, e->d, dir, e->n);
	return 0;
}

/* As if the entry had never been made. */
static void entry_undo_locked(struct registry *r, struct node *dir,
			      struct entry_made *e)
{
	backing_undo_create(r, dir, e->d->name, e->n);
	dentry_remove(r, e->d);
	node_free(r, e->n);
}

/* Hand the entry out, with one kernel reference. */
static void entry_commit_locked(struct registry *r, struct node *dir,
				struct entry_made *e, struct node **out,
				struct stat *st)
{
	e->n->lookups++;
	touch_dir(dir);
	node_stat(r, e->n, st);
	*out = e->n;
}

/*
 * Create a new entry of any kind in dir: the common path of mknod, mkdir,
 * symlink and create. With open_flags (else NULL), open the new regular
 * file too (as open(2) with those flags); if that fails, the entry is
 * undone.
 */
static int new_entry(struct registry *r, struct node *dir, const char *name,
		     mode_t mode, dev_t rdev, const char *target,
		     const struct caller *c, const int *open_flags,
		     struct node **out, struct stat *st)
{
	int res = name_check(name);
	if (res < 0)
		return res;
	if (target &&
	    strnlen(target, SHMAP_SYMLINK_MAX + 1) > SHMAP_SYMLINK_MAX)
		return -ENAMETOOLONG;
	if (r->cfg.read_only)
		return -EROFS;
	gid_t gid;
	inherit_owner(dir, c, &mode, &gid);

	pthread_mutex_lock(&r->lock);
	struct entry_made e;
	res = entry_make_locked(r, dir, name, mode, rdev, target, c->uid, gid,
				&e);
	/* Then what may fail once the name is there: the flags it inherits
	 * (kept in the backing object, found by name), and the open. */
	if (!res && (res = flags_inherit_locked(r, dir, e.n)) < 0)
		entry_undo_locked(r, dir, &e);
	else if (!res && open_flags &&
		 (res = node_open_new_locked(r, e.n, *open_flags)) < 0)
		entry_undo_locked(r, dir, &e);
	if (!res)
		entry_commit_locked(r, dir, &e, out, st);
	pthread_mutex_unlock(&r->lock);
	return res;
}

int entry_create_open(struct registry *r, struct node *dir, const char *name,
		      mode_t mode, int flags, const struct caller *c,
		      struct node **out, struct stat *st)
{
	mode = S_IFREG | (mode & 07777);
	return new_entry(r, dir, name, mode, 0, NULL, c, &flags, out, st);
}

int registry_mknod(struct registry *r, struct node *dir, const char *name,
		   mode_t mode, dev_t rdev, const struct caller *c,
		   struct node **out, struct stat *st)
{
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		rdev = 0;
		break;
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return -EINVAL;
	}
	return new_entry(r, dir, name, mode, rdev, NULL, c, NULL, out, st);
}

int registry_mkdir(struct registry *r, struct node *dir, const char *name,
		   mode_t mode, const struct caller *c, struct node **out,
		   struct stat *st)
{
	mode = S_IFDIR | (mode & 07777);
	return new_entry(r, dir, name, mode, 0, NULL, c, NULL, out, st);
}

int registry_symlink(struct registry *r, struct node *dir, const char *name,
		     const char *target, const struct caller *c,
		     struct node **out, struct stat *st)
{
	if (!*target)
		return -ENOENT;
	return new_entry(r, dir, name, S_IFLNK | 0777, 0, target, c, NULL, out,
			 st);
}

int registry_link(struct registry *r, struct node *n, struct node *dir,
		  const char *name, struct stat *st)
{
	int res = name_check(name);
	if (res < 0)
		return res;
	if (S_ISDIR(n->type))
		return -EPERM;
	if (r->cfg.read_only)
		return -EROFS;
	pthread_mutex_lock(&r->lock);
	res = dir_check_locked(r, dir);
	/* No new names for an unlinked mapping; but a first one for an
	 * unnamed mapping made to take one (tmpfile.c). */
	if (!res && !n->aliases && !n->linkable)
		res = -ENOENT;
	if (!res && dentry_find(r, dir, name))
		res = -EEXIST;
	if (!res)
		res = flags_check_dir_add(dir);
	if (!res)
		res = flags_check_change(n);
	/* Allocate before the backing directory changes: a failure then
	 * changes nothing anywhere. */
	struct dentry *fresh = NULL;
	if (!res && !(fresh = dentry_new(r, name)))
		res = -ENOMEM;
	if (!res)
		res = n->aliases ? backing_link(r, n->aliases, dir, name)
				 : backing_name_unnamed(r, n, dir, name);
	if (res < 0)
		dentry_free_unlinked(fresh);
	if (!res) {
		n->linkable = 0;
		dentry_link(r, fresh, dir, n);
		n->lookups++;
		touch_ctime(n);
		touch_dir(dir);
		node_stat(r, n, st);
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}

static int remove_entry(struct registry *r, struct node *dir, const char *name,
			int want_dir)
{
	if (strnlen(name, SHMAP_NAME_MAX + 1) > SHMAP_NAME_MAX)
		return -ENAMETOOLONG;
	if (r->cfg.read_only)
		return -EROFS;
	pthread_mutex_lock(&r->lock);
	int res = S_ISDIR(dir->type) ? 0 : -ENOTDIR;
	struct dentry *d = res ? NULL : dentry_find(r, dir, name);
	if (!res && !d)
		res = -ENOENT;
	struct node *n = d ? d->node : NULL;
	if (!res)
		res = flags_check_remove(dir, n);
	if (!res && want_dir && !S_ISDIR(n->type))
		res = -ENOTDIR;
	if (!res && !want_dir && S_ISDIR(n->type))
		res = -EISDIR;
	if (!res && want_dir && n->nchildren)
		res = -ENOTEMPTY;
	int kept = !res && node_keep_unlinked_locked(r, n);
	if (!res)
		res = backing_remove(r, dir, name, want_dir);
	if (res < 0 && kept)
		node_unkeep_locked(r, n);
	if (!res) {
		dentry_remove(r, d);
		if (want_dir)
			n->nlink = 0;
		touch_ctime(n);
		touch_dir(dir);
		node_put_locked(r, n);
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}

int registry_unlink(struct registry *r, struct node *dir, const char *name)
{
	return remove_entry(r, dir, name, 0);
}

int registry_rmdir(struct registry *r, struct node *dir, const char *name)
{
	return remove_entry(r, dir, name, 1);
}

/* Is a the directory d or one of its ancestors? */
static int is_ancestor(struct registry *r, struct node *a, struct node *d)
{
	for (;;) {
		if (d == a)
			return 1;
		if (d == r->root || !d->aliases)
			return 0;
		d = d->aliases->dir;
	}
}

static int rename_check(struct registry *r, struct dentry *d, struct dentry *nd,
			struct node *newdir, unsigned int flags)
{
	if ((flags & RENAME_NOREPLACE) && nd)
		return -EEXIST;
	if ((flags & RENAME_EXCHANGE) && !nd)
		return -ENOENT;
	struct node *src = d->node;
	if (S_ISDIR(src->type) && is_ancestor(r, src, newdir))
		return -EINVAL;
	if (!nd)
		return 0;
	struct node *dst = nd->node;
	if (flags & RENAME_EXCHANGE)
		return S_ISDIR(dst->type) && is_ancestor(r, dst, d->dir)
			   ? -EINVAL
			   : 0;
	if (S_ISDIR(src->type) && !S_ISDIR(dst->type))
		return -ENOTDIR;
	if (!S_ISDIR(src->type) && S_ISDIR(dst->type))
		return -EISDIR;
	if (S_ISDIR(dst->type) && dst->nchildren)
		return -ENOTEMPTY;
	return 0;
}

/* vfs_rename(): the old name is taken away (may_delete), and the new
 * one too if it exists, else made (may_create). */
static int rename_flags_check(struct dentry *d, struct dentry *nd,
			      struct node *newdir)
{
	int res = flags_check_remove(d->dir, d->node);
	if (!res)
		res = nd ? flags_check_remove(newdir, nd->node)
			 : flags_check_dir_add(newdir);
	return res;
}

static void alias_unlink(struct node *n, struct dentry *d)
{
	struct dentry **pp = &n->aliases;
	while (*pp != d)
		pp = &(*pp)->alias_next;
	*pp = d->alias_next;
}

/* Swap what two names refer to (RENAME_EXCHANGE). */
static void exchange(struct dentry *d, struct dentry *nd)
{
	struct node *a = d->node, *b = nd->node;
	alias_unlink(a, d);
	alias_unlink(b, nd);
	d->node = b;
	nd->node = a;
	d->alias_next = b->aliases;
	b->aliases = d;
	nd->alias_next = a->aliases;
	a->aliases = nd;
	/* A subdirectory moving between parents moves a link with it. */
	int da = S_ISDIR(a->type) ? 1 : 0, db = S_ISDIR(b->type) ? 1 : 0;
	d->dir->nlink = (uint32_t)((int)d->dir->nlink + db - da);
	nd->dir->nlink = (uint32_t)((int)nd->dir->nlink + da - db);
}

int registry_rename(struct registry *r, struct node *dir, const char *name,
		    struct node *newdir, const char *newname,
		    unsigned int flags)
{
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	int res = name_check(newname);
	if (res == 0)
		res = strnlen(name, SHMAP_NAME_MAX + 1) > SHMAP_NAME_MAX
			  ? -ENAMETOOLONG
			  : 0;
	if (res < 0)
		return res;
	if (r->cfg.read_only)
		return -EROFS;

	pthread_mutex_lock(&r->lock);
	res = dir_check_locked(r, newdir);
	struct dentry *d = NULL, *nd = NULL;
	if (!res && !S_ISDIR(dir->type))
		res = -ENOTDIR;
	if (!res && !(d = dentry_find(r, dir, name)))
		res = -ENOENT;
	if (!res)
		nd = dentry_find(r, newdir, newname);
	if (!res && nd && nd->node == d->node)
		goto out; /* two names of one node: nothing to do */
	if (!res)
		res = rename_flags_check(d, nd, newdir);
	if (!res)
		res = rename_check(r, d, nd, newdir, flags);
	/* The new name is allocated before anything changes, on disk or
	 * here: a failed rename changes nothing. */
	struct dentry *fresh = NULL;
	if (!res && !(flags & RENAME_EXCHANGE) &&
	    !(fresh = dentry_new(r, newname)))
		res = -ENOMEM;
	int kept = !res && nd && !(flags & RENAME_EXCHANGE) &&
		   node_keep_unlinked_locked(r, nd->node);
	if (!res)
		res = backing_rename(r, dir, name, newdir, newname, flags);
	if (res) {
		if (kept)
			node_unkeep_locked(r, nd->node);
		dentry_free_unlinked(fresh);
		goto out;
	}
	struct node *moved = d->node, *victim = NULL;
	if (flags & RENAME_EXCHANGE) {
		exchange(d, nd);
		touch_ctime(nd->node);
	} else {
		if (nd) {
			victim = nd->node;
			dentry_remove(r, nd);
			if (S_ISDIR(victim->type))
				victim->nlink = 0;
		}
		/* The new name goes last in the listing, as a new name. */
		dentry_remove(r, d);
		dentry_link(r, fresh, newdir, moved);
	}
	touch_ctime(moved);
	touch_dir(dir);
	if (newdir != dir)
		touch_dir(newdir);
	if (victim) {
		touch_ctime(victim);
		node_put_locked(r, victim);
	}
	node_put_locked(r, moved);
out:
	pthread_mutex_unlock(&r->lock);
	return res;
}

int registry_readlink(struct registry *r, struct node *n, const char **out)
{
	(void)r;
	if (!S_ISLNK(n->type))
		return -EINVAL;
	*out = n->symlink;
	return 0;
}

static int snap_add(struct dir_snapshot *s, size_t cap, uint64_t ino,
		    mode_t type, const char *name)
{
	struct dir_entry *e = &s->entries[s->count];
	if (s->count >= cap)
		return -EIO;
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->ino = ino;
	e->type = type;
	s->count++;
	return 0;
}

static void snapshot_free(struct dir_snapshot *s)
{
	for (size_t i = 0; i < s->count; i++)
		free(s->entries[i].name);
	free(s->entries);
	free(s);
}

int registry_opendir(struct registry *r, struct node *dir,
		     struct dir_snapshot **out)
{
	struct dir_snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&r->lock);
	int res = S_ISDIR(dir->type) ? 0 : -ENOTDIR;
	size_t cap = dir->nchildren + 2;
	if (!res && !(s->entries = calloc(cap, sizeof(*s->entries))))
		res = -ENOMEM;
	struct node *parent =
	    dir == r->root || !dir->aliases ? dir : dir->aliases->dir;
	if (!res)
		res = snap_add(s, cap, dir->ino, S_IFDIR, ".");
	if (!res)
		res = snap_add(s, cap, parent->ino, S_IFDIR, "..");
	for (struct dentry *d = dir->first_child; d && !res; d = d->sib_next)
		res = snap_add(s, cap, d->node->ino, d->node->type, d->name);
	if (!res) {
		s->reg = r;
		s->next = r->snapshots;
		if (r->snapshots)
			r->snapshots->prev = s;
		r->snapshots = s;
	}
	pthread_mutex_unlock(&r->lock);
	if (res < 0) {
		snapshot_free(s);
		return res;
	}
	*out = s;
	return 0;
}

/* Take s off its registry's list of open listings (registry.lock held). */
static void snapshot_unlink_locked(struct dir_snapshot *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->reg->snapshots = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

void registry_closedir(struct dir_snapshot *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->reg->lock);
	snapshot_unlink_locked(s);
	pthread_mutex_unlock(&s->reg->lock);
	snapshot_free(s);
}

/* Free the listings never closed (registry.lock held, or unshared). */
void snapshot_free_all_locked(struct registry *r)
{
	while (r->snapshots) {
		struct dir_snapshot *s = r->snapshots;
		snapshot_unlink_locked(s);
		snapshot_free(s);
	}
}
