/*
 * Mount options that shmapfs itself understands, in one table (options.c):
 * each option's name, kind, field, default and help line. usage() and the
 * option list of shmapfs(8) follow the table (check_options.c checks the
 * man page against it); every other option is passed on to libfuse
 * untouched. The rules between options (options_check()) and their
 * translation into the registry's configuration (options_to_config()) live
 * here too, each in one function. No FUSE headers here, so that the parser
 * can be unit-tested and fuzzed on its own.
 *
 * Adding an option: a row in the table (and a field if it needs one), the
 * code that acts on it, its test in check_options.c, its lines in
 * shmapfs(8).
 */
#ifndef SHMAPFS_OPTIONS_H
#define SHMAPFS_OPTIONS_H

#include "core.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct registry_config;

/*
 * Which data path a mount asks for, and why: decided once, by
 * options_check(), and passed down to the FUSE glue (whether to ask the
 * kernel for passthrough) and to the core (options_to_config()). The
 * kernel may still refuse passthrough when the mount starts (fuse_io.c).
 */
struct data_path {
	int passthrough;      /* ask the kernel to serve data from stores */
	const char *why;      /* if not, why not, in words for the log */
	int sees_every_write; /* every write must reach the daemon, which
			       * counts each page (quotas) */
};

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
	unsigned actimeo;      /* s a cached answer about the backing
				* directory may be trusted (file-backed) */
	int actimeo_given;     /* actimeo= was given */
	int shared;	       /* shared: others change the directory
				* unseen; actimeo defaults to
				* SHARED_ACTIMEO_S */
	unsigned fault_write;  /* fail every store's Nth write (tests) */
	unsigned fault_resize; /* fail every store's Nth resize (tests) */
	struct quota_config quota; /* usrquota, grpquota, *_hardlimit= */
	int quota_given;	   /* any of them (memory-backed only) */
	struct data_path path;	   /* decided by options_check() */
	char *fuse_opts;	   /* options for libfuse, comma-separated */
	size_t fuse_opts_len;	   /* strlen(fuse_opts) */
};

/* actimeo, in seconds, of a mount with -o shared and no actimeo=. */
#define SHARED_ACTIMEO_S 3

/* What a value looks like, and the type of the field it goes to. */
enum option_kind {
	OPT_FLAG,   /* no value; sets the field (int) to arg */
	OPT_SIZE,   /* N[k|m|g|t|%]: bytes, or a share of RAM (uint64_t) */
	OPT_AMOUNT, /* N[k|m|g|t]: a count, not 0 (uint64_t) */
	OPT_COUNT,  /* N, decimal, not 0 (uint64_t) */
	OPT_UINT,   /* N, decimal, at most arg (unsigned) */
	OPT_MODE,   /* octal, at most 07777 (mode_t) */
	OPT_ID,	    /* a uid or gid, not -1 (uid_t, gid_t) */
	OPT_ENUM,   /* one of words; the field (int) is its index */
	OPT_WORD,   /* one of words; the field (const char *) points to it */
};

/* option_spec.marks */
enum {
	OPT_QUOTA = 1 << 0,    /* a flag with a value is refused, not
				* libfuse's (as tmpfs has it) */
	OPT_FUSE_TOO = 1 << 1, /* libfuse sees it too (ro, rw) */
	OPT_COMPUTED = 1 << 2, /* the default depends on the machine or
				* the caller: options_init() sets it */
};

/* One row of the table. */
struct option_spec {
	const char *name;
	enum option_kind kind;
	size_t field;		  /* offsetof(struct shmapfs_options, ...) */
	size_t given;		  /* of an int set to 1 when the option is
				   * given; 0: none (offset 0 is size) */
	uint64_t arg;		  /* OPT_FLAG: the value; OPT_UINT: the most */
	const char *const *words; /* OPT_ENUM, OPT_WORD; NULL-terminated */
	unsigned marks;		  /* OPT_* above */
	/* The default, as a value of this option (an OPT_FLAG row that
	 * is the default says "yes"), or in words if OPT_COMPUTED; NULL:
	 * none of its own. */
	const char *def;
	/* One line for usage() and a head line in shmapfs(8)'s OPTIONS;
	 * NULL: not documented there (aliases, tests, the default half of
	 * a pair). */
	const char *help;
};

/* The table, and its number of rows. */
const struct option_spec *options_table(size_t *count);

/*
 * Defaults as tmpfs has them: size 50% of ram_bytes, nr_mappings one per
 * two pages of RAM, mode 1777, owned by uid/gid (the mounting user); the
 * others as the table says.
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

/* What the daemon knows of where it runs, for options_check(). */
struct mount_facts {
	int file_backed; /* a backing directory was given */
	int privileged;	 /* may register stores with the kernel
			  * (CAP_SYS_ADMIN) */
};

/*
 * The rules between options, and between options and the mount, in one
 * place: quotas need a memory-backed mount. Decides o->path: no
 * passthrough with nopassthrough, writeback_cache (the kernel refuses the
 * two together), quotas (the daemon must count every write), or an
 * unprivileged daemon. Returns 0, or -EINVAL with a one-line reason in err.
 */
int options_check(struct shmapfs_options *o, const struct mount_facts *m,
		  char *err, size_t errlen);

/*
 * The registry's configuration as the options ask for it; what the
 * options do not say is 0, with no backing directory and no store
 * directory (-1): the caller adds descriptors, hooks and logging.
 */
void options_to_config(const struct shmapfs_options *o,
		       struct registry_config *cfg);

/* One line per documented option (help), for usage(). */
void options_usage(FILE *to);

/* Free what options_parse allocated. */
void options_free(struct shmapfs_options *o);

/*
 * Parse a size: digits with an optional k, m, g, t suffix (powers of 1024)
 * or a % of ram_bytes. Returns 0 or -EINVAL (also on overflow or 0).
 */
int options_parse_size(const char *s, uint64_t ram_bytes, uint64_t *out);

#endif
