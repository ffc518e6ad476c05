/*
 * libshmap from several threads at once on a real mount: creating and
 * opening the same names, mapping (also at the agreed base), unmapping,
 * closing, and semaphores. The library's one shared structure, the view
 * registry, gets all the traffic. This test is also built with
 * ThreadSanitizer (make check-lib-tsan).
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 6
#define ROUNDS	60
#define PAGE	4096

struct worker {
	int id;
	int failed_at; /* 0, or the line that went wrong */
};

#define FAIL_IF(cond)                                                          \
	do {                                                                   \
		if (cond) {                                                    \
			w->failed_at = __LINE__;                               \
			return NULL;                                           \
		}                                                              \
	} while (0)

static void *work(void *arg)
{
	struct worker *w = arg;
	shmap_sem_t *sem;
	FAIL_IF(shmap_sem_open("threads/sem", 1, 0, &sem));
	for (int r = 0; r < ROUNDS; r++) {
		char name[64];
		/* Names shared between threads: create races create. */
		snprintf(name, sizeof(name), "threads/shared-%d", r % 4);
		shmap_t *m;
		FAIL_IF(
		    shmap_create(name, THREADS * PAGE, SHMAP_READWRITE, 0, &m));
		char *v, *part;
		FAIL_IF(shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&v));
		FAIL_IF(shmap_map(m, (uint64_t)w->id * PAGE, PAGE, SHMAP_WRITE,
				  (void **)&part));
		snprintf(part, PAGE, "thread %d round %d", w->id, r);
		FAIL_IF(strncmp(v + w->id * PAGE, "thread ", 7));
		FAIL_IF(shmap_flush(part, 0));
		/* At the agreed base: another thread may hold it now. */
		void *fixed;
		int err = shmap_map_at(m, 0, PAGE, SHMAP_READ, NULL, &fixed);
		FAIL_IF(err && err != -EADDRINUSE);
		if (!err)
			FAIL_IF(shmap_unmap(fixed));
		FAIL_IF(shmap_sem_wait(sem));
		FAIL_IF(shmap_sem_post(sem));
		FAIL_IF(shmap_unmap(part));
		FAIL_IF(shmap_unmap(v));
		FAIL_IF(shmap_close(m));
		/* A name of our own, made and removed. */
		snprintf(name, sizeof(name), "threads/own-%d", w->id);
		FAIL_IF(
		    shmap_create(name, PAGE, SHMAP_READWRITE, SHMAP_EXCL, &m));
		FAIL_IF(shmap_unlink(name));
		FAIL_IF(shmap_close(m));
	}
	FAIL_IF(shmap_sem_close(sem));
	return NULL;
}

START_TEST(threads_create_map_unmap_at_once)
{
	pthread_t tids[THREADS];
	struct worker ws[THREADS];
	for (int i = 0; i < THREADS; i++) {
		ws[i] = (struct worker){i, 0};
		ck_assert_int_eq(pthread_create(&tids[i], NULL, work, &ws[i]),
				 0);
	}
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(tids[i], NULL), 0);
		ck_assert_msg(ws[i].failed_at == 0,
			      "thread %d failed at line %d", i,
			      ws[i].failed_at);
	}
	/* Every thread's last words are there. */
	shmap_t *m;
	ck_assert_int_eq(shmap_open("threads/shared-3", SHMAP_READ, &m), 0);
	for (int i = 0; i < THREADS; i++) {
		char buf[64], want[64];
		ck_assert_int_gt(
		    pread(shmap_fd(m), buf, sizeof(buf), (off_t)i * PAGE), 0);
		snprintf(want, sizeof(want), "thread %d round %d", i,
			 ROUNDS - 1);
		ck_assert_str_eq(buf, want);
	}
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(
	    tsh(10, "test $(ls -A '%s/threads' | wc -l) = 5", lt_mnt.mnt), 0);
}
END_TEST

static Suite *threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, threads_create_map_unmap_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(threads_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
