/*
 * Mount options that shmapfs itself understands (size=, nr_mappings=,
 * mode=, uid=, gid=, commit=, huge=, ro, [no]exclusive, the quotas
 * usrquota, grpquota and their *_hardlimit=, and the hidden fault-injection
 * options); every other option is passed on to libfuse untouched. No FUSE
 * headers here, so that the parser can be unit-tested and fuzzed on its own.
 */
#ifndef SHMAPFS_OPTIONS_H
#define SHMAPFS_OPTIONS_H

#include "core.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct shmapfs_options {
	uint64_t size;	       /* capacity in bytes (memory-backed) */
	uint64_t nr_mappings;  /* most entries of any kind */
	int size_given;	       /* size= was given */
	int nr_mappings_given; /* nr_mappings= was given */
	mode_t mode;	       /* of the root directory */
	uid_t uid;	       /* of the root directory */
	gid_t gid;	       /* of the root directory */
	int read_only;	       /* ro */
	int root_attrs_set;    /* mode=, uid= or gid= was given */
	int writeback_cache;   /* writeback_cache: kernel buffers write() */
	int passthrough;       /* kernel serves data from stores (default) */
	int sparse;	       /* commit=: new mappings sparse (default) */
	int exclusive;	       /* in-use backing files refuse others' opens
				* (default; noexclusive: off) */
	const char *huge;      /* huge=: tmpfs's huge pages policy (static) */
	unsigned poll_us;      /* a worker polls /dev/fuse this long */
	unsigned fault_write;  /* fail every store's Nth write (tests) */
	unsigned fault_resize; /* fail every store's Nth resize (tests) */
	struct quota_config quota; /* usrquota, grpquota, *_hardlimit= */
	int quota_given;	   /* any of them (memory-backed only) */
	char *fuse_opts;	   /* options for libfuse, comma-separated */
	size_t fuse_opts_len;	   /* strlen(fuse_opts) */
};

/*
 * Defaults as tmpfs has them: size 50% of ram_bytes, nr_mappings one per
 * two pages of RAM, mode 1777, owned by uid/gid (the mounting user).
 */
void options_init(struct shmapfs_options *o, uint64_t ram_bytes, uid_t uid,
		  gid_t gid);

/*
 * Parse one comma-separated option list (as given to -o), in order, later
 * options overriding earlier ones. ram_bytes is what size=N% refers to.
 * Returns 0, or -EINVAL with a one-line reason in err. -ENOMEM too.
 */
int options_parse(struct shmapfs_options *o, const char *list,
		  uint64_t ram_bytes, char *err, size_t errlen);

/* Free what options_parse allocated. */
void options_free(struct shmapfs_options *o);

/*
 * Parse a size: digits with an optional k, m, g, t suffix (powers of 1024)
 * or a % of ram_bytes. Returns 0 or -EINVAL (also on overflow or 0).
 */
int options_parse_size(const char *s, uint64_t ram_bytes, uint64_t *out);

#endif
