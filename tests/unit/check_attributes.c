/*
 * Unit tests of the core registry, attributes: getattr, times that move
 * forward (also of directories when names change), setattr of every kind,
 * clearing set-ID bits, statfs counts, and a read-only registry. No mount:
 * the core is driven directly, on memory-backed registries unless a test
 * says otherwise; the fixture is registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

static void pause_clock(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static int ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

START_TEST(getattr_basics)
{
	struct stat st = getattr(R, root());
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 01777);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_uint_eq(st.st_uid, 0);
	struct node *d = mkdir_(R, root(), "d");
	struct node *d2 = mkdir_(R, root(), "d2");
	struct node *sub = mkdir_(R, d, "sub");
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 4);
	ck_assert_uint_eq(getattr(R, d).st_nlink, 3);
	ck_assert_uint_eq(getattr(R, sub).st_nlink, 2);
	ck_assert_int_eq(registry_rmdir(R, d, "sub"), 0);
	ck_assert_uint_eq(getattr(R, d).st_nlink, 2);
	struct node *f = mkfile(R, d, "f");
	write_str(R, f, "0123456789", 0);
	st = getattr(R, f);
	ck_assert_uint_eq(st.st_size, 10);
	ck_assert_uint_eq(st.st_nlink, 1);
	ck_assert_uint_ne(st.st_ino, getattr(R, d).st_ino);
	ck_assert_uint_gt(st.st_blksize, 0);
	ck_assert_uint_ge(st.st_blocks, 1);
	/* Distinct inode numbers. */
	ck_assert_uint_ne(getattr(R, d).st_ino, getattr(R, d2).st_ino);
	registry_forget(R, d, 1);
	registry_forget(R, d2, 1);
	registry_forget(R, sub, 1);
	registry_forget(R, f, 1);
}
END_TEST

START_TEST(times_move_forward)
{
	struct node *f = mkfile(R, root(), "f");
	struct stat before = getattr(R, f), rb = getattr(R, root());
	pause_clock();
	write_str(R, f, "x", 0);
	struct stat after = getattr(R, f);
	ck_assert(ts_after(after.st_mtim, before.st_mtim));
	ck_assert(ts_after(after.st_ctim, before.st_ctim));
	pause_clock();
	/* Creating a name changes the directory. */
	struct node *g = mkfile(R, root(), "g");
	struct stat ra = getattr(R, root());
	ck_assert(ts_after(ra.st_mtim, rb.st_mtim));
	ck_assert(ts_after(ra.st_ctim, rb.st_ctim));
	/* Truncate and fallocate change mtime too. */
	before = after;
	pause_clock();
	struct setattr_req q = {.valid = SET_SIZE, .size = 100};
	struct stat st;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert(ts_after(st.st_mtim, before.st_mtim));
	before = st;
	pause_clock();
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, 10),
	    0);
	ck_assert(ts_after(getattr(R, f).st_mtim, before.st_mtim));
	/* A link changes the target's ctime. */
	before = getattr(R, g);
	pause_clock();
	ck_assert_int_eq(registry_link(R, g, root(), "g2", &st), 0);
	ck_assert(ts_after(st.st_ctim, before.st_ctim));
	registry_forget(R, f, 1);
	registry_forget(R, g, 2);
}
END_TEST

/* Removing and renaming names change the directories' mtime and ctime
 * and the moved or unlinked node's ctime, as POSIX asks. */
