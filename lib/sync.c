/*
 * What the synchronization objects (semaphores, mutexes, events) share:
 * their file (a page made whole before it gets its name, mapped shared),
 * the futex calls, the wait for a wait_all's mark to go, waking sleepers,
 * the sleep on one object, and the calling thread's identity.
 *
 * Futexes are shared (not FUTEX_PRIVATE_FLAG): they key on the file's
 * page, so processes that map the same file meet on the same word.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Fill a new object file before it gets its name. */
struct init_arg {
	const void *data;
	size_t len;
};

static int init_object(int *fd, const char *tmp, void *arg)
{
	(void)tmp;
	const struct init_arg *a = arg;
	if (ftruncate(*fd, (off_t)shmap__page_size()) < 0)
		return -errno;
	ssize_t n = pwrite(*fd, a->data, a->len, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == a->len ? 0 : -EIO;
}

/* Open (creating if allowed) the object file: an O_RDWR fd. */
static int object_file(const char *path, size_t root, struct init_arg *init,
		       unsigned flags, int *fd)
{
	for (int i = 0; i < 100; i++) {
		if (!(flags & SHMAP_NOCREATE)) {
			int err = shmap__create_file(path, root, init_object,
						     init, fd);
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

static int map_object(int fd, const struct shmap__kind *kind,
		      struct shmap__obj *o)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	size_t len = shmap__page_size();
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)len)
		return -EINVAL;
	struct shmap__head *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (p->magic != kind->magic || p->version != kind->version) {
		munmap(p, len);
		return -EINVAL;
	}
	o->handle_magic = SHMAP__HANDLE_MAGIC;
	o->kind = kind;
	o->page = p;
	o->length = len;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	return 0;
}

int shmap__handle_open(const char *name, unsigned flags,
		       const struct shmap__kind *kind, const void *init,
		       size_t init_len, struct shmap__obj **out)
{
	if (!out || (flags & ~(SHMAP_EXCL | SHMAP_NOCREATE)) ||
	    (flags & SHMAP_EXCL && flags & SHMAP_NOCREATE))
		return -EINVAL;
	char path[PATH_MAX];
	size_t root;
	struct init_arg arg = {init, init_len};
	int fd, err = shmap__path(name, path, &root);
	if (!err)
		err = object_file(path, root, &arg, flags, &fd);
	if (err)
		return err;
	struct shmap__obj *o = malloc(sizeof(*o));
	err = o ? map_object(fd, kind, o) : -ENOMEM;
	close(fd); /* the view keeps the file */
	if (err) {
		free(o);
		return err;
	}
	*out = o;
	return 0;
}

struct shmap__obj *shmap__handle(const void *handle,
				 const struct shmap__kind *kind)
{
	const struct shmap__obj *o = handle;
	if (!o || o->handle_magic != SHMAP__HANDLE_MAGIC ||
	    (kind && o->kind != kind))
		return NULL;
	return (struct shmap__obj *)o;
}

int shmap__handle_close(struct shmap__obj *o)
{
	if (!o)
		return -EINVAL;
	o->handle_magic = 0;
	int err = munmap(o->page, o->length) < 0 ? -errno : 0;
	free(o);
	return err;
}

int shmap__acquire(struct shmap__obj *o, const struct timespec *abs)
{
	if (!o)
		return -EINVAL;
	int r = o->kind->try_take(o);
	return r == -EAGAIN ? shmap__wait_one(o, abs) : r;
}

/*
 * A wait_all holds a mark for a few instructions, so spin, then yield. A
 * mark whose holder died (SIGKILL between marking and taking) would stay
 * for ever: now and then look whether the holder lives, and clear it if
 * not. The objects it marked are as they were before it marked them.
 * Only the holder of c->locker sets the mark, and it clears the mark
 * before it gives up locker: a marked state's locker is its marker.
 */
static int dead(pid_t pid)
{
	return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

static void clear_dead_mark(struct shmap__core *c, uint32_t s, uint32_t mark)
{
	pid_t pid = __atomic_load_n(&c->locker, __ATOMIC_SEQ_CST);
	if (dead(pid) &&
	    __atomic_compare_exchange_n(&c->state, &s, s & ~mark, 0,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		__atomic_compare_exchange_n(&c->locker, &pid, 0, 0,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

uint32_t shmap__unmarked(struct shmap__core *c, uint32_t mark)
{
	for (unsigned i = 0;; i++) {
		uint32_t s = __atomic_load_n(&c->state, __ATOMIC_SEQ_CST);
		if (!(s & mark))
			return s;
		if (i < 100)
			continue;
		sched_yield();
		if (i % 1000 == 999)
			clear_dead_mark(c, s, mark);
	}
}

void shmap__lock_marker(struct shmap__core *c, uint32_t mark, pid_t me)
{
	for (unsigned i = 0;; i++) {
		pid_t holder = 0;
		if (__atomic_compare_exchange_n(&c->locker, &holder, me, 0,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return;
		if (i < 100)
			continue;
		sched_yield();
		/* A dead holder's mark, if it set one, is its own. */
		if (i % 1000 == 999 && dead(holder) &&
		    __atomic_compare_exchange_n(&c->locker, &holder, me, 0,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			__atomic_and_fetch(&c->state, ~mark, __ATOMIC_SEQ_CST);
			return;
		}
	}
}

void shmap__unlock_marker(struct shmap__core *c)
{
	__atomic_store_n(&c->locker, 0, __ATOMIC_SEQ_CST);
}

static long futex(uint32_t *word, int op, uint32_t val,
		  const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, val3);
}

/*
 * Someone waiting on several objects may not be the one who can use the
 * change (a wait_all that still lacks another object): then wake all,
 * so that no single waiter sleeps through it.
 */
void shmap__wake(struct shmap__core *c, int all)
{
	if (__atomic_load_n(&c->multi, __ATOMIC_SEQ_CST) > 0)
		all = 1;
	else if (__atomic_load_n(&c->waiters, __ATOMIC_SEQ_CST) == 0)
		return;
	futex(&c->state, FUTEX_WAKE, all ? INT_MAX : 1, NULL, 0);
}

int shmap__futex_wait(uint32_t *word, uint32_t val,
		      const struct timespec *abs_realtime)
{
	long r;
	if (abs_realtime)
		r = futex(word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, val,
			  abs_realtime, FUTEX_BITSET_MATCH_ANY);
	else
		r = futex(word, FUTEX_WAIT, val, NULL, 0);
	if (r == 0 || errno == EAGAIN || errno == EINTR)
		return 0;
	return -errno;
}

/*
 * We count ourselves in waiters before we look at the state, and a
 * waker changes the state before it reads waiters (both sequentially
 * consistent): either it sees us and wakes us, or we see its change;
 * FUTEX_WAIT on a changed word returns at once.
 */
int shmap__wait_one(struct shmap__obj *o, const struct timespec *abs)
{
	struct shmap__core *c = &o->page->core;
	int r;
	__atomic_add_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		r = o->kind->try_take(o);
		if (r != -EAGAIN)
			break;
		uint32_t v;
		r = o->kind->sleep_value(o, &v);
		if (r == -EAGAIN)
			sched_yield();
		else if (r < 0)
			break;
		if (r != 0)
			continue;
		r = shmap__futex_wait(&c->state, v, abs);
		if (r == -ETIMEDOUT) {
			/* It may have come with the deadline: take it. */
			r = o->kind->try_take(o);
			if (r == -EAGAIN)
				r = -ETIMEDOUT;
			break;
		}
		if (r != 0)
			break;
	}
	__atomic_sub_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
	return r;
}

int shmap__valid_deadline(const struct timespec *abs)
{
	return abs && abs->tv_nsec >= 0 && abs->tv_nsec < 1000000000L &&
	       abs->tv_sec >= 0;
}

/*
 * The identity of the calling thread, kept per thread because reading it
 * costs system calls and a mutex must know it without one. A fork child
 * starts with another tid and pid: the atfork handler forgets the copy.
 * This thread-local cache is the library's only state outside handles.
 */
/* initial-exec: no __tls_get_addr call on the uncontended path. */
static __thread struct shmap__self self_cache
    __attribute__((tls_model("initial-exec")));
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void forget_self(void)
{
	memset(&self_cache, 0, sizeof(self_cache));
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_self);
}

const struct shmap__self *shmap__self(void)
{
	struct shmap__self *me = &self_cache;
	if (me->tid)
		return me;
	pthread_once(&self_once, register_atfork);
	void *head = NULL;
	size_t len = 0;
	if (syscall(SYS_get_robust_list, 0, &head, &len) == 0)
		me->robust = head;
	me->pid = getpid();
	me->tid = (pid_t)syscall(SYS_gettid);
	return me;
}
