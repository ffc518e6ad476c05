/*
 * shmapfs's own mount options: the table (one row per option), its parser,
 * the rules between options and their translation into the registry's
 * configuration; see options.h.
 */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(f) offsetof(struct shmapfs_options, f)

static const char *const commit_words[] = {"committed", "sparse", NULL};
static const char *const huge_words[] = {"never", "always", "within_size",
					 "advise", NULL};

/*
 * Every option of ours, in the order usage() lists them. A row with no
 * help is taken but not documented in usage() or shmapfs(8): an alias,
 * an option for tests, or the default half of a pair.
 */
static const struct option_spec OPTIONS[] = {
    {.name = "size",
     .kind = OPT_SIZE,
     .field = FIELD(size),
     .given = FIELD(size_given),
     .marks = OPT_COMPUTED,
     .def = "50%",
     .help = "capacity of a memory-backed mount"},
    {.name = "nr_mappings",
     .kind = OPT_COUNT,
     .field = FIELD(nr_mappings),
     .given = FIELD(nr_mappings_given),
     .marks = OPT_COMPUTED,
     .def = "one per two pages of RAM",
     .help = "most entries"},
    {.name = "nr_inodes",
     .kind = OPT_COUNT,
     .field = FIELD(nr_mappings),
     .given = FIELD(nr_mappings_given)},
    {.name = "commit",
     .kind = OPT_ENUM,
     .field = FIELD(sparse),
     .words = commit_words,
     .def = "sparse",
     .help = "kind of new mappings"},
    {.name = "huge",
     .kind = OPT_WORD,
     .field = FIELD(huge),
     .words = huge_words,
     .def = "never",
     .help = "huge pages, as tmpfs"},
    {.name = "usrquota",
     .kind = OPT_FLAG,
     .field = FIELD(quota.usr),
     .given = FIELD(quota_given),
     .arg = 1,
     .marks = OPT_QUOTA,
     .help = "count and limit what each user holds (memory-backed)"},
    {.name = "usrquota_block_hardlimit",
     .kind = OPT_SIZE,
     .field = FIELD(quota.usr_limit.bytes),
     .given = FIELD(quota_given),
     .marks = OPT_QUOTA,
     .help = "most bytes per user"},
    {.name = "usrquota_inode_hardlimit",
     .kind = OPT_AMOUNT,
     .field = FIELD(quota.usr_limit.mappings),
     .given = FIELD(quota_given),
     .marks = OPT_QUOTA,
     .help = "most mappings per user"},
    {.name = "grpquota",
     .kind = OPT_FLAG,
     .field = FIELD(quota.grp),
     .given = FIELD(quota_given),
     .arg = 1,
     .marks = OPT_QUOTA,
     .help = "count and limit what each group holds (memory-backed)"},
    {.name = "grpquota_block_hardlimit",
     .kind = OPT_SIZE,
     .field = FIELD(quota.grp_limit.bytes),
     .given = FIELD(quota_given),
     .marks = OPT_QUOTA,
     .help = "most bytes per group"},
    {.name = "grpquota_inode_hardlimit",
     .kind = OPT_AMOUNT,
     .field = FIELD(quota.grp_limit.mappings),
     .given = FIELD(quota_given),
     .marks = OPT_QUOTA,
     .help = "most mappings per group"},
    {.name = "mode",
     .kind = OPT_MODE,
     .field = FIELD(mode),
     .given = FIELD(root_attrs_set),
     .def = "1777",
     .help = "mode of the root directory"},
    {.name = "uid",
     .kind = OPT_ID,
     .field = FIELD(uid),
     .given = FIELD(root_attrs_set),
     .marks = OPT_COMPUTED,
     .def = "the mounting user",
     .help = "owner of the root directory"},
    {.name = "gid",
     .kind = OPT_ID,
     .field = FIELD(gid),
     .given = FIELD(root_attrs_set),
     .marks = OPT_COMPUTED,
     .def = "the mounting user's group",
     .help = "group of the root directory"},
    {.name = "ro",
     .kind = OPT_FLAG,
     .field = FIELD(read_only),
     .arg = 1,
     .marks = OPT_FUSE_TOO,
     .help = "read-only"},
    {.name = "rw",
     .kind = OPT_FLAG,
     .field = FIELD(read_only),
     .marks = OPT_FUSE_TOO,
     .def = "yes"},
    {.name = "poll_us",
     .kind = OPT_UINT,
     .field = FIELD(poll_us),
     .arg = 1000000,
     .def = "50",
     .help = "microseconds a worker polls /dev/fuse before it sleeps"},
    {.name = "actimeo",
     .kind = OPT_UINT,
     .field = FIELD(actimeo),
     .given = FIELD(actimeo_given),
     .arg = 86400,
     .help = "seconds a file-backed mount trusts what it last saw of its "
	     "backing directory"},
    {.name = "shared",
     .kind = OPT_FLAG,
     .field = FIELD(shared),
     .arg = 1,
     .help = "others change the backing directory unseen (another host): "
	     "actimeo=3 unless given"},
    {.name = "nopassthrough",
     .kind = OPT_FLAG,
     .field = FIELD(passthrough),
     .help = "serve all data through the daemon"},
    {.name = "passthrough",
     .kind = OPT_FLAG,
     .field = FIELD(passthrough),
     .arg = 1,
     .def = "yes"},
    {.name = "noexclusive",
     .kind = OPT_FLAG,
     .field = FIELD(exclusive),
     .help = "let others open backing files in use"},
    {.name = "exclusive",
     .kind = OPT_FLAG,
     .field = FIELD(exclusive),
     .arg = 1,
     .def = "yes"},
    {.name = "writeback_cache",
     .kind = OPT_FLAG,
     .field = FIELD(writeback_cache),
     .arg = 1,
     .help = "let the kernel buffer write() (implies nopassthrough)"},
    {.name = "no_writeback_cache",
     .kind = OPT_FLAG,
     .field = FIELD(writeback_cache),
     .def = "yes"},
    {.name = "fault_write",
     .kind = OPT_UINT,
     .field = FIELD(fault_write),
     .arg = UINT32_MAX},
    {.name = "fault_resize",
     .kind = OPT_UINT,
     .field = FIELD(fault_resize),
     .arg = UINT32_MAX},
};

