/*
 * Unit tests of fs/core/memlimit.c: the memory limit read from a fake
 * cgroup tree (v1's memory controller, v2's memory.max and memory.high,
 * ancestors' limits, a mount whose root is not the hierarchy's), and
 * size= and nr_mappings= fitted to a limit.
 */
#include "memlimit.h"
#include "util.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024ull * 1024)

static char top[256]; /* short, so that every path below fits */

static const char *at(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int next;
	next = (next + 1) % 4;
	snprintf(bufs[next], PATH_MAX, "%s/%s", top, rel);
	return bufs[next];
}

static void put(const char *rel, const char *text)
{
	ck_assert_int_eq(put_file(at(rel), text, strlen(text), 0644), 0);
}

static void dir(const char *rel)
{
	ck_assert_int_eq(mkdir(at(rel), 0755), 0);
}

/* A v1 memory hierarchy at $top/v1 and a v2 one at $top/v2, the cgroups
 * /a and /a/b in each, no limit anywhere. */
static void setup(void)
{
	snprintf(top, sizeof(top), "%s/memlimit.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(top));
	dir("v1");
	dir("v1/a");
	dir("v1/a/b");
	dir("v2");
	dir("v2/a");
	dir("v2/a/b");
	put("v1/memory.limit_in_bytes", "9223372036854771712\n");
	put("v1/a/memory.limit_in_bytes", "9223372036854771712\n");
	put("v1/a/b/memory.limit_in_bytes", "9223372036854771712\n");
	put("v2/a/memory.max", "max\n");
	put("v2/a/b/memory.max", "max\n");
	put("v2/a/b/memory.high", "max\n");
	char mi[4 * PATH_MAX];
	snprintf(mi, sizeof(mi),
		 "31 23 0:28 / %s rw,relatime - tmpfs tmpfs rw,mode=755\n"
		 "32 31 0:29 / %s/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		 "35 31 0:32 / %s/v1 rw,relatime - cgroup cgroup rw,memory\n"
		 "41 31 0:38 / %s/v2 rw,relatime - cgroup2 cgroup2 rw\n",
		 top, top, top, top);
	put("mountinfo", mi);
	put("cgroup", "9:name=systemd:/\n4:memory:/a/b\n1:cpu:/\n0::/a/b\n");
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
}

static uint64_t limit(void)
{
	return memlimit_read(at("cgroup"), at("mountinfo"));
}

START_TEST(no_limit)
{
	/* v1's "unlimited" is a number: no smaller than RAM, harmless */
	ck_assert_uint_eq(limit(), 9223372036854771712ull);
	put("v1/memory.limit_in_bytes", "max\n");
	put("v1/a/memory.limit_in_bytes", "max\n");
	put("v1/a/b/memory.limit_in_bytes", "max\n");
	ck_assert_uint_eq(limit(), MEMLIMIT_NONE);
	ck_assert_uint_eq(memlimit_read(at("nothing"), at("mountinfo")),
			  MEMLIMIT_NONE);
}
END_TEST

START_TEST(v1_own_and_ancestors)
{
	put("v1/a/b/memory.limit_in_bytes", "134217728\n");
	ck_assert_uint_eq(limit(), 128 * MIB);
	put("v1/a/memory.limit_in_bytes", "33554432\n");
	ck_assert_uint_eq(limit(), 32 * MIB);
	/* another controller's hierarchy is not read */
	dir("cpu");
	put("cpu/memory.limit_in_bytes", "4096\n");
	ck_assert_uint_eq(limit(), 32 * MIB);
}
END_TEST

START_TEST(v2_max_and_high)
{
	put("v2/a/b/memory.max", "67108864\n");
	ck_assert_uint_eq(limit(), 64 * MIB);
	put("v2/a/b/memory.high", "50331648\n");
	ck_assert_uint_eq(limit(), 48 * MIB);
	put("v2/a/memory.max", "16777216\n");
	ck_assert_uint_eq(limit(), 16 * MIB);
	/* the least of both hierarchies */
	put("v1/a/b/memory.limit_in_bytes", "8388608\n");
	ck_assert_uint_eq(limit(), 8 * MIB);
}
END_TEST

START_TEST(mount_root_below_hierarchy)
{
	/* a container's view: the v1 mount shows the cgroup /a as its root */
	char mi[2 * PATH_MAX];
	snprintf(mi, sizeof(mi),
		 "35 31 0:32 /a %s/v1/a rw - cgroup cgroup rw,memory\n", top);
	put("mountinfo", mi);
	put("v1/a/b/memory.limit_in_bytes", "134217728\n");
	ck_assert_uint_eq(limit(), 128 * MIB);
	/* a cgroup outside the mount's root is not ours to read */
	put("cgroup", "4:memory:/z\n");
	ck_assert_uint_eq(limit(), MEMLIMIT_NONE);
}
END_TEST

/* What a limit leaves after the daemon's reserve (more than twice it). */
#define AVAIL(limit) ((limit)-MEMLIMIT_RESERVE_BYTES)
#define MEM_BYTES    MEMLIMIT_MEMORY_MAPPING_BYTES

START_TEST(fit_memory_backed)
{
	/* 128 MiB: the reserve (24 MiB), then half for data, half for
	 * mappings: 52 MiB and 26,624 mappings */
	struct memlimit_fit f =
	    memlimit_fit(128 * MIB, 1, 12 * 1024 * MIB, 0, 1572864);
	ck_assert_uint_eq(f.size, AVAIL(128 * MIB) / 2);
	ck_assert_uint_eq(f.nr_mappings,
			  (AVAIL(128 * MIB) - f.size) / MEM_BYTES);
	ck_assert(f.size_cut && f.nr_cut);
	if (MEMLIMIT_COST_FACTOR == 1)
		ck_assert(f.size == 52 * MIB && f.nr_mappings == 26624);
	/* size= given: up to three quarters of the rest */
	f = memlimit_fit(128 * MIB, 1, 1024 * MIB, 1, 1572864);
	ck_assert_uint_eq(f.size, AVAIL(128 * MIB) / 4 * 3);
	ck_assert_uint_eq(f.nr_mappings,
			  (AVAIL(128 * MIB) - f.size) / MEM_BYTES);
	/* what fits stays */
	f = memlimit_fit(128 * MIB, 1, 8 * MIB, 1, 1000);
	ck_assert_uint_eq(f.size, 8 * MIB);
	ck_assert_uint_eq(f.nr_mappings, 1000);
	ck_assert(!f.size_cut && !f.nr_cut);
	/* tiny limits: half is the reserve */
	f = memlimit_fit(32 * MIB, 1, 1024 * MIB, 0, 1 << 20);
	ck_assert_uint_eq(f.size, 8 * MIB);
	ck_assert_uint_eq(f.nr_mappings, 8 * MIB / MEM_BYTES);
}
END_TEST

START_TEST(fit_file_backed)
{
	struct memlimit_fit f =
	    memlimit_fit(128 * MIB, 0, 12 * 1024 * MIB, 0, 1572864);
	ck_assert_uint_eq(f.size, 12 * 1024 * MIB); /* not charged */
	ck_assert_uint_eq(f.nr_mappings,
			  AVAIL(128 * MIB) / MEMLIMIT_FILE_MAPPING_BYTES);
	ck_assert(!f.size_cut && f.nr_cut);
	f = memlimit_fit(MEMLIMIT_NONE, 0, 1, 0, 1572864);
	ck_assert_uint_eq(f.nr_mappings, 1572864);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memlimit");
	TCase *tc = tcase_create("memlimit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, no_limit);
	tcase_add_test(tc, v1_own_and_ancestors);
	tcase_add_test(tc, v2_max_and_high);
	tcase_add_test(tc, mount_root_below_hierarchy);
	tcase_add_test(tc, fit_memory_backed);
	tcase_add_test(tc, fit_file_backed);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
