/*
 * A small benchmark of libshmap on a fresh memory-backed mount (make
 * bench-lib): the cost of uncontended and contended semaphore operations,
 * of creating and opening mappings, and of making views; of mutexes,
 * events and waits on 64 objects, each beside the closest Linux
 * primitive (a robust process-shared pthread mutex in a view, eventfd,
 * epoll over eventfds).
 */
#include "mount.h"
#include "shmap.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MANY 64
/* The machine is shared: the sync figures are the best of REPS runs. */
#define REPS 3

static double least(double a, double b)
{
	return a < b ? a : b;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, int n, double secs)
{
	printf("%-40s %10.0f ns/op  (%d ops)\n", what, secs / n * 1e9, n);
}

static int must(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "bench-lib: %s: %s\n", what,
			shmap_strerror(err));
		exit(1);
	}
	return 0;
}

static void bench_sem(void)
{
	shmap_sem_t *s, *ping, *pong;
	int n = 1000000;
	must(shmap_sem_open("s", 1, 0, &s), "sem_open");
	double t = now_s();
	for (int i = 0; i < n; i++) {
		shmap_sem_wait(s);
		shmap_sem_post(s);
	}
	report("sem wait+post, uncontended", n, now_s() - t);
	shmap_sem_close(s);

	/* Two processes taking turns: every wait sleeps, every post wakes. */
	n = 20000;
	must(shmap_sem_open("ping", 0, 0, &ping), "sem_open");
	must(shmap_sem_open("pong", 0, 0, &pong), "sem_open");
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < n; i++) {
			shmap_sem_wait(ping);
			shmap_sem_post(pong);
		}
		_exit(0);
	}
	t = now_s();
	for (int i = 0; i < n; i++) {
		shmap_sem_post(ping);
		shmap_sem_wait(pong);
	}
	report("sem ping-pong round trip, 2 processes", n, now_s() - t);
	waitpid(pid, NULL, 0);
	shmap_sem_close(ping);
	shmap_sem_close(pong);
}

static void bench_mappings(void)
{
	int n = 2000;
	char name[32];
	shmap_t *m;
	double t = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		must(shmap_create(name, 1 << 20, SHMAP_READWRITE, 0, &m),
		     "create");
		shmap_close(m);
	}
	report("shmap_create (new, 1 MiB) + close", n, now_s() - t);
	t = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		must(shmap_open(name, SHMAP_WRITE, &m), "open");
		shmap_close(m);
	}
	report("shmap_open + close", n, now_s() - t);

	must(shmap_open("m0", SHMAP_WRITE, &m), "open");
	void *v;
	n = 20000;
	t = now_s();
	for (int i = 0; i < n; i++) {
		must(shmap_map(m, 0, 0, SHMAP_WRITE, &v), "map");
		shmap_unmap(v);
	}
	report("shmap_map (1 MiB) + unmap", n, now_s() - t);
	t = now_s();
	for (int i = 0; i < n; i++) {
		must(shmap_map_at(m, 0, 0, SHMAP_WRITE, NULL, &v), "map_at");
		shmap_unmap(v);
	}
	report("shmap_map_at (1 MiB) + unmap", n, now_s() - t);
	shmap_close(m);
}

static void bench_mutex(void)
{
	shmap_mutex_t *m;
	int n = 1000000;
	must(shmap_mutex_open("mutex", 0, &m), "mutex_open");
	double best = 1e9;
	for (int rep = 0; rep < REPS; rep++) {
		double t = now_s();
		for (int i = 0; i < n; i++) {
			shmap_mutex_lock(m);
			shmap_mutex_unlock(m);
		}
		best = least(best, now_s() - t);
	}
	report("shmap mutex lock+unlock, uncontended", n, best);
	shmap_mutex_close(m);

	/* The anchor: a robust, process-shared pthread mutex in a view. */
	shmap_t *map;
	pthread_mutex_t *pm;
	pthread_mutexattr_t a;
	must(shmap_create("pmutex", 4096, SHMAP_READWRITE, 0, &map), "create");
	must(shmap_map(map, 0, 0, SHMAP_WRITE, (void **)&pm), "map");
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(pm, &a);
	best = 1e9;
	for (int rep = 0; rep < REPS; rep++) {
		double t = now_s();
		for (int i = 0; i < n; i++) {
			pthread_mutex_lock(pm);
			pthread_mutex_unlock(pm);
		}
		best = least(best, now_s() - t);
	}
	report("robust pshared recursive pthread mutex", n, best);
	pthread_mutex_destroy(pm);
	shmap_unmap(pm);
	shmap_close(map);
}

