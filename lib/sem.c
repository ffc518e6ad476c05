/*
 * Counting semaphores shared by name (CreateSemaphore, OpenSemaphore,
 * WaitForSingleObject, ReleaseSemaphore). Each is a one-page file under
 * the mount holding a futex word in a MAP_SHARED view: an uncontended
 * wait or post is one atomic operation, no system call and no round trip
 * to the daemon; a contended one sleeps and wakes with shared (not
 * private) futexes, which key on the file page and so work across
 * processes. The state is the count; its top bit is wait_all's mark.
 */
#include "objects.h"

#include <errno.h>

static struct shmap__obj *sem(shmap_sem_t *s)
{
	return shmap__handle(s, &shmap__sem_kind);
}

int shmap_sem_open(const char *name, unsigned initial, unsigned flags,
		   shmap_sem_t **out)
{
	if (initial > SEM_MAX)
		return -EINVAL;
	struct shmap__head h = {SEM_MAGIC, SEM_VERSION, {initial, 0, 0, 0}};
	return shmap__handle_open(name, flags, &shmap__sem_kind, &h, sizeof(h),
				  (struct shmap__obj **)out);
}

/* Take one unit if there is one: 0, or -EAGAIN if the count is 0. */
static int sem_try_take(struct shmap__obj *o)
{
	struct shmap__core *c = &o->page->core;
	for (;;) {
		uint32_t v = shmap__unmarked(c, SEM_MARK);
		if (v == 0)
			return -EAGAIN;
		if (__atomic_compare_exchange_n(&c->state, &v, v - 1, 0,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return 0;
	}
}

static int sem_available(struct shmap__obj *o, uint32_t v)
{
	(void)o;
	return v > 0 ? 1 : -EAGAIN;
}

static int sem_take_marked(struct shmap__obj *o, uint32_t v)
{
	__atomic_store_n(&o->page->core.state, (v & ~SEM_MARK) - 1,
			 __ATOMIC_SEQ_CST);
	return 0;
}

static int sem_sleep_value(struct shmap__obj *o, uint32_t *value)
{
	*value = __atomic_load_n(&o->page->core.state, __ATOMIC_SEQ_CST);
	if (*value & SEM_MARK)
		return -EAGAIN;
	return *value > 0;
}

const struct shmap__kind shmap__sem_kind = {
    .magic = SEM_MAGIC,
    .version = SEM_VERSION,
    .mark = SEM_MARK,
    .try_take = sem_try_take,
    .available = sem_available,
    .take_marked = sem_take_marked,
    .sleep_value = sem_sleep_value,
};

int shmap_sem_wait(shmap_sem_t *s)
{
	return shmap__acquire(sem(s), NULL);
}

int shmap_sem_trywait(shmap_sem_t *s)
{
	return sem(s) ? sem_try_take(sem(s)) : -EINVAL;
}

int shmap_sem_timedwait(shmap_sem_t *s, const struct timespec *abs_realtime)
{
	if (!shmap__valid_deadline(abs_realtime))
		return -EINVAL;
	return shmap__acquire(sem(s), abs_realtime);
}

int shmap_sem_post(shmap_sem_t *s)
{
	if (!sem(s))
		return -EINVAL;
	struct shmap__core *c = &sem(s)->page->core;
	uint32_t v;
	do {
		v = shmap__unmarked(c, SEM_MARK);
		if (v >= SEM_MAX)
			return -EOVERFLOW;
	} while (!__atomic_compare_exchange_n(
	    &c->state, &v, v + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	shmap__wake(c, 0);
	return 0;
}

int shmap_sem_value(shmap_sem_t *s, unsigned *value)
{
	if (!sem(s) || !value)
		return -EINVAL;
	*value = shmap__unmarked(&sem(s)->page->core, SEM_MARK);
	return 0;
}

int shmap_sem_close(shmap_sem_t *s)
{
	return shmap__handle_close(sem(s));
}
