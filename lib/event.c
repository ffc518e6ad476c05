/*
 * Named events (CreateEvent, OpenEvent, SetEvent, ResetEvent,
 * WaitForSingleObject). The state's low bit says the event is set; its
 * top bit is wait_all's mark. An auto-reset event is reset by the one
 * waiter it releases (a compare-and-swap from set to clear, which only
 * one can win); a manual-reset event releases every waiter and stays set
 * until shmap_event_reset.
 */
#include "objects.h"

#include <errno.h>

static struct event_page *page_of(struct shmap__obj *o)
{
	return (struct event_page *)o->page;
}

static struct shmap__obj *event(shmap_event_t *e)
{
	return shmap__handle(e, &shmap__event_kind);
}

int shmap_event_open(const char *name, int manual_reset, int initial,
		     unsigned flags, shmap_event_t **out)
{
	struct event_page p = {
	    {EVENT_MAGIC, EVENT_VERSION, {initial ? EVENT_SET : 0, 0, 0, 0}},
	    manual_reset ? 1 : 0};
	return shmap__handle_open(name, flags, &shmap__event_kind, &p,
				  sizeof(p), (struct shmap__obj **)out);
}

static int event_try_take(struct shmap__obj *o)
{
	struct shmap__core *c = &o->page->core;
	for (;;) {
		uint32_t s = shmap__unmarked(c, EVENT_MARK);
		if (!(s & EVENT_SET))
			return -EAGAIN;
		if (page_of(o)->manual)
			return 0;
		if (__atomic_compare_exchange_n(&c->state, &s, 0, 0,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return 0;
	}
}

static int event_available(struct shmap__obj *o, uint32_t s)
{
	(void)o;
	return s & EVENT_SET ? 1 : -EAGAIN;
}

static int event_take_marked(struct shmap__obj *o, uint32_t s)
{
	uint32_t left = page_of(o)->manual ? s & ~EVENT_MARK : 0;
	__atomic_store_n(&o->page->core.state, left, __ATOMIC_SEQ_CST);
	return 0;
}

static int event_sleep_value(struct shmap__obj *o, uint32_t *value)
{
	*value = __atomic_load_n(&o->page->core.state, __ATOMIC_SEQ_CST);
	if (*value & EVENT_MARK)
		return -EAGAIN;
	return *value & EVENT_SET ? 1 : 0;
}

const struct shmap__kind shmap__event_kind = {
    .magic = EVENT_MAGIC,
    .version = EVENT_VERSION,
    .mark = EVENT_MARK,
    .try_take = event_try_take,
    .available = event_available,
    .take_marked = event_take_marked,
    .sleep_value = event_sleep_value,
};

/* Change the set bit to `set`: 1 if it changed, 0 if it was so already. */
static int change(struct shmap__core *c, uint32_t set)
{
	for (;;) {
		uint32_t s = shmap__unmarked(c, EVENT_MARK);
		if ((s & EVENT_SET) == set)
			return 0;
		if (__atomic_compare_exchange_n(
			&c->state, &s, (s & ~EVENT_SET) | set, 0,
			__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return 1;
	}
}

int shmap_event_set(shmap_event_t *e)
{
	if (!event(e))
		return -EINVAL;
	struct shmap__core *c = &event(e)->page->core;
	if (change(c, EVENT_SET))
		shmap__wake(c, page_of(event(e))->manual);
	return 0;
}

int shmap_event_reset(shmap_event_t *e)
{
	if (!event(e))
		return -EINVAL;
	change(&event(e)->page->core, 0);
	return 0;
}

int shmap_event_wait(shmap_event_t *e)
{
	return shmap__acquire(event(e), NULL);
}

int shmap_event_timedwait(shmap_event_t *e, const struct timespec *abs_realtime)
{
	if (!shmap__valid_deadline(abs_realtime))
		return -EINVAL;
	return shmap__acquire(event(e), abs_realtime);
}

int shmap_event_close(shmap_event_t *e)
{
	return shmap__handle_close(event(e));
}
