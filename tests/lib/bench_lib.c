/*
 * A small benchmark of libshmap on a fresh memory-backed mount (make
 * bench-lib): the cost of uncontended and contended semaphore operations,
 * of creating and opening mappings, and of making views.
 */
#include "mount.h"
#include "shmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
	bench_mappings();
	return tmount_stop(&mnt) == 0 ? 0 : 1;
}
