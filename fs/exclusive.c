/*
 * Exclusive backing files: a fanotify group that refuses opens of in-use
 * backing files by anyone but the daemon, and its listener; see
 * exclusive.h.
 */
#include "exclusive.h"
#include "fan_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Passthrough opens in flight at once: one per FUSE worker is the norm;
 * past this the oldest expectation is dropped (its open is refused). */
#define TOKENS_MAX 256
/* The kernel opens the backing file right after our reply; an expectation
 * older than this belongs to an open that never got there. */
#define TOKEN_TTL_NS (5 * 1000000000ULL)

/* One passthrough open the kernel is about to make for thread tid. */
struct token {
	pid_t tid;
	dev_t dev;
	ino_t ino;
	uint64_t at; /* CLOCK_MONOTONIC, ns */
};

struct exclusive {
	/* The fanotify group and its listener, started by exclusive_start
	 * before any guard. */
	struct fan_thread listener;
	pid_t self; /* the daemon's pid; set by exclusive_start */
	/* Tests: the guard that fails (SHMAPFS_TEST_FAIL_GUARD), 0: none;
	 * immutable. guards counts the guards tried. */
	unsigned fail_guard;
	atomic_uint guards;
	/* The mount whose opens raise no event (exclusive_pass_mount), 0 if
	 * none; set before the listener starts. */
	uint64_t passed_mnt;

	pthread_mutex_t lock; /* guards tokens, ntokens; never held while
			       * anything waits on an open */
	struct token tokens[TOKENS_MAX]; /* oldest first */
	size_t ntokens;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Drop expectations past their time (lock held). */
static void tokens_expire_locked(struct exclusive *ex, uint64_t now)
{
	size_t keep = 0;
	while (keep < ex->ntokens && now - ex->tokens[keep].at > TOKEN_TTL_NS)
		keep++;
	if (keep == 0)
		return;
	memmove(ex->tokens, ex->tokens + keep,
		(ex->ntokens - keep) * sizeof(*ex->tokens));
	ex->ntokens -= keep;
}

/* Where fd's file is: device, inode, and the mount it was opened on. */
static int file_id(int fd, dev_t *dev, ino_t *ino, uint64_t *mnt)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx) < 0)
		return -errno;
	*dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	*ino = stx.stx_ino;
	*mnt = stx.stx_mask & STATX_MNT_ID ? stx.stx_mnt_id : 0;
	return 0;
}

int exclusive_expect(struct exclusive *ex, pid_t tid, int fd)
{
	dev_t dev;
	ino_t ino;
	uint64_t mnt;
	int res = file_id(fd, &dev, &ino, &mnt);
	if (res < 0)
		return res;
	/* The kernel's open of it raises no event: an expectation would
	 * let the thread's next open of the file through instead. */
	if (ex->passed_mnt && mnt == ex->passed_mnt)
		return 0;
	uint64_t now = now_ns();
	pthread_mutex_lock(&ex->lock);
	tokens_expire_locked(ex, now);
	if (ex->ntokens == TOKENS_MAX) {
		memmove(ex->tokens, ex->tokens + 1,
			(TOKENS_MAX - 1) * sizeof(*ex->tokens));
		ex->ntokens--;
	}
	ex->tokens[ex->ntokens++] = (struct token){tid, dev, ino, now};
	pthread_mutex_unlock(&ex->lock);
	return 0;
}

/* Whether tid was expected to open fd's file; the expectation is used up. */
static int token_take(struct exclusive *ex, pid_t tid, int fd)
{
	struct stat st;
	int found = 0;
	pthread_mutex_lock(&ex->lock);
	tokens_expire_locked(ex, now_ns());
	if (ex->ntokens && fstat(fd, &st) == 0) {
		for (size_t i = 0; i < ex->ntokens && !found; i++) {
			struct token *t = &ex->tokens[i];
			if (t->tid != tid || t->ino != st.st_ino ||
			    t->dev != st.st_dev)
				continue;
			memmove(t, t + 1, (ex->ntokens - i - 1) * sizeof(*t));
			ex->ntokens--;
			found = 1;
		}
	}
	pthread_mutex_unlock(&ex->lock);
	return found;
}

/* Whether tid is one of the daemon's own threads. */
static int own_thread(const struct exclusive *ex, pid_t tid)
{
	return tid > 0 && syscall(SYS_tgkill, ex->self, tid, 0) == 0;
}

static void answer(struct exclusive *ex,
		   const struct fanotify_event_metadata *m)
{
	if (m->fd < 0) /* a queue overflow: cannot happen, unlimited */
		return;
	pid_t tid = (pid_t)m->pid;
	int allow = own_thread(ex, tid) || token_take(ex, tid, m->fd);
	struct fanotify_response r = {
	    .fd = m->fd,
	    .response = allow ? FAN_ALLOW : FAN_DENY,
	};
	while (write(ex->listener.group, &r, sizeof(r)) < 0 && errno == EINTR)
		;
	close(m->fd);
}

