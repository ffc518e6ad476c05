/*
 * The daemon's side of /dev/fuse; see fuse_io.h.
 */
#include "fuse_io.h"
#include "shmapfs.h"
#include "passthrough.h"

#include <errno.h>
#include <stdio.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

/* A request served longer than this lets another worker read. */
#define READER_TAKEOVER_MS 10

/* FUSE_TMPFILE came with protocol 7.37. */
#define TMPFILE_MINOR 37

/* For tests: the daemon leaves FUSE_TMPFILE to libfuse, as a daemon on a
 * kernel without it would (fuse_io.h). */
static int tmpfile_fenced(void)
{
	return getenv("SHMAPFS_TEST_NO_TMPFILE") != NULL;
}

/* Note INIT's unique id and the kernel's offer as the request goes by. */
static void watch_request(struct fuse_io *io, const void *buf, ssize_t len)
{
	const struct fuse_in_header *in = buf;
	if (len < (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags) +
			    sizeof(uint32_t)) ||
	    in->opcode != FUSE_INIT)
		return;
	const struct fuse_init_in *init = (const void *)(in + 1);
	uint64_t flags = init->flags;
	if ((flags & FUSE_INIT_EXT) &&
	    len >= (ssize_t)(sizeof(*in) + sizeof(*init)))
		flags |= (uint64_t)init->flags2 << 32;
	atomic_store(&io->kernel_flags, flags);
	atomic_store(&io->tmpfile, init->major == FUSE_KERNEL_VERSION &&
				       init->minor >= TMPFILE_MINOR &&
				       !tmpfile_fenced());
	atomic_store(&io->init_unique, in->unique);
}

/* libfuse hands the hooks the session's userdata: our struct shmapfs. */
static struct fuse_io *io_of(void *userdata)
{
	return &((struct shmapfs *)userdata)->io;
}

/* The struct shmapfs that holds io (see fuse_io_install()). */
static struct shmapfs *fs_of(struct fuse_io *io)
{
	return (struct shmapfs *)((char *)io - offsetof(struct shmapfs, io));
}

/* The argument of a request, if the request is long enough to hold it. */
static void *request_arg(void *buf, ssize_t len, size_t size)
{
	if (len < (ssize_t)(sizeof(struct fuse_in_header) + size))
		return NULL;
	return (struct fuse_in_header *)buf + 1;
}

/* Carry the kernel's "kill set-ID bits" into fi->flags (see fuse_io.h). */
static void carry_kill_flag(void *buf, ssize_t len)
{
	const struct fuse_in_header *in = buf;
	struct fuse_write_in *w;
	struct fuse_open_in *o;
	struct fuse_create_in *c;
	switch (in->opcode) {
	case FUSE_WRITE:
		w = request_arg(buf, len, sizeof(*w));
		if (w && (w->write_flags & FUSE_WRITE_KILL_SUIDGID))
			w->flags |= SHMAPFS_O_KILL_SUIDGID;
		break;
	case FUSE_OPEN:
		o = request_arg(buf, len, sizeof(*o));
		if (o && (o->open_flags & FUSE_OPEN_KILL_SUIDGID))
			o->flags |= SHMAPFS_O_KILL_SUIDGID;
		break;
	case FUSE_CREATE:
		c = request_arg(buf, len, sizeof(*c));
		if (c && (c->open_flags & FUSE_OPEN_KILL_SUIDGID))
			c->flags |= SHMAPFS_O_KILL_SUIDGID;
		break;
	}
}

/* FUSE_TMPFILE, which libfuse 3.14 does not know, as the CREATE it is
 * but for the name, marked in the open flags (see fuse_io.h). */
static void tmpfile_as_create(void *buf, ssize_t len)
{
	struct fuse_in_header *in = buf;
	struct fuse_create_in *c = request_arg(buf, len, sizeof(*c));
	if (in->opcode != FUSE_TMPFILE || !c)
		return;
	in->opcode = FUSE_CREATE;
	c->flags |= SHMAPFS_O_TMPFILE;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fuse_io *io = io_of(userdata);
	ssize_t r = reader_read(&io->reader, fd, buf, len);
	if (r > 0 && atomic_load(&io->init_unique) == 0)
		watch_request(io, buf, r);
	if (r > 0 && atomic_load(&io->killpriv_v2))
		carry_kill_flag(buf, r);
	if (r > 0 && atomic_load(&io->tmpfile))
		tmpfile_as_create(buf, r);
	return r;
}

/* Say once, in the log, which data path the mount took and why: users
 * (and make check) need to know which guarantees and speed they get. */