START_TEST(times_of_names)
{
	struct node *d = mkdir_(R, root(), "d");
	struct node *f = mkfile(R, root(), "f");
	struct node *g = mkfile(R, root(), "g");
	struct stat rb = getattr(R, root()), db = getattr(R, d);
	struct stat fb = getattr(R, f), gb = getattr(R, g);
	pause_clock();
	ck_assert_int_eq(registry_rename(R, root(), "f", d, "f", 0), 0);
	struct stat ra = getattr(R, root()), da = getattr(R, d);
	ck_assert(ts_after(ra.st_mtim, rb.st_mtim));
	ck_assert(ts_after(ra.st_ctim, rb.st_ctim));
	ck_assert(ts_after(da.st_mtim, db.st_mtim));
	ck_assert(ts_after(getattr(R, f).st_ctim, fb.st_ctim));
	/* A rename does not change the moved file's mtime. */
	ck_assert_int_eq(getattr(R, f).st_mtim.tv_sec, fb.st_mtim.tv_sec);
	ck_assert_int_eq(getattr(R, f).st_mtim.tv_nsec, fb.st_mtim.tv_nsec);
	rb = ra;
	pause_clock();
	ck_assert_int_eq(registry_unlink(R, root(), "g"), 0);
	ra = getattr(R, root());
	ck_assert(ts_after(ra.st_mtim, rb.st_mtim));
	ck_assert(ts_after(getattr(R, g).st_ctim, gb.st_ctim));
	/* A failed operation changes nothing. */
	rb = ra;
	pause_clock();
	ck_assert_int_eq(registry_unlink(R, root(), "nope"), -ENOENT);
	ck_assert_int_eq(registry_rmdir(R, root(), "d"), -ENOTEMPTY);
	ra = getattr(R, root());
	ck_assert_int_eq(ra.st_mtim.tv_nsec, rb.st_mtim.tv_nsec);
	ck_assert_int_eq(ra.st_ctim.tv_nsec, rb.st_ctim.tv_nsec);
	registry_forget(R, d, 1);
	registry_forget(R, f, 1);
	registry_forget(R, g, 1);
}
END_TEST

START_TEST(setattr_all)
{
	struct node *f = mkfile(R, root(), "f");
	struct stat st, before = getattr(R, f);
	struct setattr_req q = {.valid = SET_MODE, .mode = S_IFREG | 04751};
	pause_clock();
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 04751);
	ck_assert(ts_after(st.st_ctim, before.st_ctim));
	q = (struct setattr_req){
	    .valid = SET_UID | SET_GID, .uid = 7, .gid = 8};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_uid, 7);
	ck_assert_uint_eq(st.st_gid, 8);
	q = (struct setattr_req){.valid = SET_GID, .gid = 9};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_uid, 7);
	ck_assert_uint_eq(st.st_gid, 9);
	q = (struct setattr_req){.valid = SET_ATIME | SET_MTIME,
				 .atime = {1000, 5},
				 .mtime = {2000, 6}};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_int_eq(st.st_atim.tv_sec, 1000);
	ck_assert_int_eq(st.st_atim.tv_nsec, 5);
	ck_assert_int_eq(st.st_mtim.tv_sec, 2000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 6);
	q = (struct setattr_req){.valid = SET_MTIME_NOW};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_int_eq(st.st_atim.tv_sec, 1000); /* untouched */
	ck_assert_int_gt(st.st_mtim.tv_sec, 1000000000);
	q = (struct setattr_req){.valid = SET_ATIME_NOW};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_int_gt(st.st_atim.tv_sec, 1000000000);
	q = (struct setattr_req){.valid = SET_CTIME, .ctime = {3000, 0}};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_int_eq(st.st_ctim.tv_sec, 3000);
	/* Size: grow with zeroes, shrink, grow again: zeroes again. */
	write_str(R, f, "abcdef", 0);
	q = (struct setattr_req){.valid = SET_SIZE, .size = 3};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_size, 3);
	q.size = 8000;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_size, 8000);
	expect_data(R, f, 0, "abc", 3);
	expect_zeroes(R, f, 3, 7997);
	/* Sizes: of a directory EISDIR, of a symlink EINVAL, too big EFBIG. */
	q.size = 0;
	ck_assert_int_eq(registry_setattr(R, root(), &q, &st), -EISDIR);
	struct node *l;
	ck_assert_int_eq(registry_symlink(R, root(), "l", "f", &USER, &l, &st),
			 0);
	ck_assert_int_eq(registry_setattr(R, l, &q, &st), -EINVAL);
	q.size = (uint64_t)INT64_MAX + 1;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), -EFBIG);
	ck_assert_uint_eq(getattr(R, f).st_size, 8000);
	/* chmod of a directory keeps its type. */
	q = (struct setattr_req){.valid = SET_MODE, .mode = 0700};
	ck_assert_int_eq(registry_setattr(R, root(), &q, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0700);
	registry_forget(R, f, 1);
	registry_forget(R, l, 1);
}
END_TEST

