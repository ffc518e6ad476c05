/*
 * libshmap's waits on several objects on a real mount: shmap_wait_any
 * returns the index of the object signalled (the lowest, if several; an
 * abandoned mutex as -EOWNERDEAD); shmap_wait_all takes all or none, also
 * under a stress of processes competing for overlapping sets; 64 objects
 * at once; timeouts; argument errors; no system call when uncontended.
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define MANY 64

static struct {
	int ready;
} * board;

/* Hold mutex "m" until killed. */
static int hold_forever(void *arg)
{
	(void)arg;
	shmap_mutex_t *m;
	if (shmap_mutex_open("m", SHMAP_NOCREATE, &m) || shmap_mutex_lock(m))
		return 10;
	__atomic_add_fetch(&board->ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

static pid_t start_holder(void)
{
	board = lt_shared(sizeof(*board));
	pid_t pid = lt_fork(hold_forever, NULL);
	long long end = lt_now_ms() + 10000;
	while (!__atomic_load_n(&board->ready, __ATOMIC_SEQ_CST))
		ck_assert_msg(lt_now_ms() < end, "holder not ready");
	return pid;
}

/* After a delay, set event `name` (or post semaphore `name`). */
struct later {
	const char *name;
	int delay_ms;
	int is_sem;
};

static int signal_later(void *arg)
{
	const struct later *l = arg;
	usleep((useconds_t)l->delay_ms * 1000);
	if (l->is_sem) {
		shmap_sem_t *s;
		if (shmap_sem_open(l->name, 0, SHMAP_NOCREATE, &s) ||
		    shmap_sem_post(s))
			return 10;
		return shmap_sem_close(s) ? 11 : 0;
	}
	shmap_event_t *e;
	if (shmap_event_open(l->name, 0, 0, SHMAP_NOCREATE, &e) ||
	    shmap_event_set(e))
		return 12;
	return shmap_event_close(e) ? 13 : 0;
}

START_TEST(wait_any_returns_the_signalled_index)
{
	shmap_sem_t *s;
	shmap_event_t *a, *man;
	shmap_mutex_t *m;
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, &s), 0);
	ck_assert_int_eq(shmap_event_open("a", 0, 0, 0, &a), 0);
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	ck_assert_int_eq(shmap_event_open("man", 1, 0, 0, &man), 0);
	void *objs[] = {s, a, m, man};
	pid_t holder = start_holder();
	unsigned idx = 99;
	struct timespec ts = lt_deadline_in(20000);

	struct later ev = {"a", 100, 0};
	pid_t pid = lt_fork(signal_later, &ev);
	ck_assert_int_eq(shmap_wait_any(objs, 4, &ts, &idx), 0);
	ck_assert_uint_eq(idx, 1);
	ck_assert_int_eq(lt_wait(pid, 10000), 0);

	struct later sem = {"s", 100, 1};
	pid = lt_fork(signal_later, &sem);
	ck_assert_int_eq(shmap_wait_any(objs, 4, &ts, &idx), 0);
	ck_assert_uint_eq(idx, 0);
	ck_assert_int_eq(lt_wait(pid, 10000), 0);

	/* The mutex's owner dies: we get it, abandoned. */
	ck_assert_int_eq(kill(holder, SIGKILL), 0);
	ck_assert_int_eq(shmap_wait_any(objs, 4, &ts, &idx), -EOWNERDEAD);
	ck_assert_uint_eq(idx, 2);
	ck_assert_int_eq(shmap_mutex_consistent(m), 0);
	waitpid(holder, NULL, 0);
	/* Several at once (the mutex is ours, so recursion): the lowest. */
	ck_assert_int_eq(shmap_event_set(man), 0);
	ck_assert_int_eq(shmap_sem_post(s), 0);
	ck_assert_int_eq(shmap_wait_any(objs, 4, &ts, &idx), 0);
	ck_assert_uint_eq(idx, 0);
	ck_assert_int_eq(shmap_wait_any(objs, 4, &ts, &idx), 0);
	ck_assert_uint_eq(idx, 2);
	ck_assert_int_eq(shmap_wait_any(objs + 3, 1, &ts, &idx), 0);
	ck_assert_uint_eq(idx, 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), -EPERM);
	ck_assert_int_eq(shmap_sem_close(s), 0);
	ck_assert_int_eq(shmap_event_close(a), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
	ck_assert_int_eq(shmap_event_close(man), 0);
}
END_TEST

