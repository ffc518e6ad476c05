/*
 * Mount tests of the daemon's side of /dev/fuse (fs/fuse_io.c and
 * fs/reader.c): the daemon keeps serving whatever its reads of the
 * device meet. From outside, the test takes a duplicate of the daemon's
 * /dev/fuse descriptor (pidfd_getfd: the same open file) and flips its
 * O_NONBLOCK while the mount is in use, so that the daemon's reads see
 * EAGAIN where they expected to block, and block where they expected
 * EAGAIN; every file operation must still succeed, and the daemon must
 * exit 0 at unmount. (libfuse 3.14 ends its loop on an EAGAIN; a reader
 * that toggled the flag itself made the same happen.)
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define OPERATIONS 3000
#define FLIP_S	   60 /* at most */

static struct tmount m;

/* The daemon's /dev/fuse descriptor number, or -1. */
static int daemon_fuse_fd(pid_t pid)
{
	char dir[64], path[PATH_MAX], target[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int found = -1;
	struct dirent *e;
	while (found < 0 && (e = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (!strcmp(target, "/dev/fuse"))
				found = atoi(e->d_name);
		}
	}
	closedir(d);
	return found;
}

/* A descriptor for the daemon's own open /dev/fuse file, or -1. */
static int grab_daemon_fuse_fd(pid_t pid)
{
	int target = daemon_fuse_fd(pid);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int fd = -1;
	if (target >= 0 && pidfd >= 0)
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
	if (pidfd >= 0)
		close(pidfd);
	return fd;
}

/* The flipping child: exits 0 once stop closes if it flipped, 2 if it
 * could not reach the daemon's device. */
static void flip_nonblock(pid_t daemon, int ready, int stop)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int fd = grab_daemon_fuse_fd(daemon);
	if (fd < 0)
		_exit(2);
	int fl = fcntl(fd, F_GETFL);
	if (write(ready, "r", 1) != 1)
		_exit(2);
	struct pollfd pfd = {.fd = stop, .events = POLLIN};
	time_t until = time(NULL) + FLIP_S;
	long flips = 0;
	while (poll(&pfd, 1, 0) == 0 && time(NULL) < until) {
		for (int i = 0; i < 100; i++, flips++) {
			fcntl(fd, F_SETFL, fl ^ O_NONBLOCK);
			fcntl(fd, F_SETFL, fl);
		}
	}
	fcntl(fd, F_SETFL, fl); /* as it was */
	_exit(flips > 0 ? 0 : 1);
}

/*
 * A child that flips O_NONBLOCK of the daemon's /dev/fuse until
 * stop_flipper(), for FLIP_S seconds at most. A child, not a thread: a
 * connection lives as long as anyone holds its device, so if the daemon
 * died, requests of a test that held it would wait for ever.
 */
struct flipper {
	pid_t pid;
	int stop; /* closing it stops the child */
};

static void start_flipper(struct flipper *f, pid_t daemon)
{
	int ready[2], stop[2];
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(stop), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		close(ready[0]);
		close(stop[1]);
		flip_nonblock(daemon, ready[1], stop[0]);
	}
	close(ready[1]);
	close(stop[0]);
	f->stop = stop[1];
	struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
	ck_assert_msg(poll(&pfd, 1, 10000) == 1,
		      "the flipper could not take the daemon's /dev/fuse");
	close(ready[0]);
}

/* 0 if the child flipped until told to stop. */
static int stop_flipper(struct flipper *f)
{
	close(f->stop);
	int status;
	if (waitpid(f->pid, &status, 0) != f->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One round trip after another: create, write, stat, read, unlink. */
static void use_the_mount(int rounds)
{
	char buf[8];
	for (int i = 0; i < rounds; i++) {
		const char *p = tmount_path(&m, "f");
		int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		ck_assert_msg(fd >= 0, "open %d: %s", i, strerror(errno));
		ck_assert_int_eq(pwrite(fd, "data", 4, 0), 4);
		struct stat st;
		ck_assert_int_eq(fstat(fd, &st), 0);
		ck_assert_int_eq(pread(fd, buf, 4, 0), 4);
		ck_assert_int_eq(close(fd), 0);
		ck_assert_msg(unlink(p) == 0, "unlink %d: %s", i,
			      strerror(errno));
	}
}

/* Options of each run: the polling reader, and every worker reading. */
static const char *const runs[] = {NULL, "poll_us=0"};

START_TEST(serves_through_flipped_nonblock)
{
	ck_assert_int_eq(tmount_start(&m, 0, runs[_i]), 0);
	struct flipper f;
	start_flipper(&f, m.pid);
	use_the_mount(OPERATIONS);
	ck_assert_int_eq(stop_flipper(&f), 0);
	use_the_mount(10);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("transport");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, serves_through_flipped_nonblock, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