#define NOPTIONS (sizeof(OPTIONS) / sizeof(OPTIONS[0]))

_Static_assert(sizeof(uid_t) == sizeof(uint32_t) &&
		   sizeof(gid_t) == sizeof(uint32_t),
	       "OPT_ID fields are 32 bits");
_Static_assert(offsetof(struct shmapfs_options, size) == 0,
	       "option_spec.given 0 means none");

const struct option_spec *options_table(size_t *count)
{
	*count = NOPTIONS;
	return OPTIONS;
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

static int word_index(const char *const *words, const char *val)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(words[i], val))
			return i;
	return -EINVAL;
}

/* Store val, as s takes it, in its field; 0 or -EINVAL (field untouched). */
static int set_value(struct shmapfs_options *o, const struct option_spec *s,
		     const char *val, uint64_t ram_bytes)
{
	void *field = (char *)o + s->field;
	uint64_t v = 0;
	int res = 0;
	switch (s->kind) {
	case OPT_FLAG:
		*(int *)field = (int)s->arg;
		return 0;
	case OPT_SIZE:
		return options_parse_size(val, ram_bytes, field);
	case OPT_AMOUNT:
		return options_parse_size(val, 0, field);
	case OPT_COUNT:
		if (parse_u64(val, 10, &v) < 0 || v == 0)
			return -EINVAL;
		*(uint64_t *)field = v;
		return 0;
	case OPT_UINT:
		if (parse_u64(val, 10, &v) < 0 || v > s->arg)
			return -EINVAL;
		*(unsigned *)field = (unsigned)v;
		return 0;
	case OPT_MODE:
		if (parse_u64(val, 8, &v) < 0 || v > 07777)
			return -EINVAL;
		*(mode_t *)field = (mode_t)v;
		return 0;
	case OPT_ID:
		return parse_id(val, field);
	case OPT_ENUM:
		res = word_index(s->words, val);
		if (res >= 0)
			*(int *)field = res;
		return res < 0 ? res : 0;
	case OPT_WORD:
		res = word_index(s->words, val);
		if (res >= 0)
			*(const char **)field = s->words[res];
		return res < 0 ? res : 0;
	}
	return -EINVAL;
}

static const struct option_spec *find_option(const char *key)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (!strcmp(OPTIONS[i].name, key))
			return &OPTIONS[i];
	return NULL;
}

/*
 * Parse one "key" or "key=value" option: 0, -EINVAL, or 1 if libfuse is
 * to see it (not ours, or ours and libfuse's too). A flag of ours given a
 * value is libfuse's, but for the quotas, which tmpfs refuses so.
 */
