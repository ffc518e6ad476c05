/*
 * libshmap events on a real mount: open and its errors; an auto-reset
 * event releases exactly one of several waiting processes per set, a
 * manual-reset one releases them all and stays set until reset; timed
 * waits that time out; no system call when uncontended.
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAITERS 4

START_TEST(event_open_creates_or_opens)
{
	shmap_event_t *e, *f;
	ck_assert_int_eq(shmap_event_open("e", 0, 0, SHMAP_NOCREATE, &e),
			 -ENOENT);
	ck_assert_int_eq(shmap_event_open("ns/e", 0, 1, 0, &e), 0);
	struct stat st;
	ck_assert_int_eq(stat(tmount_path(&lt_mnt, "ns/e"), &st), 0);
	ck_assert_int_eq(tsh(10, "ls '%s/ns' | grep -qx e", lt_mnt.mnt), 0);
	ck_assert_int_eq(shmap_event_open("ns/e", 0, 0, SHMAP_EXCL, &f),
			 -EEXIST);
	/* Kind and initial state apply only on creation. */
	ck_assert_int_eq(shmap_event_open("ns/e", 1, 0, 0, &f), 0);
	ck_assert_int_eq(shmap_event_wait(f), 0);
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_event_timedwait(e, &past), -ETIMEDOUT);
	ck_assert_int_eq(shmap_event_close(f), 0);
	shmap_mutex_t *m;
	ck_assert_int_eq(shmap_mutex_open("ns/e", 0, &m), -EINVAL);
	ck_assert_int_eq(shmap_event_open("e", 0, 0, 0x10, &f), -EINVAL);
	ck_assert_int_eq(shmap_event_open("e", 0, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(shmap_event_set(NULL), -EINVAL);
	ck_assert_int_eq(shmap_event_reset(NULL), -EINVAL);
	ck_assert_int_eq(shmap_event_wait(NULL), -EINVAL);
	ck_assert_int_eq(shmap_event_close(NULL), -EINVAL);
	ck_assert_int_eq(shmap_event_timedwait(e, NULL), -EINVAL);
	ck_assert_int_eq(tsh(10, "rm '%s/ns/e'", lt_mnt.mnt), 0);
	ck_assert_int_eq(shmap_event_close(e), 0);
}
END_TEST

START_TEST(event_auto_reset_without_waiters_stays_set_for_one)
{
	shmap_event_t *e;
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_event_open("e", 0, 0, 0, &e), 0);
	ck_assert_int_eq(shmap_event_timedwait(e, &past), -ETIMEDOUT);
	ck_assert_int_eq(shmap_event_set(e), 0);
	ck_assert_int_eq(shmap_event_set(e), 0); /* no count: still one */
	ck_assert_int_eq(shmap_event_timedwait(e, &past), 0);
	ck_assert_int_eq(shmap_event_timedwait(e, &past), -ETIMEDOUT);
	ck_assert_int_eq(shmap_event_set(e), 0);
	ck_assert_int_eq(shmap_event_reset(e), 0);
	ck_assert_int_eq(shmap_event_timedwait(e, &past), -ETIMEDOUT);
	ck_assert_int_eq(shmap_event_close(e), 0);
}
END_TEST

struct board {
	int ready;    /* waiters about to wait */
	int released; /* waiters that returned from the wait */
};

static struct board *board;

static int waiter(void *arg)
{
	const char *name = arg;
	shmap_event_t *e;
	if (shmap_event_open(name, 0, 0, SHMAP_NOCREATE, &e))
		return 10;
	__atomic_add_fetch(&board->ready, 1, __ATOMIC_SEQ_CST);
	struct timespec ts = lt_deadline_in(20000);
	if (shmap_event_timedwait(e, &ts))
		return 11;
	__atomic_add_fetch(&board->released, 1, __ATOMIC_SEQ_CST);
	return shmap_event_close(e) ? 12 : 0;
}

/* Start n waiters on name; return once they sleep in the kernel. */
static void start_waiters(const char *name, pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		pids[i] = lt_fork(waiter, (void *)name);
	long long end = lt_now_ms() + 10000;
	while (__atomic_load_n(&board->ready, __ATOMIC_SEQ_CST) < n)
		ck_assert_msg(lt_now_ms() < end, "waiters not ready");
	for (int i = 0; i < n; i++)
		lt_wait_asleep(pids[i]);
}

