/*
 * Named mutexes (CreateMutex, OpenMutex, WaitForSingleObject,
 * ReleaseMutex): owned by a thread, recursive, and abandoned when their
 * owner dies, which the next owner learns as -EOWNERDEAD.
 *
 * The state is the kernel's robust futex word: the owner's tid, with
 * FUTEX_WAITERS when someone sleeps on it. The owner links the mutex into
 * its thread's robust list, the one glibc registered with
 * set_robust_list() for its own robust mutexes (a thread has only one):
 * each entry is laid out as a pthread_mutex_t's is (the word 32 bytes
 * before the link, prev pointer just before the link) and linked the way
 * glibc links its own, so both kinds share the list. When the thread
 * ends, however it ends, the kernel walks the list, sets FUTEX_OWNER_DIED
 * in each word the thread still owns and wakes one sleeper.
 *
 * Two bits of the tid field, never part of a real tid (pid_max is at most
 * 2^22), are ours while no one owns the mutex: MUTEX_MARK, wait_all's
 * mark, and MUTEX_ACK, set once the kernel's wake-up for a death has been
 * passed on to every sleeper (the kernel wakes one, who may be a wait_all
 * that cannot use it).
 */
#include "objects.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>

/* The kernel finds the word at (entry + futex_offset); glibc's offset. */
#define ROBUST_OFFSET                                                          \
	((long)offsetof(pthread_mutex_t, __data.__lock) -                      \
	 (long)offsetof(pthread_mutex_t, __data.__list.__next))
_Static_assert((long)offsetof(struct mutex_page, head.core.state) -
		       (long)offsetof(struct mutex_page, link.next) ==
		   ROBUST_OFFSET,
	       "the robust list entry must sit where glibc's would");

static struct mutex_page *page_of(struct shmap__obj *o)
{
	return (struct mutex_page *)o->page;
}

static struct shmap__obj *mutex(shmap_mutex_t *m)
{
	return shmap__handle(m, &shmap__mutex_kind);
}

/* The calling thread, if the kernel keeps a robust list for it. */
static const struct shmap__self *robust_self(void)
{
	const struct shmap__self *me = shmap__self();
	if (!me->robust || me->robust->futex_offset != ROBUST_OFFSET)
		return NULL;
	return me;
}

int shmap_mutex_open(const char *name, unsigned flags, shmap_mutex_t **out)
{
	if (!robust_self())
		return -ENOSYS;
	struct mutex_page p = {
	    {MUTEX_MAGIC, MUTEX_VERSION, {0, 0, 0, 0}}, 0, 0, {NULL, NULL}};
	return shmap__handle_open(name, flags, &shmap__mutex_kind, &p,
				  sizeof(p), (struct shmap__obj **)out);
}

/* Every pointer in the list points at an entry's `next`. */
static struct robust_link *link_at(void *next_field)
{
	return (struct robust_link *)((char *)((uintptr_t)next_field & ~1ul) -
				      offsetof(struct robust_link, next));
}

/* Link p first in the list (glibc's ENQUEUE_MUTEX_BOTH). */
static void robust_add(struct robust_list_head *h, struct mutex_page *p)
{
	void *first = h->list.next;
	link_at(first)->prev = &p->link.next;
	p->link.next = first;
	p->link.prev = &h->list.next;
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* ready before it is in */
	h->list.next = (struct robust_list *)&p->link.next;
}

/* Unlink p (glibc's DEQUEUE_MUTEX). */
static void robust_remove(struct mutex_page *p)
{
	link_at(p->link.next)->prev = p->link.prev;
	link_at(p->link.prev)->next = p->link.next;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	p->link.prev = NULL;
	p->link.next = NULL;
}

/*
 * Own the mutex, whose unowned state is s: 1, or 0 if s changed. While
 * the word says we own it but the entry is not yet linked, the entry is
 * list_op_pending, which the kernel also looks at when a thread dies.
 */