static void open_events(shmap_event_t **ev, int n, int initial)
{
	char name[32];
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "ev/%d", i);
		ck_assert_int_eq(shmap_event_open(name, 0, initial, 0, &ev[i]),
				 0);
	}
}

static void close_events(shmap_event_t **ev, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(shmap_event_close(ev[i]), 0);
}

START_TEST(wait_any_over_64_objects)
{
	shmap_event_t *ev[MANY];
	open_events(ev, MANY, 0);
	static const int picks[] = {63, 0, 31, 62, 1};
	char name[32];
	for (unsigned k = 0; k < sizeof(picks) / sizeof(picks[0]); k++) {
		snprintf(name, sizeof(name), "ev/%d", picks[k]);
		struct later l = {name, 50, 0};
		pid_t pid = lt_fork(signal_later, &l);
		struct timespec ts = lt_deadline_in(20000);
		unsigned idx = 99;
		ck_assert_int_eq(shmap_wait_any((void **)ev, MANY, &ts, &idx),
				 0);
		ck_assert_uint_eq(idx, picks[k]);
		ck_assert_int_eq(lt_wait(pid, 10000), 0);
	}
	close_events(ev, MANY);
}
END_TEST

/* 64 objects of the three kinds: i % 3 == 0 sem, 1 mutex, 2 event. */
struct mixed {
	void *obj[MANY];
};

static void open_mixed(struct mixed *x)
{
	char name[32];
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "x/%d", i);
		int err =
		    i % 3 == 0
			? shmap_sem_open(name, 2, 0, (shmap_sem_t **)&x->obj[i])
		    : i % 3 == 1
			? shmap_mutex_open(name, 0,
					   (shmap_mutex_t **)&x->obj[i])
			: shmap_event_open(name, 0, 1, 0,
					   (shmap_event_t **)&x->obj[i]);
		ck_assert_int_eq(err, 0);
	}
}

/* In another process: 1 if every mutex of x is free, else 0. */
static int mutexes_free(void *arg)
{
	struct mixed *x = arg;
	for (int i = 1; i < MANY; i += 3) {
		if (shmap_mutex_trylock(x->obj[i]) ||
		    shmap_mutex_unlock(x->obj[i]))
			return 1;
	}
	return 0;
}

static void assert_untaken(struct mixed *x)
{
	unsigned v;
	struct timespec past = {1, 0};
	for (int i = 0; i < MANY; i += 3) {
		ck_assert_int_eq(shmap_sem_value(x->obj[i], &v), 0);
		ck_assert_uint_eq(v, 2);
	}
	ck_assert_int_eq(lt_wait(lt_fork(mutexes_free, x), 10000), 0);
	/* Events still set but the last: take and set them again. */
	for (int i = 2; i < 62; i += 3) {
		ck_assert_int_eq(shmap_event_timedwait(x->obj[i], &past), 0);
		ck_assert_int_eq(shmap_event_set(x->obj[i]), 0);
	}
}