/* The number released, once it has been steady for a while. */
static int released_after(int ms)
{
	usleep((useconds_t)ms * 1000);
	return __atomic_load_n(&board->released, __ATOMIC_SEQ_CST);
}

START_TEST(event_auto_reset_releases_exactly_one)
{
	shmap_event_t *e;
	pid_t pids[WAITERS];
	board = lt_shared(sizeof(*board));
	ck_assert_int_eq(shmap_event_open("auto", 0, 0, 0, &e), 0);
	start_waiters("auto", pids, WAITERS);
	ck_assert_int_eq(board->released, 0);
	for (int i = 1; i <= WAITERS; i++) {
		ck_assert_int_eq(shmap_event_set(e), 0);
		ck_assert_int_eq(released_after(300), i);
	}
	for (int i = 0; i < WAITERS; i++)
		ck_assert_int_eq(lt_wait(pids[i], 10000), 0);
	/* Each set was consumed by its waiter. */
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_event_timedwait(e, &past), -ETIMEDOUT);
	ck_assert_int_eq(shmap_event_close(e), 0);
}
END_TEST

START_TEST(event_manual_reset_releases_all_until_reset)
{
	shmap_event_t *e;
	pid_t pids[WAITERS];
	board = lt_shared(sizeof(*board));
	ck_assert_int_eq(shmap_event_open("manual", 1, 0, 0, &e), 0);
	start_waiters("manual", pids, WAITERS);
	ck_assert_int_eq(board->released, 0);
	ck_assert_int_eq(shmap_event_set(e), 0);
	for (int i = 0; i < WAITERS; i++)
		ck_assert_int_eq(lt_wait(pids[i], 10000), 0);
	ck_assert_int_eq(board->released, WAITERS);
	/* Still set: waits pass until reset. */
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_event_timedwait(e, &past), 0);
	ck_assert_int_eq(shmap_event_wait(e), 0);
	ck_assert_int_eq(shmap_event_reset(e), 0);
	ck_assert_int_eq(shmap_event_timedwait(e, &past), -ETIMEDOUT);
	ck_assert_int_eq(shmap_event_close(e), 0);
}
END_TEST

START_TEST(event_timedwait_times_out)
{
	shmap_event_t *e;
	ck_assert_int_eq(shmap_event_open("e", 1, 0, 0, &e), 0);
	struct timespec ts = lt_deadline_in(300);
	long long t0 = lt_now_ms();
	ck_assert_int_eq(shmap_event_timedwait(e, &ts), -ETIMEDOUT);
	long long took = lt_now_ms() - t0;
	ck_assert_int_ge(took, 280);
	ck_assert_int_lt(took, 5000);
	ck_assert_int_eq(shmap_event_close(e), 0);
}
END_TEST

static int no_syscall_child(void *arg)
{
	shmap_event_t **ev = arg;
	if (lt_forbid_syscalls() != 0)
		return 10;
	int bad = 0;
	struct timespec past = {1, 0};
	for (int i = 0; i < 1000; i++) {
		for (int k = 0; k < 2; k++) {
			bad |= shmap_event_set(ev[k]) | shmap_event_set(ev[k]);
			bad |= shmap_event_wait(ev[k]) | shmap_event_set(ev[k]);
			bad |= shmap_event_timedwait(ev[k], &past);
			bad |= shmap_event_reset(ev[k]);
		}
	}
	lt_exit_forbidden(bad ? 11 : 0);
	return 12;
}

START_TEST(event_uncontended_makes_no_system_call)
{
	shmap_event_t *ev[2];
	ck_assert_int_eq(shmap_event_open("auto", 0, 0, 0, &ev[0]), 0);
	ck_assert_int_eq(shmap_event_open("manual", 1, 0, 0, &ev[1]), 0);
	ck_assert_int_eq(lt_wait(lt_fork(no_syscall_child, ev), 10000), 0);
	ck_assert_int_eq(shmap_event_close(ev[0]), 0);
	ck_assert_int_eq(shmap_event_close(ev[1]), 0);
}
END_TEST

static Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, event_open_creates_or_opens);
	tcase_add_test(tc, event_auto_reset_without_waiters_stays_set_for_one);
	tcase_add_test(tc, event_auto_reset_releases_exactly_one);
	tcase_add_test(tc, event_manual_reset_releases_all_until_reset);
	tcase_add_test(tc, event_timedwait_times_out);
	tcase_add_test(tc, event_uncontended_makes_no_system_call);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(event_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
