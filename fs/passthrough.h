/*
 * FUSE passthrough (Linux 6.9 and later): the kernel serves read(),
 * write() and views of an open mapping straight from its store, as if the
 * caller had opened the memfd or backing file itself. The daemon still
 * answers every name, open, attribute and size change.
 *
 * The daemon registers a store's descriptor with the kernel once
 * (FUSE_DEV_IOC_BACKING_OPEN, which needs CAP_SYS_ADMIN), gets a handle,
 * and names that handle in its reply to each OPEN or CREATE. libfuse 3.14
 * knows none of this, so those replies are built here and sent with
 * fuse_reply_iov(). Where the kernel does not offer passthrough, or
 * refuses a store, mappings are served by the daemon as before.
 */
#ifndef SHMAPFS_PASSTHROUGH_H
#define SHMAPFS_PASSTHROUGH_H

#include <fuse_lowlevel.h>

/* INIT flag, newer than libfuse 3.14 and bookworm's <linux/fuse.h>
 * (FUSE 7.40); the rest of 7.40 that we use is in passthrough.c. */
#define SHMAPFS_FUSE_PASSTHROUGH (1ULL << 37)
/* How deep stacked filesystems may be under ours: stores sit on tmpfs or
 * on the backing directory's filesystem, which are not stacked. */
#define SHMAPFS_MAX_STACK_DEPTH 1

/*
 * Whether this process may register stores with the kernel: it has
 * CAP_SYS_ADMIN in its effective set. For options_check(), which decides
 * the data path.
 */
int passthrough_privileged(void);

/* registry_config.share_store / unshare_store; ctx is the struct shmapfs. */
int passthrough_share(void *ctx, int fd);
void passthrough_unshare(void *ctx, int handle);

/* fuse_reply_open() and fuse_reply_create(), naming a passthrough handle. */
int passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
			   int handle);
int passthrough_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			     const struct fuse_file_info *fi, int handle);

#endif