static int parse_one(struct shmapfs_options *o, const char *key,
		     const char *val, uint64_t ram_bytes)
{
	const struct option_spec *s = find_option(key);
	if (!s)
		return 1;
	if (s->kind == OPT_FLAG && val)
		return s->marks & OPT_QUOTA ? -EINVAL : 1;
	if (s->kind != OPT_FLAG && !val)
		return -EINVAL;
	int res = set_value(o, s, val, ram_bytes);
	if (res < 0)
		return res;
	if (s->given)
		*(int *)((char *)o + s->given) = 1;
	return s->marks & OPT_FUSE_TOO ? 1 : 0;
}

void options_init(struct shmapfs_options *o, uint64_t ram_bytes, uid_t uid,
		  gid_t gid)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct option_spec *s = &OPTIONS[i];
		if (s->def && !(s->marks & OPT_COMPUTED) &&
		    set_value(o, s, s->def, ram_bytes) < 0)
			abort(); /* a default the row's own kind refuses */
	}
	/* The rows marked OPT_COMPUTED, as they say in words. */
	o->size = ram_bytes / 2;
	o->nr_mappings = ram_bytes / 8192 ? ram_bytes / 8192 : 1024;
	o->uid = uid;
	o->gid = gid;
}

int options_check(struct shmapfs_options *o, const struct mount_facts *m,
		  char *err, size_t errlen)
{
	if (m->file_backed && o->quota_given) {
		snprintf(err, errlen,
			 "usrquota, grpquota and their limits "
			 "need a memory-backed mount");
		return -EINVAL;
	}
	/* A quota is a promise kept at each write(): with writes buffered,
	 * one past a limit would succeed and its data be lost at writeback. */
	if ((o->quota.usr || o->quota.grp) && o->writeback_cache) {
		snprintf(err, errlen,
			 "usrquota and grpquota check every write(), "
			 "so they cannot be combined with writeback_cache");
		return -EINVAL;
	}
	if (!m->file_backed && (o->actimeo_given || o->shared)) {
		snprintf(err, errlen,
			 "actimeo and shared need a backing directory");
		return -EINVAL;
	}
	struct data_path *p = &o->path;
	p->sees_every_write = o->quota.usr || o->quota.grp;
	p->why = NULL;
	if (!o->passthrough)
		p->why = "-o nopassthrough";
	else if (o->writeback_cache)
		p->why = "-o writeback_cache";
	else if (p->sees_every_write)
		p->why = "-o usrquota or grpquota";
	else if (!m->privileged)
		p->why = "passthrough needs a daemon with CAP_SYS_ADMIN";
	p->passthrough = p->why == NULL;
	return 0;
}

void options_to_config(const struct shmapfs_options *o,
		       struct registry_config *cfg)
{
	*cfg = (struct registry_config){
	    .capacity = o->size,
	    .max_nodes = o->nr_mappings,
	    .root_mode = o->mode,
	    .root_uid = o->uid,
	    .root_gid = o->gid,
	    .backing_dirfd = -1,
	    .store_dirfd = -1,
	    .read_only = o->read_only,
	    .sparse = o->sparse,
	    .fault_write = o->fault_write,
	    .fault_resize = o->fault_resize,
	    .quota = o->quota,
	    .sees_every_write = o->path.sees_every_write,
	    .actimeo_ms = o->actimeo_given ? (int)o->actimeo * 1000
			  : o->shared	   ? SHARED_ACTIMEO_S * 1000
					   : -1,
	};
}

/* What the value looks like, for usage(): "=N[k|m|g|t|%]", "=a|b", "". */
static void placeholder(const struct option_spec *s, char *buf, size_t size)
{
	static const char *const shapes[] = {
	    [OPT_FLAG] = "",	 [OPT_SIZE] = "=N[k|m|g|t|%]",
	    [OPT_AMOUNT] = "=N", [OPT_COUNT] = "=N",
	    [OPT_UINT] = "=N",	 [OPT_MODE] = "=OCTAL",
	    [OPT_ID] = "=N",	 [OPT_ENUM] = "=",
	    [OPT_WORD] = "=",
	};
	size_t len = (size_t)snprintf(buf, size, "%s", shapes[s->kind]);
	for (size_t i = 0; s->words && s->words[i] && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? "|" : "", s->words[i]);
}

void options_usage(FILE *to)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct option_spec *s = &OPTIONS[i];
		if (!s->help)
			continue;
		char opt[128];
		size_t len = (size_t)snprintf(opt, sizeof(opt), "%s", s->name);
		placeholder(s, opt + len, sizeof(opt) - len);
		fprintf(to, "  -o %-24s %s", opt, s->help);
		if (s->def)
			fprintf(to, " (default: %s)", s->def);
		fprintf(to, "\n");
	}
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
