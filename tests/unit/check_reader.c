/*
 * Unit tests of the reader (fs/reader.c): one worker at a time reads
 * the device, a worker waiting its turn takes over from a reader that
 * serves one request too long but never from one that reads, and a worker
 * cancelled while it waits leaves nothing locked; read errors but ENODEV
 * and ECONNABORTED never reach the caller, and one that keeps coming makes
 * the reader give up. A pipe stands in for /dev/fuse: one write is one
 * request; the reader's test hooks count reads and inject errors.
 */
#include "reader.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
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

/* reader_init() and reader_start() on the pipe. */
static void start(struct reader *rd, unsigned poll_us, unsigned takeover_ms)
{
	ck_assert_int_eq(reader_init(rd, poll_us, takeover_ms), 0);
	ck_assert_int_eq(reader_start(rd, p[0]), 0);
}

static void close_pipe(void)
{
	close(p[0]);
	close(p[1]);
}

START_TEST(one_reader_and_takeover)
{
	struct reader rd;
	start(&rd, 200, TAKEOVER_MS);

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

/* The reader sleeping in poll() wakes for a request; a worker waiting its
 * turn meanwhile does not read it. */
START_TEST(reader_sleeps_and_wakes)
{
	struct reader rd;
	start(&rd, 50, 300);
	struct worker a = {.rd = &rd, .fd = p[0]};
	struct worker b = {.rd = &rd, .fd = p[0]};
	pthread_t ta, tb;
	ck_assert_int_eq(pthread_create(&ta, NULL, read_one, &a), 0);
	sleep_ms(20); /* a polled 50 us, then sleeps in poll() */
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
	start(&rd, 0, TAKEOVER_MS);
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

/*
 * The window of the turn-taking: the reader, back for its next request,
 * has kept the turn but not read yet, while a worker's timed wait ends
 * and finds the reader's last request older than the takeover time. The
 * worker must not take the turn then: two readers would read at once
 * (and, when O_NONBLOCK was toggled per read, one turned the other's
 * blocking read into an EAGAIN that ended libfuse's loop).
 */
struct race {
	pthread_t a;		 /* the reader that comes back */
	atomic_int in_read;	 /* threads inside the device's read now */
	atomic_int most_in_read; /* the most ever at once */
	atomic_int b_read;	 /* a thread other than a has read */
	atomic_int armed;	 /* delay a's next turn */
	atomic_int window_done;
	int slow_empty_reads;	   /* an EAGAIN takes 5 ms: overlaps show */
	atomic_int blocking_reads; /* reads with O_NONBLOCK clear */
};

static ssize_t counting_read(struct reader *rd, int fd, void *buf, size_t len)
{
	struct race *r = rd->hooks.ctx;
	int n = atomic_fetch_add(&r->in_read, 1) + 1;
	int most = atomic_load(&r->most_in_read);
	while (n > most &&
	       !atomic_compare_exchange_weak(&r->most_in_read, &most, n))
		;
	if (!pthread_equal(pthread_self(), r->a))
		atomic_store(&r->b_read, 1);
	if (!(fcntl(fd, F_GETFL) & O_NONBLOCK)) /* a flag every thread sees */
		atomic_fetch_add(&r->blocking_reads, 1);
	ssize_t res = read(fd, buf, len);
	int err = errno;
	if (res < 0 && err == EAGAIN && r->slow_empty_reads)
		sleep_ms(5);
	atomic_fetch_sub(&r->in_read, 1);
	errno = err;
	return res;
}

/* The race's takeover time: long, so that a comes back in time even on a
 * loaded machine. */
#define RACE_MS 100

/* In a's window: hold it open for three takeover times, or until another
 * thread reads. */
static void hold_window(struct reader *rd)
{
	struct race *r = rd->hooks.ctx;
	if (!pthread_equal(pthread_self(), r->a) ||
	    !atomic_exchange(&r->armed, 0))
		return;
	for (int i = 0; i < 3 * RACE_MS && !atomic_load(&r->b_read); i++)
		sleep_ms(1);
	atomic_store(&r->window_done, 1);
}

struct comeback {
	struct worker w;
	struct race *race;
	atomic_int first_done;
};

/* a: read "one", serve it for a fifth of the takeover time, come back. */
static void *read_twice(void *arg)
{
	struct comeback *c = arg;
	read_one(&c->w);
	ck_assert_str_eq(c->w.got, "one");
	atomic_store(&c->first_done, 1);
	sleep_ms(RACE_MS / 5);
	atomic_store(&c->race->armed, 1);
	atomic_store(&c->w.done, 0);
	read_one(&c->w);
	return NULL;
}

/* Wait (bounded) until flag is set. */
static int wait_flag(atomic_int *flag, int ms)
{
	for (int i = 0; i < ms && !atomic_load(flag); i++)
		sleep_ms(1);
	return atomic_load(flag);
}

START_TEST(no_takeover_while_the_reader_reads)
{
	struct reader rd;
	start(&rd, 200, RACE_MS);
	struct race race = {.slow_empty_reads = 1};
	rd.hooks = (struct reader_hooks){
	    .turn_taken = hold_window, .read = counting_read, .ctx = &race};
	struct comeback a = {.w = {.rd = &rd, .fd = p[0]}, .race = &race};
	struct worker b = {.rd = &rd, .fd = p[0]};
	send(p[1], "one");
	ck_assert_int_eq(pthread_create(&race.a, NULL, read_twice, &a), 0);
	ck_assert(wait_flag(&a.first_done, 2000));
	pthread_t tb;
	ck_assert_int_eq(pthread_create(&tb, NULL, read_one, &b), 0);
	/* Not there if b took over before a came back (a loaded machine):
	 * then only the one-reader rule is checked. */
	int window = wait_flag(&race.window_done, 5000);
	send(p[1], "two");
	for (int i = 0; i < 2000 && !a.w.done && !b.done; i++)
		sleep_ms(1);
	send(p[1], "three");
	ck_assert(wait_done(&a.w, 2000));
	ck_assert(wait_done(&b, 2000));
	pthread_join(race.a, NULL);
	pthread_join(tb, NULL);
	int most = atomic_load(&race.most_in_read);
	ck_assert_int_eq(most, 1); /* never two readers */
	int blocking = atomic_load(&race.blocking_reads);
	ck_assert_int_eq(blocking, 0); /* nobody changed O_NONBLOCK */
	if (window) {
		ck_assert_str_eq(a.w.got, "two"); /* a kept its turn */
		ck_assert_str_eq(b.got, "three");
	}
	reader_destroy(&rd);
}
END_TEST

/* Many workers, requests of every length of service: still one reads at
 * a time. */
static void *serve_some(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 40; i++) {
		ssize_t r = reader_read(w->rd, w->fd, w->got, 1);
		ck_assert_int_eq(r, 1);
		sleep_ms(w->got[0] - 'a'); /* serve: 0..3 takeover times */
	}
	return NULL;
}

START_TEST(one_reader_among_many)
{
	enum {
		WORKERS = 6
	};
	struct reader rd;
	start(&rd, 100, 2);
	struct race race = {0};
	race.a = pthread_self(); /* all others count as "b" */
	rd.hooks = (struct reader_hooks){.read = counting_read, .ctx = &race};
	struct worker w[WORKERS];
	pthread_t t[WORKERS];
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){.rd = &rd, .fd = p[0]};
		ck_assert_int_eq(pthread_create(&t[i], NULL, serve_some, &w[i]),
				 0);
	}
	for (int i = 0; i < WORKERS * 40; i++) {
		char c = (char)('a' + i % 7);
		ck_assert_int_eq(write(p[1], &c, 1), 1);
		if (i % 3 == 0)
			sleep_ms(1);
	}
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	int most = atomic_load(&race.most_in_read);
	ck_assert_int_eq(most, 1);
	int blocking = atomic_load(&race.blocking_reads);
	ck_assert_int_eq(blocking, 0);
	reader_destroy(&rd);
}
END_TEST

