/*
 * libshmap mutexes on a real mount: open and its errors; recursion and
 * ownership; mutual exclusion among processes and threads; timed locks
 * that time out; abandonment when the owner is killed, exits or its
 * thread ends, seen by exactly one acquirer and kept until marked
 * consistent; no system call when uncontended.
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS	   4
#define THREADS	   2
#define INCREMENTS 5000

START_TEST(mutex_open_creates_or_opens)
{
	shmap_mutex_t *m, *n;
	shmap_sem_t *s;
	ck_assert_int_eq(shmap_mutex_open("m", SHMAP_NOCREATE, &m), -ENOENT);
	ck_assert_int_eq(shmap_mutex_open("ns/m", 0, &m), 0);
	struct stat st;
	ck_assert_int_eq(stat(tmount_path(&lt_mnt, "ns/m"), &st), 0);
	ck_assert_int_eq(tsh(10, "ls '%s/ns' | grep -qx m", lt_mnt.mnt), 0);
	ck_assert_int_eq(shmap_mutex_open("ns/m", SHMAP_EXCL, &n), -EEXIST);
	ck_assert_int_eq(shmap_mutex_open("ns/m", SHMAP_NOCREATE, &n), 0);
	/* Two handles, one mutex. */
	ck_assert_int_eq(shmap_mutex_lock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(n), 0);
	ck_assert_int_eq(shmap_mutex_close(n), 0);
	/* Another kind's file is not a mutex, nor a mutex another kind. */
	ck_assert_int_eq(shmap_sem_open("sem", 1, 0, &s), 0);
	ck_assert_int_eq(shmap_mutex_open("sem", 0, &n), -EINVAL);
	ck_assert_int_eq(shmap_sem_open("ns/m", 1, 0, &s), -EINVAL);
	ck_assert_int_eq(shmap_mutex_open("m", 0x10, &n), -EINVAL);
	ck_assert_int_eq(shmap_mutex_open("m", 0, NULL), -EINVAL);
	ck_assert_int_eq(shmap_mutex_lock(NULL), -EINVAL);
	ck_assert_int_eq(shmap_mutex_lock((shmap_mutex_t *)s), -EINVAL);
	ck_assert_int_eq(shmap_mutex_unlock(NULL), -EINVAL);
	ck_assert_int_eq(shmap_mutex_close(NULL), -EINVAL);
	struct timespec bad = {0, 1000000000L};
	ck_assert_int_eq(shmap_mutex_timedlock(m, &bad), -EINVAL);
	ck_assert_int_eq(shmap_mutex_timedlock(m, NULL), -EINVAL);
	/* rm removes it; the handle lives on. */
	ck_assert_int_eq(tsh(10, "rm '%s/ns/m'", lt_mnt.mnt), 0);
	ck_assert_int_eq(shmap_mutex_lock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
	ck_assert_int_eq(shmap_sem_close(s), 0);
}
END_TEST

static int trylock_child(void *arg)
{
	shmap_mutex_t *m = arg;
	/* A child process is another owner: the mutex is taken. */
	return shmap_mutex_trylock(m) == -EAGAIN ? 0 : 10;
}

static void *trylock_thread(void *arg)
{
	return (void *)(long)shmap_mutex_trylock(arg);
}