START_TEST(wait_all_takes_64_objects_or_none)
{
	struct mixed x;
	open_mixed(&x);
	unsigned idx;
	/* The last event (index 62) is not set: nothing is taken. */
	ck_assert_int_eq(shmap_event_reset(x.obj[62]), 0);
	struct timespec ts = lt_deadline_in(200);
	ck_assert_int_eq(shmap_wait_all(x.obj, MANY, &ts, &idx), -ETIMEDOUT);
	assert_untaken(&x);
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_wait_all(x.obj, MANY, &past, NULL), -ETIMEDOUT);
	assert_untaken(&x);
	/* Set by another process while we wait: all taken at once. */
	struct later l = {"x/62", 100, 0};
	pid_t pid = lt_fork(signal_later, &l);
	ts = lt_deadline_in(20000);
	ck_assert_int_eq(shmap_wait_all(x.obj, MANY, &ts, &idx), 0);
	ck_assert_int_eq(lt_wait(pid, 10000), 0);
	unsigned v;
	for (int i = 0; i < MANY; i++) {
		if (i % 3 == 0) {
			ck_assert_int_eq(shmap_sem_value(x.obj[i], &v), 0);
			ck_assert_uint_eq(v, 1);
		} else if (i % 3 == 1) {
			ck_assert_int_eq(shmap_mutex_unlock(x.obj[i]), 0);
		} else {
			ck_assert_int_eq(shmap_event_timedwait(x.obj[i], &past),
					 -ETIMEDOUT);
		}
	}
	for (int i = 0; i < MANY; i++) {
		int err = i % 3 == 0   ? shmap_sem_close(x.obj[i])
			  : i % 3 == 1 ? shmap_mutex_close(x.obj[i])
				       : shmap_event_close(x.obj[i]);
		ck_assert_int_eq(err, 0);
	}
}
END_TEST

