/*
 * Counting semaphores shared by name (CreateSemaphore, OpenSemaphore,
 * WaitForSingleObject, ReleaseSemaphore). Each is a one-page file under
 * the mount holding a futex word in a MAP_SHARED view: an uncontended
 * wait or post is one atomic operation, no system call and no round trip
 * to the daemon; a contended one sleeps and wakes with shared (not
 * private) futexes, which key on the file page and so work across
 * processes.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SEM_MAGIC   0x4d534853u /* "SHSM" */
#define SEM_VERSION 1u
#define SEM_MAX	    0x7fffffffu

/* The layout of a semaphore file, at offset 0 of its one page. */
struct sem_page {
	uint32_t magic;
	uint32_t version;
	uint32_t value;	  /* the count; the futex word */
	uint32_t waiters; /* processes in (or entering) FUTEX_WAIT */
};

struct shmap_sem {
	struct sem_page *page; /* a MAP_SHARED view of the file */
	size_t length;	       /* of that view */
};

static long futex(uint32_t *word, int op, uint32_t val,
		  const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, val3);
}

/* Fill a new semaphore file before it gets its name. */
static int init_sem(int *fd, const char *tmp, void *arg)
{
	(void)tmp;
	struct sem_page p = {SEM_MAGIC, SEM_VERSION, *(unsigned *)arg, 0};
	if (ftruncate(*fd, (off_t)shmap__page_size()) < 0)
		return -errno;
	ssize_t n = pwrite(*fd, &p, sizeof(p), 0);
	if (n < 0)
		return -errno;
	return n == sizeof(p) ? 0 : -EIO;
}

/* Open (creating if allowed) the semaphore file: an O_RDWR fd. */
static int sem_file(const char *path, size_t root, unsigned initial,
		    unsigned flags, int *fd)
{
	for (int i = 0; i < 100; i++) {
		if (!(flags & SHMAP_NOCREATE)) {
			int err = shmap__create_file(path, root, init_sem,
						     &initial, fd);
			if (err != -EEXIST || (flags & SHMAP_EXCL))
				return err;
		}
		*fd = open(path, O_RDWR | O_CLOEXEC);
		if (*fd >= 0)
			return 0;
		if (errno != ENOENT || (flags & SHMAP_NOCREATE))
			return -errno;
		/* Removed between our two looks: try again. */
	}
	return -EAGAIN;
}

static int map_sem(int fd, shmap_sem_t **out)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	size_t len = shmap__page_size();
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)len)
		return -EINVAL;
	struct sem_page *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	shmap_sem_t *s = malloc(sizeof(*s));
	if (!s || p->magic != SEM_MAGIC || p->version != SEM_VERSION) {
		munmap(p, len);
		free(s);
		return s ? -EINVAL : -ENOMEM;
	}
	s->page = p;
	s->length = len;
	*out = s;
	return 0;
}

int shmap_sem_open(const char *name, unsigned initial, unsigned flags,
		   shmap_sem_t **out)
{
	if (!out || initial > SEM_MAX ||
	    (flags & ~(SHMAP_EXCL | SHMAP_NOCREATE)) ||
	    (flags & SHMAP_EXCL && flags & SHMAP_NOCREATE))
		return -EINVAL;
	char path[PATH_MAX];
	size_t root;
	int fd, err = shmap__path(name, path, &root);
	if (!err)
		err = sem_file(path, root, initial, flags, &fd);
	if (err)
		return err;
	err = map_sem(fd, out);
	close(fd); /* the view keeps the file */
	return err;
}

/* Take one unit if there is one: 1 if taken, 0 if the count was 0. */
static int try_take(struct sem_page *p)
{
	uint32_t v = __atomic_load_n(&p->value, __ATOMIC_SEQ_CST);
	while (v > 0) {
		if (__atomic_compare_exchange_n(&p->value, &v, v - 1, 0,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return 1;
	}
	return 0;
}

/*
 * Sleep until the count is not 0 (or the deadline passes). A poster
 * raises the count before it reads waiters, and we raise waiters before
 * we read the count (both sequentially consistent), so either it sees us
 * and wakes us, or we see its unit; FUTEX_WAIT on a changed word returns
 * at once.
 */
static int wait_slow(struct sem_page *p, const struct timespec *abs)
{
	int err = 0;
	__atomic_add_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
	while (!try_take(p)) {
		long r;
		if (abs)
			r = futex(&p->value,
				  FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0,
				  abs, FUTEX_BITSET_MATCH_ANY);
		else
			r = futex(&p->value, FUTEX_WAIT, 0, NULL, 0);
		if (r == 0 || errno == EAGAIN || errno == EINTR)
			continue;
		err = -errno;
		break;
	}
	__atomic_sub_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
	return err;
}

int shmap_sem_wait(shmap_sem_t *s)
{
	if (!s)
		return -EINVAL;
	return try_take(s->page) ? 0 : wait_slow(s->page, NULL);
}

int shmap_sem_trywait(shmap_sem_t *s)
{
	if (!s)
		return -EINVAL;
	return try_take(s->page) ? 0 : -EAGAIN;
}

int shmap_sem_timedwait(shmap_sem_t *s, const struct timespec *abs_realtime)
{
	if (!s || !abs_realtime || abs_realtime->tv_nsec < 0 ||
	    abs_realtime->tv_nsec >= 1000000000L || abs_realtime->tv_sec < 0)
		return -EINVAL;
	return try_take(s->page) ? 0 : wait_slow(s->page, abs_realtime);
}

int shmap_sem_post(shmap_sem_t *s)
{
	if (!s)
		return -EINVAL;
	struct sem_page *p = s->page;
	uint32_t v = __atomic_load_n(&p->value, __ATOMIC_SEQ_CST);
	do {
		if (v >= SEM_MAX)
			return -EOVERFLOW;
	} while (!__atomic_compare_exchange_n(
	    &p->value, &v, v + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	if (__atomic_load_n(&p->waiters, __ATOMIC_SEQ_CST) > 0)
		futex(&p->value, FUTEX_WAKE, 1, NULL, 0);
	return 0;
}

int shmap_sem_value(shmap_sem_t *s, unsigned *value)
{
	if (!s || !value)
		return -EINVAL;
	*value = __atomic_load_n(&s->page->value, __ATOMIC_SEQ_CST);
	return 0;
}

int shmap_sem_close(shmap_sem_t *s)
{
	if (!s)
		return -EINVAL;
	int err = munmap(s->page, s->length) < 0 ? -errno : 0;
	free(s);
	return err;
}
