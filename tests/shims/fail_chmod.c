/*
 * An LD_PRELOAD shim for mount tests (check_killpriv): while the file
 * named by $SHMAPFS_SHIM_FAIL_CHMOD_WHILE exists, every fchmod(2) and
 * fchmodat(2) fails with EIO, as on a failing backing filesystem.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int must_fail(void)
{
	const char *trigger = getenv("SHMAPFS_SHIM_FAIL_CHMOD_WHILE");
	int err = errno;
	int fail = trigger && access(trigger, F_OK) == 0;
	errno = fail ? EIO : err;
	return fail;
}

int fchmod(int fd, mode_t mode)
{
	static int (*next)(int, mode_t);
	if (!next)
		next = (int (*)(int, mode_t))dlsym(RTLD_NEXT, "fchmod");
	return must_fail() ? -1 : next(fd, mode);
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	static int (*next)(int, const char *, mode_t, int);
	if (!next)
		next = (int (*)(int, const char *, mode_t, int))dlsym(
		    RTLD_NEXT, "fchmodat");
	return must_fail() ? -1 : next(dirfd, path, mode, flags);
}