START_TEST(mutex_is_recursive_and_owned_by_a_thread)
{
	shmap_mutex_t *m;
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), -EPERM);
	ck_assert_int_eq(shmap_mutex_lock(m), 0);
	ck_assert_int_eq(shmap_mutex_trylock(m), 0);
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_mutex_timedlock(m, &past), 0);
	/* Held three times: another thread and another process fail. */
	for (int i = 3; i > 0; i--) {
		pthread_t t;
		void *r;
		ck_assert_int_eq(pthread_create(&t, NULL, trylock_thread, m),
				 0);
		ck_assert_int_eq(pthread_join(t, &r), 0);
		ck_assert_int_eq((long)r, -EAGAIN);
		ck_assert_int_eq(lt_wait(lt_fork(trylock_child, m), 10000), 0);
		ck_assert_int_eq(shmap_mutex_close(m), -EBUSY);
		ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	}
	ck_assert_int_eq(shmap_mutex_unlock(m), -EPERM);
	/* Free again: another thread takes it (and ends holding it). */
	pthread_t t;
	void *r;
	ck_assert_int_eq(pthread_create(&t, NULL, trylock_thread, m), 0);
	ck_assert_int_eq(pthread_join(t, &r), 0);
	ck_assert_int_eq((long)r, 0);
	/* That thread ended holding it: abandoned, and taken by us. */
	ck_assert_int_eq(shmap_mutex_trylock(m), -EOWNERDEAD);
	ck_assert_int_eq(shmap_mutex_consistent(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_consistent(m), -EPERM);
	ck_assert_int_eq(shmap_mutex_trylock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
}
END_TEST

/* A plain counter in a view, guarded by the mutex, from threads. */
struct counting {
	shmap_mutex_t *m;
	volatile long *counter;
	int bad;
};

static void *count_thread(void *arg)
{
	struct counting *c = arg;
	for (int i = 0; i < INCREMENTS; i++) {
		/* Take it twice: recursion inside the exclusion. */
		if (shmap_mutex_lock(c->m) || shmap_mutex_lock(c->m)) {
			c->bad = 1;
			break;
		}
		long v = *c->counter;
		if (i % 64 == 0)
			sched_yield();
		*c->counter = v + 1;
		if (shmap_mutex_unlock(c->m) || shmap_mutex_unlock(c->m)) {
			c->bad = 1;
			break;
		}
	}
	return NULL;
}

static int count_worker(void *arg)
{
	(void)arg;
	shmap_t *map;
	struct counting c[THREADS];
	volatile long *counter;
	shmap_mutex_t *m;
	if (shmap_mutex_open("lock", SHMAP_NOCREATE, &m) ||
	    shmap_open("counter", SHMAP_WRITE, &map) ||
	    shmap_map(map, 0, 0, SHMAP_WRITE, (void **)&counter))
		return 10;
	shmap_close(map);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct counting){m, counter, 0};
		if (pthread_create(&t[i], NULL, count_thread, &c[i]))
			return 11;
	}
	int bad = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		bad |= c[i].bad;
	}
	shmap_unmap((void *)counter);
	return bad || shmap_mutex_close(m) ? 12 : 0;
}

