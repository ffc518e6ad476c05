/*
 * The two real stores: a memfd (memory-backed) and a locked backing file
 * (file-backed). Both are a descriptor with the same read and write paths;
 * they differ in how they grow, zero ranges, sync and die.
 *
 * Calls nothing else in the core.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t fd_pread(struct store *s, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(s->fd, (char *)buf + done, n - done,
				  (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static ssize_t fd_pwrite(struct store *s, const void *buf, size_t n,
			 uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pwrite(s->fd, (const char *)buf + done, n - done,
				   (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int fd_truncate(struct store *s, uint64_t size)
{
	return ftruncate(s->fd, (off_t)size) < 0 ? -errno : 0;
}

/*
 * A store grows by allocation when it is to reserve its pages (where the
 * filesystem can), so that a full filesystem shows as ENOSPC on the
 * truncate, not as a lost write-back or SIGBUS later.
 */
static int fd_resize(struct store *s, uint64_t old_size, uint64_t size,
		     int reserve)
{
	if (reserve && size > old_size &&
	    fallocate(s->fd, 0, (off_t)old_size, (off_t)(size - old_size)) == 0)
		return 0;
	if (reserve && size > old_size && errno != EOPNOTSUPP)
		return -errno;
	return fd_truncate(s, size);
}

/*
 * Zero a range by punching a hole, then allocating it again (tmpfs and
 * memfd have no FALLOC_FL_ZERO_RANGE).
 */
static int fd_zero_range(struct store *s, int keep_size, uint64_t off,
			 uint64_t len)
{
	int keep = keep_size ? FALLOC_FL_KEEP_SIZE : 0;
	if (fallocate(s->fd, FALLOC_FL_ZERO_RANGE | keep, (off_t)off,
		      (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	if (fallocate(s->fd, keep, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int fd_fallocate(struct store *s, int mode, uint64_t off, uint64_t len)
{
	if (mode & FALLOC_FL_ZERO_RANGE)
		return fd_zero_range(s, mode & FALLOC_FL_KEEP_SIZE, off, len);
	if (fallocate(s->fd, mode, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int memfd_sync(struct store *s, int datasync)
{
	(void)s;
	(void)datasync;
	return 0;
}

static int file_sync(struct store *s, int datasync)
{
	int r = datasync ? fdatasync(s->fd) : fsync(s->fd);
	return r < 0 ? -errno : 0;
}

static int fd_blocks(struct store *s, uint64_t *blocks)
{
	struct stat st;
	if (fstat(s->fd, &st) < 0)
		return -errno;
	*blocks = (uint64_t)st.st_blocks;
	return 0;
}

static void fd_destroy(struct store *s)
{
	/* Let go of the lock before the close: on a FUSE filesystem (a
	 * cluster filesystem's client such as GlusterFS's) close() drops it
	 * only when the kernel's asynchronous release gets there, so an open
	 * of the file right after, by this daemon or another host's, would
	 * find it held still. flock(LOCK_UN) waits for the filesystem. But
	 * first the flush a close does (closing a duplicate): it writes out
	 * what views stored (with passthrough) and what the filesystem's
	 * client holds back, so that the next holder reads all of it. */
	if (s->locked) {
		int dup_fd = dup(s->fd);
		if (dup_fd >= 0)
			close(dup_fd);
		flock(s->fd, LOCK_UN);
	}
	/* Closing the descriptor frees a memfd. */
	close(s->fd);
	free(s);
}

static const struct store_ops memfd_ops = {
    .pread = fd_pread,
    .pwrite = fd_pwrite,
    .resize = fd_resize,
    .fallocate = fd_fallocate,
    .sync = memfd_sync,
    .blocks = fd_blocks,
    .destroy = fd_destroy,
};

static const struct store_ops file_ops = {
    .pread = fd_pread,
    .pwrite = fd_pwrite,
    .resize = fd_resize,
    .fallocate = fd_fallocate,
    .sync = file_sync,
    .blocks = fd_blocks,
    .destroy = fd_destroy,
};

static int store_new(const struct store_ops *ops, int fd, struct store **out)
{
	struct store *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->fd = fd;
	s->locked = 0;
	*out = s;
	return 0;
}

/* A store owning fd, just made (or -1 with errno set); closed on failure. */
static int store_own(const struct store_ops *ops, int fd, struct store **out)
{
	if (fd < 0)
		return -errno;
	int r = store_new(ops, fd, out);
	if (r < 0)
		close(fd);
	return r;
}

int store_memfd_new(const char *name, struct store **out)
{
	return store_own(&memfd_ops, memfd_create(name, MFD_CLOEXEC), out);
}

int store_named_create(int dirfd, const char *name, struct store **out)
{
	/* A file's operations: it takes its pages when it grows, so that a
	 * size reserved is memory held (the kernel writes such stores
	 * directly); fsync on tmpfs costs nothing. */
	return store_own(
	    &file_ops,
	    openat(dirfd, name,
		   O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600),
	    out);
}

int store_named_open(int dirfd, const char *name, struct store **out)
{
	return store_own(&file_ops,
			 openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW),
			 out);
}

int store_written_elsewhere(const struct store *s)
{
	if (fcntl(s->fd, F_SETLEASE, F_WRLCK) == 0) {
		fcntl(s->fd, F_SETLEASE, F_UNLCK);
		return 0;
	}
	return errno == EAGAIN || errno == EBUSY ? 1 : -errno;
}

int store_file_adopt(int fd, struct store **out)
{
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	int r = store_new(&file_ops, fd, out);
	if (r < 0)
		flock(fd, LOCK_UN);
	else
		(*out)->locked = 1;
	return r;
}