/*
 * Give the listener a descriptor table of its own. The kernel puts each
 * event's descriptor in the reader's table, and cannot deliver (so denies)
 * an event when that fails: the daemon's table may be full (mappings in
 * use at once are bounded by RLIMIT_NOFILE, which limits descriptor
 * numbers; ours stay low). The copies of the daemon's descriptors that
 * come with the new table are closed, or they would keep what they refer
 * to (the backing directory's lock, /dev/fuse) open as long as we run.
 */
static void own_fd_table(void *ctx)
{
	const struct exclusive *ex = ctx;
	int group = ex->listener.group, stop = ex->listener.stop;
	if (unshare(CLONE_FILES) < 0)
		return; /* then we share the daemon's */
	unsigned lo = (unsigned)(group < stop ? group : stop);
	unsigned hi = (unsigned)(group < stop ? stop : group);
	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
}

/* Answer every event of one read (permission events carry no records:
 * each is a bare, aligned fanotify_event_metadata). */
static void answer_all(void *ctx, const char *buf, size_t size)
{
	ssize_t len = (ssize_t)size;
	const struct fanotify_event_metadata *m = (const void *)buf;
	for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len))
		if (m->vers == FANOTIFY_METADATA_VERSION)
			answer(ctx, m);
}

const char *exclusive_unavailable_why(int err)
{
	switch (err) {
	case -EPERM:
		return "needs CAP_SYS_ADMIN";
	case -ENOSYS:
		return "the kernel has no fanotify";
	case -EINVAL:
		return "the kernel has no fanotify permission events";
	default:
		return "cannot start fanotify";
	}
}

/* The guard that tests ask to fail (see exclusive.h), or 0. */
static unsigned guard_to_fail(void)
{
	const char *v = getenv("SHMAPFS_TEST_FAIL_GUARD");
	return v ? (unsigned)strtoul(v, NULL, 10) : 0;
}

int exclusive_new(struct exclusive **out)
{
	struct exclusive *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->fail_guard = guard_to_fail();
	/* Unlimited: a full queue would let permission events through. */
	int group = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC |
				      FAN_NONBLOCK | FAN_REPORT_TID |
				      FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
				  O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	int res = fan_thread_init(&ex->listener, group < 0 ? -errno : group);
	if (res < 0) {
		free(ex);
		return res;
	}
	res = -pthread_mutex_init(&ex->lock, NULL);
	if (res < 0) {
		fan_thread_free(&ex->listener);
		free(ex);
		return res;
	}
	ex->listener.begin = own_fd_table;
	ex->listener.take = answer_all;
	ex->listener.ctx = ex;
	*out = ex;
	return 0;
}

int exclusive_start(struct exclusive *ex)
{
	ex->self = getpid();
	return fan_thread_start(&ex->listener);
}

void exclusive_free(struct exclusive *ex)
{
	if (!ex)
		return;
	/* Opens still waiting are allowed as the group closes. */
	fan_thread_free(&ex->listener);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}

int exclusive_guard(void *ctx, int fd)
{
	struct exclusive *ex = ctx;
	if (!ex->listener
		 .started) /* nobody would answer: the mount says unavailable */
		return 0;
	if (ex->fail_guard &&
	    atomic_fetch_add(&ex->guards, 1) + 1 == ex->fail_guard)
		return -ENOSPC;
	if (fanotify_mark(ex->listener.group, FAN_MARK_ADD, FAN_OPEN_PERM, fd,
			  NULL) < 0)
		return -errno;
	return 0;
}

int exclusive_pass_mount(struct exclusive *ex, int fd)
{
	dev_t dev;
	ino_t ino;
	uint64_t mnt;
	int res = file_id(fd, &dev, &ino, &mnt);
	if (res == 0 && !mnt)
		res = -EOPNOTSUPP; /* no mount ids: expectations do it all */
	/* SURV_MODIFY: else the first write through the mount clears it. */
	if (res == 0 && fanotify_mark(ex->listener.group,
				      FAN_MARK_ADD | FAN_MARK_MOUNT |
					  FAN_MARK_IGNORED_MASK |
					  FAN_MARK_IGNORED_SURV_MODIFY,
				      FAN_OPEN_PERM, fd, NULL) < 0)
		res = -errno;
	if (res == 0)
		ex->passed_mnt = mnt;
	return res;
}

void exclusive_unguard(void *ctx, int fd)
{
	struct exclusive *ex = ctx;
	fanotify_mark(ex->listener.group, FAN_MARK_REMOVE, FAN_OPEN_PERM, fd,
		      NULL);
}