START_TEST(wait_all_waits_for_the_last)
{
	shmap_sem_t *s;
	shmap_event_t *e;
	shmap_mutex_t *m;
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, &s), 0);
	ck_assert_int_eq(shmap_event_open("e", 0, 0, 0, &e), 0);
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	pid_t holder = start_holder();
	struct later ls = {"s", 50, 1}, le = {"e", 100, 0};
	pid_t p1 = lt_fork(signal_later, &ls);
	pid_t p2 = lt_fork(signal_later, &le);
	void *objs[] = {m, e, s};
	unsigned idx = 99;
	struct timespec ts = lt_deadline_in(400);
	long long t0 = lt_now_ms();
	/* Semaphore and event come; the mutex stays held: time out. */
	ck_assert_int_eq(shmap_wait_all(objs, 3, &ts, &idx), -ETIMEDOUT);
	ck_assert_int_ge(lt_now_ms() - t0, 380);
	ck_assert_int_eq(lt_wait(p1, 10000), 0);
	ck_assert_int_eq(lt_wait(p2, 10000), 0);
	/* Its owner is killed: all three, the mutex abandoned. */
	ck_assert_int_eq(kill(holder, SIGKILL), 0);
	ts = lt_deadline_in(20000);
	ck_assert_int_eq(shmap_wait_all(objs, 3, &ts, &idx), -EOWNERDEAD);
	ck_assert_uint_eq(idx, 0);
	waitpid(holder, NULL, 0);
	unsigned v;
	ck_assert_int_eq(shmap_sem_value(s, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(shmap_mutex_consistent(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_sem_close(s), 0);
	ck_assert_int_eq(shmap_event_close(e), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
}
END_TEST

/* wait_all on the mutex and an event never set, until the deadline. */
static int wait_all_unsatisfied(void *arg)
{
	(void)arg;
	shmap_mutex_t *m;
	shmap_event_t *never;
	if (shmap_mutex_open("m", SHMAP_NOCREATE, &m) ||
	    shmap_event_open("never", 0, 0, SHMAP_NOCREATE, &never))
		return 10;
	void *objs[] = {m, never};
	struct timespec ts = lt_deadline_in(3000);
	unsigned idx;
	return shmap_wait_all(objs, 2, &ts, &idx) == -ETIMEDOUT ? 0 : 11;
}

static int lock_and_report(void *arg)
{
	(void)arg;
	shmap_mutex_t *m;
	if (shmap_mutex_open("m", SHMAP_NOCREATE, &m))
		return 10;
	struct timespec ts = lt_deadline_in(20000);
	return shmap_mutex_timedlock(m, &ts) == -EOWNERDEAD ? 0 : 11;
}

/*
 * The kernel wakes one sleeper when a mutex's owner dies. If that is a
 * wait_all that cannot use it, the others must hear of it all the same.
 */
START_TEST(wait_all_passes_on_an_owner_death)
{
	shmap_mutex_t *m;
	shmap_event_t *never;
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	ck_assert_int_eq(shmap_event_open("never", 0, 0, 0, &never), 0);
	pid_t holder = start_holder();
	pid_t multi = lt_fork(wait_all_unsatisfied, NULL);
	lt_wait_asleep(multi); /* asleep first, so the kernel wakes it first */
	pid_t single = lt_fork(lock_and_report, NULL);
	lt_wait_asleep(single);
	long long t0 = lt_now_ms();
	ck_assert_int_eq(kill(holder, SIGKILL), 0);
	ck_assert_int_eq(lt_wait(single, 10000), 0);
	ck_assert_int_lt(lt_now_ms() - t0, 2000);
	ck_assert_int_eq(lt_wait(multi, 10000), 0);
	waitpid(holder, NULL, 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
	ck_assert_int_eq(shmap_event_close(never), 0);
}
END_TEST

START_TEST(wait_times_out)
{
	shmap_sem_t *s;
	shmap_event_t *e;
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, &s), 0);
	ck_assert_int_eq(shmap_event_open("e", 1, 0, 0, &e), 0);
	void *objs[] = {s, e};
	unsigned idx = 99;
	for (int all = 0; all < 2; all++) {
		struct timespec ts = lt_deadline_in(300);
		long long t0 = lt_now_ms();
		int r = all ? shmap_wait_all(objs, 2, &ts, &idx)
			    : shmap_wait_any(objs, 2, &ts, &idx);
		ck_assert_int_eq(r, -ETIMEDOUT);
		long long took = lt_now_ms() - t0;
		ck_assert_int_ge(took, 280);
		ck_assert_int_lt(took, 5000);
	}
	ck_assert_int_eq(shmap_sem_close(s), 0);
	ck_assert_int_eq(shmap_event_close(e), 0);
}
END_TEST

START_TEST(wait_rejects_bad_arguments)
{
	shmap_sem_t *s, *t;
	ck_assert_int_eq(shmap_sem_open("s", 2, 0, &s), 0);
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, &t), 0);
	void *objs[MANY + 1];
	for (int i = 0; i <= MANY; i++)
		objs[i] = s;
	unsigned idx;
	ck_assert_int_eq(shmap_wait_any(objs, 0, NULL, &idx), -EINVAL);
	ck_assert_int_eq(shmap_wait_any(objs, MANY + 1, NULL, &idx), -EINVAL);
	ck_assert_int_eq(shmap_wait_any(NULL, 1, NULL, &idx), -EINVAL);
	ck_assert_int_eq(shmap_wait_any(objs, 1, NULL, NULL), -EINVAL);
	struct timespec bad = {0, -1};
	ck_assert_int_eq(shmap_wait_any(objs, 1, &bad, &idx), -EINVAL);
	ck_assert_int_eq(shmap_wait_all(objs, 0, NULL, &idx), -EINVAL);
	void *with_null[] = {s, NULL};
	ck_assert_int_eq(shmap_wait_all(with_null, 2, NULL, &idx), -EINVAL);
	/* One object twice (here through two handles): wait_all refuses,
	 * wait_any does not mind. */
	void *twice[] = {s, t};
	ck_assert_int_eq(shmap_wait_all(twice, 2, NULL, &idx), -EINVAL);
	ck_assert_int_eq(shmap_wait_any(twice, 2, NULL, &idx), 0);
	ck_assert_uint_eq(idx, 0);
	ck_assert_int_eq(shmap_sem_close(s), 0);
	ck_assert_int_eq(shmap_sem_close(t), 0);
}
END_TEST

