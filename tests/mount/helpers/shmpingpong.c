/*
 * shmpingpong: a producer and a consumer that talk through POSIX shared
 * memory and two named semaphores, as any unmodified program would
 * (shm_open, ftruncate, mmap, sem_open, sem_post, sem_timedwait), for the
 * /dev/shm tests (tests/mount/check_devshm.c).
 *
 *   shmpingpong USER producer|consumer NAME ROUNDS
 *
 * The producer creates the object NAME (0666, SIZE bytes) and the
 * semaphore NAME.ping; the consumer creates NAME.pong, so that each side
 * owns something. Then, ROUNDS times: the producer writes record i into
 * the object and posts ping; the consumer waits for ping, checks record i,
 * stores i + 1 in the acknowledgement word and posts pong; the producer
 * waits for pong and checks the acknowledgement. Then a stream of
 * STREAM * ROUNDS records through the object as a ring buffer of NREC
 * slots, the classic bounded buffer: pong counts free slots (the consumer
 * first grants NREC), ping counts full ones, and both sides run flat out,
 * so posts and waits race. A lost post shows as a wait that times out, a
 * spurious one as a semaphore count off at the end or as a record
 * overwritten before it was read, a lost store as a wrong record.
 * Nothing is unlinked: the test looks at the names afterwards.
 *
 * Object layout: the acknowledgement (a uint64_t) at offset 0; record i
 * (seq, then bytes derived from seq) at RECORDS + (i % NREC) * RECSIZE.
 * Exit 0 on success, 1 (with a line on stderr) on any failure.
 */
#include <fcntl.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "become.h"

#define RECORDS	  4096
#define RECSIZE	  64
#define NREC	  1024
#define SIZE	  (RECORDS + NREC * RECSIZE)
#define STREAM	  10
#define WAIT_S	  10
#define OPEN_WAIT 10000 /* ms to wait for the other side's semaphore */

struct side {
	const char *name;
	long rounds;
	unsigned char *map;
	sem_t *ping;
	sem_t *pong;
};

static int fail(const char *what, long round)
{
	fprintf(stderr, "shmpingpong: %s (round %ld): %s\n", what, round,
		strerror(errno));
	return 1;
}

static void sem_name(char *buf, size_t len, const char *name,
		     const char *suffix)
{
	snprintf(buf, len, "%s.%s", name, suffix);
}

/* Open the semaphore the other side creates, waiting for it to appear.
 * glibc links a fully made semaphore into place, so once the name
 * exists, it is ready. */
static sem_t *await_sem(const char *name)
{
	for (int waited = 0; waited < OPEN_WAIT; waited++) {
		sem_t *s = sem_open(name, 0);
		if (s != SEM_FAILED || errno != ENOENT)
			return s;
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	errno = ETIMEDOUT;
	return SEM_FAILED;
}

static int timed_wait(sem_t *s)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += WAIT_S;
	int r;
	while ((r = sem_timedwait(s, &t)) < 0 && errno == EINTR)
		;
	return r;
}

