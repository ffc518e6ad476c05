/*
 * The watcher of a backing directory (watch.h): a fanotify group, its
 * marks, and the thread that turns its events into the core's changes and
 * the kernel's invalidations.
 */
#include "watch.h"
#include "fan_thread.h"
#include "shmapfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>
#include <syslog.h>

/* Names made, gone and moved; attributes; contents, as written (a
 * truncate(2) by path raises nothing else) and once closed. A write of a
 * mapping in use here is the mount's own: the core ignores it, and the
 * kernel merges a burst of them into one event. */
#define WATCH_EVENTS                                                           \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO |             \
	 FAN_ATTRIB | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ONDIR |               \
	 FAN_EVENT_ON_CHILD)
#define DATA_EVENTS (FAN_MODIFY | FAN_CLOSE_WRITE)

/* How long the thread lets events gather after each read. */
#define WATCH_GATHER_NS (2 * 1000 * 1000)
#define NAME_EVENTS	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)

struct watch {
	struct fan_thread reader; /* the group and its thread */
	pid_t self;		  /* the daemon; set before the start */
	struct shmapfs *fs;	  /* set before the start */
};

int watch_new(struct watch **out)
{
	const char *off = getenv("SHMAPFS_TEST_NO_WATCH");
	if (off && *off == '1')
		return -ENOTSUP;
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	int group = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
				      FAN_REPORT_DFID_NAME,
				  O_RDONLY | O_CLOEXEC);
	int res = fan_thread_init(&w->reader, group < 0 ? -errno : group);
	if (res < 0) {
		free(w);
		return res;
	}
	*out = w;
	return 0;
}

int watch_dir(void *ctx, int dirfd)
{
	struct watch *w = ctx;
	if (fanotify_mark(w->reader.group, FAN_MARK_ADD | FAN_MARK_ONLYDIR,
			  WATCH_EVENTS, dirfd, NULL) < 0)
		return -errno;
	return 0;
}

int watch_pass_mount(struct watch *w, int fd)
{
	/* SURV_MODIFY: else the first write through the mount clears it. */
	if (fanotify_mark(w->reader.group,
			  FAN_MARK_ADD | FAN_MARK_MOUNT |
			      FAN_MARK_IGNORED_MASK |
			      FAN_MARK_IGNORED_SURV_MODIFY,
			  DATA_EVENTS, fd, NULL) < 0)
		return -errno;
	return 0;
}

const char *watch_unavailable_why(int err)
{
	switch (err) {
	case -ENOTSUP:
		return "turned off (SHMAPFS_TEST_NO_WATCH)";
	case -EPERM:
		return "fanotify needs CAP_SYS_ADMIN on this kernel";
	case -ENOSYS:
	case -EINVAL:
		return "the kernel has no fanotify directory events";
	default:
		return "cannot start fanotify";
	}
}

/*
 * One event, copied out of the read buffer, whose records the kernel
 * aligns to 4 bytes only: what happened, by whom, and where (the
 * directory's handle, and the name in it; "." or none: the directory).
 */
struct watch_event {
	uint64_t mask;
	int32_t pid;
	int handle_type;
	unsigned handle_len;
	const unsigned char *handle; /* in the buffer */
	const char *name;	     /* in the buffer, or NULL */
};

/* The directory record (DFID_NAME, or DFID for an event of the directory
 * itself) of the event of len bytes at p, whose metadata is metadata_len
 * bytes; 0, or -1 if it has none. */
