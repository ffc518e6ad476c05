/*
 * Data: open and release of mappings (where protection is enforced),
 * create, read, write, fallocate and fsync. Writes, resizes and
 * fallocates of one mapping are serialized by its node lock; reads share
 * it.
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <syslog.h>

static int is_write_open(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

/* A backing file locked by someone else at mount: try to take it now. */
static int ensure_store(struct registry *r, struct node *n)
{
	if (n->store || r->memory_backed)
		return 0;
	pthread_mutex_lock(&r->lock);
	struct store *s = NULL;
	int res = n->aliases ? backing_open_store(r, n->aliases, &s) : -EBUSY;
	pthread_mutex_unlock(&r->lock);
	if (res < 0) {
		if (res == -EBUSY)
			reg_log(r, LOG_WARNING,
				"mapping '%s' refused: its backing file is "
				"locked by another process",
				n->aliases ? n->aliases->name : "?");
		return res;
	}
	pthread_rwlock_wrlock(&n->lock);
	if (!n->store) {
		/* Its attributes may have changed while it was locked. */
		res = backing_load_xattrs(r, n, s->fd);
		n->store = s;
		s = NULL;
	}
	pthread_rwlock_unlock(&n->lock);
	store_destroy(s); /* lost a race with another opener */
	return res;
}

