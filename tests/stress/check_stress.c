/*
 * Runs the randomized exerciser (tests/stress/exerciser.c) against a real
 * memory-backed and a real file-backed shmapfs mount, for
 * $STRESS_DURATION seconds each (default 10), and insists that it finds no
 * mismatch and that the daemon exits 0 at unmount. For the file-backed
 * mount it also compares every backing file, after unmount, with what the
 * exerciser says each mapping must contain. A third case runs the quota
 * exerciser (tests/stress/quota_exerciser.c): many users and processes at
 * once near their per-user and per-group limits on a memory-backed mount
 * with usrquota and grpquota.
 *
 * Environment: STRESS_EXERCISER and QUOTA_EXERCISER (the binaries),
 * STRESS_DURATION,
 * STRESS_SEED (repeat a run), STRESS_OPTS (mount options, e.g.
 * writeback_cache), SHMAPFS_BIN (the daemon).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mount.h"
#include "util.h"

#define NFILES 3

static int duration(void)
{
	const char *d = getenv("STRESS_DURATION");
	int s = d && *d ? atoi(d) : 10;
	return s > 0 ? s : 10;
}

static const char *exerciser(void)
{
	const char *e = getenv("STRESS_EXERCISER");
	return e && *e ? e : "build/normal/tests/stress/exerciser";
}

static const char *quota_exerciser(void)
{
	const char *e = getenv("QUOTA_EXERCISER");
	return e && *e ? e : "build/normal/tests/stress/quota_exerciser";
}

/* Whether pid is running (not gone, not a zombie). */
static int daemon_alive(pid_t pid)
{
	char st = tstate(pid);
	return st && st != 'Z';
}

static void run_on(int file_backed)
{
	struct tmount m;
	char expect[PATH_MAX + 16], seed[64] = "";
	const char *s = getenv("STRESS_SEED");

	const char *opts = getenv("STRESS_OPTS");
	ck_assert_int_eq(tmount_start(&m, file_backed, opts), 0);
	snprintf(expect, sizeof(expect), "%s/expect", m.root);
	ck_assert_int_eq(mkdir(expect, 0755), 0);
	if (s && *s)
		snprintf(seed, sizeof(seed), "--seed %s", s);
	printf("stress: %s-backed mount%s%s, data path %s, %d s, daemon pid "
	       "%d\n",
	       file_backed ? "file" : "memory", opts && *opts ? " -o " : "",
	       opts ? opts : "", m.passthrough ? "passthrough" : "fallback",
	       duration(), (int)m.pid);
	fflush(stdout);
	int st =
	    tsh(duration() + 600,
		"'%s' --dir '%s' --files %d --duration %d --expect '%s' %s",
		exerciser(), m.mnt, NFILES, duration(), expect, seed);
	ck_assert_msg(st == 0, "exerciser failed (status %d)", st);

	/* The daemon must still be there, and go down cleanly. */
	ck_assert_msg(daemon_alive(m.pid), "the daemon died during the run");
	tsh(10,
	    "grep -E 'VmRSS|VmHWM|Threads' /proc/%d/status | tr -s ' \t' "
	    "' ' | tr '\n' ' ' | sed 's/^/stress: daemon /'; echo",
	    (int)m.pid);
	time_t t0 = time(NULL);
	int st_daemon = tmount_unmount(&m);
	printf("stress: unmount and daemon exit took %ld s, status %d\n",
	       (long)(time(NULL) - t0), st_daemon);
	/* Everything must be in the backing files after unmount. */
	ck_assert_int_eq(st_daemon, 0);
	for (int f = 0; file_backed && f < NFILES; f++) {
		char b[32];
		snprintf(b, sizeof(b), "map%d", f);
		ck_assert_msg(tsh(60, "cmp '%s/map%d' '%s'", expect, f,
				  tmount_bpath(&m, b)) == 0,
			      "backing file %s differs from the model", b);
	}
	tsh(30, "rm -rf '%s'", m.root);
}

/*
 * The limits are small (a few dozen pages, a handful of mappings per user
 * and per group) so that every user's processes run into them all the
 * time; the capacity is far above their sum, so that only quotas refuse.
 */
#define QUOTA_USER_BYTES  "256k"
#define QUOTA_USER_MAPS	  "8"
#define QUOTA_GROUP_BYTES "448k"
#define QUOTA_GROUP_MAPS  "14"

START_TEST(quota)
{
	struct tmount m;
	char seed[64] = "";
	const char *s = getenv("STRESS_SEED");
	const char *extra = getenv("STRESS_OPTS");
	char opts[512];
	snprintf(opts, sizeof(opts),
		 "size=1g,allow_other,usrquota,grpquota,usrquota_block_"
		 "hardlimit=" QUOTA_USER_BYTES
		 ",usrquota_inode_hardlimit=" QUOTA_USER_MAPS
		 ",grpquota_block_hardlimit=" QUOTA_GROUP_BYTES
		 ",grpquota_inode_hardlimit=" QUOTA_GROUP_MAPS "%s%s",
		 extra && *extra ? "," : "", extra ? extra : "");
	ck_assert_int_eq(tmount_start(&m, 0, opts), 0);
	if (s && *s)
		snprintf(seed, sizeof(seed), "--seed %s", s);
	printf("stress: quotas, -o %s, data path %s, %d s, daemon pid %d\n",
	       opts, m.passthrough ? "passthrough" : "fallback", duration(),
	       (int)m.pid);
	fflush(stdout);
	int st =
	    tsh(duration() + 600,
		"'%s' --dir '%s' --duration %d --users 8 --procs 3 "
		"--groups 4 --root-procs 2 --committed --user-bytes %s "
		"--user-maps %s --group-bytes %s --group-maps %s %s",
		quota_exerciser(), m.mnt, duration(), QUOTA_USER_BYTES,
		QUOTA_USER_MAPS, QUOTA_GROUP_BYTES, QUOTA_GROUP_MAPS, seed);
	ck_assert_msg(st == 0, "quota exerciser failed (status %d)", st);
	ck_assert_msg(daemon_alive(m.pid), "the daemon died during the run");
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

START_TEST(memory_backed)
{
	run_on(0);
}
END_TEST

START_TEST(file_backed)
{
	run_on(1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress");
	TCase *mem = tcase_create("memory");
	TCase *file = tcase_create("file");
	TCase *quotas = tcase_create("quota");
	tcase_set_timeout(mem, duration() + 900);
	tcase_set_timeout(file, duration() + 900);
	tcase_set_timeout(quotas, duration() + 900);
	tcase_add_test(mem, memory_backed);
	tcase_add_test(file, file_backed);
	suite_add_tcase(s, mem);
	suite_add_tcase(s, file);
	tcase_add_test(quotas, quota);
	suite_add_tcase(s, quotas);
	return run_suite(s);
}
