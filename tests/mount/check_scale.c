/*
 * Mount tests of scale (issue 12): an idle mapping holds no descriptor in
 * the daemon, so a mount holds far more mappings than the daemon's
 * RLIMIT_NOFILE; only mappings open at the same moment count against it,
 * and reaching that limit is a clear error that loses nothing. An idle
 * mapping keeps its data, also what was stored through a view that
 * outlived the last descriptor. The limit is lowered here (prlimit on the
 * daemon) so that a few thousand mappings pass it; make bench runs the
 * million.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define NMAPPINGS 3000 /* well past FD_LIMIT */
#define FD_LIMIT  256

static struct tmount m;

static void set_daemon_fd_limit(rlim_t n)
{
	struct rlimit rl = {n, n};
	ck_assert_int_eq(prlimit(m.pid, RLIMIT_NOFILE, &rl, NULL), 0);
}

static void mount_memory(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=64m"), 0);
	set_daemon_fd_limit(FD_LIMIT);
}

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	set_daemon_fd_limit(FD_LIMIT);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

static const char *P(const char *name)
{
	static char buf[2][PATH_MAX + 64];
	static int i;
	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", m.mnt, name);
	return buf[i];
}

static const char *nth(int i)
{
	static char name[32];
	snprintf(name, sizeof(name), "map%05d", i);
	return P(name);
}

/* Create mapping i as a program would: a page, tagged with i. */
static void create_nth(int i)
{
	int fd = open(nth(i), O_CREAT | O_EXCL | O_RDWR, 0644);
	ck_assert_msg(fd >= 0, "create %d: %s", i, strerror(errno));
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	ck_assert_int_eq(pwrite(fd, &i, sizeof(i), 100), sizeof(i));
	ck_assert_int_eq(close(fd), 0);
}

static void expect_tag(int fd, int i)
{
	int tag = -1;
	ck_assert_int_eq(pread(fd, &tag, sizeof(tag), 100), sizeof(tag));
	ck_assert_int_eq(tag, i);
}

