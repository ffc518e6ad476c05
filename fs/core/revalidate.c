/*
 * Revalidation: a file-backed mount's backing directory is the truth, and
 * the registry only remembers it. Others change the directory too (a user
 * restoring a backup into it, another shmapfs over the same directory,
 * another host on a cluster filesystem), so the registry looks again: at
 * every create and open of a name, at lookups (unless a watcher reports
 * every change of the directory), at getattr and opendir once the last
 * look is older than actimeo, and when a watcher (fanotify, in the glue)
 * reports a change. A name found in the directory is taken in as
 * the mount-time scan takes it (entry_adopt_locked, shared with scan.c); a
 * name gone there goes here; a name whose backing object changed identity
 * was replaced; an entry takes its attributes from its backing object.
 *
 * Calls: xattr.c (xattr_set_local), node.c (alloc, put, free, ids),
 * watched.c (which directory a report names), dentry.c, the kind of
 * backing (backing_dir_open_attrs, backing_dir_is_hidden) and util.c.
 */
#include "backing.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#define DROP_DEPTH_MAX 256

void node_take_stat(struct node *n, const struct stat *st)
{
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->rdev = st->st_rdev;
	n->atime = st->st_atim;
	n->mtime = st->st_mtim;
	n->ctime = st->st_ctim;
	n->bdev = st->st_dev;
	n->bino = st->st_ino;
	n->checked = now_ms();
	if (S_ISREG(st->st_mode))
		n->size = (uint64_t)st->st_size;
}

int node_load_xattrs(struct registry *r, struct node *n, int fd)
{
	char names[SHMAP_XATTR_TOTAL];
	ssize_t len = flistxattr(fd, names, sizeof(names));
	if (len < 0)
		return errno == ENOTSUP || errno == ERANGE ? 0 : -errno;
	for (char *p = names; p < names + len; p += strlen(p) + 1) {
		if (!xattr_name_stored(p))
			continue;
		char value[SHMAP_XATTR_TOTAL];
		ssize_t vlen = fgetxattr(fd, p, value, sizeof(value));
		if (vlen < 0)
			continue;
		int res = xattr_set_local(n, p, value, (size_t)vlen);
		if (res < 0)
			reg_log(r, LOG_WARNING,
				"ignoring extended attribute %s of inode "
				"%llu: %s",
				p, (unsigned long long)n->ino, strerror(-res));
	}
	return 0;
}