START_TEST(mutex_excludes_processes_and_threads)
{
	shmap_mutex_t *m;
	shmap_t *map;
	ck_assert_int_eq(shmap_mutex_open("lock", SHMAP_EXCL, &m), 0);
	ck_assert_int_eq(
	    shmap_create("counter", 4096, SHMAP_READWRITE, 0, &map), 0);
	pid_t pids[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		pids[i] = lt_fork(count_worker, NULL);
	for (int i = 0; i < WORKERS; i++)
		ck_assert_int_eq(lt_wait(pids[i], 120000), 0);
	long total = 0;
	ck_assert_int_eq(pread(shmap_fd(map), &total, sizeof(total), 0),
			 sizeof(total));
	ck_assert_int_eq(total, WORKERS * THREADS * INCREMENTS);
	ck_assert_int_eq(shmap_mutex_trylock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_close(map), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
}
END_TEST

/* Shared with the children of the abandonment tests. */
struct board {
	int ready;     /* children that reached the lock */
	int taken;     /* children that took it */
	int abandoned; /* of those, how many saw -EOWNERDEAD */
	int inside;    /* children inside at once: must stay 0 or 1 */
};

static struct board *board;

static int hold_forever(void *arg)
{
	(void)arg;
	shmap_mutex_t *m;
	if (shmap_mutex_open("m", SHMAP_NOCREATE, &m) || shmap_mutex_lock(m) ||
	    shmap_mutex_lock(m))
		return 10;
	__atomic_add_fetch(&board->ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

static int hold_and_exit(void *arg)
{
	(void)arg;
	shmap_mutex_t *m;
	if (shmap_mutex_open("m", SHMAP_NOCREATE, &m) || shmap_mutex_lock(m))
		return 10;
	return 0; /* exits owning it */
}

/* Lock (timed, or in a wait_any); count what we saw; mark consistent. */
static int contender(void *arg)
{
	(void)arg;
	shmap_mutex_t *m;
	if (shmap_mutex_open("m", SHMAP_NOCREATE, &m))
		return 10;
	__atomic_add_fetch(&board->ready, 1, __ATOMIC_SEQ_CST);
	struct timespec ts = lt_deadline_in(20000);
	int r = shmap_mutex_timedlock(m, &ts);
	if (r != 0 && r != -EOWNERDEAD)
		return 11;
	if (__atomic_add_fetch(&board->inside, 1, __ATOMIC_SEQ_CST) != 1)
		return 12;
	__atomic_add_fetch(&board->taken, 1, __ATOMIC_SEQ_CST);
	if (r == -EOWNERDEAD) {
		__atomic_add_fetch(&board->abandoned, 1, __ATOMIC_SEQ_CST);
		if (shmap_mutex_consistent(m))
			return 13;
	}
	usleep(10000);
	__atomic_sub_fetch(&board->inside, 1, __ATOMIC_SEQ_CST);
	return shmap_mutex_unlock(m) || shmap_mutex_close(m) ? 14 : 0;
}

static void wait_ready(int n)
{
	long long end = lt_now_ms() + 10000;
	while (__atomic_load_n(&board->ready, __ATOMIC_SEQ_CST) < n)
		ck_assert_msg(lt_now_ms() < end, "children not ready");
}

START_TEST(mutex_abandoned_by_sigkill_is_seen_once)
{
	shmap_mutex_t *m;
	board = lt_shared(sizeof(*board));
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	pid_t owner = lt_fork(hold_forever, NULL);
	wait_ready(1);
	pid_t c[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		c[i] = lt_fork(contender, NULL);
	wait_ready(1 + WORKERS);
	for (int i = 0; i < WORKERS; i++) /* in the kernel, all of them */
		lt_wait_asleep(c[i]);
	ck_assert_int_eq(board->taken, 0);
	ck_assert_int_eq(kill(owner, SIGKILL), 0);
	ck_assert_int_eq(waitpid(owner, NULL, 0), owner);
	for (int i = 0; i < WORKERS; i++)
		ck_assert_int_eq(lt_wait(c[i], 30000), 0);
	ck_assert_int_eq(board->taken, WORKERS);
	ck_assert_int_eq(board->abandoned, 1);
	/* Marked consistent: we take it plainly. */
	ck_assert_int_eq(shmap_mutex_trylock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
}
END_TEST

START_TEST(mutex_abandoned_stays_so_until_consistent)
{
	shmap_mutex_t *m;
	board = lt_shared(sizeof(*board));
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	/* The owner exits without unlocking; no one waits. */
	ck_assert_int_eq(lt_wait(lt_fork(hold_and_exit, NULL), 10000), 0);
	ck_assert_int_eq(shmap_mutex_lock(m), -EOWNERDEAD);
	/* Recursion inside is plain; not marked consistent, so the next
	 * acquirer (another thread, here another process) hears it too. */
	ck_assert_int_eq(shmap_mutex_lock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(lt_wait(lt_fork(contender, NULL), 30000), 0);
	ck_assert_int_eq(board->abandoned, 1);
	ck_assert_int_eq(shmap_mutex_lock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
}
END_TEST

START_TEST(mutex_timedlock_times_out)
{
	shmap_mutex_t *m;
	board = lt_shared(sizeof(*board));
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	pid_t owner = lt_fork(hold_forever, NULL);
	wait_ready(1);
	struct timespec ts = lt_deadline_in(300);
	long long t0 = lt_now_ms();
	ck_assert_int_eq(shmap_mutex_timedlock(m, &ts), -ETIMEDOUT);
	long long took = lt_now_ms() - t0;
	ck_assert_int_ge(took, 280);
	ck_assert_int_lt(took, 5000);
	struct timespec past = {1, 0};
	ck_assert_int_eq(shmap_mutex_timedlock(m, &past), -ETIMEDOUT);
	ck_assert_int_eq(shmap_mutex_trylock(m), -EAGAIN);
	kill(owner, SIGKILL);
	waitpid(owner, NULL, 0);
	ck_assert_int_eq(shmap_mutex_trylock(m), -EOWNERDEAD);
	ck_assert_int_eq(shmap_mutex_consistent(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
}
END_TEST

/*
 * Our mutexes share the thread's robust list with glibc's robust mutexes:
 * hold both kinds, release some out of order, then die. Each still-held
 * one is marked abandoned, of either kind.
 */
struct mixed_locks {
	pthread_mutex_t a, b, c;
	int ready;
};

static int hold_mixed(void *arg)
{
	struct mixed_locks *x = arg;
	shmap_mutex_t *m, *n;
	if (shmap_mutex_open("m", SHMAP_NOCREATE, &m) ||
	    shmap_mutex_open("n", SHMAP_NOCREATE, &n))
		return 10;
	if (pthread_mutex_lock(&x->a) || shmap_mutex_lock(m) ||
	    pthread_mutex_lock(&x->b) || shmap_mutex_lock(n) ||
	    pthread_mutex_lock(&x->c))
		return 11;
	/* Unlink from the middle, each kind next to the other. */
	if (pthread_mutex_unlock(&x->b) || shmap_mutex_unlock(n))
		return 12;
	__atomic_store_n(&x->ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

static void robust_pthread_mutex(pthread_mutex_t *p)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	ck_assert_int_eq(pthread_mutex_init(p, &a), 0);
	pthread_mutexattr_destroy(&a);
}

START_TEST(mutex_shares_the_robust_list_with_glibc)
{
	struct mixed_locks *x = lt_shared(sizeof(*x));
	robust_pthread_mutex(&x->a);
	robust_pthread_mutex(&x->b);
	robust_pthread_mutex(&x->c);
	shmap_mutex_t *m, *n;
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	ck_assert_int_eq(shmap_mutex_open("n", 0, &n), 0);
	pid_t pid = lt_fork(hold_mixed, x);
	long long end = lt_now_ms() + 10000;
	while (!__atomic_load_n(&x->ready, __ATOMIC_SEQ_CST))
		ck_assert_msg(lt_now_ms() < end, "holder not ready");
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(pthread_mutex_lock(&x->a), EOWNERDEAD);
	ck_assert_int_eq(pthread_mutex_lock(&x->b), 0);
	ck_assert_int_eq(pthread_mutex_lock(&x->c), EOWNERDEAD);
	ck_assert_int_eq(shmap_mutex_lock(m), -EOWNERDEAD);
	ck_assert_int_eq(shmap_mutex_lock(n), 0);
	ck_assert_int_eq(shmap_mutex_consistent(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(n), 0);
	pthread_mutex_consistent(&x->a);
	pthread_mutex_consistent(&x->c);
	ck_assert_int_eq(pthread_mutex_unlock(&x->a), 0);
	ck_assert_int_eq(pthread_mutex_unlock(&x->b), 0);
	ck_assert_int_eq(pthread_mutex_unlock(&x->c), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
	ck_assert_int_eq(shmap_mutex_close(n), 0);
}
END_TEST

/* Uncontended: atomic operations only (seccomp strict kills otherwise). */
static int no_syscall_child(void *arg)
{
	shmap_mutex_t *m = arg;
	/* The first call learns the thread's tid and robust list. */
	if (shmap_mutex_lock(m) || shmap_mutex_unlock(m))
		return 9;
	if (lt_forbid_syscalls() != 0)
		return 10;
	int bad = 0;
	struct timespec past = {1, 0};
	for (int i = 0; i < 1000; i++) {
		bad |= shmap_mutex_lock(m) | shmap_mutex_trylock(m);
		bad |= shmap_mutex_timedlock(m, &past);
		bad |= shmap_mutex_unlock(m) | shmap_mutex_unlock(m);
		bad |= shmap_mutex_unlock(m);
	}
	lt_exit_forbidden(bad ? 11 : 0);
	return 12;
}

START_TEST(mutex_uncontended_makes_no_system_call)
{
	shmap_mutex_t *m;
	ck_assert_int_eq(shmap_mutex_open("m", 0, &m), 0);
	ck_assert_int_eq(lt_wait(lt_fork(no_syscall_child, m), 10000), 0);
	/* The child's thread ended with nothing held. */
	ck_assert_int_eq(shmap_mutex_trylock(m), 0);
	ck_assert_int_eq(shmap_mutex_unlock(m), 0);
	ck_assert_int_eq(shmap_mutex_close(m), 0);
}
END_TEST

static Suite *mutex_suite(void)
{
	Suite *s = suite_create("mutex");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, mutex_open_creates_or_opens);
	tcase_add_test(tc, mutex_is_recursive_and_owned_by_a_thread);
	tcase_add_test(tc, mutex_excludes_processes_and_threads);
	tcase_add_test(tc, mutex_abandoned_by_sigkill_is_seen_once);
	tcase_add_test(tc, mutex_abandoned_stays_so_until_consistent);
	tcase_add_test(tc, mutex_timedlock_times_out);
	tcase_add_test(tc, mutex_shares_the_robust_list_with_glibc);
	tcase_add_test(tc, mutex_uncontended_makes_no_system_call);
	suite_add_tcase(s, tc);

	TCase *fb = tcase_create("file-backed");
	tcase_set_timeout(fb, 120);
	tcase_add_checked_fixture(fb, lt_setup_file, lt_teardown);
	tcase_add_test(fb, mutex_abandoned_by_sigkill_is_seen_once);
	suite_add_tcase(s, fb);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mutex_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