int registry_open(struct registry *r, struct node *n, int flags)
{
	if (S_ISDIR(n->type))
		return -EISDIR;
	int writing = is_write_open(flags);
	if (writing && r->cfg.read_only)
		return -EROFS;
	int res = S_ISREG(n->type) ? ensure_store(r, n) : 0;
	if (res < 0)
		return res;
	/* O_TRUNC arrives here (atomic_o_trunc), not as a setattr. */
	int trunc = writing && (flags & O_TRUNC) && S_ISREG(n->type);
	if (trunc)
		pthread_rwlock_wrlock(&n->lock);
	else
		pthread_rwlock_rdlock(&n->lock);
	if (writing && n->protect != SHMAP_PROTECT_READWRITE)
		res = -EACCES;
	if (!res && trunc && n->size)
		res = node_resize_locked(r, n, 0);
	pthread_rwlock_unlock(&n->lock);
	if (res < 0)
		return res;
	pthread_mutex_lock(&r->lock);
	n->opens++;
	n->writers += writing ? 1 : 0;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int registry_share(struct registry *r, struct node *n)
{
	if (!r->cfg.share_store || !S_ISREG(n->type))
		return 0;
	/* Injected faults and the capacity of a memfd need the daemon to
	 * see every write. */
	if (r->cfg.fault_write || r->cfg.fault_resize ||
	    (r->memory_backed && r->cfg.store_dirfd <= 0))
		return 0;
	pthread_rwlock_wrlock(&n->lock);
	int first = 0;
	if (n->share == 0 && n->store) {
		int handle = r->cfg.share_store(r->cfg.share_ctx, n->store->fd);
		n->share = handle > 0 ? handle : -1;
		first = handle > 0;
	}
	int handle = n->share > 0 ? n->share : 0;
	pthread_rwlock_unlock(&n->lock);
	if (first) { /* registry.lock comes before a node's lock */
		pthread_mutex_lock(&r->lock);
		node_list_shared_locked(r, n);
		pthread_mutex_unlock(&r->lock);
	}
	return handle;
}

void registry_release(struct registry *r, struct node *n, int flags)
{
	node_catch_up(r, n); /* what was written directly counts */
	pthread_mutex_lock(&r->lock);
	n->opens--;
	n->writers -= is_write_open(flags) ? 1 : 0;
	node_put_locked(r, n);
	pthread_mutex_unlock(&r->lock);
}

int registry_create(struct registry *r, struct node *dir, const char *name,
		    mode_t mode, int flags, const struct caller *c,
		    struct node **out, struct stat *st)
{
	mode = S_IFREG | (mode & 07777);
	int res = registry_mknod(r, dir, name, mode, 0, c, out, st);
	if (res == -EEXIST && !(flags & O_EXCL))
		res = registry_lookup(r, dir, name, out, st);
	if (res < 0)
		return res;
	if (!S_ISREG((*out)->type))
		res = S_ISDIR((*out)->type) ? -EISDIR : -EACCES;
	if (!res)
		res = registry_open(r, *out, flags);
	if (res < 0)
		registry_forget(r, *out, 1);
	return res;
}

int registry_read(struct registry *r, struct node *n, void *buf, size_t size,
		  uint64_t off, size_t *got)
{
	(void)r;
	*got = 0;
	pthread_rwlock_rdlock(&n->lock);
	int res = n->store ? 0 : -EBUSY;
	if (!res && off < n->size) {
		if (size > n->size - off)
			size = (size_t)(n->size - off);
		ssize_t len = n->store->ops->pread(n->store, buf, size, off);
		if (len < 0)
			res = (int)len;
		else
			*got = (size_t)len;
	}
	pthread_rwlock_unlock(&n->lock);
	return res;
}

int registry_read_fd(struct registry *r, struct node *n, size_t size,
		     uint64_t off, int *fd, size_t *len)
{
	(void)r;
	*len = 0;
	pthread_rwlock_rdlock(&n->lock);
	int res = n->store ? 0 : -EBUSY;
	if (!res) {
		*fd = n->store->fd;
		if (off < n->size)
			*len = size < n->size - off ? size
						    : (size_t)(n->size - off);
	}
	pthread_rwlock_unlock(&n->lock);
	return res;
}

/* Check that [off, off+len) is a range a file can have. */
static int range_check(uint64_t off, uint64_t len)
{
	if (off > SHMAP_MAX_FILESIZE || len > SHMAP_MAX_FILESIZE - off)
		return -EFBIG;
	return 0;
}

int registry_write(struct registry *r, struct node *n, const void *buf,
		   size_t size, uint64_t off)
{
	int res = range_check(off, size);
	if (res < 0)
		return res;
	if (r->cfg.read_only)
		return -EROFS;
	if (size == 0)
		return 0; /* changes nothing, not even the size */
	pthread_rwlock_wrlock(&n->lock);
	node_catch_up_locked(r, n);
	uint64_t end = off + size;
	res = n->store ? 0 : -EBUSY;
	if (!res && end > n->size)
		res = cap_reserve(r, n->size, end);
	if (!res) {
		ssize_t len = n->store->ops->pwrite(n->store, buf, size, off);
		res = len < 0 ? (int)len : 0;
		if (res < 0 && end > n->size)
			cap_release(r, end, n->size);
		if (res < 0)
			reg_log(r, LOG_ERR,
				"writing %zu bytes at %llu of inode %llu: %s",
				size, (unsigned long long)off,
				(unsigned long long)n->ino, strerror(-res));
	}
	if (!res) {
		if (end > n->size)
			n->size = end;
		now(&n->mtime);
		n->ctime = n->mtime;
	}
	pthread_rwlock_unlock(&n->lock);
	return res;
}

/* The modes fallocate(2) on shmapfs takes, as the kernel lets through. */
static int falloc_mode_check(int mode)
{
	switch (mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

int registry_fallocate(struct registry *r, struct node *n, int mode,
		       uint64_t off, uint64_t len)
{
	int res = falloc_mode_check(mode);
	if (res < 0)
		return res;
	if (len == 0)
		return -EINVAL;
	res = range_check(off, len);
	if (res < 0)
		return res;
	if (!S_ISREG(n->type))
		return -ENODEV;
	if (r->cfg.read_only)
		return -EROFS;
	pthread_rwlock_wrlock(&n->lock);
	node_catch_up_locked(r, n);
	uint64_t end = off + len;
	int grow = !(mode & FALLOC_FL_KEEP_SIZE) && end > n->size;
	res = n->store ? 0 : -EBUSY;
	if (!res && n->protect != SHMAP_PROTECT_READWRITE)
		res = -EACCES;
	/* Space is reserved by size: nothing is kept past the end. */
	if (!res && !grow && end > n->size)
		len = off < n->size ? n->size - off : 0;
	if (!res && grow)
		res = cap_reserve(r, n->size, end);
	if (!res && len) {
		res = n->store->ops->fallocate(n->store, mode, off, len);
		if (res < 0 && grow)
			cap_release(r, end, n->size);
	}
	if (!res && grow)
		n->size = end;
	if (!res &&
	    (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) || grow)) {
		now(&n->mtime);
		n->ctime = n->mtime;
	}
	pthread_rwlock_unlock(&n->lock);
	return res;
}

int registry_fsync(struct registry *r, struct node *n, int datasync)
{
	/* The store's descriptor outlives the node lock: the kernel holds
	 * the file open while it syncs. */
	pthread_rwlock_rdlock(&n->lock);
	struct store *s = n->store;
	pthread_rwlock_unlock(&n->lock);
	if (!s)
		return 0;
	int res = s->ops->sync(s, datasync);
	if (res < 0)
		reg_log(r, LOG_ERR, "syncing inode %llu: %s",
			(unsigned long long)n->ino, strerror(-res));
	return res;
}
