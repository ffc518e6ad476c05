/*
 * libFuzzer target: the mount option parser (fs/core/options.c) on
 * arbitrary bytes. The input is split at its first NUL byte: what comes
 * before is given to options_parse() as an -o list, what comes after to
 * options_parse_size() on its own. Besides the sanitizers, it checks what
 * a successful parse promises: values in range, a libfuse option list that
 * is exactly what was not ours, with its length right, and options_check()
 * on the result.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BYTES (8ULL << 30)

/*
 * Known bug (regressions/fuzz_options/size-whitespace-sign): a number that
 * starts with a tab, newline or other space than ' ' gets past the check
 * for signs and junk (strtoull skips it), so "size=\t-1" is 2^64 - 1
 * bytes. Until fixed, such sizes are not compared with the expected one.
 */
#ifndef AVOID_WHITESPACE_BUG
#define AVOID_WHITESPACE_BUG 0
#endif

static void fail(const char *what, const char *input)
{
	fprintf(stderr, "fuzz_options: %s (input '%s')\n", what, input);
	abort();
}

/* What a successful options_parse() must leave behind. */
static void check_parsed(const struct shmapfs_options *o, const char *list,
			 size_t max_fuse_opts)
{
	if (o->size == 0)
		fail("size 0 accepted", list);
	if (o->nr_mappings == 0)
		fail("nr_mappings 0 accepted", list);
	if (o->mode & ~07777)
		fail("mode out of range", list);
	if (o->uid == (uid_t)-1 || o->gid == (gid_t)-1)
		fail("uid or gid -1 accepted", list);
	if (!o->fuse_opts != !o->fuse_opts_len)
		fail("fuse_opts and its length disagree", list);
	if (o->fuse_opts && strlen(o->fuse_opts) != o->fuse_opts_len)
		fail("fuse_opts length is wrong", list);
	if (o->fuse_opts && o->fuse_opts_len > max_fuse_opts)
		fail("fuse_opts longer than the input", list);
	if (o->fuse_opts && (o->fuse_opts[0] == ',' ||
			     o->fuse_opts[o->fuse_opts_len - 1] == ','))
		fail("fuse_opts has an empty option", list);
}

/* Every option passed on to libfuse is one of the input's, in order. */
static void check_fuse_opts_order(const struct shmapfs_options *o,
				  const char *list)
{
	if (!o->fuse_opts)
		return;
	const char *in = list, *pass = o->fuse_opts;
	while (*pass) {
		size_t plen = strcspn(pass, ",");
		for (;;) {
			size_t ilen = strcspn(in, ",");
			if (!*in)
				fail("fuse_opts has an option not given", list);
			int same = ilen == plen && !memcmp(in, pass, plen);
			in += ilen + (in[ilen] ? 1 : 0);
			if (same)
				break;
		}
		pass += plen + (pass[plen] ? 1 : 0);
	}
}

/* Whether options_check() may refuse o on a mount as m says: quotas need
 * memory, actimeo and shared a backing directory, and quotas refuse
 * writeback caching. */
static int refusable(const struct shmapfs_options *o,
		     const struct mount_facts *m)
{
	int quotas = o->quota.usr || o->quota.grp;
	return (m->file_backed && o->quota_given) ||
	       (!m->file_backed && (o->actimeo_given || o->shared)) ||
	       (quotas && o->writeback_cache);
}

/* options_check() on every kind of mount: a data path and its reason
 * agree; a mount is refused, with a reason, only as refusable() says. */
static void check_rules(struct shmapfs_options *o, const char *list)
{
	char err[256];
	for (int facts = 0; facts < 4; facts++) {
		struct mount_facts m = {.file_backed = facts & 1,
					.privileged = facts >> 1};
		err[0] = '\0';
		int res = options_check(o, &m, err, sizeof(err));
		if (res != 0 && (res != -EINVAL || !err[0]))
			fail("options_check failed without a reason", list);
		if (res != 0 && !refusable(o, &m))
			fail("options_check refused a good mount", list);
		if (res == 0 && o->path.passthrough == (o->path.why != NULL))
			fail("data path and its reason disagree", list);
	}
}

static void fuzz_list(const char *list)
{
	struct shmapfs_options o;
	char err[256];
	options_init(&o, RAM_BYTES, 1000, 1000);
	err[0] = '\0';
	int res = options_parse(&o, list, RAM_BYTES, err, sizeof(err));
	if (res != 0 && res != -EINVAL && res != -ENOMEM)
		fail("options_parse returned an unexpected error", list);
	size_t len = strlen(list);
	if (res == 0) {
		check_parsed(&o, list, len);
		check_fuse_opts_order(&o, list);
		check_rules(&o, list);
	} else if (!err[0])
		fail("options_parse failed without a reason", list);
	/* A second parse on top of the first (as with two -o) appends to
	 * the libfuse option list; it must not leak or break. */
	if (res == 0 &&
	    options_parse(&o, list, RAM_BYTES, err, sizeof(err)) == 0)
		check_parsed(&o, list, 2 * len + 1);
	options_free(&o);
	if (o.fuse_opts || o.fuse_opts_len)
		fail("options_free left fuse_opts", list);
}

/*
 * What options_parse_size() must make of s, worked out another way:
 * digits, then at most one of k m g t (powers of 1024) or %, 32 bytes at
 * most; 0 and overflow refused. Returns 0 with *want, or -EINVAL.
 */
static int expected_size(const char *s, uint64_t ram, uint64_t *want)
{
	size_t digits = strspn(s, "0123456789");
	const char *suffix = s + digits;
	if (digits == 0 || strlen(suffix) > 1 || strlen(s) > 32)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < digits; i++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return -EINVAL;
	const char *units = "kKmMgGtT";
	const char *u = *suffix ? strchr(units, *suffix) : NULL;
	if (v == 0 || (*suffix && *suffix != '%' && !u))
		return -EINVAL;
	if (*suffix == '%') {
		*want = ram / 100 * v;
		return v <= 100 && *want ? 0 : -EINVAL;
	}
	uint64_t mult = u ? (uint64_t)1 << (10 * (1 + (u - units) / 2)) : 1;
	return __builtin_mul_overflow(v, mult, want) ? -EINVAL : 0;
}

static void fuzz_size(const char *s)
{
	uint64_t out = 0;
	int res = options_parse_size(s, RAM_BYTES, &out);
	if (res != 0 && res != -EINVAL)
		fail("options_parse_size returned an unexpected error", s);
	if (res == 0 && out == 0)
		fail("options_parse_size accepted 0", s);
	uint64_t want = 0;
	int want_res = expected_size(s, RAM_BYTES, &want);
	if (AVOID_WHITESPACE_BUG && isspace((unsigned char)s[0]))
		want_res = res, want = out;
	if (res != want_res || (res == 0 && out != want))
		fail("options_parse_size disagrees with the expected size", s);
	if (res == 0 && s[strlen(s) - 1] == '%' && out > RAM_BYTES)
		fail("a percentage above 100% of RAM", s);
	/* Small RAM: a percentage that rounds to 0 must be refused. */
	res = options_parse_size(s, 99, &out);
	if (res == 0 && out == 0)
		fail("options_parse_size accepted 0 of a small RAM", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	fuzz_list(copy);
	size_t first = strlen(copy);
	fuzz_size(first < size ? copy + first + 1 : copy);
	free(copy);
	return 0;
}
