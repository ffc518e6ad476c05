/*
 * Unit tests of the mount options (fs/core/options.c): sizes with
 * suffixes and percentages, shmapfs's own options, what is passed through
 * to libfuse, malformed values, the defaults, the rules between options
 * and the data path they decide, the registry's configuration, and the
 * option table against usage() and the man pages.
 */
#include "options.h"
#include "registry.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM (8ULL << 30) /* 8 GiB of pretend RAM */

static uint64_t size_of(const char *s)
{
	uint64_t v = 0;
	ck_assert_int_eq(options_parse_size(s, RAM, &v), 0);
	return v;
}

/* N% of RAM, allowing for the parser's integer rounding (< 100 bytes). */
static void size_is_percent(const char *s, uint64_t pct)
{
	uint64_t v = size_of(s);
	uint64_t want = RAM / 100 * pct + RAM % 100 * pct / 100;
	ck_assert_msg(v <= want && want - v < 100,
		      "size '%s' gave %llu, want about %llu", s,
		      (unsigned long long)v, (unsigned long long)want);
}

static void size_refused(const char *s)
{
	uint64_t v = 12345;
	ck_assert_msg(options_parse_size(s, RAM, &v) == -EINVAL,
		      "size '%s' accepted", s);
	ck_assert_msg(v == 12345, "size '%s' changed the output", s);
}

START_TEST(size_suffixes)
{
	ck_assert_uint_eq(size_of("1"), 1);
	ck_assert_uint_eq(size_of("4096"), 4096);
	ck_assert_uint_eq(size_of("1k"), 1024);
	ck_assert_uint_eq(size_of("3K"), 3 * 1024);
	ck_assert_uint_eq(size_of("5m"), 5ULL << 20);
	ck_assert_uint_eq(size_of("5M"), 5ULL << 20);
	ck_assert_uint_eq(size_of("2g"), 2ULL << 30);
	ck_assert_uint_eq(size_of("7G"), 7ULL << 30);
	ck_assert_uint_eq(size_of("1t"), 1ULL << 40);
	ck_assert_uint_eq(size_of("2T"), 2ULL << 40);
}
END_TEST

START_TEST(size_percent)
{
	size_is_percent("50%", 50);
	size_is_percent("100%", 100);
	size_is_percent("1%", 1);
	size_is_percent("33%", 33);
	size_refused("101%");
	size_refused("1000%");
	size_refused("%");
	size_refused("0%");
	size_refused("-5%");
	/* A percentage that comes to nothing is no capacity at all. */
	uint64_t v;
	ck_assert_int_eq(options_parse_size("1%", 50, &v), -EINVAL);
}
END_TEST

START_TEST(size_refusals)
{
	size_refused("");
	size_refused("0");
	size_refused("0k");
	size_refused("k");
	size_refused("-1");
	size_refused("+1");
	size_refused(" 1");
	size_refused("1 ");
	size_refused("1x");
	size_refused("1kb");
	size_refused("1.5g");
	size_refused("abc");
	size_refused("0x10");
	/* Overflow: of the number itself, and of number times suffix. */
	size_refused("18446744073709551616");
	size_refused("99999999999999999999999");
	size_refused("16777216t");
	size_refused("17179869184g");
	size_refused("123456789012345678901234567890123"); /* > 32 chars */
	/* The largest that fits is still fine. */
	ck_assert_uint_eq(size_of("16777215t"), 16777215ULL << 40);
	ck_assert_uint_eq(size_of("18446744073709551615"), UINT64_MAX);
}
END_TEST

