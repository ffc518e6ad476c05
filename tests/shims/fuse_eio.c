/*
 * An LD_PRELOAD shim for mount tests (check_transport): once the file
 * named by $SHMAPFS_SHIM_EIO_AFTER exists, every read(2) and readv(2) of
 * the FUSE device (a character device 10:229) fails with EIO, as a broken
 * device would, without being tried. Reads of anything else, and of the
 * device before the file appears, go to the C library.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define FUSE_MAJOR 10
#define FUSE_MINOR 229

/* Whether a read of fd must fail now. errno is kept as it was. */
static int must_fail(int fd)
{
	const char *trigger = getenv("SHMAPFS_SHIM_EIO_AFTER");
	int err = errno;
	struct stat st;
	int fail = trigger && access(trigger, F_OK) == 0 &&
		   fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
		   st.st_rdev == makedev(FUSE_MAJOR, FUSE_MINOR);
	errno = err;
	return fail;
}

ssize_t read(int fd, void *buf, size_t len)
{
	static ssize_t (*next)(int, void *, size_t);
	if (must_fail(fd)) {
		errno = EIO;
		return -1;
	}
	if (!next)
		next =
		    (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	return next(fd, buf, len);
}

ssize_t readv(int fd, const struct iovec *iov, int count)
{
	static ssize_t (*next)(int, const struct iovec *, int);
	if (must_fail(fd)) {
		errno = EIO;
		return -1;
	}
	if (!next)
		next = (ssize_t(*)(int, const struct iovec *, int))dlsym(
		    RTLD_NEXT, "readv");
	return next(fd, iov, count);
}
