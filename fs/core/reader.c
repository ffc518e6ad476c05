/*
 * One reader of /dev/fuse at a time, polling before it sleeps; see
 * reader.h.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int reader_init(struct reader *rd, unsigned poll_us, unsigned takeover_ms)
{
	rd->poll_us = poll_us;
	rd->takeover_ms = takeover_ms ? takeover_ms : 1;
	rd->owned = 0;
	rd->sleeping = 0;
	atomic_init(&rd->serving, 0);
	if (pthread_mutex_init(&rd->lock, NULL) != 0)
		return -ENOMEM;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int res = pthread_cond_init(&rd->turn, &attr);
	pthread_condattr_destroy(&attr);
	if (res != 0) {
		pthread_mutex_destroy(&rd->lock);
		return -ENOMEM;
	}
	return 0;
}

void reader_destroy(struct reader *rd)
{
	pthread_cond_destroy(&rd->turn);
	pthread_mutex_destroy(&rd->lock);
}

/* The reader has served one request for longer than the takeover time. */
static int reader_stuck(struct reader *rd)
{
	uint64_t since = atomic_load(&rd->serving);
	return since && now_ns() - since > rd->takeover_ms * 1000000ull;
}

static void wait_turn(struct reader *rd)
{
	if (rd->sleeping) { /* an idle mount: no timer */
		pthread_cond_wait(&rd->turn, &rd->lock);
		return;
	}
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)rd->takeover_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&rd->turn, &rd->lock, &until);
}

static void unlock(void *lock)
{
	pthread_mutex_unlock(lock);
}

/* Become the reader: at once if there is none (or it is us), else when
 * it is stuck. libfuse cancels waiting workers at the end of the loop. */
static void take_turn(struct reader *rd)
{
	pthread_t self = pthread_self();
	pthread_mutex_lock(&rd->lock);
	pthread_cleanup_push(unlock, &rd->lock);
	while (rd->owned && !pthread_equal(rd->owner, self) &&
	       !reader_stuck(rd))
		wait_turn(rd);
	rd->owned = 1;
	rd->owner = self;
	pthread_cleanup_pop(1);
}

/* Make fd's reads block or not (only the reader reads, so only the reader
 * changes this flag of the shared open file). */
static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/*
 * Try to read for up to poll_us, without sleeping: non-blocking reads,
 * not poll(), which would queue and dequeue us on the device's wait queue
 * at every try, where the kernel takes the lock that queueing a request
 * needs. -1 with EAGAIN if nothing came.
 */
static ssize_t poll_read(struct reader *rd, int fd, void *buf, size_t len)
{
	uint64_t until = now_ns() + rd->poll_us * 1000ull;
	ssize_t r;
	do {
		r = read(fd, buf, len);
	} while (r < 0 && errno == EAGAIN && now_ns() < until);
	return r;
}

/* Sleep in read(); the others may sleep without a timer meanwhile, and
 * are told when a request ends the idle spell. */
static ssize_t sleep_in_read(struct reader *rd, int fd, void *buf, size_t len)
{
	pthread_mutex_lock(&rd->lock);
	rd->sleeping = 1;
	pthread_mutex_unlock(&rd->lock);
	set_nonblock(fd, 0);
	ssize_t r = read(fd, buf, len);
	int err = errno;
	pthread_mutex_lock(&rd->lock);
	rd->sleeping = 0;
	pthread_cond_broadcast(&rd->turn);
	pthread_mutex_unlock(&rd->lock);
	errno = err;
	return r;
}

ssize_t reader_read(struct reader *rd, int fd, void *buf, size_t len)
{
	if (!rd->poll_us)
		return read(fd, buf, len);
	take_turn(rd);
	atomic_store(&rd->serving, 0);
	set_nonblock(fd, 1);
	ssize_t r = poll_read(rd, fd, buf, len);
	if (r < 0 && errno == EAGAIN)
		r = sleep_in_read(rd, fd, buf, len);
	atomic_store(&rd->serving, now_ns());
	return r;
}