START_TEST(defaults)
{
	struct shmapfs_options o;
	memset(&o, 0xa5, sizeof(o));
	options_init(&o, RAM, 1000, 2000);
	ck_assert_uint_eq(o.size, RAM / 2);
	ck_assert_uint_eq(o.nr_mappings, RAM / 8192);
	ck_assert_uint_eq(o.mode, 01777);
	ck_assert_uint_eq(o.uid, 1000);
	ck_assert_uint_eq(o.gid, 2000);
	ck_assert_int_eq(o.read_only, 0);
	ck_assert_int_eq(o.root_attrs_set, 0);
	ck_assert_int_eq(o.writeback_cache, 0);
	ck_assert_int_eq(o.passthrough, 1);
	ck_assert_uint_eq(o.poll_us, 50);
	ck_assert_uint_eq(o.fault_write, 0);
	ck_assert_uint_eq(o.fault_resize, 0);
	ck_assert_ptr_null(o.fuse_opts);
	ck_assert_uint_eq(o.fuse_opts_len, 0);
	/* Tiny RAM still gives a usable number of mappings. */
	options_init(&o, 4096, 0, 0);
	ck_assert_uint_gt(o.nr_mappings, 0);
	options_free(&o);
}
END_TEST

/* Parse list over fresh defaults; err gets the message. */
static int parse(struct shmapfs_options *o, const char *list, char *err,
		 size_t errlen)
{
	options_init(o, RAM, 1000, 1000);
	err[0] = '\0';
	return options_parse(o, list, RAM, err, errlen);
}

START_TEST(own_options)
{
	struct shmapfs_options o;
	char err[256];
	ck_assert_int_eq(parse(&o,
			       "size=64m,nr_mappings=100,mode=0750,uid=12,"
			       "gid=34",
			       err, sizeof(err)),
			 0);
	ck_assert_uint_eq(o.size, 64ULL << 20);
	ck_assert_uint_eq(o.nr_mappings, 100);
	ck_assert_uint_eq(o.mode, 0750);
	ck_assert_uint_eq(o.uid, 12);
	ck_assert_uint_eq(o.gid, 34);
	ck_assert_int_eq(o.root_attrs_set, 1);
	ck_assert_int_eq(o.size_given, 1);
	ck_assert_int_eq(o.nr_mappings_given, 1);
	ck_assert_int_eq(o.read_only, 0);
	/* None of ours reach libfuse. */
	ck_assert_ptr_null(o.fuse_opts);
	options_free(&o);

	/* mode is octal, with or without a leading 0; sticky bit kept. */
	ck_assert_int_eq(parse(&o, "mode=1777", err, sizeof(err)), 0);
	ck_assert_uint_eq(o.mode, 01777);
	ck_assert_int_eq(parse(&o, "mode=17", err, sizeof(err)), 0);
	ck_assert_uint_eq(o.mode, 017);
	/* Later options override earlier ones. */
	ck_assert_int_eq(parse(&o, "size=1g,size=2k", err, sizeof(err)), 0);
	ck_assert_uint_eq(o.size, 2048);
	ck_assert_int_eq(parse(&o, "size=25%", err, sizeof(err)), 0);
	ck_assert_uint_le(o.size, RAM / 4);
	ck_assert_uint_gt(o.size, RAM / 4 - 100);
	ck_assert_int_eq(parse(&o, "uid=0,gid=0", err, sizeof(err)), 0);
	ck_assert_uint_eq(o.uid, 0);
	ck_assert_uint_eq(o.gid, 0);
	ck_assert_int_eq(o.root_attrs_set, 1);
	/* size alone does not touch the root's attributes. */
	ck_assert_int_eq(parse(&o, "size=1m", err, sizeof(err)), 0);
	ck_assert_int_eq(o.root_attrs_set, 0);
	ck_assert_int_eq(o.nr_mappings_given, 0);
	ck_assert_int_eq(parse(&o, "nr_inodes=5", err, sizeof(err)), 0);
	ck_assert_int_eq(o.nr_mappings_given, 1);
	ck_assert_int_eq(o.size_given, 0);
	ck_assert_int_eq(
	    parse(&o, "fault_write=3,fault_resize=2", err, sizeof(err)), 0);
	ck_assert_uint_eq(o.fault_write, 3);
	ck_assert_uint_eq(o.fault_resize, 2);
	ck_assert_ptr_null(o.fuse_opts);
	options_free(&o);
	ck_assert_int_eq(parse(&o, "writeback_cache", err, sizeof(err)), 0);
	ck_assert_int_eq(o.writeback_cache, 1);
	ck_assert_ptr_null(o.fuse_opts);
	ck_assert_int_eq(
	    parse(&o, "writeback_cache,no_writeback_cache", err, sizeof(err)),
	    0);
	ck_assert_int_eq(o.writeback_cache, 0);
	ck_assert_ptr_null(o.fuse_opts);
	ck_assert_int_eq(parse(&o, "nopassthrough,poll_us=0", err, sizeof(err)),
			 0);
	ck_assert_int_eq(o.passthrough, 0);
	ck_assert_uint_eq(o.poll_us, 0);
	ck_assert_int_eq(parse(&o, "passthrough,poll_us=200", err, sizeof(err)),
			 0);
	ck_assert_int_eq(o.passthrough, 1);
	ck_assert_uint_eq(o.poll_us, 200);
	ck_assert_ptr_null(o.fuse_opts);
	ck_assert_int_lt(parse(&o, "poll_us=1000001", err, sizeof(err)), 0);
	ck_assert_int_lt(parse(&o, "poll_us", err, sizeof(err)), 0);
	ck_assert_int_lt(parse(&o, "poll_us=-1", err, sizeof(err)), 0);
	options_free(&o);
}
END_TEST