/*
 * Errors from the device: a script of what each read says (an errno, or 0
 * for a real read of the pipe; past its end, the last entry again), and
 * what the reader told the daemon.
 */
struct script {
	const int *errs;
	int n;
	atomic_int calls;
	int exit_after;	       /* ops.exited says yes after this many reads */
	atomic_int stop;       /* ops.exited says yes */
	atomic_int gave_up;    /* ops.give_up calls */
	atomic_int gave_up_on; /* its errno */
	atomic_int logs;
	char first_log[200];
};

/* A plain int, for readable assertion messages. */
static int load(atomic_int *v)
{
	return atomic_load(v);
}

static ssize_t scripted_read(struct reader *rd, int fd, void *buf, size_t len)
{
	struct script *sc = rd->hooks.ctx;
	int i = atomic_fetch_add(&sc->calls, 1);
	int err = sc->errs[i < sc->n ? i : sc->n - 1];
	if (!err)
		return read(fd, buf, len);
	errno = err;
	return -1;
}

static int script_exited(void *ctx)
{
	struct script *sc = ctx;
	return atomic_load(&sc->stop) ||
	       (sc->exit_after && atomic_load(&sc->calls) >= sc->exit_after);
}

static void script_log(void *ctx, int level, const char *msg)
{
	struct script *sc = ctx;
	(void)level;
	if (atomic_fetch_add(&sc->logs, 1) == 0)
		snprintf(sc->first_log, sizeof(sc->first_log), "%s", msg);
}

