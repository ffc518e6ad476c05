/*
 * The directories a watcher (fanotify, in the glue) watches for the
 * registry: each one's file handle, by which the watcher's reports name
 * it, on the list registry.watched (guarded by registry.lock). A
 * directory not watched is still revalidated at lookups and opens
 * (revalidate.c).
 *
 * Calls: the watcher, through registry_config.mark_dir.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200 /* Linux 6.5: the handle fanotify reports */
#endif

static uint32_t handle_hash(int type, const unsigned char *b, unsigned len)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;
	for (unsigned i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* Ask the watcher to watch directory n, and remember its handle, by
 * which the watcher's reports name it. A directory not watched is still
 * revalidated at lookups and opens. */
void dir_watch_locked(struct registry *r, struct node *n)
{
	if (!r->cfg.mark_dir || n->dirfd < 0 || n->wh)
		return;
	struct {
		struct file_handle fh;
		unsigned char room[128];
	} h = {.fh.handle_bytes = 128};
	int mnt;
	if (name_to_handle_at(n->dirfd, "", &h.fh, &mnt,
			      AT_EMPTY_PATH | AT_HANDLE_FID) < 0 &&
	    name_to_handle_at(n->dirfd, "", &h.fh, &mnt, AT_EMPTY_PATH) < 0)
		return;
	struct watch_handle *wh = malloc(sizeof(*wh) + h.fh.handle_bytes);
	if (!wh)
		return;
	wh->type = h.fh.handle_type;
	wh->len = h.fh.handle_bytes;
	memcpy(wh->bytes, h.fh.f_handle, wh->len);
	wh->hash = handle_hash(wh->type, wh->bytes, wh->len);
	int res = r->cfg.mark_dir(r->cfg.watch_ctx, n->dirfd);
	if (res < 0) {
		if (!atomic_exchange(&r->watch_warned, 1))
			reg_log(r, LOG_WARNING,
				"cannot watch a backing directory: %s; the "
				"changes of those not watched are seen at "
				"lookups, opens, and listings a second old",
				strerror(-res));
		free(wh);
		return;
	}
	n->wh = wh;
	n->watch_prev = NULL;
	n->watch_next = r->watched;
	if (r->watched)
		r->watched->watch_prev = n;
	r->watched = n;
}

/* Take n off the list of watched directories (registry.lock held). */
void dir_unwatch_locked(struct registry *r, struct node *n)
{
	if (!n->wh)
		return;
	if (n->watch_prev)
		n->watch_prev->watch_next = n->watch_next;
	else
		r->watched = n->watch_next;
	if (n->watch_next)
		n->watch_next->watch_prev = n->watch_prev;
	free(n->wh);
	n->wh = NULL;
}

/* The watched directory whose handle this is, or NULL (registry.lock
 * held). */
struct node *dir_find_watched_locked(struct registry *r, int type,
				     const void *bytes, unsigned len)
{
	uint32_t h = handle_hash(type, bytes, len);
	for (struct node *n = r->watched; n; n = n->watch_next)
		if (n->wh->hash == h && n->wh->type == type &&
		    n->wh->len == len && !memcmp(n->wh->bytes, bytes, len))
			return n;
	return NULL;
}
