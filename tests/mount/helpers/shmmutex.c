/*
 * shmmutex: a process-shared, robust pthread mutex and a counter in a
 * POSIX shared-memory object, the way programs (and Boost.Interprocess)
 * share state, for the /dev/shm tests (tests/mount/check_devshm.c).
 *
 *   shmmutex USER init NAME       create NAME (0666): mutex + counter 0
 *   shmmutex USER count NAME N    add 1 to the counter N times, each
 *                                 under the mutex
 *   shmmutex USER die NAME        lock, add 1, and exit holding the lock
 *   shmmutex USER recover NAME V  lock: must get EOWNERDEAD (the holder
 *                                 died); the counter must be V; repair
 *                                 (pthread_mutex_consistent), unlock, and
 *                                 lock and unlock once more
 *
 * Exit 0 on success, 1 (with a line on stderr) on any failure.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "become.h"

struct shared {
	pthread_mutex_t lock;
	uint64_t counter;
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "shmmutex: %s: %s\n", what, strerror(err));
	return 1;
}

static struct shared *map_shared(const char *name, int create)
{
	int fd = shm_open(name, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0666);
	if (fd < 0 || (create && ftruncate(fd, sizeof(struct shared)) < 0))
		return NULL;
	struct shared *s =
	    mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return s == MAP_FAILED ? NULL : s;
}

static int init(struct shared *s)
{
	pthread_mutexattr_t a;
	int r = pthread_mutexattr_init(&a);
	if (!r)
		r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutex_init(&s->lock, &a);
	s->counter = 0;
	return r ? fail("pthread_mutex_init", r) : 0;
}

static int count(struct shared *s, long n)
{
	for (long i = 0; i < n; i++) {
		int r = pthread_mutex_lock(&s->lock);
		if (r)
			return fail("pthread_mutex_lock", r);
		s->counter++;
		if ((r = pthread_mutex_unlock(&s->lock)))
			return fail("pthread_mutex_unlock", r);
	}
	return 0;
}

static int die(struct shared *s)
{
	int r = pthread_mutex_lock(&s->lock);
	if (r)
		return fail("pthread_mutex_lock", r);
	s->counter++;
	_exit(0); /* holding the lock: the kernel marks the owner dead */
}

static int recover(struct shared *s, uint64_t expect)
{
	int r = pthread_mutex_lock(&s->lock);
	if (r != EOWNERDEAD)
		return fail("lock after the holder died: not EOWNERDEAD", r);
	if (s->counter != expect) {
		fprintf(stderr, "shmmutex: counter %llu, expected %llu\n",
			(unsigned long long)s->counter,
			(unsigned long long)expect);
		return 1;
	}
	if ((r = pthread_mutex_consistent(&s->lock)) ||
	    (r = pthread_mutex_unlock(&s->lock)))
		return fail("pthread_mutex_consistent/unlock", r);
	return count(s, 1);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: shmmutex USER init|count|die|recover "
				"NAME [N]\n");
		return 1;
	}
	if (become(argv[1]) < 0) {
		fprintf(stderr, "shmmutex: cannot become %s\n", argv[1]);
		return HELPER_NOT_RUN;
	}
	const char *op = argv[2];
	long n = argc > 4 ? atol(argv[4]) : 0;
	struct shared *s = map_shared(argv[3], strcmp(op, "init") == 0);
	if (!s)
		return fail(argv[3], errno);
	if (!strcmp(op, "init"))
		return init(s);
	if (!strcmp(op, "count"))
		return count(s, n);
	if (!strcmp(op, "die"))
		return die(s);
	if (!strcmp(op, "recover"))
		return recover(s, (uint64_t)n);
	fprintf(stderr, "shmmutex: unknown operation %s\n", op);
	return 1;
}