static void script_give_up(void *ctx, int err)
{
	struct script *sc = ctx;
	atomic_fetch_add(&sc->gave_up, 1);
	atomic_store(&sc->gave_up_on, err);
	atomic_store(&sc->stop, 1); /* as the daemon's unmount would */
}

/* Both ways of reading: polling reader (100 us), every worker (0). */
static const unsigned poll_modes[] = {100, 0};

static void start_script(struct reader *rd, unsigned poll_us, struct script *sc)
{
	start(rd, poll_us, TAKEOVER_MS);
	rd->hard_error_pause_ms = 1;
	rd->hard_error_limit = 5;
	rd->hooks = (struct reader_hooks){.read = scripted_read, .ctx = sc};
	rd->ops = (struct reader_ops){.ctx = sc,
				      .exited = script_exited,
				      .log = script_log,
				      .give_up = script_give_up};
}

#define SCRIPT(...)                                                            \
	static const int errs[] = {__VA_ARGS__};                               \
	struct script sc = {.errs = errs,                                      \
			    .n = (int)(sizeof(errs) / sizeof(errs[0]))}

START_TEST(transient_errors_are_read_again)
{
	SCRIPT(EAGAIN, EINTR, ENOENT, EAGAIN, ENOENT, EINTR, 0);
	struct reader rd;
	start_script(&rd, poll_modes[_i], &sc);
	send(p[1], "req");
	char got[8] = {0};
	ck_assert_int_eq(reader_read(&rd, p[0], got, sizeof(got) - 1), 3);
	ck_assert_str_eq(got, "req");
	ck_assert_int_eq(load(&sc.calls), 7);
	ck_assert_int_eq(load(&sc.logs), 0); /* not worth a word */
	ck_assert_int_eq(load(&sc.gave_up), 0);
	reader_destroy(&rd);
}
END_TEST

/* A request waits (the poller finds the device ready), yet reading ends
 * serving with errno err. */
static void expect_end(struct reader *rd, int err)
{
	send(p[1], "x");
	char got[8];
	ck_assert_int_eq(reader_read(rd, p[0], got, sizeof(got)), -1);
	ck_assert_int_eq(errno, err);
}

