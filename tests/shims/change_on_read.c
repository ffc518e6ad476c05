/*
 * An LD_PRELOAD shim for shmapctl's tests (tests/ctl): when shmapctl
 * reads the attribute user.shmap.commit of the file whose name is
 * $SHMAPFS_SHIM_CHANGE_NAME, the shim appends a byte to that file right
 * after the read, as a writer racing the listing would: the file then
 * changed between shmapctl's first and last look at it, every time.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

static int is_target(const char *path, const char *name)
{
	const char *want = getenv("SHMAPFS_SHIM_CHANGE_NAME");
	const char *base = strrchr(path, '/');
	return want && !strcmp(name, "user.shmap.commit") &&
	       !strcmp(base ? base + 1 : path, want);
}

static void append_byte(const char *path)
{
	int err = errno;
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			abort(); /* the test would pass for the wrong reason */
		close(fd);
	}
	errno = err;
}

ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	static ssize_t (*next)(const char *, const char *, void *, size_t);
	if (!next)
		next = (ssize_t(*)(const char *, const char *, void *,
				   size_t))dlsym(RTLD_NEXT, "lgetxattr");
	ssize_t n = next(path, name, value, size);
	if (is_target(path, name))
		append_byte(path);
	return n;
}
