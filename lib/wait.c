/*
 * Waiting on several objects at once (WaitForMultipleObjects): semaphores,
 * mutexes and events, mixed, up to SHMAP_WAIT_MAX.
 *
 * wait_any takes the first object (lowest index) that can be taken, with
 * each kind's own try; wait_all takes them all or none. To take all it
 * marks each object (a bit of its futex word that every other operation
 * waits out), in one global order, the files' (dev, ino), so that two
 * wait_alls never wait on each other's marks in a cycle; if one object
 * cannot be taken it clears the marks it set, else it takes each and
 * clears its mark in the same store. No system call when all this goes
 * through at once.
 *
 * Sleeping: we count ourselves in each object's `multi` (wakers then wake
 * every sleeper of that object, since we may not use the change), read
 * each futex word, and only if those values do not satisfy the wait,
 * sleep in futex_waitv (Linux 5.16) on all the words with those values:
 * any change to any of them after we read it wakes us.
 */
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct set {
	struct shmap__obj *o[SHMAP_WAIT_MAX];
	unsigned order[SHMAP_WAIT_MAX]; /* wait_all: indexes by (dev, ino) */
	unsigned n;
};

static int load_set(void *const objects[], unsigned n,
		    const struct timespec *abs, struct set *set)
{
	if (!objects || n == 0 || n > SHMAP_WAIT_MAX ||
	    (abs && !shmap__valid_deadline(abs)))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		set->o[i] = shmap__handle(objects[i], NULL);
		if (!set->o[i])
			return -EINVAL;
		set->order[i] = i;
	}
	set->n = n;
	return 0;
}

static int before(const struct shmap__obj *a, const struct shmap__obj *b)
{
	return a->dev != b->dev ? a->dev < b->dev : a->ino < b->ino;
}

/* Sort set->order by file identity; -EINVAL if a file comes twice. */
static int sort_set(struct set *set)
{
	for (unsigned i = 1; i < set->n; i++) {
		unsigned k = set->order[i], j = i;
		for (; j > 0 && before(set->o[k], set->o[set->order[j - 1]]);
		     j--)
			set->order[j] = set->order[j - 1];
		set->order[j] = k;
	}
	for (unsigned i = 1; i < set->n; i++) {
		const struct shmap__obj *a = set->o[set->order[i - 1]];
		const struct shmap__obj *b = set->o[set->order[i]];
		if (a->dev == b->dev && a->ino == b->ino)
			return -EINVAL;
	}
	return 0;
}

static int take_any(struct set *set, unsigned *index)
{
	for (unsigned i = 0; i < set->n; i++) {
		int r = set->o[i]->kind->try_take(set->o[i]);
		if (r != -EAGAIN) {
			*index = i;
			return r;
		}
	}
	return -EAGAIN;
}

/*
 * Mark o if it can be taken: 1 marked (*s the marked state), 2 can be
 * taken without a mark (a mutex we own), -EAGAIN, or -errno. Only while
 * marked do we hold o's marker lock.
 */
static int mark(struct shmap__obj *o, pid_t pid, uint32_t *s)
{
	struct shmap__core *c = &o->page->core;
	uint32_t bit = o->kind->mark;
	shmap__lock_marker(c, bit, pid);
	for (;;) {
		*s = __atomic_load_n(&c->state, __ATOMIC_SEQ_CST);
		int r = o->kind->available(o, *s);
		if (r != 1) {
			shmap__unlock_marker(c);
			return r;
		}
		if (__atomic_compare_exchange_n(&c->state, s, *s | bit, 0,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			*s |= bit;
			return 1;
		}
	}
}

static void unmark(struct shmap__obj *o)
{
	struct shmap__core *c = &o->page->core;
	__atomic_and_fetch(&c->state, ~o->kind->mark, __ATOMIC_SEQ_CST);
	shmap__unlock_marker(c);
}

static int take_all(struct set *set, unsigned *index)
{
	uint32_t s[SHMAP_WAIT_MAX];
	int marked[SHMAP_WAIT_MAX];
	pid_t pid = shmap__self()->pid;
	unsigned k;
	int r = 0;
	for (k = 0; k < set->n && r >= 0; k++) {
		r = mark(set->o[set->order[k]], pid, &s[k]);
		marked[k] = r == 1;
	}
	if (r < 0) {
		while (k-- > 0)
			if (marked[k])
				unmark(set->o[set->order[k]]);
		return r;
	}
	r = 0;
	for (k = 0; k < set->n; k++) {
		unsigned i = set->order[k];
		int t = set->o[i]->kind->take_marked(set->o[i], s[k]);
		if (marked[k])
			shmap__unlock_marker(&set->o[i]->page->core);
		if (t < 0 && (r == 0 || i < *index)) {
			r = t;
			*index = i;
		}
	}
	return r;
}

static void count_multi(struct set *set, int delta)
{
	for (unsigned i = 0; i < set->n; i++)
		__atomic_add_fetch(&set->o[i]->page->core.multi, delta,
				   __ATOMIC_SEQ_CST);
}

/* The values to sleep on: how many objects can be taken, or -EAGAIN. */
static int snapshot(struct set *set, struct futex_waitv *w)
{
	int can = 0;
	for (unsigned i = 0; i < set->n; i++) {
		uint32_t v;
		int r = set->o[i]->kind->sleep_value(set->o[i], &v);
		if (r < 0)
			return r;
		can += r;
		w[i] = (struct futex_waitv){
		    .val = v,
		    .uaddr = (uintptr_t)&set->o[i]->page->core.state,
		    .flags = FUTEX_32,
		};
	}
	return can;
}

static int sleep_on(struct futex_waitv *w, unsigned n,
		    const struct timespec *abs)
{
	long r = syscall(SYS_futex_waitv, w, n, 0, abs, CLOCK_REALTIME);
	if (r >= 0 || errno == EAGAIN || errno == EINTR)
		return 0;
	return -errno;
}

typedef int (*take_fn)(struct set *set, unsigned *index);

/* Take with take(), sleeping until `need` objects can be taken. */
static int wait_set(struct set *set, take_fn take, int need,
		    const struct timespec *abs, unsigned *index)
{
	int r = take(set, index);
	if (r != -EAGAIN)
		return r;
	struct futex_waitv w[SHMAP_WAIT_MAX];
	count_multi(set, 1);
	for (;;) {
		int can = snapshot(set, w);
		if (can == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (can < 0) {
			r = can;
			break;
		}
		if (can >= need) {
			r = take(set, index);
			if (r != -EAGAIN)
				break;
			continue;
		}
		r = sleep_on(w, set->n, abs);
		if (r == -ETIMEDOUT) {
			/* It may have come with the deadline: take it. */
			r = take(set, index);
			if (r == -EAGAIN)
				r = -ETIMEDOUT;
			break;
		}
		if (r != 0)
			break;
	}
	count_multi(set, -1);
	return r;
}

int shmap_wait_any(void *const objects[], unsigned n,
		   const struct timespec *abs_realtime, unsigned *index)
{
	struct set set;
	int err = index ? load_set(objects, n, abs_realtime, &set) : -EINVAL;
	if (err)
		return err;
	return wait_set(&set, take_any, 1, abs_realtime, index);
}

int shmap_wait_all(void *const objects[], unsigned n,
		   const struct timespec *abs_realtime, unsigned *index)
{
	struct set set;
	unsigned ignored;
	if (!index)
		index = &ignored;
	int err = load_set(objects, n, abs_realtime, &set);
	if (!err)
		err = sort_set(&set);
	if (err)
		return err;
	return wait_set(&set, take_all, (int)n, abs_realtime, index);
}
