/*
 * The FUSE low-level operations table of shmapfs and the private data its
 * handlers reach through fuse_req_userdata().
 */
#ifndef SHMAPFS_FUSE_OPS_H
#define SHMAPFS_FUSE_OPS_H

#include <fuse_lowlevel.h>

#include "exclusive.h"
#include "fuse_io.h"
#include "registry.h"

/* max_write and max_readahead: the largest request, 256 pages. */
#define MAX_REQUEST_KB 1024u

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
	/* "passthrough" or "fallback (why)", for the log and the root's
	 * user.shmap.data_path; written once, before the INIT reply goes
	 * out, so before any request that reads it. */
	char data_path[160];
	/* Where the glue reports events (as registry_config.log). */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

extern const struct fuse_lowlevel_ops shmapfs_ops;

#endif
