/*
 * Mount test: an unprivileged user mounts shmapfs through fusermount3, uses
 * it and unmounts it, as with any FUSE filesystem (issue 2, behaviour 1).
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
#include <string.h>
#include <sys/stat.h>
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

static Suite *suite(void)
{
	Suite *s = suite_create("unprivileged");
	TCase *tc = tcase_create("fusermount3");
	/* Unchecked: torn down even when the test fails, so /dev/fuse gets
	 * its mode back in every path. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, user_mounts_uses_unmounts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