START_TEST(statfs_counts)
{
	struct statvfs sv = statfs_(R);
	ck_assert_uint_eq(sv.f_frsize, PAGE);
	ck_assert_uint_eq(sv.f_blocks, CAP / PAGE);
	ck_assert_uint_eq(sv.f_bfree, CAP / PAGE);
	ck_assert_uint_eq(sv.f_bavail, CAP / PAGE);
	ck_assert_uint_eq(sv.f_files, MAXN);
	ck_assert_uint_eq(sv.f_ffree, MAXN);
	ck_assert_uint_eq(sv.f_namemax, 255);
	struct node *f = mkfile(R, root(), "f");
	struct node *d = mkdir_(R, root(), "d");
	ck_assert_uint_eq(statfs_(R).f_ffree, MAXN - 2);
	/* Capacity is counted in whole pages of each mapping's size. */
	write_str(R, f, "x", 0);
	ck_assert_uint_eq(statfs_(R).f_bfree, CAP / PAGE - 1);
	write_str(R, f, "y", PAGE);
	ck_assert_uint_eq(statfs_(R).f_bfree, CAP / PAGE - 2);
	struct setattr_req q = {.valid = SET_SIZE, .size = 5 * PAGE};
	struct stat st;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(statfs_(R).f_bfree, CAP / PAGE - 5);
	q.size = 0;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(statfs_(R).f_bfree, CAP / PAGE);
	registry_forget(R, f, 1);
	registry_forget(R, d, 1);
}
END_TEST

START_TEST(read_only)
{
	struct registry_config cfg = {.capacity = CAP,
				      .max_nodes = MAXN,
				      .root_mode = 0755,
				      .backing_dirfd = -1,
				      .read_only = 1};
	struct registry *r;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	struct node *rt = registry_root(r), *x;
	struct stat st;
	ck_assert_int_eq(
	    registry_mknod(r, rt, "f", S_IFREG | 0644, 0, &USER, &x, &st),
	    -EROFS);
	ck_assert_int_eq(registry_mkdir(r, rt, "d", 0755, &USER, &x, &st),
			 -EROFS);
	ck_assert_int_eq(registry_symlink(r, rt, "l", "t", &USER, &x, &st),
			 -EROFS);
	struct setattr_req q = {.valid = SET_MODE, .mode = 0777};
	ck_assert_int_eq(registry_setattr(r, rt, &q, &st), -EROFS);
	ck_assert_int_eq(registry_setxattr(r, rt, &ROOT, "user.a", "v", 1, 0),
			 -EROFS);
	ck_assert_uint_eq(getattr(r, rt).st_mode & 07777, 0755);
	registry_free(r);
}
END_TEST

START_TEST(kill_suid_sgid)
{
	struct node *f = mkfile(R, root(), "f");
	struct setattr_req q = {.valid = SET_MODE, .mode = 06755};
	struct stat st, before;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	before = st;
	pause_clock();
	ck_assert_int_eq(registry_kill_suid_sgid(R, f), 1);
	st = getattr(R, f);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert(ts_after(st.st_ctim, before.st_ctim));
	ck_assert_int_eq(registry_kill_suid_sgid(R, f), 0);
	/* Set-group-ID without group execute is not "set group": kept. */
	q.mode = 06644;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_int_eq(registry_kill_suid_sgid(R, f), 1);
	ck_assert_uint_eq(getattr(R, f).st_mode & 07777, 02644);
	/* As part of a truncate or chown; an explicit mode wins. */
	q.mode = 04755;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	q = (struct setattr_req){.valid = SET_SIZE | SET_KILL_SUIDGID,
				 .size = 10};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_uint_eq(st.st_size, 10);
	q = (struct setattr_req){.valid = SET_MODE | SET_KILL_SUIDGID,
				 .mode = 04711};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 04711);
	/* Directories keep theirs (set-group-ID inheritance). */
	struct node *d = mkdir_(R, root(), "d");
	q = (struct setattr_req){.valid = SET_MODE, .mode = 02775};
	ck_assert_int_eq(registry_setattr(R, d, &q, &st), 0);
	ck_assert_int_eq(registry_kill_suid_sgid(R, d), 0);
	ck_assert_uint_eq(getattr(R, d).st_mode & 07777, 02775);
	registry_forget(R, f, 1);
	registry_forget(R, d, 1);
}
END_TEST

int main(void)
{
	TCase *tc = registry_tcase("attributes", 30);
	tcase_add_test(tc, getattr_basics);
	tcase_add_test(tc, times_move_forward);
	tcase_add_test(tc, times_of_names);
	tcase_add_test(tc, setattr_all);
	tcase_add_test(tc, kill_suid_sgid);
	tcase_add_test(tc, statfs_counts);
	tcase_add_test(tc, read_only);
	return registry_run(tc);
}
