/*
 * Mount test: an unprivileged user mounts shmapfs through fusermount3, uses
 * it and unmounts it, as with any FUSE filesystem (issue 2, behaviour 1);
 * its file-backed daemon holds more mappings open and mapped at once than
 * it has descriptors (issue 21).
 *
 * Debian's udev gives /dev/fuse mode 0666; a bare machine or container may
 * leave it 0600, so the test sets 0666 for its length and puts the old
 * mode back. The user (shmaptest1) is made if missing. The user may not be
 * able to reach the checkout (a clone in /root, or in a 0700 directory),
 * so the test runs a copy of the daemon from its own directory, which the
 * user can reach (see tests/run-tests.sh), and removes it afterwards.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define USER "shmaptest1"

static char dir[PATH_MAX];
static mode_t fuse_mode;

static void setup(void)
{
	struct stat st;
	ck_assert_int_eq(stat("/dev/fuse", &st), 0);
	fuse_mode = st.st_mode & 07777;
	ck_assert_int_eq(chmod("/dev/fuse", 0666), 0);
	ck_assert_int_eq(tsh(30, "id -u " USER " >/dev/null 2>&1 || "
				 "useradd -M -r -s /usr/sbin/nologin " USER),
			 0);
	snprintf(dir, sizeof(dir), "%s/shmapfs-test.XXXXXX", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tsh(10,
			     "mkdir '%s/m' '%s/fm' '%s/b' && chown -R " USER
			     ": '%s' && chmod 755 '%s' && "
			     "install -m 755 '%s' '%s/shmapfs'",
			     dir, dir, dir, dir, dir, tmount_daemon(), dir),
			 0);
}

static void teardown(void)
{
	tsh(10, "umount -l '%s/m' '%s/fm' 2>/dev/null; rm -rf '%s'", dir, dir,
	    dir);
	chmod("/dev/fuse", fuse_mode);
}

/* Run a shell command as the user; its exit status. */
static int as_user(const char *script)
{
	return tsh(60,
		   "cd '%s' && setpriv --reuid " USER " --regid " USER
		   " --clear-groups --reset-env sh -euc '%s'",
		   dir, script);
}

START_TEST(user_mounts_uses_unmounts)
{
	char script[3 * PATH_MAX + 512];
	snprintf(script, sizeof(script),
		 "d=%s; \"$d/shmapfs\" \"$d/m\"; "
		 "\"$d/shmapfs\" \"$d/b\" \"$d/fm\"; "
		 "echo hello > \"$d/m/a\"; test \"$(cat \"$d/m/a\")\" = hello; "
		 "test \"$(stat -c %%U \"$d/m/a\")\" = " USER "; "
		 "echo kept > \"$d/fm/f\"; "
		 /* No fanotify without CAP_SYS_ADMIN: only the lock holds. */
		 "test \"$(getfattr --only-values -n user.shmap.exclusive "
		 "\"$d/fm\")\" = \"unavailable (needs CAP_SYS_ADMIN)\"; "
		 "fusermount3 -u \"$d/m\"; fusermount3 -u \"$d/fm\"",
		 dir);
	ck_assert_int_eq(as_user(script), 0);
	/* Gone from the mount table; the file-backed data stayed. */
	ck_assert_int_ne(tsh(10, "grep -q ' %s/' /proc/mounts", dir), 0);
	char back[8] = {0};
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/b/f", dir);
	ck_assert_int_eq(get_file(path, back, sizeof(back)), 5);
	ck_assert_str_eq(back, "kept\n");
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_uid, getpwnam(USER)->pw_uid);
	/* The daemons are gone too. */
	ck_assert_int_eq(
	    tsh(10,
		"for i in $(seq 100); do found=; "
		"for p in $(pgrep -x shmapfs); do "
		"grep -qF '%s/' /proc/$p/cmdline && found=1; done; "
		"[ -z \"$found\" ] && exit 0; sleep 0.05; done; "
		"exit 1",
		dir),
	    0);
}
END_TEST

#define HELD	 200 /* mappings the user holds open and mapped */
#define USER_FDS 64  /* the user's daemon's RLIMIT_NOFILE */

/* As the user: hold HELD file-backed mappings open and mapped at once,
 * each tagged through its view and read back with read(); one renamed
 * while held, and written through the new name. Exits 0 if all is well,
 * else the step that failed. */
static void hold_as_user(const char *mnt)
{
	struct passwd *pw = getpwnam(USER);
	if (!pw || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		_exit(10);
	alarm(60);
	static int fds[HELD];
	static int *views[HELD];
	char path[PATH_MAX + 32];
	for (int i = 0; i < HELD; i++) {
		snprintf(path, sizeof(path), "%s/h%03d", mnt, i);
		fds[i] = open(path, O_CREAT | O_RDWR, 0600);
		if (fds[i] < 0 || ftruncate(fds[i], 4096) < 0)
			_exit(11);
		views[i] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
				fds[i], 0);
		if (views[i] == MAP_FAILED)
			_exit(12);
		views[i][0] = i;
	}
	for (int i = 0; i < HELD; i++) {
		int tag = -1;
		if (pread(fds[i], &tag, sizeof(tag), 0) != sizeof(tag) ||
		    tag != i)
			_exit(13);
	}
	char to[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/h%03d", mnt, HELD - 1);
	snprintf(to, sizeof(to), "%s/renamed", mnt);
	int tag = 4242;
	if (rename(path, to) < 0 || ftruncate(fds[HELD - 1], 8192) < 0 ||
	    pwrite(fds[HELD - 1], &tag, sizeof(tag), 4096) != sizeof(tag))
		_exit(14);
	_exit(0);
}

/* Run hold_as_user() in a child; its exit status. */
static int held_by_user(const char *mnt)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		hold_as_user(mnt);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

/* An unprivileged file-backed daemon parks backing files too (opened
 * again by name): the user holds more mappings open and mapped than the
 * daemon has descriptors. */
START_TEST(user_daemon_holds_past_its_limit)
{
	char script[3 * PATH_MAX + 512];
	snprintf(script, sizeof(script),
		 "d=%s; \"$d/shmapfs\" \"$d/b\" \"$d/fm\"; "
		 "prlimit --pid \"$(pgrep -f \"$d/fm\" | head -1)\" "
		 "--nofile=%d:%d",
		 dir, USER_FDS, USER_FDS);
	ck_assert_int_eq(as_user(script), 0);
	char mnt[PATH_MAX + 8];
	snprintf(mnt, sizeof(mnt), "%s/fm", dir);
	ck_assert_int_eq(held_by_user(mnt), 0);
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/b/renamed", dir);
	int tag = 0;
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &tag, sizeof(tag), 4096), sizeof(tag));
	ck_assert_int_eq(tag, 4242);
	ck_assert_int_eq(pread(fd, &tag, sizeof(tag), 0), sizeof(tag));
	ck_assert_int_eq(tag, HELD - 1);
	close(fd);
	snprintf(script, sizeof(script), "fusermount3 -u '%s/fm'", dir);
	ck_assert_int_eq(as_user(script), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("unprivileged");
	TCase *tc = tcase_create("fusermount3");
	/* Unchecked: torn down even when the test fails, so /dev/fuse gets
	 * its mode back in every path. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, user_mounts_uses_unmounts);
	tcase_add_test(tc, user_daemon_holds_past_its_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
