/*
 * Per-user and per-group quotas of a memory-backed mount, named as tmpfs
 * names them (usrquota, grpquota, usrquota_block_hardlimit=, ...): how
 * many bytes of memory and how many mappings each uid and each gid may
 * hold. The limits are the same for every id but 0 (root), which is
 * counted and never limited. The daemon counts every change itself, so a
 * mount with quotas serves all data through the daemon (no passthrough):
 * see quota.c.
 */
#ifndef SHMAPFS_QUOTA_H
#define SHMAPFS_QUOTA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The root directory's attribute that shows the usage (read-only). */
#define SHMAP_XATTR_QUOTA "user.shmap.quota"

/* One kind of limit; 0: none. */
struct quota_limits {
	uint64_t bytes;	   /* *quota_block_hardlimit= */
	uint64_t mappings; /* *quota_inode_hardlimit= */
};

struct quota_config {
	int usr; /* usrquota: count and limit per uid */
	int grp; /* grpquota: count and limit per gid */
	struct quota_limits usr_limit, grp_limit;
};

/* What one id holds. */
struct quota_use {
	uint32_t id;
	uint64_t bytes;	   /* whole pages */
	uint64_t mappings; /* regular files */
};

/* The ids that hold something, sorted by id. */
struct quota_ids {
	struct quota_use *v;
	size_t n, cap;
};

/* A registry's usage. lock guards users and groups; it is taken after
 * registry.lock and node.lock, and nothing is taken while it is held. */
struct quota_table {
	pthread_mutex_t lock;
	struct quota_ids users;
	struct quota_ids groups;
};

#endif
