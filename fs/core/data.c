/*
 * Data: open and release of mappings (where protection is enforced),
 * create, read, write, fallocate and fsync. Writes, resizes and
 * fallocates of one mapping are serialized by its node lock; reads share
 * it.
 *
 * Calls: namespace.c (create is mknod or lookup, then open), revalidate.c
 * (what the backing directory holds, at create), attr.c
 * (resize), node.c (uses), residency.c (catching up with a shared store),
 * charge.c and util.c.
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static int is_write_open(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

int registry_open(struct registry *r, struct node *n, int flags)
{
	if (S_ISDIR(n->type))
		return -EISDIR;
	int writing = is_write_open(flags);
	if (writing && r->cfg.read_only)
		return -EROFS;
	/* The use starts before the checks: they need the store. */
	pthread_mutex_lock(&r->lock);
	int res = node_hold_locked(r, n);
	pthread_mutex_unlock(&r->lock);
	if (res < 0)
		return res;
	/* O_TRUNC arrives here (atomic_o_trunc), not as a setattr. */
	int trunc = writing && (flags & O_TRUNC) && S_ISREG(n->type);
	if (trunc)
		pthread_rwlock_wrlock(&n->lock);
	else
		pthread_rwlock_rdlock(&n->lock);
	res = flags_check_open(n, flags);
	if (!res && writing && n->protect != SHMAP_PROTECT_READWRITE)
		res = -EACCES;
	if (!res && trunc && n->size)
		res = node_resize_locked(r, n, 0);
	pthread_rwlock_unlock(&n->lock);
	pthread_mutex_lock(&r->lock);
	if (res < 0)
		node_drop_locked(r, n);
	else
		n->writers += writing ? 1 : 0;
	pthread_mutex_unlock(&r->lock);
	return res;
}

int registry_share(struct registry *r, struct node *n)
{
	if (!r->cfg.share_store || !S_ISREG(n->type))
		return 0;
	/* Injected faults, and a capacity the daemon counts, need the
	 * daemon to see every write. */
	if (r->cfg.fault_write || r->cfg.fault_resize || r->counts_capacity)
		return 0;
	pthread_rwlock_wrlock(&n->lock);
	if (n->share == 0 && n->store) {
		/* The kernel keeps its own hold of the file. */
		int fd = store_fd_get(n->store);
		int handle =
		    fd < 0 ? fd : r->cfg.share_store(r->cfg.share_ctx, fd);
		store_fd_put(n->store, fd);
		n->share = handle > 0 ? handle : -1;
		n->direct |= handle > 0;
	}
	int handle = n->share > 0 ? n->share : 0;
	pthread_rwlock_unlock(&n->lock);
	return handle;
}

void registry_release(struct registry *r, struct node *n, int flags)
{
	node_catch_up(r, n); /* what was written directly counts */
	pthread_mutex_lock(&r->lock);
	n->writers -= is_write_open(flags) ? 1 : 0;
	node_drop_locked(r, n);
	pthread_mutex_unlock(&r->lock);
}

/*
 * Data requests come with an open handle, whose use keeps the store open.
 * One that comes without (a write-back after the release, a tool calling
 * the core) takes a use of its own while it runs; *held says to drop it.
 */
static int use_store(struct registry *r, struct node *n, int *held)
{
	*held = 0;
	pthread_rwlock_rdlock(&n->lock);
	int idle = S_ISREG(n->type) && !n->store;
	pthread_rwlock_unlock(&n->lock);
	if (!idle)
		return 0;
	int res = node_hold(r, n);
	*held = res == 0;
	return res;
}

static void end_use(struct registry *r, struct node *n, int held)
{
	if (held)
		node_drop(r, n);
}