/* commit= and huge= take their words only; neither reaches libfuse. */
START_TEST(commit_and_huge)
{
	struct shmapfs_options o;
	char err[128];
	options_init(&o, RAM, 1000, 1000);
	ck_assert_int_eq(o.sparse, 1);
	ck_assert_str_eq(o.huge, "never");
	ck_assert_int_eq(
	    parse(&o, "commit=committed,huge=within_size", err, sizeof(err)),
	    0);
	ck_assert_int_eq(o.sparse, 0);
	ck_assert_str_eq(o.huge, "within_size");
	ck_assert_int_eq(parse(&o, "commit=sparse,huge=always,huge=advise", err,
			       sizeof(err)),
			 0);
	ck_assert_int_eq(o.sparse, 1);
	ck_assert_str_eq(o.huge, "advise");
	ck_assert_ptr_null(o.fuse_opts);
	ck_assert_int_lt(parse(&o, "commit=reserve", err, sizeof(err)), 0);
	ck_assert_int_lt(parse(&o, "commit", err, sizeof(err)), 0);
	ck_assert_int_lt(parse(&o, "huge=sometimes", err, sizeof(err)), 0);
	ck_assert_int_lt(parse(&o, "huge", err, sizeof(err)), 0);
	options_free(&o);
}
END_TEST

/* Exclusive backing files are on unless noexclusive; later options win. */
START_TEST(exclusive_option)
{
	struct shmapfs_options o;
	char err[128];
	options_init(&o, RAM, 1000, 1000);
	ck_assert_int_eq(o.exclusive, 1);
	ck_assert_int_eq(parse(&o, "noexclusive", err, sizeof(err)), 0);
	ck_assert_int_eq(o.exclusive, 0);
	ck_assert_int_eq(parse(&o, "noexclusive,exclusive", err, sizeof(err)),
			 0);
	ck_assert_int_eq(o.exclusive, 1);
	ck_assert_int_eq(parse(&o, "exclusive,noexclusive", err, sizeof(err)),
			 0);
	ck_assert_int_eq(o.exclusive, 0);
	ck_assert_ptr_null(o.fuse_opts); /* neither reaches libfuse */
	options_free(&o);
}
END_TEST

/* Quotas as tmpfs names them; a limit alone counts nothing (as tmpfs);
 * none reaches libfuse. */
