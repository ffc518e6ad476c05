/*
 * Mount tests of file flags (chattr, issue 21): immutable, append-only,
 * nodump and noatime, with tmpfs's rules. The same sequence of calls runs
 * in a tmpfs of the test's own and in the mount (memory- and file-backed;
 * the runner adds both data paths), as root and as nobody, and every
 * answer must be tmpfs's. chattr(1) and lsattr(1) work, and on a
 * file-backed mount the flags survive a remount.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define NOBODY	  65534
#define MAX_STEPS 160

static struct tmount m;
static char ref[PATH_MAX + 16]; /* the tmpfs twin, inside m.root */

/* What one run of the sequence answered, step by step. */
struct answers {
	int n;
	const char *what[MAX_STEPS];
	long res[MAX_STEPS]; /* the result, or -errno */
};

static void start(int file_backed)
{
	ck_assert_int_eq(tmount_start(&m, file_backed, "allow_other"), 0);
	/* Let nobody reach both trees (the test's directory is private). */
	ck_assert_int_eq(chmod(m.root, 0755), 0);
	snprintf(ref, sizeof(ref), "%s/ref", m.root);
	ck_assert_int_eq(mkdir(ref, 0755), 0);
	ck_assert_int_eq(mount("tmpfs", ref, "tmpfs", 0, "size=16m"), 0);
}

static void mount_memory(void)
{
	start(0);
}

static void mount_file(void)
{
	start(1);
}

