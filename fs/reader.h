/*
 * Who reads /dev/fuse, and how it waits: one worker at a time (the
 * reader) takes requests, serves each itself, and after each one polls
 * /dev/fuse for a while before it sleeps in poll(2).
 *
 * Why: a FUSE round trip is two wake-ups, the daemon's and the caller's,
 * and on a VM each wake-up of an idle vCPU is an interrupt through the
 * hypervisor; they are most of a round trip's cost (tests/bench/NOTES.md).
 * A reader that is still polling when the next request comes needs no
 * wake-up, and workers that wait their turn here, not in read(), do not
 * make the kernel wake one of them for every request.
 *
 * The reader polls with non-blocking reads, not poll(2): poll queues and
 * dequeues the poller on the device's wait queue at every try, under the
 * lock the kernel needs to queue a request. Only when nothing came for
 * poll_us does it sleep in poll(2), then reads again (an EAGAIN there, a
 * request gone before we read it, only sends it round again). The device's
 * O_NONBLOCK is set once, by reader_start(), and never changed: it is a
 * flag of the one open file that every thread shares, so a thread that
 * cleared or set it would turn another's read into a blocking read or an
 * EAGAIN (seen: libfuse took such an EAGAIN as the end of the mount).
 *
 * A request that keeps the reader busy longer than a takeover time lets a
 * waiting worker become the reader, so slow requests (an fsync, a large
 * reservation) do not hold up the others for long. A worker waits for its
 * turn with a timeout only while the reader is serving; while the reader
 * sleeps (an idle mount), the others sleep too, with no timer.
 *
 * With poll_us > 0, at most one thread reads at a time (with 0, every
 * worker sleeps in a blocking read, as in plain libfuse, and nobody
 * touches O_NONBLOCK): a thread reads only between taking
 * the turn and noting, under the lock, that it serves (serving != 0); it
 * takes the turn under the lock, setting serving to 0 in the same
 * critical section; and another thread takes the turn from the reader only
 * when serving says the reader is serving, not reading, and has been too
 * long. So while the reader reads, serving is 0 and nobody takes over.
 *
 * reader_read() also decides which read errors end serving: none but
 * ENODEV (the mount is gone), ECONNABORTED (its connection was aborted)
 * and an explicit exit. EAGAIN, EINTR and ENOENT
 * (an interrupted request) are read again at once; any other error is
 * logged and read again after a pause, and if it repeats hard_error_limit
 * times with no request read in between, give_up is called (once): the
 * daemon then unmounts itself in order, as on SIGTERM. libfuse 3.14 ends
 * its loop on any error it is handed but EINTR, so none reach it.
 */
#ifndef SHMAPFS_READER_H
#define SHMAPFS_READER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct reader;

/* What the reader asks of the daemon around it; any may be NULL. */
struct reader_ops {
	void *ctx;
	int (*exited)(void *ctx); /* serving was told to end */
	void (*log)(void *ctx, int level, const char *msg);
	void (*give_up)(void *ctx, int err); /* err repeats: unmount */
};

/* For tests only; NULL in the daemon. */
struct reader_hooks {
	/* Called by a worker that has just become (or stayed) the reader,
	 * before it reads. */
	void (*turn_taken)(struct reader *rd);
	/* Stands in for read(2) of the device. */
	ssize_t (*read)(struct reader *rd, int fd, void *buf, size_t len);
	void *ctx; /* the test's */
};

struct reader {
	unsigned poll_us;	      /* immutable: how long to poll; 0: no
				       * reader (every worker reads, as
				       * libfuse does) */
	unsigned takeover_ms;	      /* immutable: see above */
	unsigned hard_error_pause_ms; /* immutable once reading starts */
	unsigned hard_error_limit;    /* likewise: give up after this many */
	struct reader_ops ops;	      /* likewise */
	struct reader_hooks hooks;    /* likewise */
	pthread_mutex_t lock;
	pthread_cond_t turn;	 /* workers waiting for their turn */
	pthread_t owner;	 /* guarded by lock: the reader */
	int owned;		 /* guarded by lock */
	int sleeping;		 /* guarded by lock: reader in poll() */
	uint64_t serving;	 /* guarded by lock: ns when the reader took the
				  * request it serves; 0 while it reads */
	atomic_uint hard_errors; /* in a row, no request read since */
	atomic_int last_hard_error; /* its errno, to log each new one */
	atomic_int gave_up;	    /* give_up was called */
};

int reader_init(struct reader *rd, unsigned poll_us, unsigned takeover_ms);
void reader_destroy(struct reader *rd);

/* Make fd ready for reader_read(): non-blocking for good if we poll. */
int reader_start(struct reader *rd, int fd);

/*
 * read(2) of one request from the FUSE device fd, as the reader: a
 * request's length, or -1 when serving is over: errno ENODEV (the mount
 * is gone, or ops.exited says so) or ECONNABORTED (the connection was
 * aborted). Never any other error.
 */
ssize_t reader_read(struct reader *rd, int fd, void *buf, size_t len);

#endif
