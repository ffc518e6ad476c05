/*
 * The two real stores: a memfd (memory-backed) and a locked backing file
 * (file-backed). Both are a descriptor with the same read and write paths;
 * they differ in how they grow, zero ranges, sync and die. Each operation
 * takes the descriptor to use from store_fd_get(): a parked store's is
 * opened for it (see store.h).
 *
 * Calls nothing else in the core.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A pin maps one page: enough to keep the file, and never touched. */
#define PIN_LEN 4096

/* Open a pinned file again: /proc/self/map_files names it by the pin's
 * place, whatever its name is now, even unlinked. */
static int pin_open(const struct store *s)
{
	char path[64];
	uintptr_t at = (uintptr_t)s->pin;
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)at, (unsigned long)(at + PIN_LEN));
	int fd = open(path, s->flags | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

/* Open the file at name in dirfd, if it is still the one pinned: else
 * it was renamed or replaced behind the daemon's back, and the use fails
 * rather than reach another file. Never blocks on a fifo put there. */
static int open_pinned_at(int dirfd, const char *name, const struct store *s)
{
	int fd =
	    openat(dirfd, name,
		   s->flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	struct stat st;
	int res = fstat(fd, &st) < 0 ? -errno : 0;
	if (res == 0 && (st.st_dev != s->pin_dev || st.st_ino != s->pin_ino))
		res = -ESTALE;
	if (res == 0 && fcntl(fd, F_SETFL, 0) < 0)
		res = -errno;
	if (res < 0)
		close(fd);
	return res < 0 ? res : fd;
}

/* Open a pinned file again by the name the registry gives it now. */
static int pin_open_by_name(struct store *s)
{
	pthread_mutex_lock(&s->link_lock);
	int fd = -ESTALE;
	if (s->keep_fd >= 0) {
		fd = fcntl(s->keep_fd, F_DUPFD_CLOEXEC, 0);
		fd = fd < 0 ? -errno : fd;
	} else if (s->link_dirfd >= 0) {
		fd = open_pinned_at(s->link_dirfd, s->link_name, s);
	}
	pthread_mutex_unlock(&s->link_lock);
	if (fd == -ESTALE)
		atomic_fetch_add(&s->stale, 1);
	return fd;
}

void store_set_name(struct store *s, int dirfd, const char *name)
{
	if (!s->by_name)
		return;
	pthread_mutex_lock(&s->link_lock);
	s->link_dirfd = -1;
	if (dirfd >= 0 && strlen(name) < sizeof(s->link_name)) {
		strcpy(s->link_name, name);
		s->link_dirfd = dirfd;
	}
	pthread_mutex_unlock(&s->link_lock);
}

int store_keep_open(struct store *s)
{
	if (!s->by_name)
		return 0;
	pthread_mutex_lock(&s->link_lock);
	int res = 0;
	if (s->keep_fd < 0 && s->link_dirfd >= 0) {
		res = open_pinned_at(s->link_dirfd, s->link_name, s);
		if (res >= 0)
			s->keep_fd = res;
	}
	pthread_mutex_unlock(&s->link_lock);
	return res < 0 ? res : 0;
}

int store_fd_get(struct store *s)
{
	if (s->fd >= 0)
		return s->fd;
	if (s->pin && s->by_name)
		return pin_open_by_name(s);
	if (s->pin)
		return pin_open(s);
	if (s->dirfd < 0)
		return -EBADF;
	int fd = openat(s->dirfd, s->name, s->flags | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

void store_fd_put(const struct store *s, int fd)
{
	if (fd >= 0 && fd != s->fd)
		close(fd);
}

static ssize_t fd_pread(struct store *s, void *buf, size_t n, uint64_t off)
{
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	size_t done = 0;
	ssize_t res = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done,
				  (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			res = -errno;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	store_fd_put(s, fd);
	return res < 0 ? res : (ssize_t)done;
}

static ssize_t fd_pwrite(struct store *s, const void *buf, size_t n,
			 uint64_t off)
{
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	size_t done = 0;
	ssize_t res = 0;
	while (done < n && res == 0) {
		ssize_t r = pwrite(fd, (const char *)buf + done, n - done,
				   (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			res = -errno;
		else if (r == 0)
			res = -EIO;
		else
			done += (size_t)r;
	}
	store_fd_put(s, fd);
	return res < 0 ? res : (ssize_t)done;
}

/*
 * A store grows by allocation when it is to reserve its pages (where the
 * filesystem can), so that a full filesystem shows as ENOSPC on the
 * truncate, not as a lost write-back or SIGBUS later.
 */
static int resize_fd(int fd, uint64_t old_size, uint64_t size, int reserve)
{
	if (reserve && size > old_size &&
	    fallocate(fd, 0, (off_t)old_size, (off_t)(size - old_size)) == 0)
		return 0;
	if (reserve && size > old_size && errno != EOPNOTSUPP)
		return -errno;
	return ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
}

static int fd_resize(struct store *s, uint64_t old_size, uint64_t size,
		     int reserve)
{
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	int res = resize_fd(fd, old_size, size, reserve);
	store_fd_put(s, fd);
	return res;
}

/*
 * Zero a range by punching a hole, then allocating it again (tmpfs and
 * memfd have no FALLOC_FL_ZERO_RANGE).
 */
static int zero_range_fd(int fd, int keep_size, uint64_t off, uint64_t len)
{
	int keep = keep_size ? FALLOC_FL_KEEP_SIZE : 0;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | keep, (off_t)off,
		      (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	if (fallocate(fd, keep, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int fallocate_fd(int fd, int mode, uint64_t off, uint64_t len)
{
	if (mode & FALLOC_FL_ZERO_RANGE)
		return zero_range_fd(fd, mode & FALLOC_FL_KEEP_SIZE, off, len);
	if (fallocate(fd, mode, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int fd_fallocate(struct store *s, int mode, uint64_t off, uint64_t len)
{
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	int res = fallocate_fd(fd, mode, off, len);
	store_fd_put(s, fd);
	return res;
}

static int memfd_sync(struct store *s, int datasync)
{
	(void)s;
	(void)datasync;
	return 0;
}

/* Any descriptor of the file syncs it: the data is the inode's. */
static int file_sync(struct store *s, int datasync)
{
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	int res = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	store_fd_put(s, fd);
	return res;
}

static int fd_blocks(struct store *s, uint64_t *blocks)
{
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	struct stat st;
	int res = fstat(fd, &st) < 0 ? -errno : 0;
	if (res == 0)
		*blocks = (uint64_t)st.st_blocks;
	store_fd_put(s, fd);
	return res;
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
	 * client holds back, so that the next holder reads all of it. A
	 * parked store has no descriptor of its locked file: its lock goes
	 * with the pin. */
	if (s->locked && s->fd >= 0) {
		int dup_fd = dup(s->fd);
		if (dup_fd >= 0)
			close(dup_fd);
		flock(s->fd, LOCK_UN);
	}
	/* Closing the descriptor (or unmapping the pin, the last hold of
	 * the file) frees a memfd and drops a file's lock. */
	if (s->fd >= 0)
		close(s->fd);
	if (s->pin)
		munmap(s->pin, PIN_LEN);
	if (s->keep_fd >= 0)
		close(s->keep_fd);
	pthread_mutex_destroy(&s->link_lock);
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
	*s = (struct store){
	    .ops = ops, .fd = fd, .dirfd = -1, .link_dirfd = -1, .keep_fd = -1};
	pthread_mutex_init(&s->link_lock, NULL);
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

int store_named_park(int dirfd, const char *name, struct store **out)
{
	struct stat st;
	if (strlen(name) >= sizeof((*out)->name))
		return -ENAMETOOLONG;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBUSY;
	int res = store_new(&file_ops, -1, out);
	if (res < 0)
		return res;
	(*out)->dirfd = dirfd;
	(*out)->flags = O_RDWR;
	strcpy((*out)->name, name);
	return 0;
}

int store_written_elsewhere(struct store *s)
{
	if (s->pin)
		return -EOPNOTSUPP; /* the pin counts as an open */
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	int res = 0;
	if (fcntl(fd, F_SETLEASE, F_WRLCK) == 0)
		fcntl(fd, F_SETLEASE, F_UNLCK);
	else
		res = errno == EAGAIN || errno == EBUSY ? 1 : -errno;
	store_fd_put(s, fd);
	return res;
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

/* Pin fd's file: a mapping holds the open file (and so its lock) as a
 * descriptor would. Never accessed: PROT_NONE, private. */
static void *pin_make(int fd)
{
	void *pin = mmap(NULL, PIN_LEN, PROT_NONE, MAP_PRIVATE, fd, 0);
	return pin == MAP_FAILED ? NULL : pin;
}

int store_file_adopt_parked(int fd, int flags, int by_name, struct store **out)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	void *pin = pin_make(fd);
	int res = pin ? store_new(&file_ops, -1, out) : -ENOMEM;
	if (res < 0) {
		if (pin)
			munmap(pin, PIN_LEN);
		flock(fd, LOCK_UN);
		return res;
	}
	(*out)->pin = pin;
	(*out)->flags = flags;
	(*out)->by_name = by_name;
	(*out)->pin_dev = st.st_dev;
	(*out)->pin_ino = st.st_ino;
	close(fd); /* the pin holds the file, and the lock with it */
	return 0;
}

int store_pins_reachable(void)
{
	/* For tests: the route of an unprivileged daemon, as root. */
	if (getenv("SHMAPFS_TEST_NO_MAP_FILES"))
		return 0;
	int fd = memfd_create("shmapfs-pin-probe", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	struct store s = {
	    .fd = -1, .dirfd = -1, .pin = pin_make(fd), .flags = O_RDONLY};
	close(fd);
	if (!s.pin)
		return 0;
	int again = pin_open(&s);
	munmap(s.pin, PIN_LEN);
	if (again < 0)
		return 0;
	close(again);
	return 1;
}