static int grab(const struct shmap__self *me, struct mutex_page *p, uint32_t s)
{
	struct robust_list_head *h = me->robust;
	h->list_op_pending = (struct robust_list *)&p->link.next;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	uint32_t owned = (uint32_t)me->tid | (s & FUTEX_WAITERS);
	int ok =
	    __atomic_compare_exchange_n(&p->head.core.state, &s, owned, 0,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (ok)
		robust_add(h, p);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	h->list_op_pending = NULL;
	return ok;
}

/* Just owned, from unowned state s: 0, or -EOWNERDEAD if abandoned. */
static int owned_from(struct mutex_page *p, uint32_t s)
{
	p->count = 1;
	if (s & FUTEX_OWNER_DIED)
		p->abandoned = 1;
	return p->abandoned ? -EOWNERDEAD : 0;
}

static int recurse(struct mutex_page *p)
{
	if (p->count == UINT32_MAX)
		return -EOVERFLOW;
	p->count++;
	return 0;
}

static int mutex_try_take(struct shmap__obj *o)
{
	const struct shmap__self *me = robust_self();
	struct mutex_page *p = page_of(o);
	if (!me)
		return -ENOSYS;
	for (;;) {
		uint32_t s = shmap__unmarked(&p->head.core, MUTEX_MARK);
		uint32_t owner = s & MUTEX_TID;
		if (owner == (uint32_t)me->tid)
			return recurse(p);
		if (owner)
			return -EAGAIN;
		if (grab(me, p, s))
			return owned_from(p, s);
	}
}

static int mutex_available(struct shmap__obj *o, uint32_t s)
{
	const struct shmap__self *me = robust_self();
	struct mutex_page *p = page_of(o);
	if (!me)
		return -ENOSYS;
	uint32_t owner = s & MUTEX_TID;
	if (owner == (uint32_t)me->tid)
		return p->count == UINT32_MAX ? -EOVERFLOW : 2;
	return owner ? -EAGAIN : 1;
}

static int mutex_take_marked(struct shmap__obj *o, uint32_t s)
{
	const struct shmap__self *me = robust_self();
	struct mutex_page *p = page_of(o);
	if (!(s & MUTEX_MARK))
		return recurse(p); /* we own it already */
	/* Marked, no one else changes it: grab cannot fail. */
	grab(me, p, s);
	return owned_from(p, s);
}

/*
 * The kernel woke one sleeper for a dead owner; if that one does not
 * take the mutex, wake them all, once per death (MUTEX_ACK).
 */
static int pass_on_death(struct shmap__core *c, uint32_t s)
{
	if (!__atomic_compare_exchange_n(&c->state, &s,
					 (s & ~FUTEX_WAITERS) | MUTEX_ACK, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return -EAGAIN;
	shmap__wake(c, 1);
	return -EAGAIN;
}

static int mutex_sleep_value(struct shmap__obj *o, uint32_t *value)
{
	struct shmap__core *c = &o->page->core;
	const struct shmap__self *me = robust_self();
	if (!me)
		return -ENOSYS;
	uint32_t s = __atomic_load_n(&c->state, __ATOMIC_SEQ_CST);
	uint32_t owner = s & MUTEX_TID;
	if (s & MUTEX_MARK)
		return -EAGAIN;
	if (!owner && (s & FUTEX_OWNER_DIED) && !(s & MUTEX_ACK))
		return pass_on_death(c, s);
	*value = s;
	if (!owner || owner == (uint32_t)me->tid)
		return 1;
	if (s & FUTEX_WAITERS)
		return 0;
	*value = s | FUTEX_WAITERS;
	return __atomic_compare_exchange_n(&c->state, &s, *value, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
		   ? 0
		   : -EAGAIN;
}

const struct shmap__kind shmap__mutex_kind = {
    .magic = MUTEX_MAGIC,
    .version = MUTEX_VERSION,
    .mark = MUTEX_MARK,
    .try_take = mutex_try_take,
    .available = mutex_available,
    .take_marked = mutex_take_marked,
    .sleep_value = mutex_sleep_value,
};

int shmap_mutex_lock(shmap_mutex_t *m)
{
	return shmap__acquire(mutex(m), NULL);
}

int shmap_mutex_trylock(shmap_mutex_t *m)
{
	return mutex(m) ? mutex_try_take(mutex(m)) : -EINVAL;
}

int shmap_mutex_timedlock(shmap_mutex_t *m, const struct timespec *abs_realtime)
{
	if (!shmap__valid_deadline(abs_realtime))
		return -EINVAL;
	return shmap__acquire(mutex(m), abs_realtime);
}

/* 1 if the calling thread owns o. */
static int owns(struct shmap__obj *o, const struct shmap__self *me)
{
	uint32_t s = __atomic_load_n(&o->page->core.state, __ATOMIC_SEQ_CST);
	return me && (s & MUTEX_TID) == (uint32_t)me->tid;
}

int shmap_mutex_unlock(shmap_mutex_t *m)
{
	const struct shmap__self *me = robust_self();
	if (!mutex(m))
		return -EINVAL;
	if (!owns(mutex(m), me))
		return -EPERM;
	struct mutex_page *p = page_of(mutex(m));
	if (p->count > 1) {
		p->count--;
		return 0;
	}
	p->count = 0;
	struct robust_list_head *h = me->robust;
	h->list_op_pending = (struct robust_list *)&p->link.next;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	robust_remove(p);
	__atomic_exchange_n(&p->head.core.state, 0, __ATOMIC_SEQ_CST);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	h->list_op_pending = NULL;
	shmap__wake(&p->head.core, 0);
	return 0;
}

int shmap_mutex_consistent(shmap_mutex_t *m)
{
	if (!mutex(m))
		return -EINVAL;
	if (!owns(mutex(m), robust_self()))
		return -EPERM;
	page_of(mutex(m))->abandoned = 0;
	return 0;
}

int shmap_mutex_close(shmap_mutex_t *m)
{
	/* Our robust list points into the view: keep it while we own it. */
	if (mutex(m) && owns(mutex(m), robust_self()))
		return -EBUSY;
	return shmap__handle_close(mutex(m));
}