START_TEST(quotas)
{
	struct shmapfs_options o;
	char err[128];
	options_init(&o, RAM, 1000, 1000);
	ck_assert_int_eq(o.quota.usr || o.quota.grp || o.quota_given, 0);
	ck_assert_int_eq(
	    parse(&o, "usrquota_block_hardlimit=2m", err, sizeof(err)), 0);
	ck_assert_int_eq(o.quota.usr, 0);
	ck_assert_int_eq(o.quota_given, 1);
	ck_assert_int_eq(parse(&o,
			       "usrquota,grpquota,usrquota_block_hardlimit=3k,"
			       "usrquota_inode_hardlimit=10,"
			       "grpquota_block_hardlimit=1g,"
			       "grpquota_inode_hardlimit=2k",
			       err, sizeof(err)),
			 0);
	ck_assert_int_eq(o.quota.usr, 1);
	ck_assert_int_eq(o.quota.grp, 1);
	ck_assert_uint_eq(o.quota.usr_limit.bytes, 3072);
	ck_assert_uint_eq(o.quota.usr_limit.mappings, 10);
	ck_assert_uint_eq(o.quota.grp_limit.bytes, 1ULL << 30);
	ck_assert_uint_eq(o.quota.grp_limit.mappings, 2048);
	ck_assert_ptr_null(o.fuse_opts);
	ck_assert_int_eq(parse(&o, "grpquota,usrquota_block_hardlimit=10%", err,
			       sizeof(err)),
			 0);
	ck_assert_int_eq(o.quota.usr, 0);
	ck_assert_uint_eq(o.quota.usr_limit.bytes, RAM / 100 * 10);
	/* Names that only begin like ours are libfuse's. */
	ck_assert_int_eq(parse(&o, "usrquotas", err, sizeof(err)), 0);
	ck_assert_str_eq(o.fuse_opts, "usrquotas");
	options_free(&o);
}
END_TEST

START_TEST(ro_rw_and_fuse_opts)
{
	struct shmapfs_options o;
	char err[256];
	ck_assert_int_eq(parse(&o, "allow_other,ro,size=1m,foo=bar,rw,ro,x",
			       err, sizeof(err)),
			 0);
	ck_assert_int_eq(o.read_only, 1);
	ck_assert_uint_eq(o.size, 1ULL << 20);
	/* Unknown options in order; ro and rw seen by libfuse too. */
	ck_assert_str_eq(o.fuse_opts, "allow_other,ro,foo=bar,rw,ro,x");
	ck_assert_uint_eq(o.fuse_opts_len, strlen(o.fuse_opts));
	options_free(&o);
	ck_assert_ptr_null(o.fuse_opts);

	ck_assert_int_eq(parse(&o, "ro,rw", err, sizeof(err)), 0);
	ck_assert_int_eq(o.read_only, 0);
	options_free(&o);

	/* An empty list changes nothing. */
	ck_assert_int_eq(parse(&o, "", err, sizeof(err)), 0);
	ck_assert_ptr_null(o.fuse_opts);
	ck_assert_uint_eq(o.size, RAM / 2);

	/* Two calls (two -o) accumulate. */
	ck_assert_int_eq(parse(&o, "a", err, sizeof(err)), 0);
	ck_assert_int_eq(
	    options_parse(&o, "b=1,size=3k", RAM, err, sizeof(err)), 0);
	ck_assert_str_eq(o.fuse_opts, "a,b=1");
	ck_assert_uint_eq(o.size, 3072);
	options_free(&o);
}
END_TEST

static void refused(const char *list, const char *in_msg)
{
	struct shmapfs_options o;
	char err[256];
	ck_assert_msg(parse(&o, list, err, sizeof(err)) == -EINVAL,
		      "'%s' accepted", list);
	ck_assert_msg(err[0] != '\0', "no message for '%s'", list);
	ck_assert_msg(strchr(err, '\n') == NULL, "message not one line");
	ck_assert_msg(strstr(err, in_msg) != NULL,
		      "message '%s' for '%s' does not name '%s'", err, list,
		      in_msg);
	options_free(&o);
}

