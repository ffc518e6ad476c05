/*
 * The pages of the synchronization objects, as they lie in their files:
 * each kind's magic, version and state bits, and what follows the common
 * header (struct shmap__head, internal.h). Shared by the library, which
 * takes and releases the objects, and shmapctl, which only reads them
 * (lib/ctl), so that both always read the same layout.
 */
#ifndef SHMAP_OBJECTS_H
#define SHMAP_OBJECTS_H

#include "internal.h"

#include <stdint.h>

/* Semaphores: the state is the count; its top bit is wait_all's mark. */
#define SEM_MAGIC   0x4d534853u /* "SHSM" */
#define SEM_VERSION 1u
#define SEM_MAX	    0x7fffffffu
#define SEM_MARK    0x80000000u

/* Events: the state's low bit says set; its top bit is wait_all's mark. */
#define EVENT_MAGIC   0x56454853u /* "SHEV" */
#define EVENT_VERSION 1u
#define EVENT_SET     1u
#define EVENT_MARK    0x80000000u

struct event_page {
	struct shmap__head head;
	uint32_t manual; /* 1 for manual-reset; fixed at creation */
};

/*
 * Mutexes: the state is the kernel's robust futex word (the owner's tid,
 * FUTEX_WAITERS, FUTEX_OWNER_DIED), with two bits of our own (mutex.c).
 */
#define MUTEX_MAGIC   0x584d4853u /* "SHMX" */
#define MUTEX_VERSION 1u
#define MUTEX_MARK    0x20000000u
#define MUTEX_ACK     0x10000000u
#define MUTEX_TID     0x0fffffffu

/* A link in a robust list, as glibc's __pthread_list_t. */
struct robust_link {
	void *prev; /* the previous entry's `next`; guarded by ownership */
	void *next; /* the next entry's `next`; guarded by ownership */
};

struct mutex_page {
	struct shmap__head head; /* head.core.state: the robust word */
	uint32_t count;		 /* recursion depth; guarded by ownership */
	uint32_t abandoned;	 /* 1 from taking it from a dead owner until
				    shmap_mutex_consistent; guarded by
				    ownership */
	struct robust_link link; /* in the owner's robust list */
};

#endif