static int event_place(const char *p, size_t metadata_len, size_t len,
		       struct watch_event *e)
{
	const size_t fid_len = offsetof(struct fanotify_event_info_fid, handle);
	struct fanotify_event_info_header h;
	for (size_t off = metadata_len; off + sizeof(h) <= len; off += h.len) {
		memcpy(&h, p + off, sizeof(h));
		if (h.len < sizeof(h) || off + h.len > len)
			break;
		if (h.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME &&
		    h.info_type != FAN_EVENT_INFO_TYPE_DFID)
			continue;
		struct file_handle fh;
		if (fid_len + sizeof(fh) > h.len)
			break;
		memcpy(&fh, p + off + fid_len, sizeof(fh));
		size_t at = off + fid_len + sizeof(fh);
		if (at + fh.handle_bytes > off + h.len)
			break;
		e->handle_type = fh.handle_type;
		e->handle_len = fh.handle_bytes;
		e->handle = (const unsigned char *)p + at;
		at += fh.handle_bytes;
		e->name = NULL;
		if (h.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
		    memchr(p + at, '\0', off + h.len - at))
			e->name = p + at;
		return 0;
	}
	return -1;
}

/* Tell the kernel to forget what it cached of a change. */
static void invalidate(struct watch *w, const struct watch_event *e,
		       int changed, uint64_t dir_id, uint64_t ino)
{
	struct fuse_session *se = w->fs->se;
	int named = e->name && strcmp(e->name, ".");
	if (named && ((e->mask & NAME_EVENTS) || (changed & BACKING_NAME))) {
		fuse_lowlevel_notify_inval_entry(se, dir_id, e->name,
						 strlen(e->name));
		fuse_lowlevel_notify_inval_inode(se, dir_id, -1, 0);
	}
	if (!named)
		fuse_lowlevel_notify_inval_inode(se, dir_id, -1, 0);
	/* A mapping's contents changed (its writer wrote or closed it), or
	 * only its attributes: the kernel drops its pages only for the
	 * first. */
	if (ino && (e->mask & (DATA_EVENTS | FAN_ATTRIB)))
		fuse_lowlevel_notify_inval_inode(
		    se, ino, (e->mask & DATA_EVENTS) ? 0 : -1, 0);
}

static void take_event(struct watch *w, const struct watch_event *e)
{
	struct registry *reg = w->fs->reg;
	if (e->mask & FAN_Q_OVERFLOW) {
		registry_backing_lost(reg);
		w->fs->log(w->fs->log_ctx, LOG_WARNING,
			   "backing directory: events lost; listings are read "
			   "again at their next opendir");
		return;
	}
	if (e->pid == w->self || !e->handle)
		return; /* the core made this change itself; or no place */
	uint64_t dir_id, ino;
	int data_only = !(e->mask & ~(uint64_t)(DATA_EVENTS | FAN_ONDIR));
	int changed = registry_backing_event(reg, e->handle_type, e->handle,
					     e->handle_len, e->name, data_only,
					     &dir_id, &ino);
	if (changed >= 0)
		invalidate(w, e, changed, dir_id, ino);
}

/* Take every event of the len bytes read into buf. */
static void take_events(void *ctx, const char *buf, size_t len)
{
	struct watch *w = ctx;
	struct fanotify_event_metadata m;
	for (size_t off = 0; off + sizeof(m) <= len; off += m.event_len) {
		memcpy(&m, buf + off, sizeof(m));
		if (m.event_len < sizeof(m) || off + m.event_len > len)
			break;
		if (m.vers != FANOTIFY_METADATA_VERSION)
			continue;
		struct watch_event e = {.mask = m.mask, .pid = m.pid};
		if (event_place(buf + off, m.metadata_len, m.event_len, &e) < 0)
			e.handle = NULL;
		take_event(w, &e);
	}
}

int watch_start(struct watch *w, struct shmapfs *fs)
{
	w->self = getpid();
	w->fs = fs;
	w->reader.take = take_events;
	w->reader.ctx = w;
	/* Let events gather: most are the daemon's own (a create, a
	 * truncate), and one read of many costs less than a wake-up each;
	 * others' changes wait at most this long. */
	w->reader.pause_ns = WATCH_GATHER_NS;
	return fan_thread_start(&w->reader);
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	fan_thread_free(&w->reader);
	free(w);
}