START_TEST(malformed)
{
	refused("size", "size");
	refused("size=", "size");
	refused("size=0", "size");
	refused("size=12q", "size=12q");
	refused("size=200%", "size");
	refused("allow_other,size=-1", "size");
	refused("nr_mappings=0", "nr_mappings");
	refused("nr_mappings=", "nr_mappings");
	refused("nr_mappings=ten", "nr_mappings");
	refused("nr_mappings=-3", "nr_mappings");
	refused("mode=8", "mode");
	refused("mode=0999", "mode");
	refused("mode=17777", "mode");
	refused("mode=", "mode");
	refused("mode", "mode");
	refused("mode=rw", "mode");
	refused("uid=-1", "uid");
	refused("uid=4294967295", "uid");
	refused("uid=99999999999", "uid");
	refused("uid=abc", "uid");
	refused("uid", "uid");
	refused("gid=1.5", "gid");
	refused("gid=", "gid");
	refused("fault_write=x", "fault_write");
	refused("nr_inodes=0", "nr_inodes");
	refused("usrquota=1", "usrquota");
	refused("grpquota_block_hardlimit", "grpquota_block_hardlimit");
	refused("usrquota_block_hardlimit=0", "usrquota_block_hardlimit");
	refused("usrquota_block_hardlimit=1q", "usrquota_block_hardlimit");
	refused("grpquota_inode_hardlimit=-1", "grpquota_inode_hardlimit");
	refused("usrquota_inode_hardlimit=5%", "usrquota_inode_hardlimit");
	refused("a,,b", "a,,b");
	refused(",a", ",a");
}
END_TEST

START_TEST(overlong_option)
{
	struct shmapfs_options o;
	char err[256];
	static char list[6000];
	memset(list, 'x', 5000);
	list[5000] = '\0';
	ck_assert_int_eq(parse(&o, list, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "overlong"));
	options_free(&o);
	/* Long but within bounds: passed through whole. */
	memset(list, 'y', 4000);
	list[4000] = '\0';
	ck_assert_int_eq(parse(&o, list, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.fuse_opts_len, 4000);
	options_free(&o);
}
END_TEST

START_TEST(small_error_buffer)
{
	struct shmapfs_options o;
	char err[8];
	memset(err, 'z', sizeof(err));
	ck_assert_int_eq(parse(&o, "size=bogusbogusbogus", err, sizeof(err)),
			 -EINVAL);
	ck_assert_uint_lt(strnlen(err, sizeof(err)), sizeof(err));
	options_free(&o);
}
END_TEST

/* Parse list and check it for a mount as facts say; err gets the reason. */
static int checked(struct shmapfs_options *o, const char *list,
		   const struct mount_facts *facts, char *err, size_t errlen)
{
	ck_assert_int_eq(parse(o, list, err, errlen), 0);
	int res = options_check(o, facts, err, errlen);
	options_free(o);
	return res;
}

/* Quotas, their limits included, need a memory-backed mount. */
START_TEST(quotas_need_memory)
{
	static const char *const lists[] = {"usrquota", "grpquota",
					    "usrquota_block_hardlimit=1m",
					    "grpquota_inode_hardlimit=5"};
	const struct mount_facts file = {.file_backed = 1, .privileged = 1};
	const struct mount_facts memory = {.file_backed = 0, .privileged = 1};
	struct shmapfs_options o;
	char err[256];
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		ck_assert_int_eq(checked(&o, lists[i], &file, err, sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "memory-backed"));
		ck_assert_int_eq(
		    checked(&o, lists[i], &memory, err, sizeof(err)), 0);
	}
	ck_assert_int_eq(checked(&o, "size=1m", &file, err, sizeof(err)), 0);
}
END_TEST

/* actimeo= and shared: how long a file-backed mount trusts what it saw
 * of its backing directory; memory-backed mounts have none. */
