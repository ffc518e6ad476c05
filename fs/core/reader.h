/*
 * Who reads /dev/fuse, and how it waits: one worker at a time (the
 * reader) takes requests, serves each itself, and after each one polls
 * /dev/fuse for a while before it sleeps in read().
 *
 * Why: a FUSE round trip is two wake-ups, the daemon's and the caller's,
 * and on a VM each wake-up of an idle vCPU is an interrupt through the
 * hypervisor; they are most of a round trip's cost (tests/bench/NOTES.md).
 * A reader that is still polling when the next request comes needs no
 * wake-up, and workers that wait their turn here, not in read(), do not
 * make the kernel wake one of them for every request.
 *
 * The reader polls with non-blocking reads (the device's O_NONBLOCK is set
 * while it polls, cleared while it sleeps; only the reader reads, so only
 * it changes the flag), not poll(2): poll queues and dequeues the poller on
 * the device's wait queue at every try, under the lock the kernel needs to
 * queue a request.
 *
 * A request that keeps the reader busy longer than a takeover time lets a
 * waiting worker become the reader, so slow requests (an fsync, a large
 * reservation) do not hold up the others for long. A worker waits for its
 * turn with a timeout only while the reader is serving; while the reader
 * sleeps in read() (an idle mount), the others sleep too, with no timer.
 */
#ifndef SHMAPFS_READER_H
#define SHMAPFS_READER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct reader {
	unsigned poll_us;     /* immutable: how long to poll; 0: no reader
			       * (every worker reads, as libfuse does) */
	unsigned takeover_ms; /* immutable: see above */
	pthread_mutex_t lock;
	pthread_cond_t turn;	      /* workers waiting for their turn */
	pthread_t owner;	      /* guarded by lock: the reader */
	int owned;		      /* guarded by lock */
	int sleeping;		      /* guarded by lock: reader in read() */
	atomic_uint_fast64_t serving; /* ns when the reader took the request
				       * it serves; 0 while it reads */
};

int reader_init(struct reader *rd, unsigned poll_us, unsigned takeover_ms);
void reader_destroy(struct reader *rd);

/* read(2) of one request from the FUSE device fd, as the reader. */
ssize_t reader_read(struct reader *rd, int fd, void *buf, size_t len);

#endif