/*
 * The stress: six resources (semaphores of 1, mutexes, auto-reset events
 * that start set), processes taking overlapping sets of three with
 * wait_all under a short deadline, one taking single resources. Whoever
 * holds a resource counts itself in holders[]: two at once is a subset
 * taken (or a lost exclusion). At the end every resource must be free
 * again: a wait_all that timed out holding part of its set would leak.
 */
#define RES	  6
#define STRESSORS 4
#define STRESS_MS 1500
#define SET_SIZE  3

struct stress {
	int holders[RES];
	int broken;
	int taken[STRESSORS + 1];
	int timeouts;
	int error; /* an unexpected result, for the message */
};

static struct stress *st;

static int open_resource(int r, void **obj)
{
	char name[32];
	snprintf(name, sizeof(name), "res/%d", r);
	switch (r % 3) {
	case 0:
		return shmap_sem_open(name, 1, 0, (shmap_sem_t **)obj);
	case 1:
		return shmap_mutex_open(name, 0, (shmap_mutex_t **)obj);
	default:
		return shmap_event_open(name, 0, 1, 0, (shmap_event_t **)obj);
	}
}

static int close_resource(int r, void *obj)
{
	switch (r % 3) {
	case 0:
		return shmap_sem_close(obj);
	case 1:
		return shmap_mutex_close(obj);
	default:
		return shmap_event_close(obj);
	}
}

static int release(int r, void *obj)
{
	switch (r % 3) {
	case 0:
		return shmap_sem_post(obj);
	case 1:
		return shmap_mutex_unlock(obj);
	default:
		return shmap_event_set(obj);
	}
}

static void hold(const int *set, int n)
{
	for (int k = 0; k < n; k++)
		if (__atomic_add_fetch(&st->holders[set[k]], 1,
				       __ATOMIC_SEQ_CST) != 1)
			__atomic_store_n(&st->broken, 1, __ATOMIC_SEQ_CST);
	if (rand() % 4 == 0)
		sched_yield();
	for (int k = 0; k < n; k++)
		__atomic_sub_fetch(&st->holders[set[k]], 1, __ATOMIC_SEQ_CST);
}

/* The single-object way to take resource r before the deadline. */
static int take_single(int r, void *obj, const struct timespec *ts)
{
	switch (r % 3) {
	case 0:
		return shmap_sem_timedwait(obj, ts);
	case 1:
		return shmap_mutex_timedlock(obj, ts);
	default:
		return shmap_event_timedwait(obj, ts);
	}
}

