/*
 * The table of views: the length of every view the library made, so that
 * shmap_unmap() needs only the address (UnmapViewOfFile). It is the one
 * piece of process-wide state in the library, because views are
 * process-wide: a list under one mutex, taken around fork() so that a
 * child never inherits it locked.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

struct view {
	uintptr_t addr;
	size_t length;
	struct view *next;
};

static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;
static struct view *views; /* protected by views_lock */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock_views(void)
{
	pthread_mutex_lock(&views_lock);
}

static void unlock_views(void)
{
	pthread_mutex_unlock(&views_lock);
}

static void install_atfork(void)
{
	pthread_atfork(lock_views, unlock_views, unlock_views);
}

size_t shmap__page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int shmap__view_add(void *addr, size_t length)
{
	pthread_once(&atfork_once, install_atfork);
	struct view *v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->addr = (uintptr_t)addr;
	v->length = length;
	lock_views();
	v->next = views;
	views = v;
	unlock_views();
	return 0;
}

int shmap__view_take(void *addr, size_t *length)
{
	struct view *found = NULL;
	lock_views();
	for (struct view **pp = &views; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == (uintptr_t)addr) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	unlock_views();
	if (!found)
		return -EINVAL;
	*length = found->length;
	free(found);
	return 0;
}

int shmap__view_find(void *addr, void **start, size_t *length)
{
	uintptr_t a = (uintptr_t)addr;
	int err = -ENOENT;
	lock_views();
	for (struct view *v = views; v; v = v->next) {
		if (a >= v->addr && a - v->addr < v->length) {
			*start = (void *)v->addr;
			*length = v->length;
			err = 0;
			break;
		}
	}
	unlock_views();
	return err;
}
