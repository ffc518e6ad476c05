/*
 * Unit tests of the reader (fs/core/reader.c): one worker at a time reads
 * the device, a worker waiting its turn takes over from a reader that
 * serves one request too long, and a worker cancelled while it waits
 * leaves nothing locked. A pipe stands in for /dev/fuse: one write is one
 * request.
 */
#include "reader.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TAKEOVER_MS 20

struct worker {
	struct reader *rd;
	int fd;
	char got[16]; /* the request it read */
	atomic_int done;
};

static void *read_one(void *arg)
{
	struct worker *w = arg;
	ssize_t r = reader_read(w->rd, w->fd, w->got, sizeof(w->got) - 1);
	if (r > 0)
		w->got[r] = '\0';
	atomic_store(&w->done, 1);
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait (bounded) until w has read something. */
static int wait_done(struct worker *w, int ms)
{
	for (int i = 0; i < ms && !atomic_load(&w->done); i++)
		sleep_ms(1);
	return atomic_load(&w->done);
}

static void send(int fd, const char *msg)
{
	ck_assert_int_eq(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
}

/* The first worker is the reader and keeps the role across requests; a
 * second waits its turn rather than read, until the reader is stuck. */
/* The device: each test's requests go through a fresh pipe. */
static int p[2];

static void open_pipe(void)
{
	ck_assert_int_eq(pipe(p), 0);
}

static void close_pipe(void)
{
	close(p[0]);
	close(p[1]);
}

START_TEST(one_reader_and_takeover)
{
	struct reader rd;
	ck_assert_int_eq(reader_init(&rd, 200, TAKEOVER_MS), 0);

	struct worker a = {.rd = &rd, .fd = p[0]};
	send(p[1], "one");
	read_one(&a); /* the reader now, serving "one" */
	ck_assert_str_eq(a.got, "one");

	struct worker b = {.rd = &rd, .fd = p[0]};
	pthread_t tb;
	ck_assert_int_eq(pthread_create(&tb, NULL, read_one, &b), 0);
	/* a is serving, not stuck yet: b must not read "two" at once. */
	send(p[1], "two");
	sleep_ms(TAKEOVER_MS / 4);
	ck_assert_int_eq(atomic_load(&b.done), 0);
	/* a keeps serving past the takeover time: b reads. */
	ck_assert(wait_done(&b, 2000));
	ck_assert_str_eq(b.got, "two");
	pthread_join(tb, NULL);

	/* a comes back: b is the reader now, so a waits for its turn... */
	memset(&a, 0, sizeof(a));
	a.rd = &rd;
	a.fd = p[0];
	pthread_t ta;
	ck_assert_int_eq(pthread_create(&ta, NULL, read_one, &a), 0);
	sleep_ms(5);
	send(p[1], "three");
	/* ...until b has been away serving "two" long enough. */
	ck_assert(wait_done(&a, 2000));
	ck_assert_str_eq(a.got, "three");
	pthread_join(ta, NULL);
	reader_destroy(&rd);
}
END_TEST

/* The reader sleeping in read() wakes for a request; a worker waiting its
 * turn meanwhile does not read it. */
START_TEST(reader_sleeps_and_wakes)
{
	struct reader rd;
	ck_assert_int_eq(reader_init(&rd, 50, 300), 0);
	struct worker a = {.rd = &rd, .fd = p[0]};
	struct worker b = {.rd = &rd, .fd = p[0]};
	pthread_t ta, tb;
	ck_assert_int_eq(pthread_create(&ta, NULL, read_one, &a), 0);
	sleep_ms(20); /* a polled 50 us, then sleeps in read() */
	ck_assert_int_eq(pthread_create(&tb, NULL, read_one, &b), 0);
	sleep_ms(20);
	send(p[1], "wake");
	ck_assert(wait_done(&a, 2000));
	ck_assert_str_eq(a.got, "wake");
	pthread_join(ta, NULL);
	sleep_ms(20);
	ck_assert_int_eq(atomic_load(&b.done), 0); /* a still the reader */
	pthread_cancel(tb); /* as libfuse ends its loop */
	pthread_join(tb, NULL);
	/* b's cancelled wait left the reader's lock free: this thread waits
	 * out the takeover time (a is gone) and reads. */
	send(p[1], "after");
	read_one(&a);
	ck_assert_str_eq(a.got, "after");
	reader_destroy(&rd);
}
END_TEST

/* poll_us 0: no reader role, every worker reads, as libfuse alone does. */
START_TEST(no_polling_means_plain_reads)
{
	struct reader rd;
	ck_assert_int_eq(reader_init(&rd, 0, TAKEOVER_MS), 0);
	struct worker a = {.rd = &rd, .fd = p[0]};
	struct worker b = {.rd = &rd, .fd = p[0]};
	send(p[1], "x");
	read_one(&a);
	pthread_t tb;
	ck_assert_int_eq(pthread_create(&tb, NULL, read_one, &b), 0);
	send(p[1], "y");
	ck_assert(wait_done(&b, 2000)); /* at once: a is no reader */
	ck_assert_str_eq(b.got, "y");
	pthread_join(tb, NULL);
	reader_destroy(&rd);
}
END_TEST

static Suite *reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc = tcase_create("reader");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, open_pipe, close_pipe);
	tcase_add_test(tc, one_reader_and_takeover);
	tcase_add_test(tc, reader_sleeps_and_wakes);
	tcase_add_test(tc, no_polling_means_plain_reads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(reader_suite());
}