static int stressor(void *arg)
{
	int me = (int)(long)arg;
	void *res[RES];
	for (int r = 0; r < RES; r++)
		if (open_resource(r, &res[r]))
			return 10;
	srand((unsigned)me + 1);
	long long end = lt_now_ms() + STRESS_MS;
	while (lt_now_ms() < end) {
		static const int offset[SET_SIZE] = {0, 1, 3};
		int first = rand() % RES, set[SET_SIZE];
		void *objs[SET_SIZE];
		int single = me == STRESSORS, n = single ? 1 : SET_SIZE;
		for (int k = 0; k < n; k++) {
			set[k] = (first + offset[k]) % RES;
			objs[k] = res[set[k]];
		}
		/* 0 to 2 ms: many waits end at their deadline. */
		struct timespec ts = lt_deadline_in(rand() % 3);
		unsigned idx;
		int r = single ? take_single(set[0], objs[0], &ts)
			       : shmap_wait_all(objs, (unsigned)n, &ts, &idx);
		if (r == -ETIMEDOUT) {
			__atomic_add_fetch(&st->timeouts, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		if (r) {
			st->error = r;
			return 11;
		}
		hold(set, n);
		st->taken[me]++;
		for (int k = n - 1; k >= 0; k--)
			if (release(set[k], objs[k]))
				return 12;
	}
	return 0;
}

START_TEST(wait_all_never_takes_a_subset)
{
	st = lt_shared(sizeof(*st));
	void *res[RES];
	for (int r = 0; r < RES; r++)
		ck_assert_int_eq(open_resource(r, &res[r]), 0);
	pid_t pids[STRESSORS + 1];
	for (int i = 0; i <= STRESSORS; i++)
		pids[i] = lt_fork(stressor, (void *)(long)i);
	for (int i = 0; i <= STRESSORS; i++)
		ck_assert_msg(lt_wait(pids[i], 60000) == 0, "stressor %d: %s",
			      i, shmap_strerror(st->error));
	ck_assert_int_eq(st->broken, 0);
	for (int i = 0; i <= STRESSORS; i++)
		ck_assert_int_gt(st->taken[i], 0);
	/* Everything free again, and nothing abandoned. */
	struct timespec past = {1, 0};
	unsigned idx;
	ck_assert_int_eq(shmap_wait_all(res, RES, &past, &idx), 0);
	for (int r = 0; r < RES; r++)
		ck_assert_int_eq(release(r, res[r]), 0);
	unsigned v;
	ck_assert_int_eq(shmap_sem_value(res[0], &v), 0);
	ck_assert_uint_eq(v, 1);
	for (int r = 0; r < RES; r++)
		ck_assert_int_eq(close_resource(r, res[r]), 0);
	fprintf(stderr,
		"wait_all stress: %d sets taken, %d timeouts, %d "
		"single\n",
		st->taken[0] + st->taken[1] + st->taken[2] + st->taken[3],
		st->timeouts, st->taken[STRESSORS]);
}
END_TEST

static int no_syscall_child(void *arg)
{
	void **objs = arg;
	/* The first mutex call learns the thread's tid and robust list. */
	if (shmap_mutex_lock(objs[1]) || shmap_mutex_unlock(objs[1]))
		return 9;
	if (lt_forbid_syscalls() != 0)
		return 10;
	int bad = 0;
	unsigned idx;
	for (int i = 0; i < 1000; i++) {
		bad |= shmap_wait_all(objs, 3, NULL, &idx);
		bad |= shmap_sem_post(objs[0]) | shmap_mutex_unlock(objs[1]);
		bad |= shmap_event_set(objs[2]);
		bad |= shmap_wait_any(objs, 3, NULL, &idx) | (idx != 0);
		bad |= shmap_sem_post(objs[0]);
	}
	lt_exit_forbidden(bad ? 11 : 0);
	return 12;
}

START_TEST(wait_uncontended_makes_no_system_call)
{
	void *objs[3];
	ck_assert_int_eq(shmap_sem_open("s", 1, 0, (shmap_sem_t **)&objs[0]),
			 0);
	ck_assert_int_eq(shmap_mutex_open("m", 0, (shmap_mutex_t **)&objs[1]),
			 0);
	ck_assert_int_eq(
	    shmap_event_open("e", 0, 1, 0, (shmap_event_t **)&objs[2]), 0);
	ck_assert_int_eq(lt_wait(lt_fork(no_syscall_child, objs), 10000), 0);
	ck_assert_int_eq(shmap_sem_close(objs[0]), 0);
	ck_assert_int_eq(shmap_mutex_close(objs[1]), 0);
	ck_assert_int_eq(shmap_event_close(objs[2]), 0);
}
END_TEST

static Suite *wait_suite(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, wait_any_returns_the_signalled_index);
	tcase_add_test(tc, wait_any_over_64_objects);
	tcase_add_test(tc, wait_all_takes_64_objects_or_none);
	tcase_add_test(tc, wait_all_waits_for_the_last);
	tcase_add_test(tc, wait_all_passes_on_an_owner_death);
	tcase_add_test(tc, wait_times_out);
	tcase_add_test(tc, wait_rejects_bad_arguments);
	tcase_add_test(tc, wait_all_never_takes_a_subset);
	tcase_add_test(tc, wait_uncontended_makes_no_system_call);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wait_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
