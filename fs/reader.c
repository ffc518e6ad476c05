/*
 * One reader of /dev/fuse at a time, polling before it sleeps, and the
 * errors that do not end serving; see reader.h.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* A read error other than the usual ones: wait this long, read again... */
#define HARD_ERROR_PAUSE_MS 10
/* ...and give up when it came this many times with no request between
 * (about a second). */
#define HARD_ERROR_LIMIT 100

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
	rd->hard_error_pause_ms = HARD_ERROR_PAUSE_MS;
	rd->hard_error_limit = HARD_ERROR_LIMIT;
	rd->ops = (struct reader_ops){0};
	rd->hooks = (struct reader_hooks){0};
	rd->owned = 0;
	rd->sleeping = 0;
	rd->serving = 0;
	atomic_init(&rd->hard_errors, 0);
	atomic_init(&rd->last_hard_error, 0);
	atomic_init(&rd->gave_up, 0);
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

int reader_start(struct reader *rd, int fd)
{
	if (!rd->poll_us)
		return 0; /* blocking reads, by every worker */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* The reader has served one request for longer than the takeover time.
 * Called with lock held. */
static int reader_stuck(struct reader *rd)
{
	return rd->serving &&
	       now_ns() - rd->serving > rd->takeover_ms * 1000000ull;
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

/*
 * Become the reader: at once if there is none (or it is us), else when
 * it is stuck. serving goes to 0 in the same critical section, so that
 * nobody takes the turn from us while we read (see reader.h). libfuse
 * cancels waiting workers at the end of the loop.
 */
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
	rd->serving = 0;
	pthread_cleanup_pop(1);
}

/* Done reading: from now on we serve, and may be taken over. */
static void end_turn(struct reader *rd)
{
	pthread_mutex_lock(&rd->lock);
	rd->serving = now_ns();
	pthread_mutex_unlock(&rd->lock);
}

static ssize_t device_read(struct reader *rd, int fd, void *buf, size_t len)
{
	if (rd->hooks.read)
		return rd->hooks.read(rd, fd, buf, len);
	return read(fd, buf, len);
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
		r = device_read(rd, fd, buf, len);
	} while (r < 0 && errno == EAGAIN && now_ns() < until);
	return r;
}

/* Sleep in poll() until a request comes (or the device fails), then read
 * it; the others may sleep without a timer meanwhile, and are told when
 * the idle spell ends. -1 with EAGAIN: go round again. */
static ssize_t sleep_then_read(struct reader *rd, int fd, void *buf, size_t len)
{
	pthread_mutex_lock(&rd->lock);
	rd->sleeping = 1;
	pthread_mutex_unlock(&rd->lock);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n = poll(&pfd, 1, -1);
	int err = errno;
	pthread_mutex_lock(&rd->lock);
	rd->sleeping = 0;
	pthread_cond_broadcast(&rd->turn);
	pthread_mutex_unlock(&rd->lock);
	if (n < 0) {
		errno = err;
		return -1;
	}
	return device_read(rd, fd, buf, len);
}

/* One turn as the reader: a request, or -1 and the read's errno. */
static ssize_t read_as_reader(struct reader *rd, int fd, void *buf, size_t len)
{
	take_turn(rd);
	if (rd->hooks.turn_taken)
		rd->hooks.turn_taken(rd);
	ssize_t r = poll_read(rd, fd, buf, len);
	if (r < 0 && errno == EAGAIN)
		r = sleep_then_read(rd, fd, buf, len);
	int err = errno;
	end_turn(rd);
	errno = err;
	return r;
}

/* Errors that say nothing about the device: read again at once. */
static int transient(int err)
{
	return err == EAGAIN || err == EINTR || err == ENOENT;
}

static void say(struct reader *rd, int level, const char *msg)
{
	if (rd->ops.log)
		rd->ops.log(rd->ops.ctx, level, msg);
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A read failed with err, not one of the usual errors: say so, give up
 * if it keeps failing, and pause before the next try. */
static void hard_error(struct reader *rd, int err)
{
	unsigned n = atomic_fetch_add(&rd->hard_errors, 1) + 1;
	int said = atomic_exchange(&rd->last_hard_error, err);
	char msg[160];
	if (n == 1 || said != err) { /* once a spell, and at each new errno */
		snprintf(msg, sizeof(msg),
			 "reading /dev/fuse: %s (errno %d); reading again",
			 strerror(err), err);
		say(rd, LOG_WARNING, msg);
	}
	if (n >= rd->hard_error_limit && !atomic_exchange(&rd->gave_up, 1)) {
		snprintf(msg, sizeof(msg),
			 "reading /dev/fuse failed %u times in a row, last: "
			 "%s (errno %d); unmounting",
			 n, strerror(err), err);
		say(rd, LOG_ERR, msg);
		if (rd->ops.give_up)
			rd->ops.give_up(rd->ops.ctx, err);
	}
	pause_ms(rd->hard_error_pause_ms);
}

static int exited(struct reader *rd)
{
	return rd->ops.exited && rd->ops.exited(rd->ops.ctx);
}

ssize_t reader_read(struct reader *rd, int fd, void *buf, size_t len)
{
	int err = ENODEV;
	while (!exited(rd)) {
		ssize_t r = rd->poll_us ? read_as_reader(rd, fd, buf, len)
					: device_read(rd, fd, buf, len);
		if (r > 0) {
			atomic_store(&rd->hard_errors, 0);
			return r;
		}
		err = r == 0 ? EIO : errno; /* the device never says 0 */
		if (err == ENODEV || err == ECONNABORTED)
			break;
		if (!transient(err))
			hard_error(rd, err);
		err = ENODEV;
	}
	errno = err;
	return -1;
}
