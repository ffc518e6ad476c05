/*
 * libshmap byte-range locks on a real mount: shmap_lock / shmap_unlock
 * between processes, against the classic fcntl locks an unmodified
 * program takes, blocking and non-blocking, and their error cases.
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a plain program does: a classic POSIX lock, F_SETLK. */
static int fcntl_lock(int fd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type,
			   .l_whence = SEEK_SET,
			   .l_start = start,
			   .l_len = len};
	return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : -errno;
}

struct probe {
	int flags;
	int expect;
};

/* Another process tries the range [100, 200) through the library. */
static int lib_probe(void *arg)
{
	const struct probe *p = arg;
	shmap_t *m;
	if (shmap_open("locked", SHMAP_WRITE, &m))
		return 10;
	int err = shmap_lock(m, 150, 10, p->flags | SHMAP_LOCK_NONBLOCK);
	shmap_close(m);
	return err == p->expect ? 0 : 11;
}

/* An unmodified program tries the same with fcntl(F_SETLK). */
static int plain_probe(void *arg)
{
	const struct probe *p = arg;
	int fd = open(tmount_path(&lt_mnt, "locked"), O_RDWR);
	if (fd < 0)
		return 10;
	short type = p->flags & SHMAP_LOCK_EXCLUSIVE ? F_WRLCK : F_RDLCK;
	int err = fcntl_lock(fd, type, 150, 10);
	close(fd);
	/* POSIX says EACCES or EAGAIN for a refused lock. */
	if (err == -EACCES)
		err = -EAGAIN;
	return err == p->expect ? 0 : 11;
}

static int probe(int (*fn)(void *), int flags, int expect)
{
	struct probe p = {flags, expect};
	return lt_wait(lt_fork(fn, &p), 10000);
}

