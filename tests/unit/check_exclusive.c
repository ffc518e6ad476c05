/*
 * Unit tests of exclusive backing files (fs/exclusive.c), with no
 * mount: this test process plays the daemon (its own opens pass), forked
 * children play everyone else. Needs CAP_SYS_ADMIN, as the tests run.
 * Also the look for views that keeps a lingering store exclusive
 * (fs/core/views.c): children that map a file, or do not.
 */
#include "exclusive.h"
#include "views.h"
#include "mount.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX];
static char file[PATH_MAX + 16];  /* guarded in the tests */
static char other[PATH_MAX + 16]; /* never guarded */
static char alias[PATH_MAX + 16]; /* a hard link of file */

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/shmapfs-excl.XXXXXX", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0); /* for another uid */
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	snprintf(alias, sizeof(alias), "%s/alias", dir);
	ck_assert_int_eq(put_file(file, "data", 4, 0644), 0);
	ck_assert_int_eq(put_file(other, "else", 4, 0644), 0);
	ck_assert_int_eq(link(file, alias), 0);
}

static void teardown(void)
{
	unlink(file);
	unlink(other);
	unlink(alias);
	rmdir(dir);
}

/* In a child: 0 if path opens read-only, else the errno. */
static int open_ro(void *arg)
{
	int fd = open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int open_rw(void *arg)
{
	int fd = open(arg, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int open_fd(void)
{
	int fd = open(file, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* A started group guarding file, open as *fd. */
static struct exclusive *guarding(int *fd)
{
	struct exclusive *ex;
	ck_assert_int_eq(exclusive_new(&ex), 0);
	ck_assert_int_eq(exclusive_start(ex), 0);
	*fd = open_fd();
	ck_assert_int_eq(exclusive_guard(ex, *fd), 0);
	return ex;
}

static void unguard_and_free(struct exclusive *ex, int fd)
{
	exclusive_unguard(ex, fd);
	close(fd);
	exclusive_free(ex);
}

START_TEST(others_refused_daemon_allowed)
{
	int fd;
	struct exclusive *ex = guarding(&fd);
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), EPERM);
	ck_assert_int_eq(in_child(open_rw, file, -1, -1, 10), EPERM);
	ck_assert_int_eq(in_child(open_ro, file, 65534, 65534, 10), EPERM);
	ck_assert_int_eq(in_child(open_ro, alias, -1, -1, 10), EPERM);
	/* Another file of the same filesystem is not touched. */
	ck_assert_int_eq(in_child(open_rw, other, -1, -1, 10), 0);
	/* The daemon's own opens pass. */
	ck_assert_int_eq(open_rw(file), 0);
	ck_assert_int_eq(open_ro(alias), 0);

	exclusive_unguard(ex, fd);
	ck_assert_int_eq(in_child(open_rw, file, -1, -1, 10), 0);
	close(fd);
	exclusive_free(ex);
}
END_TEST

static void *open_in_thread(void *arg)
{
	return (void *)(long)open_rw(arg);
}

START_TEST(daemon_threads_allowed)
{
	int fd;
	struct exclusive *ex = guarding(&fd);
	pthread_t t;
	void *res;
	ck_assert_int_eq(pthread_create(&t, NULL, open_in_thread, file), 0);
	ck_assert_int_eq(pthread_join(t, &res), 0);
	ck_assert_int_eq((long)res, 0);
	unguard_and_free(ex, fd);
}
END_TEST

/* A child that opens file twice once told to (one byte on its pipe):
 * exits 0 if the first open passed and the second was refused. */
static pid_t spawn_expected_opener(int *go)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(100);
		int first = open_ro(file), second = open_ro(file);
		_exit(first == 0 && second == EPERM ? 0 : 10 + first);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

START_TEST(expected_open_passes_once)
{
	int fd;
	struct exclusive *ex = guarding(&fd);
	int go;
	pid_t pid = spawn_expected_opener(&go);
	ck_assert_int_eq(exclusive_expect(ex, pid, fd), 0);
	/* An expectation names one thread: others are still refused. */
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), EPERM);
	ck_assert_int_eq(write(go, "x", 1), 1);
	close(go);
	ck_assert_int_eq(twait(pid, 10000), 0);
	unguard_and_free(ex, fd);
}
END_TEST

START_TEST(expectation_names_one_file)
{
	struct exclusive *ex;
	ck_assert_int_eq(exclusive_new(&ex), 0);
	ck_assert_int_eq(exclusive_start(ex), 0);
	int fd = open_fd(), ofd = open(other, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ofd, 0);
	exclusive_guard(ex, fd);
	int go;
	pid_t pid = spawn_expected_opener(&go);
	ck_assert_int_eq(exclusive_expect(ex, pid, ofd), 0); /* not file */
	ck_assert_int_eq(write(go, "x", 1), 1);
	close(go);
	ck_assert_int_eq(twait(pid, 10000), 10 + EPERM);
	close(ofd);
	unguard_and_free(ex, fd);
}
END_TEST

static int priv_dir = -1; /* a private clone of dir's mount */

static int open_through_priv(void *name)
{
	int fd = openat(priv_dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

START_TEST(passed_mount_raises_nothing)
{
	int fd;
	struct exclusive *ex = guarding(&fd);
	int tree =
	    open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	ck_assert_int_ge(tree, 0);
	priv_dir = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(priv_dir, 0);
	close(tree);
	ck_assert_int_eq(exclusive_pass_mount(ex, priv_dir), 0);
	/* A write through the mount must not end that (a modification
	 * clears an ignore mask unless told otherwise). */
	int w = openat(priv_dir, "file", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(w, 0);
	ck_assert_int_eq(write(w, "D", 1), 1);
	close(w);
	/* Through the private mount every open passes, unasked... */
	ck_assert_int_eq(in_child(open_through_priv, "file", -1, -1, 10), 0);
	/* ...through any other the file is still guarded. */
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), EPERM);
	/* No expectation is kept for a file opened on the passed mount: the
	 * kernel's open of it raises no event to use it up. */
	int pfd = openat(priv_dir, "file", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(pfd, 0);
	int go;
	pid_t pid = spawn_expected_opener(&go);
	ck_assert_int_eq(exclusive_expect(ex, pid, pfd), 0);
	ck_assert_int_eq(write(go, "x", 1), 1);
	close(go);
	ck_assert_int_eq(twait(pid, 10000), 10 + EPERM);
	close(pfd);
	exclusive_unguard(ex, fd);
	close(fd);
	close(priv_dir);
	exclusive_free(ex);
}
END_TEST

START_TEST(free_lets_go)
{
	int fd;
	struct exclusive *ex = guarding(&fd);
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), EPERM);
	exclusive_free(ex); /* never unguarded: the marks go with the group */
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), 0);
	close(fd);
}
END_TEST

