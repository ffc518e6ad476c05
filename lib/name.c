/*
 * Names and atomic creation: resolve a mapping or semaphore name to a path
 * under $SHMAP_DIR, create its parent directories, and make a new file
 * whole (size, protection, contents) before it becomes visible by name.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int shmap__path(const char *name, char path[PATH_MAX], size_t *root)
{
	if (!name || !name[0] || name[strlen(name) - 1] == '/')
		return -EINVAL;
	const char *dir = "";
	if (name[0] != '/') {
		dir = getenv("SHMAP_DIR");
		if (!dir || !dir[0])
			dir = SHMAP_DEFAULT_DIR;
	}
	int n =
	    snprintf(path, PATH_MAX, "%s%s%s", dir, dir[0] ? "/" : "", name);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	if (root)
		*root = dir[0] ? strlen(dir) + 1 : 1;
	return 0;
}

int shmap__mkparents(const char *path, size_t root)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	if (root > strlen(buf))
		return -EINVAL;
	/* Each prefix ending before a '/' past the root. */
	for (char *p = buf + root; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0777) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* A temporary name beside path: ".shmap-tmp.<pid>.<random>" in its dir. */
static int tmp_name(const char *path, char tmp[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) + 1 : 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long r = (unsigned long)ts.tv_nsec ^
			  ((unsigned long)syscall(SYS_gettid) << 20);
	int n = snprintf(tmp, PATH_MAX, "%.*s.shmap-tmp.%ld.%lx", dirlen, path,
			 (long)getpid(), r);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int open_tmp(const char *path, char tmp[PATH_MAX])
{
	for (int tries = 0; tries < 100; tries++) {
		int err = tmp_name(path, tmp);
		if (err)
			return err;
		int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Put tmp in place at path unless something is there: 0 or -errno. */
static int link_into_place(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* No RENAME_NOREPLACE there: link() fails with EEXIST just as well. */
	if (link(tmp, path) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

int shmap__create_file(const char *path, size_t root, shmap__init_fn init,
		       void *arg, int *fd_out)
{
	char tmp[PATH_MAX];
	int fd = open_tmp(path, tmp);
	if (fd == -ENOENT) {
		int err = shmap__mkparents(path, root);
		if (err)
			return err;
		fd = open_tmp(path, tmp);
	}
	if (fd < 0)
		return fd;
	int err = init(&fd, tmp, arg);
	if (!err)
		err = link_into_place(tmp, path);
	if (err) {
		unlink(tmp);
		if (fd >= 0)
			close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}
