/*
 * libshmap semaphores on a real mount: shmap_sem_open / wait / trywait /
 * timedwait / post / value / close, with their error cases; a semaphore
 * used as a mutex by four processes around a plain counter in a view;
 * timed waits that time out; waits woken by another process.
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WORKERS	   4
#define INCREMENTS 10000

START_TEST(sem_open_creates_or_opens)
{
	shmap_sem_t *s, *t;
	unsigned v = 99;
	ck_assert_int_eq(shmap_sem_open("s", 3, SHMAP_NOCREATE, &s), -ENOENT);
	ck_assert_int_eq(shmap_sem_open("ns/s", 3, 0, &s), 0);
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 3);
	/* It is a file under the mount: ls shows it. */
	struct stat st;
	ck_assert_int_eq(stat(tmount_path(&lt_mnt, "ns/s"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(tsh(10, "ls '%s/ns' | grep -qx s", lt_mnt.mnt), 0);
	/* The initial value applies only on creation. */
	ck_assert_int_eq(shmap_sem_open("ns/s", 7, 0, &t), 0);
	ck_assert_int_eq(shmap_sem_value(t, &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(shmap_sem_trywait(t), 0);
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(shmap_sem_close(t), 0);
	ck_assert_int_eq(shmap_sem_open("ns/s", 0, SHMAP_NOCREATE, &t), 0);
	ck_assert_int_eq(shmap_sem_close(t), 0);
	ck_assert_int_eq(shmap_sem_open("ns/s", 0, SHMAP_EXCL, &t), -EEXIST);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

START_TEST(sem_rejects_bad_arguments)
{
	shmap_sem_t *s;
	unsigned v;
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(shmap_sem_open("", 0, 0, &s), -EINVAL);
	ck_assert_int_eq(shmap_sem_open("s", 0, 0x10, &s), -EINVAL);
	ck_assert_int_eq(
	    shmap_sem_open("s", 0, SHMAP_EXCL | SHMAP_NOCREATE, &s), -EINVAL);
	ck_assert_int_eq(shmap_sem_open("s", 0x80000000u, 0, &s), -EINVAL);
	ck_assert_int_eq(shmap_sem_wait(NULL), -EINVAL);
	ck_assert_int_eq(shmap_sem_trywait(NULL), -EINVAL);
	ck_assert_int_eq(shmap_sem_post(NULL), -EINVAL);
	ck_assert_int_eq(shmap_sem_value(NULL, &v), -EINVAL);
	ck_assert_int_eq(shmap_sem_close(NULL), -EINVAL);
	struct timespec ts = {0, 0};
	ck_assert_int_eq(shmap_sem_timedwait(NULL, &ts), -EINVAL);
	/* A file that is not a semaphore. */
	int fd = open(tmount_path(&lt_mnt, "plain"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	close(fd);
	ck_assert_int_eq(shmap_sem_open("plain", 0, 0, &s), -EINVAL);
	fd = open(tmount_path(&lt_mnt, "short"), O_CREAT | O_RDWR, 0644);
	close(fd);
	ck_assert_int_eq(shmap_sem_open("short", 0, 0, &s), -EINVAL);
	/* Bad deadlines; the count at its ceiling. */
	ck_assert_int_eq(shmap_sem_open("s", 0x7fffffff, 0, &s), 0);
	ck_assert_int_eq(shmap_sem_timedwait(s, NULL), -EINVAL);
	ts.tv_nsec = 1000000000L;
	ck_assert_int_eq(shmap_sem_timedwait(s, &ts), -EINVAL);
	ts.tv_nsec = -1;
	ck_assert_int_eq(shmap_sem_timedwait(s, &ts), -EINVAL);
	ck_assert_int_eq(shmap_sem_value(s, NULL), -EINVAL);
	ck_assert_int_eq(shmap_sem_post(s), -EOVERFLOW);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

START_TEST(sem_counts)
{
	shmap_sem_t *s;
	unsigned v;
	ck_assert_int_eq(shmap_sem_open("s", 2, SHMAP_EXCL, &s), 0);
	ck_assert_int_eq(shmap_sem_wait(s), 0);
	ck_assert_int_eq(shmap_sem_trywait(s), 0);
	ck_assert_int_eq(shmap_sem_trywait(s), -EAGAIN);
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(shmap_sem_post(s), 0);
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 5);
	/* A deadline in the past still takes an available unit. */
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_sem_timedwait(s, &past), 0);
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 4);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

/*
 * Uncontended waits and posts are atomic operations on the shared page:
 * under seccomp strict mode (read, write, exit and sigreturn only) any
 * other system call kills the child with SIGKILL.
 */
static int no_syscall_child(void *arg)
{
	shmap_sem_t *s = arg;
	if (lt_forbid_syscalls() != 0)
		return 10;
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		bad |= shmap_sem_wait(s) | shmap_sem_post(s);
		bad |= shmap_sem_trywait(s) | shmap_sem_post(s);
		struct timespec past = {1, 0};
		bad |= shmap_sem_timedwait(s, &past) | shmap_sem_post(s);
	}
	unsigned v = 0;
	bad |= shmap_sem_value(s, &v) | (v != 1);
	lt_exit_forbidden(bad ? 11 : 0);
	return 12;
}

START_TEST(sem_uncontended_makes_no_system_call)
{
	shmap_sem_t *s;
	ck_assert_int_eq(shmap_sem_open("s", 1, 0, &s), 0);
	ck_assert_int_eq(lt_wait(lt_fork(no_syscall_child, s), 10000), 0);
	unsigned v;
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

START_TEST(sem_timedwait_times_out)
{
	shmap_sem_t *s;
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, &s), 0);
	struct timespec ts = lt_deadline_in(300);
	long long t0 = lt_now_ms();
	ck_assert_int_eq(shmap_sem_timedwait(s, &ts), -ETIMEDOUT);
	long long took = lt_now_ms() - t0;
	ck_assert_int_ge(took, 280);
	ck_assert_int_lt(took, 3000);
	/* Past deadline, nothing there: at once. */
	struct timespec past = {1, 0};
	t0 = lt_now_ms();
	ck_assert_int_eq(shmap_sem_timedwait(s, &past), -ETIMEDOUT);
	ck_assert_int_lt(lt_now_ms() - t0, 1000);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

static int poster(void *arg)
{
	long delay_ms = (long)arg;
	shmap_sem_t *s;
	if (shmap_sem_open("s", 0, SHMAP_NOCREATE, &s))
		return 10;
	usleep((useconds_t)delay_ms * 1000);
	int err = shmap_sem_post(s);
	shmap_sem_close(s);
	return err ? 11 : 0;
}

START_TEST(sem_wait_is_woken_by_another_process)
{
	shmap_sem_t *s;
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, &s), 0);
	long long t0 = lt_now_ms();
	pid_t pid = lt_fork(poster, (void *)200L);
	ck_assert_int_eq(shmap_sem_wait(s), 0);
	ck_assert_int_ge(lt_now_ms() - t0, 150);
	ck_assert_int_eq(lt_wait(pid, 10000), 0);
	/* And a timed wait, woken before its deadline. */
	struct timespec ts = lt_deadline_in(10000);
	t0 = lt_now_ms();
	pid = lt_fork(poster, (void *)100L);
	ck_assert_int_eq(shmap_sem_timedwait(s, &ts), 0);
	ck_assert_int_lt(lt_now_ms() - t0, 5000);
	ck_assert_int_eq(lt_wait(pid, 10000), 0);
	unsigned v;
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

/* A plain (non-atomic) counter in a view, guarded by the semaphore. */
static int mutex_worker(void *arg)
{
	(void)arg;
	shmap_sem_t *s;
	shmap_t *m;
	volatile long *counter;
	if (shmap_sem_open("mutex", 1, SHMAP_NOCREATE, &s) ||
	    shmap_open("counter", SHMAP_WRITE, &m) ||
	    shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&counter))
		return 10;
	shmap_close(m);
	for (int i = 0; i < INCREMENTS; i++) {
		if (shmap_sem_wait(s))
			return 11;
		long c = *counter;
		/* Widen the window a little, so a broken mutex shows. */
		if (i % 64 == 0)
			sched_yield();
		*counter = c + 1;
		if (shmap_sem_post(s))
			return 12;
	}
	shmap_unmap((void *)counter);
	shmap_sem_close(s);
	return 0;
}

START_TEST(sem_as_mutex_for_four_processes)
{
	shmap_sem_t *s;
	shmap_t *m;
	ck_assert_int_eq(shmap_sem_open("mutex", 1, SHMAP_EXCL, &s), 0);
	ck_assert_int_eq(shmap_create("counter", 4096, SHMAP_READWRITE, 0, &m),
			 0);
	pid_t pids[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		pids[i] = lt_fork(mutex_worker, NULL);
	for (int i = 0; i < WORKERS; i++)
		ck_assert_int_eq(lt_wait(pids[i], 60000), 0);
	long total = 0;
	ck_assert_int_eq(pread(shmap_fd(m), &total, sizeof(total), 0),
			 sizeof(total));
	ck_assert_int_eq(total, WORKERS * INCREMENTS);
	unsigned v;
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

/* A file-backed semaphore keeps its count across a remount. */
START_TEST(sem_survives_remount)
{
	shmap_sem_t *s;
	ck_assert_int_eq(shmap_sem_open("kept", 5, 0, &s), 0);
	ck_assert_int_eq(shmap_sem_trywait(s), 0);
	ck_assert_int_eq(shmap_sem_trywait(s), 0);
	ck_assert_int_eq(shmap_sem_close(s), 0);
	ck_assert_int_eq(tmount_unmount(&lt_mnt), 0);
	ck_assert_int_eq(tmount_restart(&lt_mnt, NULL), 0);
	ck_assert_int_eq(shmap_sem_open("kept", 9, SHMAP_NOCREATE, &s), 0);
	unsigned v;
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

static Suite *sem_suite(void)
{
	Suite *s = suite_create("sem");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, sem_open_creates_or_opens);
	tcase_add_test(tc, sem_rejects_bad_arguments);
	tcase_add_test(tc, sem_counts);
	tcase_add_test(tc, sem_uncontended_makes_no_system_call);
	tcase_add_test(tc, sem_timedwait_times_out);
	tcase_add_test(tc, sem_wait_is_woken_by_another_process);
	tcase_add_test(tc, sem_as_mutex_for_four_processes);
	suite_add_tcase(s, tc);

	TCase *fb = tcase_create("file-backed");
	tcase_set_timeout(fb, 60);
	tcase_add_checked_fixture(fb, lt_setup_file, lt_teardown);
	tcase_add_test(fb, sem_as_mutex_for_four_processes);
	tcase_add_test(fb, sem_survives_remount);
	suite_add_tcase(s, fb);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sem_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