START_TEST(actimeo_and_shared)
{
	const struct mount_facts file = {.file_backed = 1, .privileged = 1};
	const struct mount_facts memory = {.file_backed = 0, .privileged = 1};
	static const struct {
		const char *list;
		int ms;
	} cases[] = {{"actimeo=5", 5000},
		     {"actimeo=0", 0},
		     {"shared", SHARED_ACTIMEO_S * 1000},
		     {"shared,actimeo=1", 1000},
		     {"actimeo=1,shared", 1000},
		     {"", -1}};
	struct shmapfs_options o;
	struct registry_config cfg;
	char err[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(
		    checked(&o, cases[i].list, &file, err, sizeof(err)), 0);
		options_to_config(&o, &cfg);
		ck_assert_msg(cfg.actimeo_ms == cases[i].ms, "%s: %d",
			      cases[i].list, cfg.actimeo_ms);
		if (!*cases[i].list)
			continue;
		ck_assert_int_eq(
		    checked(&o, cases[i].list, &memory, err, sizeof(err)),
		    -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "backing directory"));
	}
	ck_assert_int_eq(parse(&o, "actimeo=86401", err, sizeof(err)), -EINVAL);
	options_free(&o);
	ck_assert_int_eq(parse(&o, "actimeo=-1", err, sizeof(err)), -EINVAL);
	options_free(&o);
}
END_TEST

/* The data path of a mount, and why: decided once, first reason first. */
static void path_is(const char *list, int privileged, const char *why,
		    int sees_every_write)
{
	const struct mount_facts facts = {.privileged = privileged};
	struct shmapfs_options o;
	char err[256];
	ck_assert_int_eq(checked(&o, list, &facts, err, sizeof(err)), 0);
	ck_assert_msg(o.path.passthrough == (why == NULL),
		      "'%s': passthrough %d", list, o.path.passthrough);
	if (why)
		ck_assert_str_eq(o.path.why, why);
	else
		ck_assert_ptr_null(o.path.why);
	ck_assert_int_eq(o.path.sees_every_write, sees_every_write);
}

START_TEST(data_path)
{
	const char *cap = "passthrough needs a daemon with CAP_SYS_ADMIN";
	path_is("", 1, NULL, 0);
	path_is("nopassthrough,passthrough", 1, NULL, 0);
	path_is("", 0, cap, 0);
	path_is("nopassthrough", 1, "-o nopassthrough", 0);
	path_is("writeback_cache", 1, "-o writeback_cache", 0);
	path_is("writeback_cache,nopassthrough", 0, "-o nopassthrough", 0);
	path_is("usrquota", 1, "-o usrquota or grpquota", 1);
	path_is("grpquota", 0, "-o usrquota or grpquota", 1);
	path_is("usrquota,writeback_cache", 1, "-o writeback_cache", 1);
	/* A limit without its quota counts nothing (as tmpfs). */
	path_is("usrquota_block_hardlimit=1m", 1, NULL, 0);
	/* Faults are the core's business (it shares no store then). */
	path_is("fault_write=3", 1, NULL, 0);
}
END_TEST

