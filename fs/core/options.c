/*
 * Parsing of shmapfs's own mount options; see options.h.
 */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void options_init(struct shmapfs_options *o, uint64_t ram_bytes, uid_t uid,
		  gid_t gid)
{
	memset(o, 0, sizeof(*o));
	o->size = ram_bytes / 2;
	o->nr_mappings = ram_bytes / 8192 ? ram_bytes / 8192 : 1024;
	o->mode = 01777;
	o->passthrough = 1;
	o->sparse = 1;
	o->exclusive = 1;
	o->huge = "never";
	o->poll_us = 50;
	o->uid = uid;
	o->gid = gid;
}

void options_free(struct shmapfs_options *o)
{
	free(o->fuse_opts);
	o->fuse_opts = NULL;
	o->fuse_opts_len = 0;
}

/* Parse an unsigned decimal number with no sign and no junk. */
static int parse_u64(const char *s, int base, uint64_t *out)
{
	/* Digits only: strtoull would skip white space and take a sign. */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int options_parse_size(const char *s, uint64_t ram_bytes, uint64_t *out)
{
	size_t len = strlen(s);
	if (len == 0 || len > 32)
		return -EINVAL;
	char digits[33];
	memcpy(digits, s, len + 1);
	uint64_t mult = 1;
	int percent = 0;
	switch (digits[len - 1]) {
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		break;
	case 't':
	case 'T':
		mult = 1ULL << 40;
		break;
	case '%':
		percent = 1;
		break;
	default:
		mult = 0;
		break;
	}
	if (mult != 0 || percent)
		digits[len - 1] = '\0';
	else
		mult = 1;
	uint64_t v;
	if (parse_u64(digits, 10, &v) < 0 || v == 0)
		return -EINVAL;
	if (percent) {
		if (v > 100)
			return -EINVAL;
		*out = ram_bytes / 100 * v;
		return *out ? 0 : -EINVAL;
	}
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int parse_id(const char *s, uint32_t *out)
{
	uint64_t v;
	if (parse_u64(s, 10, &v) < 0 || v >= UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int append_fuse_opt(struct shmapfs_options *o, const char *opt,
			   size_t len)
{
	size_t need = o->fuse_opts_len + (o->fuse_opts_len ? 1 : 0) + len;
	char *p = realloc(o->fuse_opts, need + 1);
	if (!p)
		return -ENOMEM;
	if (o->fuse_opts_len)
		p[o->fuse_opts_len++] = ',';
	memcpy(p + o->fuse_opts_len, opt, len);
	p[need] = '\0';
	o->fuse_opts = p;
	o->fuse_opts_len = need;
	return 0;
}

/*
 * A quota option (see quota.h): 0, -EINVAL, or 1 if key is none. As on
 * tmpfs, a limit without usrquota (grpquota) is taken and has no effect;
 * a limit is a size as size= takes it, a count of mappings a number with
 * an optional k, m, g suffix; neither may be 0.
 */
static int parse_quota(struct shmapfs_options *o, const char *key,
		       const char *val, uint64_t ram_bytes)
{
	struct quota_config *q = &o->quota;
	int usr = !strncmp(key, "usrquota", 8);
	if (!usr && strncmp(key, "grpquota", 8))
		return 1;
	struct quota_limits *l = usr ? &q->usr_limit : &q->grp_limit;
	const char *what = key + 8;
	int res = 0;
	if (!*what)
		res = val ? -EINVAL : 0;
	else if (!strcmp(what, "_block_hardlimit"))
		res = val ? options_parse_size(val, ram_bytes, &l->bytes)
			  : -EINVAL;
	else if (!strcmp(what, "_inode_hardlimit"))
		res = val ? options_parse_size(val, 0, &l->mappings) : -EINVAL;
	else
		return 1;
	if (res == 0 && !*what)
		*(usr ? &q->usr : &q->grp) = 1;
	o->quota_given = 1;
	return res;
}

/* Parse one "key" or "key=value" option; 1 if it is not ours. */
static int parse_one(struct shmapfs_options *o, const char *key,
		     const char *val, uint64_t ram_bytes)
{
	uint64_t v;
	uint32_t id;
	int quota = parse_quota(o, key, val, ram_bytes);
	if (quota <= 0)
		return quota;
	if (!strcmp(key, "size")) {
		o->size_given = 1;
		return val ? options_parse_size(val, ram_bytes, &o->size)
			   : -EINVAL;
	} else if (!strcmp(key, "nr_mappings") || !strcmp(key, "nr_inodes")) {
		if (!val || parse_u64(val, 10, &v) < 0 || v == 0)
			return -EINVAL;
		o->nr_mappings = v;
		o->nr_mappings_given = 1;
	} else if (!strcmp(key, "mode")) {
		if (!val || parse_u64(val, 8, &v) < 0 || v > 07777)
			return -EINVAL;
		o->mode = (mode_t)v;
		o->root_attrs_set = 1;
	} else if (!strcmp(key, "uid") || !strcmp(key, "gid")) {
		if (!val || parse_id(val, &id) < 0)
			return -EINVAL;
		if (key[0] == 'u')
			o->uid = id;
		else
			o->gid = id;
		o->root_attrs_set = 1;
	} else if (!strcmp(key, "fault_write") ||
		   !strcmp(key, "fault_resize")) {
		if (!val || parse_u64(val, 10, &v) < 0 || v > UINT32_MAX)
			return -EINVAL;
		if (key[6] == 'w')
			o->fault_write = (unsigned)v;
		else
			o->fault_resize = (unsigned)v;
	} else if (!strcmp(key, "writeback_cache") && !val) {
		o->writeback_cache = 1;
	} else if (!strcmp(key, "no_writeback_cache") && !val) {
		o->writeback_cache = 0;
	} else if (!strcmp(key, "poll_us")) {
		if (!val || parse_u64(val, 10, &v) < 0 || v > 1000000)
			return -EINVAL;
		o->poll_us = (unsigned)v;
	} else if (!strcmp(key, "commit")) {
		if (!val || (strcmp(val, "sparse") && strcmp(val, "committed")))
			return -EINVAL;
		o->sparse = val[0] == 's';
	} else if (!strcmp(key, "huge")) {
		static const char *const policies[] = {"never", "always",
						       "within_size", "advise"};
		for (size_t i = 0; val && i < 4; i++)
			if (!strcmp(val, policies[i]))
				o->huge = policies[i];
		if (!val || strcmp(o->huge, val))
			return -EINVAL;
	} else if (!strcmp(key, "passthrough") && !val) {
		o->passthrough = 1;
	} else if (!strcmp(key, "nopassthrough") && !val) {
		o->passthrough = 0;
	} else if (!strcmp(key, "exclusive") && !val) {
		o->exclusive = 1;
	} else if (!strcmp(key, "noexclusive") && !val) {
		o->exclusive = 0;
	} else if (!strcmp(key, "ro") && !val) {
		o->read_only = 1;
		return 1; /* libfuse must see it too: a read-only mount */
	} else if (!strcmp(key, "rw") && !val) {
		o->read_only = 0;
		return 1;
	} else {
		return 1;
	}
	return 0;
}

int options_parse(struct shmapfs_options *o, const char *list,
		  uint64_t ram_bytes, char *err, size_t errlen)
{
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len > 4096) {
			snprintf(err, errlen,
				 "empty or overlong option in '%s'", list);
			return -EINVAL;
		}
		char opt[4097];
		memcpy(opt, p, len);
		opt[len] = '\0';
		char *eq = strchr(opt, '=');
		if (eq)
			*eq = '\0';
		int r = parse_one(o, opt, eq ? eq + 1 : NULL, ram_bytes);
		if (eq)
			*eq = '=';
		if (r < 0) {
			snprintf(err, errlen, "bad value in option '%s'", opt);
			return -EINVAL;
		}
		if (r == 1 && append_fuse_opt(o, opt, len) < 0) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		p += len + (comma ? 1 : 0);
	}
	return 0;
}
