/*
 * A thread that reads one fanotify group until told to stop: the loop the
 * guard of exclusive backing files (exclusive.c) and the watcher of the
 * backing directory (watch.c) share. Each gives what to do with the bytes
 * of a read; the group and the eventfd that stops the thread are owned
 * here.
 */
#ifndef SHMAPFS_FAN_THREAD_H
#define SHMAPFS_FAN_THREAD_H

#include <pthread.h>
#include <stddef.h>

struct fan_thread {
	int group; /* the fanotify group; owned, immutable */
	int stop;  /* eventfd that ends the thread; owned, immutable */
	pthread_t thread;
	int started; /* the thread runs; set by fan_thread_start() */
	/* Called in the thread, set before the start: begin once first
	 * (NULL: nothing), take with the bytes of each read. */
	void (*begin)(void *ctx);
	void (*take)(void *ctx, const char *buf, size_t len);
	void *ctx;
	/* Nanoseconds to let events gather after each read; 0: none. */
	long pause_ns;
};

/* Take group (a fanotify descriptor, or -errno from fanotify_init) and
 * make the stop eventfd. On failure nothing is left open. */
int fan_thread_init(struct fan_thread *t, int group);

/* Start the thread (after any fork: a thread does not survive one). */
int fan_thread_start(struct fan_thread *t);

/* Stop and join the thread if it runs; close both descriptors. */
void fan_thread_free(struct fan_thread *t);

#endif