/* Two processes take turns through two auto-reset events. */
static void bench_event(void)
{
	shmap_event_t *ping, *pong;
	int n = 20000;
	must(shmap_event_open("ev-ping", 0, 0, 0, &ping), "event_open");
	must(shmap_event_open("ev-pong", 0, 0, 0, &pong), "event_open");
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < REPS * n; i++) {
			shmap_event_wait(ping);
			shmap_event_set(pong);
		}
		_exit(0);
	}
	double best = 1e9;
	for (int rep = 0; rep < REPS; rep++) {
		double t = now_s();
		for (int i = 0; i < n; i++) {
			shmap_event_set(ping);
			shmap_event_wait(pong);
		}
		best = least(best, now_s() - t);
	}
	report("event round trip, 2 processes", n, best);
	waitpid(pid, NULL, 0);
	shmap_event_close(ping);
	shmap_event_close(pong);

	/* The anchor: two eventfds (blocking read, write). */
	int a = eventfd(0, 0), b = eventfd(0, 0);
	uint64_t one = 1, v;
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < REPS * n; i++) {
			if (read(a, &v, 8) != 8 || write(b, &one, 8) != 8)
				_exit(1);
		}
		_exit(0);
	}
	best = 1e9;
	for (int rep = 0; rep < REPS; rep++) {
		double t = now_s();
		for (int i = 0; i < n; i++) {
			if (write(a, &one, 8) != 8 || read(b, &v, 8) != 8)
				break;
		}
		best = least(best, now_s() - t);
	}
	report("eventfd round trip, 2 processes", n, best);
	waitpid(pid, NULL, 0);
	close(a);
	close(b);
}

static void open_many(shmap_event_t **ev, const char *prefix)
{
	char name[32];
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "%s/%d", prefix, i);
		must(shmap_event_open(name, 0, 0, 0, &ev[i]), "event_open");
	}
}

/*
 * Another process sets one of the first m events in turn and waits for
 * the answer on `done`: the cost of sleeping in futex_waitv on m words.
 */
static void wait_any_round_trip(shmap_event_t **ev, unsigned m,
				shmap_event_t *done, int n)
{
	unsigned idx;
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < REPS * n; i++) {
			shmap_wait_any((void **)ev, m, NULL, &idx);
			shmap_event_set(done);
		}
		_exit(0);
	}
	double best = 1e9;
	for (int rep = 0; rep < REPS; rep++) {
		double t = now_s();
		for (int i = 0; i < n; i++) {
			shmap_event_set(ev[(unsigned)i % m]);
			shmap_event_wait(done);
		}
		best = least(best, now_s() - t);
	}
	char what[64];
	snprintf(what, sizeof(what), "wait_any over %u, round trip", m);
	report(what, n, best);
	waitpid(pid, NULL, 0);
}

/*
 * wait_any over 64 events: with the last one set (no sleep), and a round
 * trip where another process sets one of them (in turn) and waits for
 * the answer on a 65th.
 */
static void bench_wait_any(void)
{
	shmap_event_t *ev[MANY], *done;
	unsigned idx;
	int n = 200000;
	open_many(ev, "any");
	must(shmap_event_open("done", 0, 0, 0, &done), "event_open");
	double best = 1e9;
	for (int rep = 0; rep < REPS; rep++) {
		double t = now_s();
		for (int i = 0; i < n; i++) {
			shmap_event_set(ev[MANY - 1]);
			shmap_wait_any((void **)ev, MANY, NULL, &idx);
		}
		best = least(best, now_s() - t);
	}
	report("set + wait_any over 64, the last set", n, best);

	n = 20000;
	static const unsigned counts[] = {1, 8, MANY};
	for (unsigned c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
		wait_any_round_trip(ev, counts[c], done, n);

	/* The anchor: epoll over 64 eventfds, an eventfd to answer. */
	int fds[MANY], back = eventfd(0, 0), ep = epoll_create1(0);
	for (int i = 0; i < MANY; i++) {
		fds[i] = eventfd(0, 0);
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	uint64_t one = 1, v;
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < REPS * n; i++) {
			struct epoll_event e;
			if (epoll_wait(ep, &e, 1, -1) != 1 ||
			    read(fds[e.data.u32], &v, 8) != 8 ||
			    write(back, &one, 8) != 8)
				_exit(1);
		}
		_exit(0);
	}
	best = 1e9;
	for (int rep = 0; rep < REPS; rep++) {
		double t = now_s();
		for (int i = 0; i < n; i++) {
			if (write(fds[i % MANY], &one, 8) != 8 ||
			    read(back, &v, 8) != 8)
				break;
		}
		best = least(best, now_s() - t);
	}
	report("epoll over 64 eventfds, round trip", n, best);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < MANY; i++) {
		close(fds[i]);
		shmap_event_close(ev[i]);
	}
	close(back);
	close(ep);
	shmap_event_close(done);
}

int main(void)
{
	struct tmount mnt;
	if (tmount_start(&mnt, 0, NULL)) {
		fprintf(stderr, "bench-lib: cannot mount %s\n",
			tmount_daemon());
		return 1;
	}
	setenv("SHMAP_DIR", mnt.mnt, 1);
	bench_sem();
	bench_mutex();
	bench_event();
	bench_wait_any();
	bench_mappings();
	return tmount_stop(&mnt) == 0 ? 0 : 1;
}