static int count_entries(void)
{
	DIR *d = opendir(m.mnt);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static unsigned long files_used(void)
{
	struct statvfs sv;
	ck_assert_int_eq(statvfs(m.mnt, &sv), 0);
	return sv.f_files - sv.f_ffree;
}

/* Create, list, stat, read and remove NMAPPINGS mappings. */
START_TEST(many_mappings)
{
	unsigned long used0 = files_used();
	for (int i = 0; i < NMAPPINGS; i++)
		create_nth(i);
	ck_assert_int_eq(count_entries(), NMAPPINGS);
	if (!m.backing[0]) /* else df -i is the backing filesystem's */
		ck_assert_uint_eq(files_used() - used0, NMAPPINGS);
	for (int i = 0; i < NMAPPINGS; i++) {
		struct stat st;
		ck_assert_int_eq(stat(nth(i), &st), 0);
		ck_assert_int_eq(st.st_size, 4096);
		ck_assert(S_ISREG(st.st_mode));
	}
	for (int i = 0; i < NMAPPINGS; i += 97) {
		int fd = open(nth(i), O_RDONLY);
		ck_assert_int_ge(fd, 0);
		expect_tag(fd, i);
		close(fd);
	}
	for (int i = 0; i < NMAPPINGS; i++)
		ck_assert_int_eq(unlink(nth(i)), 0);
	ck_assert_int_eq(count_entries(), 0);
	if (!m.backing[0])
		ck_assert_uint_eq(files_used(), used0);
}
END_TEST

static int log_says(const char *what)
{
	char buf[65536];
	ssize_t n = get_file(m.log, buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

/* Mappings open at the same moment are limited by the daemon's
 * descriptors: past it, a clear error and a line in the log; nothing
 * lost, and everything works again once they are closed. */
START_TEST(open_limit_is_clear)
{
	enum {
		N = 2 * FD_LIMIT
	};
	static int fds[N];
	for (int i = 0; i < N; i++)
		create_nth(i);
	int opened = 0, err = 0;
	for (; opened < N; opened++) {
		fds[opened] = open(nth(opened), O_RDWR);
		if (fds[opened] < 0) {
			err = errno;
			break;
		}
	}
	ck_assert_msg(err == EMFILE || err == ENFILE, "open: %s",
		      strerror(err));
	ck_assert_int_gt(opened, FD_LIMIT / 2);
	ck_assert(log_says("RLIMIT_NOFILE"));
	/* The ones open still work; the refused one was not harmed. */
	for (int i = 0; i < opened; i++)
		expect_tag(fds[i], i);
	for (int i = 0; i < opened; i++)
		ck_assert_int_eq(close(fds[i]), 0);
	for (int i = 0; i < N; i++) {
		int fd = -1;
		/* Releases reach the daemon a moment after close. */
		for (int t = 0; t < 500 && fd < 0; t++) {
			fd = open(nth(i), O_RDONLY);
			if (fd < 0)
				usleep(10000);
		}
		ck_assert_msg(fd >= 0, "reopen %d: %s", i, strerror(errno));
		expect_tag(fd, i);
		close(fd);
	}
}
END_TEST

/* An idle mapping keeps its data, and a view that outlives the last
 * descriptor keeps storing into the mapping everyone else opens. */
START_TEST(idle_keeps_data_and_views)
{
	int fd = open(P("v"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(close(fd), 0);
	memcpy(p + 4096, "after close", 11);
	/* A new descriptor sees the view's stores... */
	char buf[16] = {0};
	fd = open(P("v"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 11, 4096), 11);
	ck_assert_str_eq(buf, "after close");
	/* ... and the view sees its writes. */
	ck_assert_int_eq(pwrite(fd, "written", 7, 0), 7);
	ck_assert_int_eq(memcmp(p, "written", 7), 0);
	ck_assert_int_eq(close(fd), 0);
	memcpy(p + 100, "last", 4);
	ck_assert_int_eq(munmap(p, 8192), 0);
	/* Idle now: all of it is there at the next open. */
	fd = open(P("v"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(pread(fd, buf, 4, 100), 4);
	ck_assert_str_eq(buf, "last");
	ck_assert_int_eq(pread(fd, buf, 11, 4096), 11);
	ck_assert_str_eq(buf, "after close");
	close(fd);
	struct stat st;
	ck_assert_int_eq(stat(P("v"), &st), 0);
	ck_assert_int_eq(st.st_size, 8192);
	ck_assert_int_eq(st.st_blocks, 16);
}
END_TEST

/* Truncates and attributes by name reach an idle mapping. */
START_TEST(idle_by_name)
{
	ck_assert_int_eq(put_file(P("t"), "0123456789", 10, 0644), 0);
	ck_assert_int_eq(truncate(P("t"), 4), 0);
	ck_assert_int_eq(truncate(P("t"), 8), 0);
	char buf[16];
	ck_assert_int_eq(get_file(P("t"), buf, sizeof(buf)), 8);
	ck_assert_int_eq(memcmp(buf, "0123\0\0\0\0", 8), 0);
	ck_assert_int_eq(chmod(P("t"), 0600), 0);
	struct stat st;
	ck_assert_int_eq(stat(P("t"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

static const char *backing(const char *name)
{
	static char buf[PATH_MAX + 64];
	snprintf(buf, sizeof(buf), "%s/%s", m.backing, name);
	return buf;
}

/* A backing file is locked while its mapping is open, and only then: an
 * idle mapping leaves it to others, and is refused while they hold it. */
START_TEST(backing_locked_while_open)
{
	ck_assert_int_eq(put_file(P("b"), "data", 4, 0644), 0);
	int fd = open(P("b"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert(!flock_free(backing("b")));
	/* A view holds it as an open descriptor does. */
	char *p = mmap(NULL, 4, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(close(fd), 0);
	usleep(100000);
	ck_assert(!flock_free(backing("b")));
	ck_assert_int_eq(munmap(p, 4), 0);
	int free_now = 0;
	for (int t = 0; t < 500 && !(free_now = flock_free(backing("b"))); t++)
		usleep(10000); /* the release comes a moment after close */
	ck_assert(free_now);
	int other = open(backing("b"), O_RDONLY);
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(flock(other, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(open(P("b"), O_RDONLY), -1);
	ck_assert_int_eq(errno, EBUSY);
	close(other);
	fd = open(P("b"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scale");
	TCase *mem = tcase_create("memory");
	tcase_add_checked_fixture(mem, mount_memory, unmount);
	tcase_set_timeout(mem, 180);
	tcase_add_test(mem, many_mappings);
	tcase_add_test(mem, open_limit_is_clear);
	tcase_add_test(mem, idle_keeps_data_and_views);
	tcase_add_test(mem, idle_by_name);
	suite_add_tcase(s, mem);

	TCase *file = tcase_create("file-backed");
	tcase_add_checked_fixture(file, mount_file, unmount);
	tcase_set_timeout(file, 180);
	tcase_add_test(file, many_mappings);
	tcase_add_test(file, open_limit_is_clear);
	tcase_add_test(file, idle_keeps_data_and_views);
	tcase_add_test(file, idle_by_name);
	tcase_add_test(file, backing_locked_while_open);
	suite_add_tcase(s, file);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
