/*
 * Small helpers for mount tests; see util.h.
 */
#include "util.h"
#include "mount.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

int put_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, buf, len);
	int res = w < 0 ? -errno : (size_t)w != len ? -EIO : 0;
	if (close(fd) < 0 && res == 0)
		res = -errno;
	return res;
}

ssize_t get_file(const char *path, void *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < size) {
		ssize_t r = read(fd, (char *)buf + done, size - done);
		if (r < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	return (ssize_t)done;
}

int flock_free(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0 && errno == EPERM)
		return 0; /* an exclusive backing file in use: held */
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	int res = flock(fd, LOCK_EX | LOCK_NB);
	close(fd);
	return res == 0;
}

int count_entries_in(const char *path)
{
	DIR *d = opendir(path);
	ck_assert_msg(d != NULL, "opendir %s: %s", path, strerror(errno));
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

void fill_pattern(void *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static pid_t spawn(int (*fn)(void *), void *arg, uid_t uid, gid_t gid)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (uid != (uid_t)-1) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(125);
	}
	_exit(fn(arg) & 0xff);
}

int in_child(int (*fn)(void *arg), void *arg, uid_t uid, gid_t gid,
	     int timeout_s)
{
	pid_t pid = spawn(fn, arg, uid, gid);
	if (pid < 0)
		return -1;
	return twait(pid, timeout_s * 1000);
}

int child_signal(int (*fn)(void *arg), void *arg, int timeout_s)
{
	pid_t pid = spawn(fn, arg, (uid_t)-1, (gid_t)-1);
	if (pid < 0)
		return -1;
	int status;
	for (int waited = 0; waited < timeout_s * 1000; waited += 5) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	/* Mount tests need a process per test: a dying test's daemon is
	 * told (PDEATHSIG) and its mount never outlives it. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