/* A child that runs prepare(arg), says so on a pipe, then waits until
 * it is killed. prepare returns 0, or the child's exit code. */
static pid_t spawn_ready(int (*prepare)(void *arg), void *arg)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		int code = prepare(arg);
		if (code != 0)
			_exit(code);
		if (write(p[1], "x", 1) != 1)
			_exit(100);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/* A daemon: guards file. */
static int guard_file(void *arg)
{
	(void)arg;
	struct exclusive *ex;
	if (exclusive_new(&ex) < 0 || exclusive_start(ex) < 0)
		return 1;
	exclusive_guard(ex, open_fd());
	return 0;
}

static pid_t spawn_daemon(void)
{
	return spawn_ready(guard_file, NULL);
}

/* Wait until pid, our child, has stopped (at most 5 s). */
static int stopped(pid_t pid)
{
	for (int waited = 0; waited < 5000; waited += 5) {
		int status;
		if (waitpid(pid, &status, WNOHANG | WUNTRACED) == pid)
			return WIFSTOPPED(status);
		usleep(5000);
	}
	return 0;
}

static int opener_done(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == pid;
}

START_TEST(killed_daemon_lets_go)
{
	pid_t daemon = spawn_daemon();
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), EPERM);
	/* Stopped, it cannot answer: an open waits (a documented limit)... */
	ck_assert_int_eq(kill(daemon, SIGSTOP), 0);
	ck_assert(stopped(daemon)); /* kill() returns before it stops */
	pid_t opener = fork();
	ck_assert_int_ge(opener, 0);
	if (opener == 0)
		_exit(open_ro(file));
	int status;
	usleep(300 * 1000);
	ck_assert(!opener_done(opener, &status));
	/* ...until it dies: the kernel allows what was waiting. */
	ck_assert_int_eq(kill(daemon, SIGKILL), 0);
	ck_assert_int_eq(twait(daemon, 10000), -1);
	ck_assert_int_eq(twait(opener, 10000), 0);
	ck_assert_int_eq(in_child(open_rw, file, -1, -1, 10), 0);
}
END_TEST