/* The registry's configuration is what the options ask for. */
START_TEST(to_config)
{
	const struct mount_facts facts = {.privileged = 1};
	struct shmapfs_options o;
	char err[256];
	ck_assert_int_eq(parse(&o,
			       "size=3m,nr_mappings=7,mode=750,uid=5,gid=6,ro,"
			       "commit=committed,fault_write=2,fault_resize=3,"
			       "usrquota,grpquota_block_hardlimit=8k",
			       err, sizeof(err)),
			 0);
	ck_assert_int_eq(options_check(&o, &facts, err, sizeof(err)), 0);
	struct registry_config cfg;
	memset(&cfg, 0xa5, sizeof(cfg));
	options_to_config(&o, &cfg);
	ck_assert_uint_eq(cfg.capacity, 3 << 20);
	ck_assert_uint_eq(cfg.max_nodes, 7);
	ck_assert_uint_eq(cfg.root_mode, 0750);
	ck_assert_uint_eq(cfg.root_uid, 5);
	ck_assert_uint_eq(cfg.root_gid, 6);
	ck_assert_int_eq(cfg.read_only, 1);
	ck_assert_int_eq(cfg.sparse, 0);
	ck_assert_uint_eq(cfg.fault_write, 2);
	ck_assert_uint_eq(cfg.fault_resize, 3);
	ck_assert_int_eq(cfg.quota.usr, 1);
	ck_assert_int_eq(cfg.quota.grp, 0);
	ck_assert_uint_eq(cfg.quota.grp_limit.bytes, 8192);
	ck_assert_int_eq(cfg.sees_every_write, 1);
	/* What the options do not say is left to the daemon. */
	ck_assert_int_eq(cfg.backing_dirfd, -1);
	ck_assert_int_eq(cfg.store_dirfd, -1);
	ck_assert_int_eq(cfg.store_dir_capacity, 0);
	ck_assert_ptr_null(cfg.share_store);
	ck_assert_ptr_null(cfg.guard_store);
	ck_assert_ptr_null(cfg.log);
	/* A file-backed mount trusts its watcher unless told otherwise. */
	ck_assert_int_eq(cfg.actimeo_ms, -1);
	options_free(&o);
	options_init(&o, RAM, 1000, 1000);
	ck_assert_int_eq(options_check(&o, &facts, err, sizeof(err)), 0);
	options_to_config(&o, &cfg);
	ck_assert_int_eq(cfg.sparse, 1);
	ck_assert_int_eq(cfg.sees_every_write, 0);
	ck_assert_uint_eq(cfg.root_mode, 01777);
}
END_TEST

/* Every row parses its own default; no name twice; help where needed. */
START_TEST(table_rows)
{
	size_t n = 0;
	const struct option_spec *t = options_table(&n);
	ck_assert_uint_gt(n, 10);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(t[i].name, t[j].name);
		ck_assert_msg(!t[i].words == !(t[i].kind == OPT_ENUM ||
					       t[i].kind == OPT_WORD),
			      "%s: words and kind disagree", t[i].name);
		if (!t[i].def || (t[i].marks & OPT_COMPUTED))
			continue;
		/* Given as a value, the default parses (flags: alone). */
		struct shmapfs_options o;
		char opt[256], err[256];
		snprintf(opt, sizeof(opt), "%s%s%s", t[i].name,
			 t[i].kind == OPT_FLAG ? "" : "=",
			 t[i].kind == OPT_FLAG ? "" : t[i].def);
		ck_assert_msg(parse(&o, opt, err, sizeof(err)) == 0,
			      "default '%s' refused", opt);
		options_free(&o);
	}
}
END_TEST

static int documented(const struct option_spec *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].help && !strcmp(t[i].name, name))
			return 1;
	return 0;
}

/* usage() lists the documented options, and only those. */
START_TEST(usage_from_table)
{
	char buf[8192] = {0};
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	ck_assert_ptr_nonnull(f);
	options_usage(f);
	fclose(f);
	size_t n = 0;
	const struct option_spec *t = options_table(&n);
	for (size_t i = 0; i < n; i++) {
		char head[128];
		snprintf(head, sizeof(head), "-o %s%s", t[i].name,
			 t[i].kind == OPT_FLAG ? " " : "=");
		int shown = strstr(buf, head) != NULL;
		ck_assert_msg(shown == (t[i].help != NULL),
			      "%s: shown %d in usage", t[i].name, shown);
		if (t[i].help)
			ck_assert_ptr_nonnull(strstr(buf, t[i].help));
	}
	ck_assert_ptr_nonnull(strstr(buf, "(default: 50%)"));
	ck_assert_ptr_nonnull(strstr(buf, "commit=committed|sparse "));
}
END_TEST

/*
 * The option names in one line of a man page: words of lower-case letters
 * and underscores (two or more), with or without a trailing '=', but not
 * the placeholder right after a "name=" (commit= kind). Calls found(name)
 * for each; returns how many.
 */