START_TEST(locks_exclude_other_processes)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_create("locked", 4096, SHMAP_READWRITE, 0, &m),
			 0);
	ck_assert_int_eq(shmap_lock(m, 100, 100, SHMAP_LOCK_EXCLUSIVE), 0);
	ck_assert_int_eq(probe(lib_probe, SHMAP_LOCK_SHARED, -EAGAIN), 0);
	ck_assert_int_eq(probe(lib_probe, SHMAP_LOCK_EXCLUSIVE, -EAGAIN), 0);
	ck_assert_int_eq(probe(plain_probe, SHMAP_LOCK_SHARED, -EAGAIN), 0);
	ck_assert_int_eq(probe(plain_probe, SHMAP_LOCK_EXCLUSIVE, -EAGAIN), 0);
	/* Downgrade to shared: readers get in, writers do not. */
	ck_assert_int_eq(shmap_lock(m, 100, 100, SHMAP_LOCK_SHARED), 0);
	ck_assert_int_eq(probe(lib_probe, SHMAP_LOCK_SHARED, 0), 0);
	ck_assert_int_eq(probe(plain_probe, SHMAP_LOCK_SHARED, 0), 0);
	ck_assert_int_eq(probe(lib_probe, SHMAP_LOCK_EXCLUSIVE, -EAGAIN), 0);
	ck_assert_int_eq(probe(plain_probe, SHMAP_LOCK_EXCLUSIVE, -EAGAIN), 0);
	ck_assert_int_eq(shmap_unlock(m, 100, 100), 0);
	ck_assert_int_eq(probe(lib_probe, SHMAP_LOCK_EXCLUSIVE, 0), 0);
	ck_assert_int_eq(probe(plain_probe, SHMAP_LOCK_EXCLUSIVE, 0), 0);
	/* A range that does not overlap is free. */
	ck_assert_int_eq(shmap_lock(m, 0, 100, SHMAP_LOCK_EXCLUSIVE), 0);
	ck_assert_int_eq(probe(lib_probe, SHMAP_LOCK_EXCLUSIVE, 0), 0);
	/* Length 0: to the end of the file and past it. */
	ck_assert_int_eq(shmap_lock(m, 140, 0, SHMAP_LOCK_EXCLUSIVE), 0);
	ck_assert_int_eq(probe(plain_probe, SHMAP_LOCK_SHARED, -EAGAIN), 0);
	ck_assert_int_eq(shmap_unlock(m, 0, 0), 0);
	ck_assert_int_eq(probe(plain_probe, SHMAP_LOCK_EXCLUSIVE, 0), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

START_TEST(library_respects_plain_fcntl_locks)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_create("locked", 4096, SHMAP_READWRITE, 0, &m),
			 0);
	/* A classic lock belongs to the process: take it in a child that
	 * stays until told to go. */
	int go[2], ready[2];
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(tmount_path(&lt_mnt, "locked"), O_RDWR);
		char c = fcntl_lock(fd, F_WRLCK, 0, 1000) ? 'n' : 'y';
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char c = 0;
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(shmap_lock(m, 500, 1, SHMAP_LOCK_NONBLOCK), -EAGAIN);
	ck_assert_int_eq(
	    shmap_lock(m, 999, 10, SHMAP_LOCK_EXCLUSIVE | SHMAP_LOCK_NONBLOCK),
	    -EAGAIN);
	ck_assert_int_eq(
	    shmap_lock(m, 1000, 10, SHMAP_LOCK_EXCLUSIVE | SHMAP_LOCK_NONBLOCK),
	    0);
	/* A blocking lock waits until the holder lets go. */
	long long t0 = lt_now_ms();
	pid_t releaser = fork();
	if (releaser == 0) {
		usleep(300 * 1000);
		_exit(write(go[1], "x", 1) == 1 ? 0 : 1);
	}
	ck_assert_int_eq(shmap_lock(m, 0, 10, SHMAP_LOCK_EXCLUSIVE), 0);
	ck_assert_int_ge(lt_now_ms() - t0, 250);
	ck_assert_int_eq(lt_wait(releaser, 10000), 0);
	ck_assert_int_eq(lt_wait(pid, 10000), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

START_TEST(lock_rejects_bad_requests)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_lock(NULL, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(shmap_unlock(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(shmap_create("locked", 4096, SHMAP_READWRITE, 0, &m),
			 0);
	ck_assert_int_eq(shmap_lock(m, 0, 1, 0x40), -EINVAL);
	ck_assert_int_eq(shmap_lock(m, (uint64_t)1 << 63, 1, 0), -EINVAL);
	ck_assert_int_eq(shmap_lock(m, INT64_MAX, 2, 0), -EINVAL);
	ck_assert_int_eq(shmap_unlock(m, (uint64_t)1 << 63, 1), -EINVAL);
	/* Unlocking what is not locked is fine, as with fcntl. */
	ck_assert_int_eq(shmap_unlock(m, 0, 10), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	/* An exclusive lock needs a handle open for writing. */
	ck_assert_int_eq(shmap_open("locked", SHMAP_READ, &m), 0);
	ck_assert_int_eq(shmap_lock(m, 0, 1, SHMAP_LOCK_EXCLUSIVE), -EBADF);
	ck_assert_int_eq(shmap_lock(m, 0, 1, SHMAP_LOCK_SHARED), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

/* Locks belong to the handle: two handles in one process conflict. */
START_TEST(locks_belong_to_the_handle)
{
	shmap_t *a, *b;
	ck_assert_int_eq(shmap_create("locked", 4096, SHMAP_READWRITE, 0, &a),
			 0);
	ck_assert_int_eq(shmap_open("locked", SHMAP_WRITE, &b), 0);
	ck_assert_int_eq(shmap_lock(a, 0, 10, SHMAP_LOCK_EXCLUSIVE), 0);
	ck_assert_int_eq(
	    shmap_lock(b, 5, 1, SHMAP_LOCK_EXCLUSIVE | SHMAP_LOCK_NONBLOCK),
	    -EAGAIN);
	/* Closing a handle drops its locks. */
	ck_assert_int_eq(shmap_close(a), 0);
	ck_assert_int_eq(
	    shmap_lock(b, 5, 1, SHMAP_LOCK_EXCLUSIVE | SHMAP_LOCK_NONBLOCK), 0);
	ck_assert_int_eq(shmap_close(b), 0);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, locks_exclude_other_processes);
	tcase_add_test(tc, library_respects_plain_fcntl_locks);
	tcase_add_test(tc, lock_rejects_bad_requests);
	tcase_add_test(tc, locks_belong_to_the_handle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lock_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
