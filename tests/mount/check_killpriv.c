/*
 * Mount tests of the set-ID bits that a write, a truncate and an open with
 * O_TRUNC by an unprivileged caller must clear (the kernel asks the daemon
 * to, FUSE_HANDLE_KILLPRIV_V2, or sends the new mode): when the backing
 * file's chmod fails (the daemon runs under tests/shims/fail_chmod.c), the
 * call fails with its error and changes nothing, as the kernel fails a
 * write whose file_remove_privs() fails; once chmod works again the call
 * clears the bits. On the fallback data path: with passthrough the kernel
 * writes the backing file itself and the daemon sees no write.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define NOBODY 65534

static struct tmount m;

/* What nobody does to the file: each must clear its set-ID bits. */
enum op {
	WRITE,
	TRUNCATE,
	OPEN_TRUNC
};
static const char *const op_names[] = {"write", "truncate", "open O_TRUNC"};

struct act {
	const char *path;
	enum op op;
};

/* As nobody: the operation on path; 0 or its errno. */
static int act(void *arg)
{
	const struct act *a = arg;
	if (a->op == TRUNCATE)
		return truncate(a->path, 2) == 0 ? 0 : errno;
	int fd = open(a->path, O_WRONLY | (a->op == OPEN_TRUNC ? O_TRUNC : 0));
	if (fd < 0)
		return errno;
	int res = a->op == WRITE && pwrite(fd, "X", 1, 0) != 1 ? errno : 0;
	close(fd);
	return res;
}

/* The mode bits of path, on the mount or the backing directory. */
static mode_t mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* The contents of path, which must be want. */
static void holds(const char *path, const char *want)
{
	char buf[16];
	ssize_t n = get_file(path, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(fails_when_privileges_cannot_go)
{
	char trigger[PATH_MAX];
	snprintf(trigger, sizeof(trigger), "%s/chmod-fails.%d", test_tmpdir(),
		 (int)getpid());
	unlink(trigger);
	ck_assert_int_eq(tpreload("fail_chmod.so"), 0);
	setenv("SHMAPFS_SHIM_FAIL_CHMOD_WHILE", trigger, 1);
	int res = tmount_start(&m, 1, "allow_other,nopassthrough");
	tunpreload();
	ck_assert_int_eq(res, 0);
	struct act a = {tmount_path(&m, "f"), (enum op)_i};
	const char *backing = tmount_bpath(&m, "f");
	ck_assert_int_eq(put_file(a.path, "data", 4, 0644), 0);
	ck_assert_int_eq(chmod(m.mnt, 0777), 0);
	ck_assert_int_eq(chmod(a.path, 06777), 0);
	ck_assert_int_eq(put_file(trigger, "", 0, 0644), 0);
	res = in_child(act, &a, NOBODY, NOBODY, 30);
	unlink(trigger);
	ck_assert_msg(res == EIO, "%s: %s", op_names[_i], strerror(res));
	/* An open truncates before it clears the bits (the daemon checks
	 * the open first): it fails, with the data gone. */
	holds(a.path, a.op == OPEN_TRUNC ? "" : "data");
	ck_assert_uint_eq(mode_of(a.path), 06777);
	ck_assert_uint_eq(mode_of(backing), 06777);
	/* chmod works again: both bits go, and the change lands. */
	ck_assert_int_eq(in_child(act, &a, NOBODY, NOBODY, 30), 0);
	ck_assert_uint_eq(mode_of(a.path), 0777);
	ck_assert_uint_eq(mode_of(backing), 0777);
	holds(a.path, (const char *[]){"Xata", "da", ""}[_i]);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("killpriv");
	TCase *tc = tcase_create("killpriv");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, fails_when_privileges_cannot_go, WRITE,
			    OPEN_TRUNC + 1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