static void *map_object(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return MAP_FAILED;
	if (st.st_size != SIZE) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

static unsigned char *record(const struct side *s, long i)
{
	return s->map + RECORDS + (i % NREC) * RECSIZE;
}

static void write_record(unsigned char *r, long i)
{
	uint64_t seq = (uint64_t)i;
	memcpy(r, &seq, sizeof(seq));
	for (size_t k = sizeof(seq); k < RECSIZE; k++)
		r[k] = (unsigned char)(i * 7 + k);
}

static int record_ok(const unsigned char *r, long i)
{
	unsigned char want[RECSIZE];
	write_record(want, i);
	return memcmp(r, want, RECSIZE) == 0;
}

static int sem_is_zero(sem_t *s)
{
	int v = -1;
	return sem_getvalue(s, &v) == 0 && v == 0;
}

static int produce(struct side *s)
{
	uint64_t ack;
	for (long i = 0; i < s->rounds; i++) {
		write_record(record(s, i), i);
		if (sem_post(s->ping) < 0)
			return fail("sem_post ping", i);
		if (timed_wait(s->pong) < 0)
			return fail("sem_timedwait pong", i);
		memcpy(&ack, s->map, sizeof(ack));
		if (ack != (uint64_t)i + 1) {
			errno = EPROTO;
			return fail("consumer's acknowledgement lost", i);
		}
	}
	return 0;
}

static int consume(struct side *s)
{
	for (long i = 0; i < s->rounds; i++) {
		if (timed_wait(s->ping) < 0)
			return fail("sem_timedwait ping", i);
		if (!record_ok(record(s, i), i)) {
			errno = EPROTO;
			return fail("producer's record lost", i);
		}
		uint64_t ack = (uint64_t)i + 1;
		memcpy(s->map, &ack, sizeof(ack));
		if (sem_post(s->pong) < 0)
			return fail("sem_post pong", i);
	}
	return 0;
}

/* The bounded buffer: wait for a free slot, fill it, post it. */
static int produce_stream(struct side *s)
{
	/* Numbered on from the round trips, so no stale record passes. */
	for (long i = s->rounds; i < s->rounds * (STREAM + 1); i++) {
		if (timed_wait(s->pong) < 0)
			return fail("sem_timedwait free slot", i);
		write_record(record(s, i), i);
		if (sem_post(s->ping) < 0)
			return fail("sem_post full slot", i);
	}
	return 0;
}

static int consume_stream(struct side *s)
{
	for (int k = 0; k < NREC; k++)
		if (sem_post(s->pong) < 0)
			return fail("sem_post free slot", -1);
	for (long i = s->rounds; i < s->rounds * (STREAM + 1); i++) {
		if (timed_wait(s->ping) < 0)
			return fail("sem_timedwait full slot", i);
		if (!record_ok(record(s, i), i)) {
			errno = EPROTO;
			return fail("stream record lost or overwritten", i);
		}
		if (sem_post(s->pong) < 0)
			return fail("sem_post free slot", i);
	}
	/* Every slot is free again, and no full one is left. */
	int v = -1;
	if (sem_getvalue(s->pong, &v) < 0 || v != NREC) {
		errno = EPROTO;
		return fail("free-slot count off at the end", v);
	}
	return 0;
}

static int setup_producer(struct side *s, const char *ping, const char *pong)
{
	int fd = shm_open(s->name, O_CREAT | O_EXCL | O_RDWR, 0666);
	if (fd < 0 || ftruncate(fd, SIZE) < 0)
		return fail("shm_open/ftruncate", -1);
	if ((s->map = map_object(fd)) == MAP_FAILED)
		return fail("mmap", -1);
	s->ping = sem_open(ping, O_CREAT | O_EXCL, 0666, 0);
	if (s->ping == SEM_FAILED)
		return fail("sem_open ping", -1);
	if ((s->pong = await_sem(pong)) == SEM_FAILED)
		return fail("sem_open pong", -1);
	return 0;
}

static int setup_consumer(struct side *s, const char *ping, const char *pong)
{
	if ((s->ping = await_sem(ping)) == SEM_FAILED)
		return fail("sem_open ping", -1);
	s->pong = sem_open(pong, O_CREAT | O_EXCL, 0666, 0);
	if (s->pong == SEM_FAILED)
		return fail("sem_open pong", -1);
	/* The producer sized the object before it made ping. */
	int fd = shm_open(s->name, O_RDWR, 0);
	if (fd < 0)
		return fail("shm_open", -1);
	if ((s->map = map_object(fd)) == MAP_FAILED)
		return fail("mmap", -1);
	return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(int argc, char **argv)
{
	char ping[256], pong[256];
	struct timespec t0;
	if (argc != 5) {
		fprintf(stderr, "usage: shmpingpong USER producer|consumer "
				"NAME ROUNDS\n");
		return 1;
	}
	if (become(argv[1]) < 0) {
		fprintf(stderr, "shmpingpong: cannot become %s\n", argv[1]);
		return HELPER_NOT_RUN;
	}
	struct side s = {.name = argv[3], .rounds = atol(argv[4])};
	int producer = strcmp(argv[2], "producer") == 0;
	sem_name(ping, sizeof(ping), s.name, "ping");
	sem_name(pong, sizeof(pong), s.name, "pong");
	if (producer ? setup_producer(&s, ping, pong)
		     : setup_consumer(&s, ping, pong))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (producer ? produce(&s) : consume(&s))
		return 1;
	long pingpong_ms = elapsed_ms(&t0);
	if (producer ? produce_stream(&s) : consume_stream(&s))
		return 1;
	/* The producer's last waits may follow the consumer's check. */
	if (!producer && !sem_is_zero(s.ping)) {
		fprintf(stderr, "shmpingpong: full-slot count not back to 0\n");
		return 1;
	}
	if (producer)
		printf("shmpingpong: %ld round trips in %ld ms, %ld records "
		       "streamed in %ld ms\n",
		       s.rounds, pingpong_ms, s.rounds * STREAM,
		       elapsed_ms(&t0) - pingpong_ms);
	return 0;
}