static int names_in(const char *line, void (*found)(const char *, void *),
		    void *ctx)
{
	int count = 0, after_eq = 0;
	const char *p = line;
	while (*p) {
		if (!islower((unsigned char)*p) ||
		    (p > line && p[-1] == '\\')) {
			p++;
			continue;
		}
		size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
		int eq = p[len] == '=';
		if (len >= 2 && !after_eq) {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)len, p);
			found(name, ctx);
			count++;
		}
		after_eq = eq && len >= 2;
		p += len + eq;
	}
	return count;
}

struct man_check {
	const char *page;
	const struct option_spec *t;
	size_t n;
	int seen[64]; /* per row */
};

/* libfuse's options that shmapfs(8) lists among its own. */
static const char *const fuse_documented[] = {"allow_other", NULL};

static void man_name(const char *name, void *ctx)
{
	struct man_check *c = ctx;
	for (size_t i = 0; fuse_documented[i]; i++)
		if (!strcmp(name, fuse_documented[i]))
			return;
	ck_assert_msg(documented(c->t, c->n, name),
		      "%s names '%s', which is no documented option of "
		      "the table",
		      c->page, name);
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->t[i].name, name))
			c->seen[i] = 1;
}

static FILE *open_page(const char *page)
{
	FILE *f = fopen(page, "re");
	ck_assert_msg(f != NULL, "cannot open %s (run from the source tree)",
		      page);
	return f;
}

/*
 * shmapfs(8)'s OPTIONS: the head line of each entry (after .TP) names
 * options; together they are exactly the table's documented rows (and
 * libfuse's allow_other).
 */
START_TEST(man_page_agrees)
{
	struct man_check c = {.page = "fs/shmapfs.8"};
	c.t = options_table(&c.n);
	ck_assert_uint_le(c.n, sizeof(c.seen) / sizeof(c.seen[0]));
	FILE *f = open_page(c.page);
	char line[1024];
	int in_options = 0, head = 0, heads = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, ".SH", 3))
			in_options = !strncmp(line, ".SH OPTIONS", 11);
		else if (in_options && !strncmp(line, ".TP", 3))
			head = 1;
		else if (head) {
			head = 0;
			heads += names_in(line, man_name, &c) > 0;
		}
	}
	fclose(f);
	ck_assert_int_gt(heads, 10);
	for (size_t i = 0; i < c.n; i++)
		ck_assert_msg(!c.t[i].help || c.seen[i],
			      "%s does not document '%s'", c.page, c.t[i].name);
}
END_TEST

/*
 * mount.shmapfs(8) lists some of the daemon's own options ("its own
 * (size=, ...)"): each of them must be one.
 */
START_TEST(helper_page_agrees)
{
	struct man_check c = {.page = "mount-helpers/mount.shmapfs.8"};
	c.t = options_table(&c.n);
	FILE *f = open_page(c.page);
	char line[1024];
	int in_list = 0, names = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "its own"))
			in_list = 1;
		else if (in_list && strstr(line, "\\&..."))
			break;
		else if (in_list && strncmp(line, ".BR", 3) == 0)
			names += names_in(line, man_name, &c);
	}
	fclose(f);
	ck_assert_int_gt(names, 5);
}
END_TEST

static Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("options");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, size_suffixes);
	tcase_add_test(tc, size_percent);
	tcase_add_test(tc, size_refusals);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, own_options);
	tcase_add_test(tc, commit_and_huge);
	tcase_add_test(tc, exclusive_option);
	tcase_add_test(tc, quotas);
	tcase_add_test(tc, ro_rw_and_fuse_opts);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, overlong_option);
	tcase_add_test(tc, small_error_buffer);
	tcase_add_test(tc, quotas_need_memory);
	tcase_add_test(tc, actimeo_and_shared);
	tcase_add_test(tc, data_path);
	tcase_add_test(tc, to_config);
	tcase_add_test(tc, table_rows);
	tcase_add_test(tc, usage_from_table);
	tcase_add_test(tc, man_page_agrees);
	tcase_add_test(tc, helper_page_agrees);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(options_suite());
}