START_TEST(enodev_ends_serving)
{
	SCRIPT(EINTR, ENOENT, ENODEV, 0);
	struct reader rd;
	start_script(&rd, poll_modes[_i], &sc);
	expect_end(&rd, ENODEV);
	ck_assert_int_eq(load(&sc.calls), 3);
	reader_destroy(&rd);
}
END_TEST

START_TEST(aborted_connection_ends_serving)
{
	SCRIPT(EAGAIN, ECONNABORTED, 0);
	struct reader rd;
	start_script(&rd, poll_modes[_i], &sc);
	expect_end(&rd, ECONNABORTED);
	reader_destroy(&rd);
}
END_TEST

/* An explicit exit ends serving at the next try, even amid errors. */
START_TEST(exit_ends_serving)
{
	SCRIPT(EAGAIN, EINTR, EIO, ENOENT);
	sc.exit_after = 6;
	struct reader rd;
	start_script(&rd, poll_modes[_i], &sc);
	expect_end(&rd, ENODEV);
	ck_assert_int_ge(load(&sc.calls), 6);
	ck_assert_int_eq(load(&sc.gave_up), 0);
	reader_destroy(&rd);
}
END_TEST

/* A hard error is logged with its errno and read again after a pause; when
 * it keeps coming, the reader gives up (once) and serving ends with the
 * exit that follows. */
START_TEST(repeated_hard_error_gives_up)
{
	SCRIPT(EINTR, EIO);
	struct reader rd;
	start_script(&rd, poll_modes[_i], &sc);
	expect_end(&rd, ENODEV);
	ck_assert_int_eq(load(&sc.gave_up), 1);
	ck_assert_int_eq(load(&sc.gave_up_on), EIO);
	ck_assert_int_eq(load(&sc.calls), 1 + 5); /* the limit */
	ck_assert_ptr_nonnull(strstr(sc.first_log, "(errno 5)"));
	ck_assert_int_eq(load(&sc.logs), 2); /* first, and giving up */
	reader_destroy(&rd);
}
END_TEST

/* Hard errors with requests between them never add up to a give-up. */
START_TEST(hard_errors_with_progress_are_served)
{
	SCRIPT(EIO, EIO, EIO, EIO, 0, EIO, EPERM, EIO, EIO, 0, EIO, EIO, EIO,
	       EIO, 0, ENODEV);
	struct reader rd;
	start_script(&rd, poll_modes[_i], &sc);
	send(p[1], "a");
	send(p[1], "b"); /* a pipe may merge them: each read asks for 1 */
	send(p[1], "c");
	char got[2] = {0};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(reader_read(&rd, p[0], got, 1), 1);
		ck_assert_int_eq(got[0], 'a' + i);
	}
	ck_assert_int_eq(reader_read(&rd, p[0], got, 1), -1);
	ck_assert_int_eq(errno, ENODEV);
	ck_assert_int_eq(load(&sc.gave_up), 0);
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
	tcase_add_test(tc, no_takeover_while_the_reader_reads);
	tcase_add_test(tc, one_reader_among_many);
	suite_add_tcase(s, tc);

	TCase *errs = tcase_create("errors");
	tcase_set_timeout(errs, 30);
	tcase_add_checked_fixture(errs, open_pipe, close_pipe);
	tcase_add_loop_test(errs, transient_errors_are_read_again, 0, 2);
	tcase_add_loop_test(errs, enodev_ends_serving, 0, 2);
	tcase_add_loop_test(errs, aborted_connection_ends_serving, 0, 2);
	tcase_add_loop_test(errs, exit_ends_serving, 0, 2);
	tcase_add_loop_test(errs, repeated_hard_error_gives_up, 0, 2);
	tcase_add_loop_test(errs, hard_errors_with_progress_are_served, 0, 2);
	suite_add_tcase(s, errs);
	return s;
}

int main(void)
{
	return run_suite(reader_suite());
}