static void report_data_path(struct shmapfs *fs)
{
	struct fuse_io *io = &fs->io;
	char msg[sizeof(fs->data_path) + 16];
	if (atomic_load(&io->passthrough))
		snprintf(fs->data_path, sizeof(fs->data_path), "passthrough");
	else
		snprintf(fs->data_path, sizeof(fs->data_path), "fallback (%s)",
			 !io->want_passthrough
			     ? io->no_passthrough_why
			     : "the kernel offers no passthrough: Linux 6.9 or "
			       "later has it");
	snprintf(msg, sizeof(msg), "data path: %s", fs->data_path);
	fs->log(fs->log_ctx, LOG_INFO, msg);
	fs->log(fs->log_ctx, LOG_INFO,
		atomic_load(&io->tmpfile)
		    ? "O_TMPFILE: on"
		    : "O_TMPFILE: off (the kernel has no FUSE_TMPFILE, or a "
		      "test fenced it)");
}

/* Add FUSE_HANDLE_KILLPRIV_V2 to a successful INIT reply; 1 if this was
 * the reply to INIT. */
static int amend_init_reply(struct fuse_io *io, struct iovec *iov, int count)
{
	uint64_t unique = atomic_load(&io->init_unique);
	if (!unique || count < 2 ||
	    iov[0].iov_len < sizeof(struct fuse_out_header))
		return 0;
	struct fuse_out_header *out = iov[0].iov_base;
	if (out->unique != unique)
		return 0;
	atomic_store(&io->init_unique, UINT64_MAX); /* done, either way */
	struct fuse_init_out *init = iov[1].iov_base;
	if (out->error != 0 || iov[1].iov_len < sizeof(*init))
		return 1;
	uint64_t offer = atomic_load(&io->kernel_flags);
	if (offer & FUSE_HANDLE_KILLPRIV_V2) {
		init->flags |= FUSE_HANDLE_KILLPRIV_V2;
		atomic_store(&io->killpriv_v2, 1);
	}
	/* The kernel refuses passthrough with writeback caching. */
	if (io->want_passthrough && (offer & SHMAPFS_FUSE_PASSTHROUGH) &&
	    !(init->flags & FUSE_WRITEBACK_CACHE)) {
		init->flags |= FUSE_INIT_EXT;
		init->flags2 |= (uint32_t)(SHMAPFS_FUSE_PASSTHROUGH >> 32);
		init->unused[0] = SHMAPFS_MAX_STACK_DEPTH; /* max_stack_depth */
		atomic_store(&io->passthrough, 1);
	}
	return 1;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_io *io = io_of(userdata);
	if (atomic_load(&io->init_unique) != UINT64_MAX &&
	    amend_init_reply(io, iov, count))
		report_data_path(userdata);
	return writev(fd, iov, count);
}

/* The reader's callbacks: ctx is our struct shmapfs. */
static int session_exited(void *ctx)
{
	struct fuse_session *se = ((struct shmapfs *)ctx)->se;
	return se && fuse_session_exited(se);
}

static void reader_log(void *ctx, int level, const char *msg)
{
	struct shmapfs *fs = ctx;
	fs->log(fs->log_ctx, level, msg);
}

static void reader_gave_up(void *ctx, int err)
{
	struct fuse_io *io = io_of(ctx);
	atomic_store(&io->gave_up, err);
	if (io->give_up)
		io->give_up(io->give_up_ctx);
}

int fuse_io_install(struct fuse_session *se, struct fuse_io *io)
{
	static const struct fuse_custom_io ops = {
	    .read = io_read,
	    .writev = io_writev,
	};
	atomic_init(&io->init_unique, 0);
	atomic_init(&io->kernel_flags, 0);
	atomic_init(&io->killpriv_v2, 0);
	atomic_init(&io->tmpfile, 0);
	atomic_init(&io->passthrough, 0);
	atomic_init(&io->gave_up, 0);
	int res = reader_init(&io->reader, io->poll_us, READER_TAKEOVER_MS);
	if (res < 0)
		return res;
	io->reader.ops = (struct reader_ops){
	    .ctx = fs_of(io),
	    .exited = session_exited,
	    .log = reader_log,
	    .give_up = reader_gave_up,
	};
	int fd = fuse_session_fd(se);
	res = reader_start(&io->reader, fd);
	if (res == 0)
		res = fuse_session_custom_io(se, &ops, fd);
	if (res != 0)
		reader_destroy(&io->reader);
	return res;
}

void fuse_io_destroy(struct fuse_io *io)
{
	reader_destroy(&io->reader);
}
