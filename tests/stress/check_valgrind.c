/*
 * One short mount test meant to run with the daemon under valgrind
 * (SHMAPFS_BIN=tests/stress/valgrind-shmapfs.sh; see stress.mk): it goes
 * through the daemon's main paths on a memory-backed and a file-backed
 * mount (create, write, read, views, truncate, fallocate, xattrs,
 * protection, rename, unlink of an open mapping, directories, fsync and
 * msync), then unmounts one mount and stops the other with SIGTERM, and
 * requires exit status 0 both times: the wrapper turns any valgrind error
 * or definite/indirect leak into 99.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define LEN (256 * 1024)

static void workout(struct tmount *m)
{
	static char buf[LEN], back[LEN];
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (char)(i * 7 + 3);
	ck_assert_int_eq(mkdir(tmount_path(m, "dir"), 0755), 0);
	const char *p = tmount_path(m, "dir/map");
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, LEN, 0), LEN);
	ck_assert_int_eq(fsync(fd), 0);
	char *v = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(v, MAP_FAILED);
	ck_assert_int_eq(memcmp(v, buf, LEN), 0);
	memset(v + 4096, 0x5a, 8192);
	memset(buf + 4096, 0x5a, 8192);
	ck_assert_int_eq(msync(v, LEN, MS_SYNC), 0);
	ck_assert_int_eq(pread(fd, back, LEN, 0), LEN);
	ck_assert_int_eq(memcmp(back, buf, LEN), 0);
	munmap(v, LEN);
	ck_assert_int_eq(
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
	    0);
	ck_assert_int_eq(ftruncate(fd, LEN / 2), 0);
	ck_assert_int_eq(ftruncate(fd, LEN * 2), 0);
	ck_assert_int_eq(
	    fsetxattr(fd, "user.shmap.base", "0x7f0000000000", 14, 0), 0);
	char x[64];
	ck_assert_int_eq(fgetxattr(fd, "user.shmap.base", x, sizeof(x)), 14);
	ck_assert_int_gt(flistxattr(fd, x, sizeof(x)), 0);
	close(fd);

	/* Protection: readonly refuses writers. */
	ck_assert_int_eq(setxattr(p, "user.shmap.protect", "readonly", 8, 0),
			 0);
	ck_assert_int_eq(open(p, O_RDWR), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(setxattr(p, "user.shmap.protect", "readwrite", 9, 0),
			 0);

	/* Rename, then unlink while open: lives until closed. */
	const char *q = tmount_path(m, "dir/renamed");
	ck_assert_int_eq(rename(p, q), 0);
	fd = open(q, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unlink(q), 0);
	ck_assert_int_eq(pread(fd, back, 16, LEN / 4), 16);
	close(fd);

	/* A few more names, a listing, and leave some for unmount. */
	for (int i = 0; i < 8; i++) {
		char name[32];
		snprintf(name, sizeof(name), "dir/f%d", i);
		fd = open(tmount_path(m, name), O_RDWR | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, buf, 4096 * (i + 1), 0),
				 4096 * (i + 1));
		close(fd);
	}
	DIR *d = opendir(tmount_path(m, "dir"));
	ck_assert_ptr_nonnull(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	ck_assert_int_eq(n, 10);
	ck_assert_int_eq(unlink(tmount_path(m, "dir/f0")), 0);
	struct stat st;
	ck_assert_int_eq(stat(tmount_path(m, "dir/f7"), &st), 0);
	ck_assert_int_eq(st.st_size, 4096 * 8);
}

START_TEST(memory_backed_unmount)
{
	struct tmount m;
	ck_assert_int_eq(tmount_start(&m, 0, "size=64m"), 0);
	workout(&m);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

START_TEST(file_backed_sigterm)
{
	struct tmount m;
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	workout(&m);
	ck_assert_int_eq(kill(m.pid, SIGTERM), 0);
	int st = twait(m.pid, 60000);
	m.pid = -1;
	if (st != 0)
		tsh(10, "cat '%s' >&2", m.log);
	ck_assert_msg(st == 0, "daemon under valgrind: exit status %d", st);
	struct stat sb;
	ck_assert_int_eq(stat(tmount_bpath(&m, "dir/f7"), &sb), 0);
	ck_assert_int_eq(sb.st_size, 4096 * 8);
	tsh(30, "rm -rf '%s'", m.root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("valgrind");
	TCase *tc = tcase_create("valgrind");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, memory_backed_unmount);
	tcase_add_test(tc, file_backed_sigterm);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
