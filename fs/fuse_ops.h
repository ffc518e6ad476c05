/*
 * The FUSE low-level operations table of shmapfs. Its handlers reach the
 * daemon's state (struct shmapfs, shmapfs.h) through fuse_req_userdata().
 */
#ifndef SHMAPFS_FUSE_OPS_H
#define SHMAPFS_FUSE_OPS_H

#include <fuse_lowlevel.h>

#include "shmapfs.h"

/* max_write and max_readahead: the largest request, 256 pages. */
#define MAX_REQUEST_KB 1024u

extern const struct fuse_lowlevel_ops shmapfs_ops;

#endif