static void unmount(void)
{
	umount2(ref, MNT_DETACH);
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/* dir/name, in one of a few buffers used in turn (enough for the
 * arguments of one call). */
static const char *at(const char *dir, const char *name)
{
	static char bufs[4][2 * PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	ck_assert_int_lt(snprintf(b, 2 * PATH_MAX, "%s/%s", dir, name),
			 2 * PATH_MAX);
	return b;
}

/* dir/name, to keep across calls. */
#define PATH_IN(var, dir, name)                                                \
	char var[2 * PATH_MAX];                                                \
	ck_assert_int_lt(snprintf(var, sizeof(var), "%s/%s", dir, name),       \
			 (int)sizeof(var))

static long rc(long res)
{
	return res < 0 ? -errno : res;
}

/* FS_IOC_SETFLAGS / GETFLAGS through a read-only open, as chattr does. */
static long setfl(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	long res = rc(ioctl(fd, FS_IOC_SETFLAGS, &flags));
	close(fd);
	return res;
}

static long getfl(const char *path)
{
	int flags = 0, fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	long res = rc(ioctl(fd, FS_IOC_GETFLAGS, &flags));
	close(fd);
	return res < 0 ? res : flags;
}

/* The same with struct fsxattr (xfs_io's lsattr and chattr). */
static long getxfl(const char *path)
{
	struct fsxattr fa = {0};
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	long res = rc(ioctl(fd, FS_IOC_FSGETXATTR, &fa));
	close(fd);
	return res < 0 ? res : (long)fa.fsx_xflags;
}

static long setxfl(const char *path, unsigned xflags)
{
	struct fsxattr fa = {.fsx_xflags = xflags};
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	long res = rc(ioctl(fd, FS_IOC_FSSETXATTR, &fa));
	close(fd);
	return res;
}

static long try_open(const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static long try_mmap(int fd, int prot)
{
	void *p = mmap(NULL, 4096, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	munmap(p, 4096);
	return 0;
}

static long size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 ? -errno : st.st_size;
}

static void make(const char *path)
{
	ck_assert_int_eq(put_file(path, "abc", 3, 0644), 0);
}

static void record(struct answers *a, const char *what, long res)
{
	ck_assert_int_lt(a->n, MAX_STEPS);
	a->what[a->n] = what;
	a->res[a->n++] = res;
}

#define STEP(expr) record(a, #expr, (expr))

static void immutable_file(const char *b, struct answers *a)
{
	PATH_IN(i, b, "i");
	make(i);
	make(at(b, "other"));
	int pre = open(i, O_RDWR); /* opened for writing before +i */
	ck_assert_int_ge(pre, 0);
	STEP(setfl(i, FS_IMMUTABLE_FL));
	STEP(getfl(i));
	STEP(try_open(i, O_WRONLY));
	STEP(try_open(i, O_RDWR | O_APPEND));
	STEP(try_open(i, O_RDONLY | O_TRUNC));
	STEP(try_open(i, O_RDONLY));
	STEP(rc(truncate(i, 0)));
	/* What was opened before keeps writing, as tmpfs lets it. */
	STEP(rc(pwrite(pre, "z", 1, 0)));
	STEP(rc(ftruncate(pre, 2)));
	STEP(try_mmap(pre, PROT_READ | PROT_WRITE));
	STEP(rc(fallocate(pre, 0, 0, 8192)));
	STEP(rc(unlink(i)));
	STEP(rc(rename(i, at(b, "i2"))));
	STEP(rc(rename(at(b, "other"), i)));
	STEP(rc(link(i, at(b, "i3"))));
	STEP(rc(chmod(i, 0600)));
	STEP(rc(chown(i, 1, 1)));
	STEP(rc(utimensat(AT_FDCWD, i, NULL, 0)));
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	STEP(rc(utimensat(AT_FDCWD, i, ts, 0)));
	STEP(rc(setxattr(i, "user.x", "1", 1, 0)));
	STEP(rc(removexattr(i, "user.x")));
	STEP(rc(
	    renameat2(AT_FDCWD, at(b, "other"), AT_FDCWD, i, RENAME_EXCHANGE)));
	STEP(setfl(i, 0));
	STEP(rc(unlink(i)));
	close(pre);
}

static void append_file(const char *b, struct answers *a)
{
	PATH_IN(f, b, "a");
	make(f);
	STEP(setfl(f, FS_APPEND_FL));
	STEP(getfl(f));
	STEP(try_open(f, O_WRONLY));
	STEP(try_open(f, O_RDWR));
	STEP(try_open(f, O_WRONLY | O_APPEND | O_TRUNC));
	int ap = open(f, O_WRONLY | O_APPEND);
	STEP(ap < 0 ? -errno : 0);
	STEP(rc(write(ap, "d", 1)));
	STEP(rc(pwrite(ap, "e", 1, 0))); /* appends all the same */
	STEP(size_of(f));
	STEP(rc(truncate(f, 0)));
	STEP(rc(ftruncate(ap, 0)));
	STEP(rc(fallocate(ap, 0, 0, 8192)));
	STEP(rc(fallocate(ap, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			  4096)));
	STEP(rc(chmod(f, 0600)));
	STEP(rc(utimensat(AT_FDCWD, f, NULL, 0)));
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	STEP(rc(utimensat(AT_FDCWD, f, ts, 0)));
	STEP(rc(unlink(f)));
	STEP(rc(rename(f, at(b, "a2"))));
	STEP(rc(link(f, at(b, "a3"))));
	STEP(rc(setxattr(f, "user.x", "1", 1, 0)));
	STEP(setfl(f, 0));
	STEP(rc(unlink(f)));
	close(ap);
}

static void immutable_dir(const char *b, struct answers *a)
{
	PATH_IN(d, b, "D");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	make(at(d, "x"));
	make(at(b, "out"));
	STEP(setfl(d, FS_IMMUTABLE_FL));
	STEP(getfl(d));
	STEP(try_open(at(d, "new"), O_RDWR | O_CREAT));
	STEP(try_open(at(d, "x"), O_RDWR | O_CREAT));
	STEP(rc(mkdir(at(d, "sub"), 0755)));
	STEP(rc(symlink("x", at(d, "sl"))));
	STEP(rc(mknod(at(d, "fifo"), S_IFIFO | 0644, 0)));
	STEP(rc(unlink(at(d, "x"))));
	STEP(rc(rename(at(d, "x"), at(d, "y"))));
	STEP(rc(rename(at(b, "out"), at(d, "z"))));
	STEP(rc(link(at(b, "out"), at(d, "l"))));
	STEP(rc(rmdir(d)));
	STEP(rc(chmod(d, 0700)));
	STEP(setfl(d, 0));
	STEP(rc(unlink(at(d, "x"))));
}

static void append_dir(const char *b, struct answers *a)
{
	PATH_IN(d, b, "A");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	make(at(b, "out2"));
	make(at(b, "out3"));
	STEP(setfl(d, FS_APPEND_FL));
	STEP(try_open(at(d, "new"), O_RDWR | O_CREAT));
	STEP(rc(unlink(at(d, "new"))));
	STEP(rc(rename(at(d, "new"), at(d, "n2"))));
	STEP(rc(rename(at(b, "out2"), at(d, "fresh"))));
	STEP(rc(rename(at(b, "out3"), at(d, "new"))));
	STEP(rc(link(at(b, "out3"), at(d, "l"))));
	STEP(rc(mkdir(at(d, "s"), 0755)));
	STEP(rc(rmdir(at(d, "s"))));
	STEP(setfl(d, 0));
}

/* nodump and noatime pass to new entries; the rest is refused. */
static void inherited_and_unknown(const char *b, struct answers *a)
{
	PATH_IN(d, b, "N");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	STEP(setfl(d, FS_NODUMP_FL | FS_NOATIME_FL));
	make(at(d, "f"));
	STEP(getfl(at(d, "f")));
	ck_assert_int_eq(mkdir(at(d, "s"), 0755), 0);
	STEP(getfl(at(d, "s")));
	make(at(d, "s/g"));
	STEP(getfl(at(d, "s/g")));
	STEP(setfl(at(d, "f"), FS_SYNC_FL));
	STEP(setfl(at(d, "f"), FS_COMPR_FL | FS_NODUMP_FL));
	STEP(getfl(at(d, "f")));
	STEP(getxfl(at(d, "f")));
	STEP(setxfl(at(d, "f"), FS_XFLAG_IMMUTABLE));
	STEP(getfl(at(d, "f")));
	STEP(setxfl(at(d, "f"), FS_XFLAG_SYNC));
	STEP(setxfl(at(d, "f"), 0));
	STEP(getfl(at(d, "f")));
}

/* As nobody, on a file of its own ("mine", which root made immutable)
 * and one of root's. */
static int as_nobody(void *arg)
{
	const char *b = ((const char **)arg)[0];
	struct answers *a = ((struct answers **)arg)[1];
	PATH_IN(mine, b, "mine");
	PATH_IN(fresh, b, "fresh");
	STEP(setfl(mine, 0));
	STEP(try_open(mine, O_WRONLY));
	STEP(getfl(mine));
	STEP(setfl(fresh, FS_NODUMP_FL));
	STEP(setfl(fresh, FS_NODUMP_FL | FS_IMMUTABLE_FL));
	STEP(setfl(fresh, FS_APPEND_FL));
	STEP(getfl(fresh));
	STEP(setfl(at(b, "roots"), FS_NODUMP_FL));
	return 0;
}

static void unprivileged(const char *b, struct answers *a)
{
	make(at(b, "mine"));
	make(at(b, "fresh"));
	make(at(b, "roots"));
	ck_assert_int_eq(chmod(b, 0777), 0);
	ck_assert_int_eq(chown(at(b, "mine"), NOBODY, NOBODY), 0);
	ck_assert_int_eq(chown(at(b, "fresh"), NOBODY, NOBODY), 0);
	/* Root changes the flags of a file it does not own (CAP_FOWNER). */
	STEP(setfl(at(b, "mine"), FS_IMMUTABLE_FL));
	/* The child's answers land in the same table. */
	struct answers *shared = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(shared, MAP_FAILED);
	*shared = *a;
	const void *arg[2] = {b, shared};
	ck_assert_int_eq(in_child(as_nobody, arg, NOBODY, NOBODY, 30), 0);
	*a = *shared;
	munmap(shared, sizeof(*a));
	STEP(setfl(at(b, "mine"), 0));
}

static void play(const char *b, struct answers *a)
{
	a->n = 0;
	immutable_file(b, a);
	append_file(b, a);
	immutable_dir(b, a);
	append_dir(b, a);
	inherited_and_unknown(b, a);
	unprivileged(b, a);
}

/* Every answer as tmpfs's: the same sequence in both. */
START_TEST(calls_answer_as_tmpfs)
{
	static struct answers want, got;
	play(ref, &want);
	play(m.mnt, &got);
	ck_assert_int_eq(got.n, want.n);
	int refused = 0;
	for (int i = 0; i < want.n; i++) {
		ck_assert_msg(got.res[i] == want.res[i],
			      "step %d, %s: shmapfs %ld, tmpfs %ld", i,
			      want.what[i], got.res[i], want.res[i]);
		refused += want.res[i] == -EPERM;
	}
	/* The sequence tests the rules: tmpfs refused much of it. */
	ck_assert_int_ge(refused, 40);
}
END_TEST

/* chattr(1) and lsattr(1), as root and as nobody. */
START_TEST(chattr_and_lsattr)
{
	make(tmount_path(&m, "f"));
	ck_assert_int_eq(mkdir(tmount_path(&m, "d"), 0755), 0);
	ck_assert_int_eq(tsh(30,
			     "cd '%s' && chattr +i f && chattr +a -d d "
			     "&& chattr +dA f",
			     m.mnt),
			 0);
	ck_assert_int_eq(
	    tsh(30, "cd '%s' && lsattr f | grep -q '^----i-dA-'", m.mnt), 0);
	ck_assert_int_eq(
	    tsh(30, "cd '%s' && lsattr -d d | grep -q '^-----a--'", m.mnt), 0);
	ck_assert_int_ne(
	    tsh(30, "echo x > '%s' 2>/dev/null", tmount_path(&m, "f")), 0);
	ck_assert_int_eq(
	    tsh(30,
		"setpriv --reuid=%d --regid=%d --clear-groups chattr "
		"-i '%s' 2>/dev/null",
		NOBODY, NOBODY, tmount_path(&m, "f")),
	    1);
	ck_assert_int_eq(tsh(30, "chattr -ia '%s' '%s'", tmount_path(&m, "f"),
			     tmount_path(&m, "d")),
			 0);
	ck_assert_int_eq(tsh(30, "echo x > '%s'", tmount_path(&m, "f")), 0);
	ck_assert_int_eq(
	    tsh(30, "cd '%s' && lsattr f | grep -q '^------dA'", m.mnt), 0);
}
END_TEST

/* File-backed: the flags are kept with the backing file, and an
 * immutable mapping that went idle opens again after a remount. */
START_TEST(flags_survive_remount)
{
	make(tmount_path(&m, "i"));
	make(tmount_path(&m, "a"));
	ck_assert_int_eq(mkdir(tmount_path(&m, "d"), 0755), 0);
	ck_assert_int_eq(setfl(tmount_path(&m, "i"), FS_IMMUTABLE_FL), 0);
	ck_assert_int_eq(setfl(tmount_path(&m, "a"), FS_APPEND_FL), 0);
	ck_assert_int_eq(setfl(tmount_path(&m, "d"), FS_NODUMP_FL), 0);
	/* In the backing file's attribute, which the mount does not show. */
	char v[8] = "";
	ck_assert_int_eq(getxattr(tmount_bpath(&m, "a"), "user.shmap.flags", v,
				  sizeof(v) - 1),
			 1);
	ck_assert_str_eq(v, "a");
	ck_assert_int_lt(
	    getxattr(tmount_path(&m, "a"), "user.shmap.flags", v, sizeof(v)),
	    0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(tmount_restart(&m, "allow_other"), 0);
	ck_assert_int_eq(getfl(tmount_path(&m, "i")), FS_IMMUTABLE_FL);
	ck_assert_int_eq(getfl(tmount_path(&m, "a")), FS_APPEND_FL);
	ck_assert_int_eq(getfl(tmount_path(&m, "d")), FS_NODUMP_FL);
	ck_assert_int_eq(try_open(tmount_path(&m, "i"), O_WRONLY), -EPERM);
	ck_assert_int_eq(unlink(tmount_path(&m, "i")), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(try_open(tmount_path(&m, "a"), O_WRONLY), -EPERM);
	char buf[8];
	ck_assert_int_eq(get_file(tmount_path(&m, "i"), buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	ck_assert_int_eq(tsh(30, "echo d >> '%s'", tmount_path(&m, "a")), 0);
	ck_assert_int_eq(size_of(tmount_path(&m, "a")), 5);
	/* New entries of d inherit nodump from it after the remount too. */
	make(tmount_path(&m, "d/new"));
	ck_assert_int_eq(getfl(tmount_path(&m, "d/new")), FS_NODUMP_FL);
	/* Cleared, they are gone from the backing file too. */
	ck_assert_int_eq(setfl(tmount_path(&m, "i"), 0), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(tmount_restart(&m, "allow_other"), 0);
	ck_assert_int_eq(getfl(tmount_path(&m, "i")), 0);
	ck_assert_int_eq(try_open(tmount_path(&m, "i"), O_WRONLY), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("flags");
	TCase *mem = tcase_create("memory");
	tcase_add_checked_fixture(mem, mount_memory, unmount);
	tcase_set_timeout(mem, 60);
	tcase_add_test(mem, calls_answer_as_tmpfs);
	tcase_add_test(mem, chattr_and_lsattr);
	suite_add_tcase(s, mem);

	TCase *file = tcase_create("file");
	tcase_add_checked_fixture(file, mount_file, unmount);
	tcase_set_timeout(file, 60);
	tcase_add_test(file, calls_answer_as_tmpfs);
	tcase_add_test(file, chattr_and_lsattr);
	tcase_add_test(file, flags_survive_remount);
	suite_add_tcase(s, file);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