/* A mark the kernel refuses is said, not swallowed. */
START_TEST(failed_mark_is_said)
{
	struct exclusive *ex;
	ck_assert_int_eq(exclusive_new(&ex), 0);
	ck_assert_int_eq(exclusive_start(ex), 0);
	ck_assert_int_eq(exclusive_guard(ex, -1), -EBADF);
	exclusive_free(ex);
}
END_TEST

/* The tests' hook fails exactly the Nth guard, and that file is then not
 * guarded: the caller must not serve it. */
START_TEST(nth_guard_fails)
{
	ck_assert_int_eq(setenv("SHMAPFS_TEST_FAIL_GUARD", "2", 1), 0);
	struct exclusive *ex;
	int res = exclusive_new(&ex);
	unsetenv("SHMAPFS_TEST_FAIL_GUARD");
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(exclusive_start(ex), 0);
	int ofd = open(other, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(ofd, 0);
	int fd = open_fd();
	ck_assert_int_eq(exclusive_guard(ex, ofd), 0);
	ck_assert_int_eq(exclusive_guard(ex, fd), -ENOSPC);
	ck_assert_int_eq(in_child(open_ro, other, -1, -1, 10), EPERM);
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), 0);
	ck_assert_int_eq(exclusive_guard(ex, fd), 0);
	ck_assert_int_eq(in_child(open_ro, file, -1, -1, 10), EPERM);
	exclusive_unguard(ex, ofd);
	close(ofd);
	unguard_and_free(ex, fd);
}
END_TEST

