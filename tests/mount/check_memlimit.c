/*
 * A daemon in a memory cgroup refuses creates with ENOSPC when its mount
 * is as full as the cgroup's limit allows, and is never OOM-killed: the
 * daemon starts in a cgroup of the test's own limited to 128 MiB (the
 * case seen OOM-killed at 95,667 mappings), the test creates empty 4 KiB
 * mappings until ENOSPC, then checks that the daemon lives, the mount
 * serves, marked mappings read back, and creates work again after
 * removals. It prints the cgroup's usage per mapping (the figure behind
 * MEMLIMIT_*_MAPPING_BYTES in fs/core/memlimit.h).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memlimit.h"
#include "mount.h"
#include "util.h"

#define LIMIT	   (128ull << 20)
#define MOST	   400000 /* creates: far past what 128 MiB may hold */
#define DEADLINE_S 240
#define MARK_EVERY 997 /* these mappings get content of their own */

static struct tcgroup cg; /* made by the parent, for every test */

static void cgroup_setup(void)
{
	char name[64];
	tcgroup_remove_stale("shmapfs-memlimit-");
	snprintf(name, sizeof(name), "shmapfs-memlimit-%d", (int)getpid());
	ck_assert_int_eq(tcgroup_make(&cg, name, LIMIT), 0);
}

static void cgroup_teardown(void)
{
	tcgroup_remove(&cg);
}

/* The daemon runs and is not a zombie. */
static int alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

static int create_one(const struct tmount *m, int i)
{
	char name[32];
	snprintf(name, sizeof(name), "m%d", i);
	int fd = open(tmount_path(m, name), O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -errno;
	int res = ftruncate(fd, 4096) < 0 ? -errno : 0;
	if (res == 0 && i % MARK_EVERY == 0 &&
	    pwrite(fd, &i, sizeof(i), 0) != (ssize_t)sizeof(i))
		res = -EIO;
	close(fd);
	return res;
}

static void read_back(const struct tmount *m, int i)
{
	char name[32];
	int got = -1;
	snprintf(name, sizeof(name), "m%d", i);
	ck_assert_int_eq(get_file(tmount_path(m, name), &got, sizeof(got)),
			 sizeof(got));
	ck_assert_int_eq(got, i);
}

static void fill_until_full(int file_backed)
{
	struct tmount m;
	ck_assert_int_eq(tmount_start_in(&m, file_backed, NULL, cg.dir), 0);
	struct statvfs sv;
	ck_assert_int_eq(statvfs(m.mnt, &sv), 0);
	unsigned long long base =
	    tcgroup_read(&cg, "memory.usage_in_bytes", "memory.current", NULL);
	time_t end = time(NULL) + DEADLINE_S;
	int n = 0, res = 0;
	while (n < MOST && time(NULL) < end && (res = create_one(&m, n)) == 0)
		n++;
	unsigned long long used =
	    tcgroup_read(&cg, "memory.usage_in_bytes", "memory.current", NULL);
	printf("memlimit: %s-backed, limit %llu MiB: %d mappings (f_files "
	       "%llu), then %s; cgroup usage %llu -> %llu bytes, %llu per "
	       "mapping\n",
	       file_backed ? "file" : "memory", LIMIT >> 20, n,
	       (unsigned long long)sv.f_files, strerror(-res), base, used,
	       n ? (used - base) / n : 0);
	ck_assert_msg(res == -ENOSPC, "create %d: %s, not ENOSPC", n,
		      strerror(-res));
	ck_assert_int_gt(n, 10000);
	/* the daemon's figure holds */
	ck_assert_uint_le((used - base) / n,
			  file_backed ? MEMLIMIT_FILE_MAPPING_BYTES
				      : MEMLIMIT_MEMORY_MAPPING_BYTES);
	ck_assert_msg(alive(m.pid), "the daemon died");
	ck_assert_uint_eq(tcgroup_read(&cg, "memory.oom_control",
				       "memory.events", "oom_kill"),
			  0);
	ck_assert_int_eq(statvfs(m.mnt, &sv), 0); /* it serves */
	for (int i = 0; i < n; i += MARK_EVERY)
		read_back(&m, i);
	/* room again after removals */
	char name[32];
	for (int i = 1; i <= 100; i++) {
		snprintf(name, sizeof(name), "m%d", n - i);
		ck_assert_int_eq(unlink(tmount_path(&m, name)), 0);
	}
	for (int i = n - 100; i < n; i++)
		ck_assert_int_eq(create_one(&m, i), 0);
	ck_assert_int_eq(create_one(&m, n), -ENOSPC);
	ck_assert_msg(alive(m.pid), "the daemon died");
	ck_assert_int_eq(tmount_stop(&m), 0);
}

START_TEST(memory_backed_full)
{
	fill_until_full(0);
}
END_TEST

START_TEST(file_backed_full)
{
	fill_until_full(1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memlimit");
	TCase *tc = tcase_create("memlimit");
	tcase_add_unchecked_fixture(tc, cgroup_setup, cgroup_teardown);
	tcase_set_timeout(tc, DEADLINE_S + 120);
	tcase_add_test(tc, memory_backed_full);
	tcase_add_test(tc, file_backed_full);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