int registry_create(struct registry *r, struct node *dir, const char *name,
		    mode_t mode, int flags, const struct caller *c,
		    struct node **out, struct stat *st)
{
	/* Create and open in one step (a failed open leaves no name), or
	 * open what is there. The name taken is the backing directory's
	 * truth, not only the registry's memory of it: on EEXIST, look
	 * there; a name that was stale, or unlinked between the two tries,
	 * means create again (a few times: a name taken in the backing
	 * directory behind our back stays). */
	int res = -ENOENT;
	for (int tries = 0; tries < 4 && res == -ENOENT; tries++) {
		res = entry_create_open(r, dir, name, mode, flags, c, out, st);
		if (res == 0)
			return 0; /* made and opened */
		if (res != -EEXIST)
			break;
		int changed = registry_revalidate_name(r, dir, name, 1);
		if (changed > 0 && (changed & BACKING_NAME))
			res = -ENOENT; /* what the registry had was stale */
		else if (!(flags & O_EXCL))
			res = registry_lookup(r, dir, name, out, st);
		if (res == -ENOENT && name_check(name) < 0)
			break;
	}
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

static int read_in_use(struct registry *r, struct node *n, void *buf,
		       size_t size, uint64_t off, size_t *got)
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

int registry_read(struct registry *r, struct node *n, void *buf, size_t size,
		  uint64_t off, size_t *got)
{
	int held;
	*got = 0;
	int res = use_store(r, n, &held);
	if (res == 0)
		res = read_in_use(r, n, buf, size, off, got);
	end_use(r, n, held);
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
		*fd = store_fd_get(n->store);
		res = *fd < 0 ? *fd : 0;
	}
	if (!res) {
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

static int write_in_use(struct registry *r, struct node *n, const void *buf,
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
	uint64_t end = off + size, taken = 0;
	res = n->store ? 0 : -EBUSY;
	if (!res)
		res = charge_range_locked(r, n, off, size, &taken);
	if (!res) {
		ssize_t len = n->store->ops->pwrite(n->store, buf, size, off);
		res = len < 0 ? (int)len : 0;
		if (res < 0 && off + size > n->size)
			node_trim_store_locked(r, n);
		charge_settle_locked(r, n, taken, res < 0);
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

int registry_write(struct registry *r, struct node *n, const void *buf,
		   size_t size, uint64_t off)
{
	int held;
	int res = use_store(r, n, &held);
	if (res == 0)
		res = write_in_use(r, n, buf, size, off);
	end_use(r, n, held);
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

/*
 * Where a fallocate from off to end stops, in a file of size bytes. tmpfs
 * frees a page a punch covers whole and zeroes a page it covers in part.
 * A punch that covers the last page to its end reaches there, so the page
 * goes whole. One that ends past the end of the file but inside its last
 * page stops at the end: a store on ext4 stretches a punch past its end
 * to the end of that page and would free the page, which tmpfs keeps,
 * zeroed, as data (SEEK_DATA finds it).
 */
static uint64_t punch_keep(int mode, uint64_t size, uint64_t end)
{
	if (mode & FALLOC_FL_PUNCH_HOLE && end >= PAGE_ROUND(size))
		return PAGE_ROUND(size);
	return size;
}

static int fallocate_in_use(struct registry *r, struct node *n, int mode,
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
	uint64_t end = off + len, taken = 0;
	int grow = !(mode & FALLOC_FL_KEEP_SIZE) && end > n->size;
	res = n->store ? 0 : -EBUSY;
	if (!res)
		res = flags_check_fallocate(n, mode);
	if (!res && n->protect != SHMAP_PROTECT_READWRITE)
		res = -EACCES;
	/* Space is reserved by size: nothing is kept past the end. */
	uint64_t keep = punch_keep(mode, n->size, end);
	if (!res && !grow && end > keep)
		len = off < keep ? keep - off : 0;
	if (!res && len && !(mode & FALLOC_FL_PUNCH_HOLE))
		res = charge_range_locked(r, n, off, len, &taken);
	if (!res && len) {
		res = n->store->ops->fallocate(n->store, mode, off, len);
		if (res < 0 && grow)
			node_trim_store_locked(r, n);
		charge_settle_locked(r, n, taken, res < 0);
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

int registry_fallocate(struct registry *r, struct node *n, int mode,
		       uint64_t off, uint64_t len)
{
	int held;
	int res = use_store(r, n, &held);
	if (res == 0)
		res = fallocate_in_use(r, n, mode, off, len);
	end_use(r, n, held);
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

int registry_fsyncdir(struct registry *r, struct node *n, int datasync)
{
	/* dirfd is set when the directory is made and closed when its node
	 * dies, which the kernel's reference keeps from happening now. */
	if (n->dirfd < 0)
		return 0; /* memory-backed: nothing below to write */
	int res =
	    (datasync ? fdatasync(n->dirfd) : fsync(n->dirfd)) < 0 ? -errno : 0;
	if (res < 0)
		reg_log(r, LOG_ERR, "syncing directory inode %llu: %s",
			(unsigned long long)n->ino, strerror(-res));
	return res;
}