int entry_object_locked(struct registry *r, struct node *dir, const char *name,
			struct node *n)
{
	if (S_ISREG(n->type)) {
		/* Idle until used: read its attributes, hold nothing. */
		int fd = backing_dir_open_attrs(n);
		if (fd < 0) {
			reg_log(r, LOG_WARNING,
				"cannot open backing file %s: %s", name,
				strerror(-fd));
			return 0;
		}
		int res = node_load_xattrs(r, n, fd);
		close(fd);
		return res;
	}
	if (S_ISLNK(n->type)) {
		char target[SHMAP_SYMLINK_MAX + 1];
		ssize_t len =
		    readlinkat(dir->dirfd, name, target, sizeof(target) - 1);
		if (len < 0)
			return -errno;
		target[len] = '\0';
		n->symlink = strdup(target);
		n->size = (uint64_t)len;
		return n->symlink ? 0 : -ENOMEM;
	}
	if (S_ISDIR(n->type)) {
		n->dirfd =
		    openat(dir->dirfd, name,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (n->dirfd < 0)
			return -errno;
		n->checked = 0; /* its listing is still to be read */
		dir_watch_locked(r, n);
		return node_load_xattrs(r, n, n->dirfd);
	}
	return 0;
}

int entry_adopt_locked(struct registry *r, struct node *dir, const char *name,
		       const struct stat *st, struct node **out)
{
	struct node *n;
	int res = node_alloc(r, st->st_mode & S_IFMT, st->st_mode & 07777,
			     st->st_uid, st->st_gid, &n);
	if (res < 0)
		return res;
	node_take_stat(n, st);
	res = dentry_add(r, dir, name, n);
	if (res < 0) {
		node_free(r, n);
		return res;
	}
	*out = n;
	return entry_object_locked(r, dir, name, n);
}

static int is_file_backed(struct registry *r)
{
	return r->root->dirfd >= 0;
}

/* The name d went from the backing directory: it goes here too, with
 * what a directory held. */
static void name_drop_locked(struct registry *r, struct dentry *d, int depth)
{
	struct node *n = d->node;
	if (S_ISDIR(n->type) && depth < DROP_DEPTH_MAX)
		while (n->first_child)
			name_drop_locked(r, n->first_child, depth + 1);
	dentry_remove(r, d);
	if (S_ISDIR(n->type))
		n->nlink = 0;
	node_put_locked(r, n);
}

static int same_object(const struct node *n, const struct stat *st)
{
	return n->bino == st->st_ino && n->bdev == st->st_dev &&
	       n->type == (st->st_mode & S_IFMT);
}

static int attrs_differ(const struct node *n, const struct stat *st)
{
	return n->mode != (st->st_mode & 07777) || n->uid != st->st_uid ||
	       n->gid != st->st_gid ||
	       (S_ISREG(n->type) && n->size != (uint64_t)st->st_size) ||
	       n->mtime.tv_sec != st->st_mtim.tv_sec ||
	       n->mtime.tv_nsec != st->st_mtim.tv_nsec ||
	       n->ctime.tv_sec != st->st_ctim.tv_sec ||
	       n->ctime.tv_nsec != st->st_ctim.tv_nsec;
}

/* Read n's extended attributes (its protection among them) again from
 * its backing object, where another mount may have set them; if the
 * object does not open for it (that mount holds it), keep them. */
static void node_reload_xattrs_locked(struct registry *r, struct node *n)
{
	int fd = S_ISDIR(n->type) ? n->dirfd : n->store ? n->store->fd : -1;
	int tmp = -1;
	if (fd < 0 && S_ISREG(n->type))
		fd = tmp = backing_dir_open_attrs(n);
	if (fd < 0)
		return;
	node_forget_xattrs(n);
	(void)node_load_xattrs(r, n, fd);
	if (tmp >= 0)
		close(tmp);
}

/* Take n's attributes from st, its backing object now. A mapping in use
 * here has that file as its store, whose every change the daemon mirrors
 * or makes through it, so they agree but for what others did. A new
 * ctime may be new extended attributes too. */
static int node_sync_locked(struct registry *r, struct node *n,
			    const struct stat *st)
{
	n->checked = now_ms();
	pthread_rwlock_wrlock(&n->lock);
	int changed = attrs_differ(n, st);
	int new_ctime = n->ctime.tv_sec != st->st_ctim.tv_sec ||
			n->ctime.tv_nsec != st->st_ctim.tv_nsec;
	if (changed)
		node_take_stat(n, st);
	if (new_ctime && !S_ISLNK(n->type))
		node_reload_xattrs_locked(r, n);
	int idle = !n->store;
	pthread_rwlock_unlock(&n->lock);
	return changed ? BACKING_ATTR | (idle ? BACKING_IDLE : 0) : 0;
}

static void dir_take_stat_locked(struct node *dir)
{
	struct stat st;
	if (fstat(dir->dirfd, &st) < 0)
		return;
	pthread_rwlock_wrlock(&dir->lock);
	node_take_stat(dir, &st);
	pthread_rwlock_unlock(&dir->lock);
}

/* Make dir/name here what it is in the backing directory. */
static int name_sync_locked(struct registry *r, struct node *dir,
			    const char *name)
{
	if (dir->dirfd < 0 || name_check(name) < 0)
		return 0;
	if (dir == r->root && backing_dir_is_hidden(name))
		return 0; /* an unnamed mapping's store, of some mount */
	struct stat st;
	int gone = fstatat(dir->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0;
	if (gone && errno != ENOENT)
		return -errno;
	struct dentry *d = dentry_find(r, dir, name);
	if (d && !gone && same_object(d->node, &st))
		return node_sync_locked(r, d->node, &st);
	if (!d && gone)
		return 0;
	if (d)
		name_drop_locked(r, d, 0);
	int res = 0;
	struct node *n;
	if (!gone && (res = entry_adopt_locked(r, dir, name, &st, &n)) < 0)
		reg_log(r, LOG_WARNING,
			"cannot take in %s from the backing directory: %s",
			name, strerror(-res));
	dir_take_stat_locked(dir);
	return res < 0 && !d ? res : BACKING_NAME;
}

static int dir_usable(struct registry *r, struct node *dir)
{
	return is_file_backed(r) && S_ISDIR(dir->type) && dir->dirfd >= 0 &&
	       (dir == r->root || dir->aliases);
}

/* Does a watcher report every change of dir (its listing known, no
 * event lost since)? Then a lookup need not look. */
static int watched_whole(struct registry *r, const struct node *dir)
{
	return r->cfg.actimeo_ms < 0 && dir->wh && dir->checked;
}

int registry_revalidate_name(struct registry *r, struct node *dir,
			     const char *name, int force)
{
	if (!dir_usable(r, dir))
		return 0;
	pthread_mutex_lock(&r->lock);
	int res = dir_usable(r, dir) && (force || !watched_whole(r, dir))
		      ? name_sync_locked(r, dir, name)
		      : 0;
	pthread_mutex_unlock(&r->lock);
	return res;
}

/* A directory the watcher could not mark (out of marks): its listing is
 * looked at again once this old, as on a mount with no watcher. */
#define UNWATCHED_DIR_MS 1000

static int is_stale(struct registry *r, const struct node *n)
{
	if (!n->checked)
		return 1;
	int ms = r->cfg.actimeo_ms;
	if (ms < 0 && S_ISDIR(n->type) && !n->wh)
		ms = UNWATCHED_DIR_MS;
	if (ms < 0)
		return 0;
	return now_ms() - n->checked >= (uint64_t)ms;
}

int registry_revalidate_attr(struct registry *r, struct node *n, int force)
{
	if (!is_file_backed(r))
		return 0;
	pthread_mutex_lock(&r->lock);
	int res = 0;
	struct dentry *d = n->aliases;
	if ((force || is_stale(r, n)) && (d || n == r->root)) {
		struct stat st;
		if (n == r->root)
			res = fstat(n->dirfd, &st) < 0 ? -errno : 0;
		else
			res = fstatat(d->dir->dirfd, d->name, &st,
				      AT_SYMLINK_NOFOLLOW) < 0
				  ? -errno
				  : 0;
		if (res == 0 && (n == r->root || same_object(n, &st))) {
			res = node_sync_locked(r, n, &st);
		} else if (n != r->root) {
			/* The sync drops d, and its name with it. */
			char name[SHMAP_NAME_MAX + 1];
			snprintf(name, sizeof(name), "%s", d->name);
			res = name_sync_locked(r, d->dir, name);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}

/* Is name in the listing names (sorted)? */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct listing {
	char **names;
	size_t count, cap;
};

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->names[i]);
	free(l->names);
}

int dir_listing_open(int dirfd, DIR **out)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	if (!dp) {
		int res = -errno;
		if (fd >= 0)
			close(fd);
		return res;
	}
	*out = dp;
	return 0;
}

static int listing_read(int dirfd, struct listing *l)
{
	DIR *dp;
	int res = dir_listing_open(dirfd, &dp);
	if (res < 0)
		return res;
	struct dirent *e;
	while (res == 0 && (errno = 0, e = readdir(dp))) {
		if (name_check(e->d_name) < 0)
			continue;
		if (l->count == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			char **p = realloc(l->names, cap * sizeof(*p));
			if (!p) {
				res = -ENOMEM;
				break;
			}
			l->names = p;
			l->cap = cap;
		}
		if (!(l->names[l->count] = strdup(e->d_name)))
			res = -ENOMEM;
		else
			l->count++;
	}
	if (res == 0 && errno)
		res = -errno;
	closedir(dp);
	if (res == 0)
		qsort(l->names, l->count, sizeof(*l->names), cmp_str);
	return res;
}

static int listed(const struct listing *l, const char *name)
{
	return bsearch(&name, l->names, l->count, sizeof(*l->names), cmp_str) !=
	       NULL;
}

/* Make dir's whole listing what the backing directory lists. */
static int dir_sync_locked(struct registry *r, struct node *dir)
{
	struct listing l = {0};
	int res = listing_read(dir->dirfd, &l);
	int changed = 0;
	for (struct dentry *d = dir->first_child, *next; res >= 0 && d;
	     d = next) {
		next = d->sib_next;
		if (!listed(&l, d->name)) {
			name_drop_locked(r, d, 0);
			changed |= BACKING_NAME;
		}
	}
	for (size_t i = 0; res >= 0 && i < l.count; i++) {
		int c = name_sync_locked(r, dir, l.names[i]);
		if (c > 0)
			changed |= c;
	}
	listing_free(&l);
	if (res >= 0) {
		dir_take_stat_locked(dir);
		dir->checked = now_ms();
	}
	return res < 0 ? res : changed;
}

int registry_revalidate_dir(struct registry *r, struct node *dir)
{
	if (!dir_usable(r, dir))
		return 0;
	pthread_mutex_lock(&r->lock);
	int res = dir_usable(r, dir) && is_stale(r, dir)
		      ? dir_sync_locked(r, dir)
		      : 0;
	pthread_mutex_unlock(&r->lock);
	return res;
}

int registry_backing_event(struct registry *r, int type, const void *bytes,
			   unsigned len, const char *name, int data_only,
			   uint64_t *dir_id, uint64_t *ino)
{
	*dir_id = *ino = 0;
	pthread_mutex_lock(&r->lock);
	struct node *dir = dir_find_watched_locked(r, type, bytes, len);
	int res = dir && dir_usable(r, dir) ? 0 : -ENOENT;
	if (res == 0) {
		*dir_id = registry_node_id(r, dir);
		struct dentry *d = name && strcmp(name, ".")
				       ? dentry_find(r, dir, name)
				       : NULL;
		if (d)
			*ino = registry_node_id(r, d->node);
		if (d && data_only && d->node->store) {
			*ino = 0; /* written through this mount */
		} else if (!name || !strcmp(name, ".")) {
			dir_take_stat_locked(dir);
			res = BACKING_ATTR;
		} else {
			res = name_sync_locked(r, dir, name);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}

void registry_backing_lost(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	for (struct node *n = r->watched; n; n = n->watch_next)
		n->checked = 0;
	pthread_mutex_unlock(&r->lock);
}
