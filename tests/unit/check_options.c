/*
 * Unit tests of the mount option parser (fs/core/options.c): sizes with
 * suffixes and percentages, shmapfs's own options, what is passed through
 * to libfuse, malformed values, and the defaults.
 */
#include "options.h"
#include "util.h"

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
	tcase_add_test(tc, quotas);
	tcase_add_test(tc, ro_rw_and_fuse_opts);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, overlong_option);
	tcase_add_test(tc, small_error_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(options_suite());
}
