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
 *
 * And when the device keeps failing: the daemon runs under an LD_PRELOAD
 * shim (tests/shims/fuse_eio.c) that makes its reads of /dev/fuse fail with EIO
 * once a trigger file exists; after 100 such errors in a row it must say
 * why, unmount itself and exit 4, by itself.
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
#include <sys/mount.h>
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
/* The give-up takes about a second of errors, then the write-out waits at
 * most 10 s for a sync that nothing answers. */
#define GIVE_UP_WAIT_MS 60000
#define EXIT_INTERNAL	4

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

/* Whether path is a mountpoint in /proc/self/mounts (without touching
 * the mount itself, which may be dead). */
static int listed_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	ck_assert_ptr_nonnull(f);
	char line[2 * PATH_MAX], dev[PATH_MAX], dir[PATH_MAX];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%4095s %4095s", dev, dir) == 2 &&
			!strcmp(dir, path);
	fclose(f);
	return found;
}

/* A child that asks the mount one thing, so that the daemon's idle
 * reader wakes and reads (its request may never be answered). */
static pid_t poke(void)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct stat st;
		stat(tmount_path(&m, "poke"), &st);
		_exit(0);
	}
	return pid;
}

static int log_has(const char *text)
{
	return tsh(10, "grep -qF '%s' '%s'", text, m.log) == 0;
}

START_TEST(gives_up_when_reads_keep_failing)
{
	char trigger[PATH_MAX];
	snprintf(trigger, sizeof(trigger), "%s/eio-trigger.%d", test_tmpdir(),
		 (int)getpid());
	unlink(trigger);
	ck_assert_int_eq(tpreload("fuse_eio.so"), 0);
	setenv("SHMAPFS_SHIM_EIO_AFTER", trigger, 1);
	int res = tmount_start(&m, 1, runs[_i]);
	tunpreload();
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(put_file(tmount_path(&m, "kept"), "data", 4, 0644), 0);
	ck_assert_int_eq(put_file(trigger, "", 0, 0644), 0);
	pid_t poker = poke();
	int st = twait(m.pid, GIVE_UP_WAIT_MS);
	pid_t daemon = m.pid;
	m.pid = -1;
	if (st != EXIT_INTERNAL)
		tsh(10, "tail -n 20 '%s' >&2", m.log);
	if (st < 0) /* killed: its dead connection stays mounted */
		umount2(m.mnt, MNT_DETACH);
	/* Its request dies with the daemon's connection. */
	ck_assert_int_ge(twait(poker, 10000), 0);
	unlink(trigger);
	ck_assert_msg(st == EXIT_INTERNAL, "daemon %d exit status %d",
		      (int)daemon, st);
	ck_assert(log_has("reading /dev/fuse: Input/output error (errno 5)"));
	ck_assert(log_has("reading /dev/fuse failed 100 times in a row, last: "
			  "Input/output error (errno 5); unmounting"));
	ck_assert(log_has("cannot read requests any more: unmounting"));
	ck_assert_msg(!listed_mounted(m.mnt), "%s still mounted", m.mnt);
	/* The backing directory is whole: what was written is there. */
	char buf[8];
	ck_assert_int_eq(get_file(tmount_bpath(&m, "kept"), buf, sizeof(buf)),
			 4);
	ck_assert_int_eq(tsh(30, "rm -rf '%s'", m.root), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("transport");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, serves_through_flipped_nonblock, 0, 2);
	tcase_add_loop_test(tc, gives_up_when_reads_keep_failing, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
