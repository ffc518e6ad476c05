/*
 * Mount tests of the command line: errors give one line on stderr, a
 * documented exit code and no mount; the daemon detaches only once the
 * mount answers; SIGTERM and SIGINT write everything out, unmount and exit
 * 0; -o ro serves a backing directory read-only.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define FUSE_SUPER_MAGIC 0x65735546

static struct tmount m;

static void make_dirs(void)
{
	/* A mount that we start by hand; tmount gives us the directories. */
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
}

static void remove_dirs(void)
{
	tsh(10, "umount -l '%s' 2>/dev/null; rm -rf '%s'", m.mnt, m.root);
}

static int mounted(void)
{
	struct statfs sf;
	return statfs(m.mnt, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC;
}

/* Run the daemon (detaching) with args, on the data path asked for; its
 * exit status. */
static int run(const char *args)
{
	return tsh(20, "'%s' %s%s 2>'%s/err'", tmount_daemon(),
		   tmount_path_args(), args, m.root);
}

static int stderr_lines(void)
{
	return tsh(5, "exit $(wc -l < '%s/err')", m.root);
}

START_TEST(bad_usage_exits_1)
{
	char args[3 * PATH_MAX + 64];
	const char *bad[] = {
	    "-o size=12q",	 "-o size=", "-o mode=99", "-o nr_mappings=0",
	    "-o no_such_option", "-x",	     "",	   "a b c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!strcmp(bad[i], "a b c"))
			snprintf(args, sizeof(args), "a b c");
		else
			snprintf(args, sizeof(args), "%s '%s'", bad[i],
				 bad[i][0] ? m.mnt : "");
		if (!bad[i][0])
			snprintf(args, sizeof(args), " ");
		ck_assert_msg(run(args) == 1, "'%s' should exit 1", bad[i]);
		ck_assert_int_eq(stderr_lines(), 1);
		ck_assert(!mounted());
	}
}
END_TEST

START_TEST(bad_places)
{
	char args[3 * PATH_MAX + 64];
	snprintf(args, sizeof(args), "'%s/nowhere'", m.root);
	ck_assert_int_eq(run(args), 3);
	ck_assert_int_eq(stderr_lines(), 1);
	snprintf(args, sizeof(args), "'%s/err' '%s'", m.root, m.mnt);
	ck_assert_int_eq(run(args), 2); /* backing is a file */
	snprintf(args, sizeof(args), "'%s/nowhere' '%s'", m.root, m.mnt);
	ck_assert_int_eq(run(args), 2);
	ck_assert_int_eq(stderr_lines(), 1);
	ck_assert(!mounted());
}
END_TEST

static pid_t daemon_pid(void)
{
	char out[64] = {0};
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "pgrep -f -n -- ' %s$'", m.mnt);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	pclose(f);
	return (pid_t)atoi(out);
}

static void wait_gone(pid_t pid)
{
	for (int i = 0; i < 2000 && kill(pid, 0) == 0; i++)
		usleep(5000);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert(!mounted());
}

/* Detached: usable the moment the command returns; a signal writes the
 * dirty pages of a live view out before it unmounts. */
static void signal_writes_out(int sig)
{
	char args[3 * PATH_MAX + 64];
	/* noexclusive: we look into the backing file while still mapped. */
	snprintf(args, sizeof(args), "-o noexclusive '%s' '%s'", m.backing,
		 m.mnt);
	ck_assert_int_eq(run(args), 0);
	ck_assert(mounted());
	pid_t pid = daemon_pid();
	ck_assert_int_gt(pid, 0);
	int fd = open(tmount_path(&m, "v"), O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memcpy(p, "dirty-at-signal", 15);
	ck_assert_int_eq(kill(pid, sig), 0);
	/* The view is still alive: the daemon syncs, detaches, and waits
	 * for us to let go. */
	for (int i = 0; i < 2000 && mounted(); i++)
		usleep(5000);
	char back[16];
	ck_assert_int_eq(get_file(tmount_bpath(&m, "v"), back, 15), 15);
	ck_assert_mem_eq(back, "dirty-at-signal", 15);
	munmap(p, 4096);
	close(fd);
	wait_gone(pid);
}

START_TEST(sigterm_writes_out_and_exits)
{
	signal_writes_out(SIGTERM);
}
END_TEST

START_TEST(sigint_writes_out_and_exits)
{
	signal_writes_out(SIGINT);
}
END_TEST

START_TEST(read_only)
{
	ck_assert_int_eq(put_file(tmount_bpath(&m, "f"), "ro", 2, 0644), 0);
	char args[3 * PATH_MAX + 64];
	snprintf(args, sizeof(args), "-o ro '%s' '%s'", m.backing, m.mnt);
	ck_assert_int_eq(run(args), 0);
	pid_t pid = daemon_pid();
	char back[4];
	ck_assert_int_eq(get_file(tmount_path(&m, "f"), back, 4), 2);
	ck_assert_int_eq(open(tmount_path(&m, "f"), O_RDWR), -1);
	ck_assert_int_eq(errno, EROFS);
	ck_assert_int_eq(open(tmount_path(&m, "g"), O_RDWR | O_CREAT, 0644),
			 -1);
	ck_assert_int_eq(errno, EROFS);
	ck_assert_int_eq(tsh(10, "umount '%s'", m.mnt), 0);
	wait_gone(pid);
}
END_TEST

/* As root, the daemon gives its mount read-ahead as large as its largest
 * request and the dirty limits of an ordinary disk. */
static unsigned bdi_knob(const char *knob)
{
	struct stat st;
	ck_assert_int_eq(stat(m.mnt, &st), 0);
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/%s",
		 major(st.st_dev), minor(st.st_dev), knob);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	unsigned v = 0;
	ck_assert_int_eq(fscanf(f, "%u", &v), 1);
	fclose(f);
	return v;
}

START_TEST(tunes_its_bdi)
{
	char args[3 * PATH_MAX + 64];
	snprintf(args, sizeof(args), "'%s'", m.mnt);
	ck_assert_int_eq(run(args), 0);
	pid_t pid = daemon_pid();
	ck_assert_int_eq(bdi_knob("read_ahead_kb"), 1024);
	ck_assert_int_eq(bdi_knob("strict_limit"), 0);
	ck_assert_int_eq(bdi_knob("max_ratio"), 25);
	ck_assert_int_eq(tsh(10, "umount '%s'", m.mnt), 0);
	wait_gone(pid);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, make_dirs, remove_dirs);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, bad_usage_exits_1);
	tcase_add_test(tc, bad_places);
	tcase_add_test(tc, sigterm_writes_out_and_exits);
	tcase_add_test(tc, sigint_writes_out_and_exits);
	tcase_add_test(tc, read_only);
	tcase_add_test(tc, tunes_its_bdi);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