/* A viewer: maps path read-only and closes it. */
static int map_and_close(void *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || mmap(NULL, 4, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
		return 1;
	close(fd);
	return 0;
}

/* Which of file and other some process maps: 0 none, 1 file, 2 other. */
static int mapped_now(dev_t dev)
{
	struct stat st, ost;
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(stat(other, &ost), 0);
	uint64_t inos[2] = {st.st_ino, ost.st_ino};
	unsigned char found[2] = {7, 7};
	ck_assert_int_eq(views_find(dev, inos, 2, found), 0);
	return found[0] | found[1] << 1;
}

START_TEST(views_found_in_maps)
{
	struct stat st;
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(mapped_now(st.st_dev), 0);
	pid_t viewer = spawn_ready(map_and_close, file);
	ck_assert_int_eq(mapped_now(st.st_dev), 1);
	ck_assert_int_eq(mapped_now(st.st_dev + 1), 0); /* not that device */
	ck_assert_int_eq(kill(viewer, SIGKILL), 0);
	ck_assert_int_eq(twait(viewer, 10000), -1);
	ck_assert_int_eq(mapped_now(st.st_dev), 0);
}
END_TEST

START_TEST(views_unknown_device_cannot_tell)
{
	uint64_t ino = 1;
	unsigned char found;
	ck_assert_int_eq(views_find(0, &ino, 1, &found), -ENODEV);
}
END_TEST

/*
 * Maps read in pieces: the line that names the view is split between two
 * reads at every place in turn (a SOCK_SEQPACKET socket hands one message
 * to each read), and the view is found each time, the other ino never.
 */
START_TEST(views_line_split_between_reads)
{
	static const char before[] =
	    "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus\n"
	    "7f10c0000000-7f10c0001000 rw-s 00000000 00:2d 99999 /mnt/y\n";
	static const char line[] =
	    "7f10c0200000-7f10c0300000 rw-s 00001000 00:2d 4242 /mnt/x y\n";
	static const char after[] = "7ffd1000-7ffd2000 rw-p 00000000 00:00 0 "
				    "[stack]\n";
	uint64_t inos[2] = {4242, 99};
	for (size_t k = 1; k < sizeof(line) - 1; k++) {
		int sv[2];
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
		char first[sizeof(before) + sizeof(line)];
		int len = snprintf(first, sizeof(first), "%s%.*s", before,
				   (int)k, line);
		ck_assert_int_eq(write(sv[1], first, (size_t)len), len);
		char second[sizeof(line) + sizeof(after)];
		len = snprintf(second, sizeof(second), "%s%s", line + k, after);
		ck_assert_int_eq(write(sv[1], second, (size_t)len), len);
		close(sv[1]);
		unsigned char found[2] = {7, 7};
		ck_assert_int_eq(
		    views_find_in(sv[0], makedev(0, 0x2d), inos, 2, found), 0);
		close(sv[0]);
		ck_assert_msg(found[0] == 1 && found[1] == 0,
			      "split after %zu bytes: found %d %d", k, found[0],
			      found[1]);
	}
}
END_TEST

/* The device of a mount, from mountinfo, its name escaped there. */
START_TEST(mount_dev_from_mountinfo)
{
	char mnt[PATH_MAX + 16];
	snprintf(mnt, sizeof(mnt), "%s/a mount", dir);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	dev_t dev;
	ck_assert_int_eq(views_mount_dev(mnt, &dev), -ENOENT);
	ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
	struct stat st;
	ck_assert_int_eq(stat(mnt, &st), 0);
	int res = views_mount_dev(mnt, &dev);
	ck_assert_int_eq(umount2(mnt, 0), 0);
	rmdir(mnt);
	ck_assert_int_eq(res, 0);
	ck_assert_uint_eq(dev, st.st_dev);
}
END_TEST

START_TEST(unavailable_reasons)
{
	ck_assert_str_eq(exclusive_unavailable_why(-EPERM),
			 "needs CAP_SYS_ADMIN");
	ck_assert_ptr_nonnull(exclusive_unavailable_why(-EIO));
}
END_TEST

static Suite *exclusive_suite(void)
{
	Suite *s = suite_create("exclusive");
	TCase *tc = tcase_create("exclusive");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, others_refused_daemon_allowed);
	tcase_add_test(tc, daemon_threads_allowed);
	tcase_add_test(tc, expected_open_passes_once);
	tcase_add_test(tc, expectation_names_one_file);
	tcase_add_test(tc, passed_mount_raises_nothing);
	tcase_add_test(tc, free_lets_go);
	tcase_add_test(tc, killed_daemon_lets_go);
	tcase_add_test(tc, unavailable_reasons);
	tcase_add_test(tc, failed_mark_is_said);
	tcase_add_test(tc, nth_guard_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("views");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, views_found_in_maps);
	tcase_add_test(tc, views_unknown_device_cannot_tell);
	tcase_add_test(tc, views_line_split_between_reads);
	tcase_add_test(tc, mount_dev_from_mountinfo);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(exclusive_suite());
}
