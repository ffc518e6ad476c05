/*
 * Mount tests of sparse and committed mappings (issue 12). A sparse
 * mapping (the default) takes memory and capacity only as pages are
 * stored, like a tmpfs file, and may be far larger than the mount; a
 * committed one reserves its whole size as it grows, so that a full mount
 * shows at the truncate, never under a view. The kind is the attribute
 * user.shmap.commit, its default the mount option commit=.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define MB   (1LL << 20)
#define GB   (1LL << 30)
#define TB   (1LL << 40)
#define KIND "user.shmap.commit"

static struct tmount m;

static const char *P(const char *name)
{
	static char buf[2][PATH_MAX + 64];
	static int i;
	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", m.mnt, name);
	return buf[i];
}

static void mount_4g(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=4g"), 0);
}

static void mount_8m(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=8m"), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/* Bytes of the mount's capacity in use. */
static long long used(void)
{
	struct statvfs sv;
	ck_assert_int_eq(statvfs(m.mnt, &sv), 0);
	return (long long)(sv.f_blocks - sv.f_bfree) * (long long)sv.f_frsize;
}

static const char *kind(const char *name)
{
	static char buf[32];
	ssize_t n = getxattr(P(name), KIND, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

static int set_kind(const char *name, const char *k)
{
	return setxattr(P(name), KIND, k, strlen(k), 0) < 0 ? -errno : 0;
}

static long long blocks(const char *name)
{
	struct stat st;
	ck_assert_int_eq(stat(P(name), &st), 0);
	return (long long)st.st_blocks;
}

/* A terabyte on a 4 GiB mount takes nothing until it is touched, then
 * what was touched; sizes tmpfs takes are taken. */
START_TEST(terabyte_takes_nothing)
{
	long long before = used();
	int fd = open(P("tb"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, TB), 0);
	ck_assert_str_eq(kind("tb"), "sparse");
	ck_assert_int_eq(blocks("tb"), 0);
	ck_assert_int_le(used() - before, 64 * 1024);
	char *p =
	    mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, TB / 2);
	ck_assert_ptr_ne(p, MAP_FAILED);
	p[0] = 1;
	p[8192] = 2;
	ck_assert_int_eq(msync(p, 1 << 20, MS_SYNC), 0);
	ck_assert_int_eq(munmap(p, 1 << 20), 0);
	ck_assert_int_eq(pwrite(fd, "end", 3, TB - 3), 3);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(blocks("tb"), 3 * 8);
	ck_assert_int_le(used() - before, 3 * 4096 + 64 * 1024);
	/* As on tmpfs: the largest sizes programs try. */
	ck_assert_int_eq(truncate(P("tb"), 999999999999999LL), 0);
	struct stat st;
	ck_assert_int_eq(stat(P("tb"), &st), 0);
	ck_assert_int_eq(st.st_size, 999999999999999LL);
	/* Committing it would take more than the mount has. */
	ck_assert_int_eq(set_kind("tb", "committed"), -ENOSPC);
	ck_assert_str_eq(kind("tb"), "sparse");
	ck_assert_int_eq(unlink(P("tb")), 0);
}
END_TEST

/* A committed mapping keeps today's guarantee: its whole size is taken
 * when it grows, and growing past the capacity fails at the truncate. */
START_TEST(committed_reserves)
{
	long long before = used();
	int fd = open(P("c"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(set_kind("c", "committed"), 0);
	ck_assert_str_eq(kind("c"), "committed");
	ck_assert_int_eq(ftruncate(fd, 4 * MB), 0);
	ck_assert_int_ge(used() - before, 4 * MB);
	ck_assert_int_eq(blocks("c"), 4 * MB / 512);
	ck_assert_int_eq(ftruncate(fd, 16 * MB), -1);
	ck_assert_int_eq(errno, ENOSPC);
	/* Every page is there: stores into views never meet a full mount. */
	char *p = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 'c', 4 * MB);
	ck_assert_int_eq(munmap(p, 4 * MB), 0);
	close(fd);
	/* Sparse again: its pages stay; the attribute goes back to the
	 * mount's default when removed. */
	ck_assert_int_eq(set_kind("c", "sparse"), 0);
	ck_assert_int_eq(truncate(P("c"), 64 * MB), 0);
	ck_assert_int_eq(set_kind("c", "committed"), -ENOSPC);
	ck_assert_int_eq(removexattr(P("c"), KIND), 0);
	ck_assert_str_eq(kind("c"), "sparse");
	ck_assert_int_eq(set_kind("c", "reserved"), -EINVAL);
}
END_TEST

START_TEST(mount_default_committed)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=8m,commit=committed"), 0);
	int fd = open(P("d"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(kind("d"), "committed");
	ck_assert_int_eq(ftruncate(fd, 16 * MB), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(set_kind("d", "sparse"), 0);
	ck_assert_int_eq(ftruncate(fd, 16 * MB), 0);
	close(fd);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* Fill a sparse 64 MiB mapping through a view on an 8 MiB mount. */
static int store_everywhere(void)
{
	signal(SIGBUS, SIG_DFL); /* the signal itself, not a report */
	int fd = open(P("s"), O_RDWR);
	if (fd < 0)
		return 2;
	char *p =
	    mmap(NULL, 64 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 3;
	for (long long off = 0; off < 64 * MB; off += 4096)
		p[off] = 's';
	/* Served by the daemon, the store fails at write-back. */
	if (msync(p, 64 * MB, MS_SYNC) < 0)
		return 10;
	return fsync(fd) < 0 ? 11 : 0;
}

/*
 * Past the capacity under a view of a sparse mapping: the process storing
 * gets SIGBUS (the kernel maps the store: as on tmpfs), or, where the
 * daemon serves the data, msync/fsync fail and the pages that did not fit
 * are lost. Either way the daemon lives, no other mapping is harmed, and
 * the space comes back with the mapping.
 */
START_TEST(sparse_past_capacity)
{
	int keep = open(P("keep"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(keep, 0);
	ck_assert_int_eq(set_kind("keep", "committed"), 0);
	ck_assert_int_eq(ftruncate(keep, MB), 0);
	char pattern[4096];
	fill_pattern(pattern, sizeof(pattern), 12);
	ck_assert_int_eq(pwrite(keep, pattern, sizeof(pattern), 5000),
			 sizeof(pattern));
	int fd = open(P("s"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 64 * MB), 0);
	close(fd);

	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(store_everywhere());
	int status = 0, waited = 0;
	while (waitpid(pid, &status, WNOHANG) == 0 && waited++ < 6000)
		usleep(10000);
	ck_assert_msg(waited < 6000, "the storing process hung");
	ck_assert_msg(WIFSIGNALED(status) ? WTERMSIG(status) == SIGBUS
					  : WEXITSTATUS(status) >= 10,
		      "stores past the capacity: %s %d",
		      WIFSIGNALED(status) ? "signal" : "exit",
		      WIFSIGNALED(status) ? WTERMSIG(status)
					  : WEXITSTATUS(status));

	char back[4096];
	ck_assert_int_eq(pread(keep, back, sizeof(back), 5000), sizeof(back));
	ck_assert_int_eq(memcmp(back, pattern, sizeof(back)), 0);
	close(keep);
	ck_assert_int_eq(unlink(P("s")), 0);
	/* The space is back (the kernel lets the file go a moment later). */
	int fits = -1;
	for (int t = 0; t < 200 && fits < 0; t++) {
		int f = open(P("after"), O_CREAT | O_RDWR, 0644);
		ck_assert_int_ge(f, 0);
		fits = fsetxattr(f, KIND, "committed", 9, 0) == 0 &&
			       ftruncate(f, 4 * MB) == 0
			   ? 0
			   : -1;
		close(f);
		if (fits < 0) {
			ck_assert_int_eq(unlink(P("after")), 0);
			usleep(10000);
		}
	}
	ck_assert_int_eq(fits, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sparse");
	TCase *big = tcase_create("4g");
	tcase_add_checked_fixture(big, mount_4g, unmount);
	tcase_set_timeout(big, 60);
	tcase_add_test(big, terabyte_takes_nothing);
	suite_add_tcase(s, big);

	TCase *small = tcase_create("8m");
	tcase_add_checked_fixture(small, mount_8m, unmount);
	tcase_set_timeout(small, 120);
	tcase_add_test(small, committed_reserves);
	tcase_add_test(small, sparse_past_capacity);
	suite_add_tcase(s, small);

	TCase *opt = tcase_create("option");
	tcase_set_timeout(opt, 60);
	tcase_add_test(opt, mount_default_committed);
	suite_add_tcase(s, opt);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
