/*
 * struct shmapfs: the daemon's state, shared by the FUSE glue (fuse_ops.c,
 * fuse_io.c, passthrough.c) and set up by main.c. It is the session's
 * userdata.
 */
#ifndef SHMAPFS_SHMAPFS_H
#define SHMAPFS_SHMAPFS_H

#include <fuse_lowlevel.h>

#include "exclusive.h"
#include "fuse_io.h"
#include "registry.h"
#include "watch.h"

struct shmapfs {
	struct registry *reg;	 /* the core; thread-safe on its own */
	int sync_error;		 /* set once, by destroy */
	int writeback_cache;	 /* ask the kernel to buffer write() */
	struct fuse_io io;	 /* /dev/fuse hooks; see fuse_io.h */
	struct fuse_session *se; /* set before the loop starts */
	/* Refuses others' opens of in-use backing files; NULL: not
	 * enforced. Set before the loop starts. */
	struct exclusive *exclusive;
	char exclusive_state[64]; /* "on", "off (why)", "unavailable (why)" */
	/* Reports others' changes of the backing directory; NULL: none.
	 * Set before the loop starts. */
	struct watch *watch;
	/* How long the kernel keeps entries and attributes, in seconds:
	 * long, unless another may change the backing directory unseen
	 * (actimeo=, or no watcher). Set before the loop starts. */
	double timeout;
	/* "passthrough" or "fallback (why)", for the log and the root's
	 * user.shmap.data_path; written once, before the INIT reply goes
	 * out, so before any request that reads it. */
	char data_path[160];
	/* Where the glue reports events (as registry_config.log). */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

#endif
