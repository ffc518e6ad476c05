/*
 * Mount tests of failed name-making operations: a create, mkdir, mknod,
 * symlink or link that fails (EMFILE at the daemon's descriptor limit,
 * ENOSPC at nr_mappings or on a backing filesystem out of inodes, EDQUOT
 * at a user's mapping limit) leaves no name behind. After each failure
 * readdir, stat, unlink and a second try of the same name agree that the
 * name is absent; once the limit is lifted the second try works, and the
 * directory it was tried in can be removed. A rename the backing
 * directory refuses leaves both names as they were. Memory- and
 * file-backed.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define USER 20001 /* a plain numeric id, in a group of the same number */

static struct tmount m;

static const char *P(const char *rel)
{
	static char buf[4][PATH_MAX + 64];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%.60s", m.mnt, rel);
	return buf[i];
}

/* The name-making operations, as a program calls them: 0 or -errno. */
static int do_create(const char *path)
{
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int do_mkdir(const char *path)
{
	return mkdir(path, 0755) < 0 ? -errno : 0;
}

static int do_mknod(const char *path)
{
	return mknod(path, S_IFREG | 0644, 0) < 0 ? -errno : 0;
}

static int do_mkfifo(const char *path)
{
	return mknod(path, S_IFIFO | 0644, 0) < 0 ? -errno : 0;
}

static int do_symlink(const char *path)
{
	return symlink("somewhere", path) < 0 ? -errno : 0;
}

/* A second name for "src", made at the start of each test. */
static int do_link(const char *path)
{
	return link(P("src"), path) < 0 ? -errno : 0;
}

struct op {
	const char *what;
	int (*make)(const char *path);
};

static const struct op CREATE = {"create", do_create};
static const struct op MKDIR = {"mkdir", do_mkdir};
static const struct op MKNOD = {"mknod", do_mknod};
static const struct op MKFIFO = {"mknod fifo", do_mkfifo};
static const struct op SYMLINK = {"symlink", do_symlink};
static const struct op LINK = {"link", do_link};

/* How many times dir lists name. */
static int listed(const char *dir, const char *name)
{
	DIR *d = opendir(P(dir));
	ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += !strcmp(e->d_name, name);
	closedir(d);
	return n;
}

/* Every way of looking agrees: dir/name is not there. */
static void expect_absent(const struct op *op, const char *dir,
			  const char *name)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	struct stat st;
	ck_assert_msg(listed(dir, name) == 0, "%s failed, yet readdir lists %s",
		      op->what, rel);
	ck_assert_msg(lstat(P(rel), &st) < 0 && errno == ENOENT,
		      "%s failed, yet lstat %s: %s", op->what, rel,
		      strerror(errno));
	ck_assert_msg(unlink(P(rel)) < 0 && errno == ENOENT,
		      "%s failed, yet unlink %s: %s", op->what, rel,
		      strerror(errno));
	if (m.backing[0])
		ck_assert_msg(lstat(tmount_bpath(&m, rel), &st) < 0 &&
				  errno == ENOENT,
			      "%s failed, yet the backing directory has %s",
			      op->what, rel);
}

/*
 * Make path, waiting (at most 10 s) for room: an unlinked entry gives its
 * room back when it dies, once the kernel forgets it, a moment after the
 * unlink.
 */
static int make_when_room(int (*make)(const char *path), const char *path)
{
	int res = make(path);
	for (int i = 0; i < 1000 && (res == -ENOSPC || res == -EDQUOT); i++) {
		usleep(10000);
		res = make(path);
	}
	return res;
}

/* The limit lifted, the same name can be made, is seen once, and goes;
 * then dir is empty and can be removed. */
static void expect_retry_works(const struct op *op, const char *dir,
			       const char *name)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	int res = make_when_room(op->make, P(rel));
	ck_assert_msg(res == 0, "%s %s again: %s", op->what, rel,
		      strerror(-res));
	struct stat st;
	ck_assert_msg(lstat(P(rel), &st) == 0, "lstat %s: %s", rel,
		      strerror(errno));
	ck_assert_int_eq(listed(dir, name), 1);
	if (S_ISDIR(st.st_mode))
		ck_assert_int_eq(rmdir(P(rel)), 0);
	else
		ck_assert_int_eq(unlink(P(rel)), 0);
	ck_assert_msg(rmdir(P(dir)) == 0, "rmdir %s after %s: %s", dir,
		      op->what, strerror(errno));
}

/* op of dir/name fails with err, and leaves nothing. */
static void expect_refused(const struct op *op, const char *dir,
			   const char *name, int err)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	int res = op->make(P(rel));
	ck_assert_msg(res == -err, "%s %s: got %s, want %s", op->what, rel,
		      strerror(-res), strerror(err));
	expect_absent(op, dir, name);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/*
 * EMFILE: the daemon's soft RLIMIT_NOFILE set to 0, so that its next open
 * fails (what it has open stays usable, /dev/fuse included); then back to
 * what it was.
 */
static struct rlimit saved_nofile;

static void block_daemon_fds(void)
{
	ck_assert_int_eq(prlimit(m.pid, RLIMIT_NOFILE, NULL, &saved_nofile), 0);
	struct rlimit rl = saved_nofile;
	rl.rlim_cur = 0;
	ck_assert_int_eq(prlimit(m.pid, RLIMIT_NOFILE, &rl, NULL), 0);
}

static void unblock_daemon_fds(void)
{
	ck_assert_int_eq(prlimit(m.pid, RLIMIT_NOFILE, &saved_nofile, NULL), 0);
}

static void emfile_case(const struct op *op)
{
	ck_assert_int_eq(mkdir(P("t"), 0755), 0);
	block_daemon_fds();
	int res = op->make(P("t/n"));
	unblock_daemon_fds();
	ck_assert_msg(res == -EMFILE, "%s at the fd limit: %s", op->what,
		      strerror(-res));
	expect_absent(op, "t", "n");
	expect_retry_works(op, "t", "n");
}

/* The bug as seen: open(O_CREAT) at the daemon's descriptor limit. */
START_TEST(emfile_memory)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=16m"), 0);
	emfile_case(&CREATE);
	unmount();
}
END_TEST

/* A backing file made, then not opened: it goes too. mkdir opens the
 * directory it made. */
START_TEST(emfile_file)
{
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	emfile_case(&CREATE);
	emfile_case(&MKDIR);
	unmount();
}
END_TEST

/* Make entries "f0", "f1", ... (those still missing) until the mount
 * refuses one with err. */
static void fill_up(int err)
{
	for (int i = 0; i < 100000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		int res = do_mknod(P(name));
		if (res == -err)
			return;
		ck_assert_msg(res == 0 || res == -EEXIST, "filling up: %s",
			      strerror(-res));
	}
	ck_abort_msg("never refused with %s", strerror(err));
}

/* Names in the root and in "t", if there. */
static int names_in_tree(void)
{
	int n = 0;
	const char *dirs[] = {".", "t"};
	for (size_t i = 0; i < 2; i++) {
		DIR *d = opendir(P(dirs[i]));
		for (struct dirent *e; d && (e = readdir(d));)
			n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		if (d)
			closedir(d);
	}
	return n;
}

static long long inodes_used(const char *fs)
{
	struct statvfs sv;
	ck_assert_int_eq(statvfs(fs, &sv), 0);
	return (long long)(sv.f_files - sv.f_ffree);
}

/*
 * Wait (at most 10 s) until the filesystem that runs out counts exactly
 * the names there are (nr_mappings: entries but the root; the backing
 * tmpfs: its root and one per name, links included): an entry removed is
 * freed when the kernel forgets it, a moment after the unlink, and room
 * that came back after filling up would let the refused op through.
 */
static void settle(void)
{
	const char *fs = m.backing[0] ? m.backing : m.mnt;
	int base = m.backing[0] ? 1 : 0;
	for (int i = 0; i < 1000 && inodes_used(fs) != base + names_in_tree();
	     i++)
		usleep(10000);
	ck_assert_int_eq(inodes_used(fs), base + names_in_tree());
}

/* For each op: full, refused with ENOSPC, nothing left, room made, the
 * same name works. */
static void enospc_cases(const struct op *const *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(make_when_room(do_mkdir, P("t")), 0);
		settle();
		fill_up(ENOSPC);
		expect_refused(ops[i], "t", "n", ENOSPC);
		ck_assert_int_eq(unlink(P("f0")), 0);
		expect_retry_works(ops[i], "t", "n");
	}
}

/* nr_mappings reached: every kind of entry is refused. */
START_TEST(enospc_memory)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=16m,nr_mappings=40"), 0);
	const struct op *ops[] = {&CREATE, &MKDIR, &MKNOD, &MKFIFO, &SYMLINK};
	enospc_cases(ops, sizeof(ops) / sizeof(ops[0]));
	unmount();
}
END_TEST

/* A file-backed mount over a fresh tmpfs with few inodes. */
static void start_on_small_tmpfs(void)
{
	memset(&m, 0, sizeof(m));
	m.pid = -1;
	snprintf(m.root, sizeof(m.root), "%.4000s/shmapfs-test.XXXXXX",
		 test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(m.root));
	snprintf(m.mnt, sizeof(m.mnt), "%.4000s/mnt", m.root);
	snprintf(m.backing, sizeof(m.backing), "%.4000s/backing", m.root);
	snprintf(m.log, sizeof(m.log), "%.4000s/daemon.log", m.root);
	ck_assert_int_eq(mkdir(m.mnt, 0755), 0);
	ck_assert_int_eq(mkdir(m.backing, 0755), 0);
	ck_assert_int_eq(tsh(10,
			     "mount -t tmpfs -o size=4m,nr_inodes=40 "
			     "shmapfs-names '%s'",
			     m.backing),
			 0);
	ck_assert_int_eq(tmount_restart(&m, NULL), 0);
}

static void stop_on_small_tmpfs(void)
{
	int status = tmount_unmount(&m);
	umount2(m.backing, MNT_DETACH);
	tsh(30, "rm -rf '%s'", m.root);
	ck_assert_int_eq(status, 0);
}

/* The backing filesystem out of inodes: every kind of entry, a second
 * name included (tmpfs counts names), is refused. */
START_TEST(enospc_file)
{
	start_on_small_tmpfs();
	ck_assert_int_eq(do_create(P("src")), 0);
	const struct op *ops[] = {&CREATE, &MKDIR,   &MKNOD,
				  &MKFIFO, &SYMLINK, &LINK};
	enospc_cases(ops, sizeof(ops) / sizeof(ops[0]));
	stop_on_small_tmpfs();
}
END_TEST

/* As USER: op's errno on the path (0 if it worked). */
struct as_user {
	const struct op *op;
	const char *path;
};

static int op_as_user(void *arg)
{
	const struct as_user *a = arg;
	return -a->op->make(a->path);
}

static int op_as_user_when_room(void *arg)
{
	const struct as_user *a = arg;
	return -make_when_room(a->op->make, a->path);
}

static int make_as_user(const struct op *op, const char *rel, int wait)
{
	struct as_user a = {op, P(rel)};
	return in_child(wait ? op_as_user_when_room : op_as_user, &a, USER,
			USER, 30);
}

/* USER at the limit of mappings: create and mknod refused. */
START_TEST(edquot_memory)
{
	ck_assert_int_eq(tmount_start(&m, 0,
				      "size=16m,allow_other,usrquota,"
				      "usrquota_inode_hardlimit=3"),
			 0);
	const struct op *ops[] = {&CREATE, &MKNOD};
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(mkdir(P("t"), 0777), 0);
		ck_assert_int_eq(chmod(P("t"), 01777), 0);
		ck_assert_int_eq(make_as_user(&MKNOD, "f0", 1), 0);
		ck_assert_int_eq(make_as_user(&MKNOD, "f1", 1), 0);
		ck_assert_int_eq(make_as_user(&MKNOD, "f2", 1), 0);
		ck_assert_int_eq(make_as_user(ops[i], "t/n", 0), EDQUOT);
		expect_absent(ops[i], "t", "n");
		ck_assert_int_eq(unlink(P("f2")), 0);
		ck_assert_int_eq(make_as_user(ops[i], "t/n", 1), 0);
		ck_assert_int_eq(listed("t", "n"), 1);
		ck_assert_int_eq(unlink(P("t/n")), 0);
		ck_assert_int_eq(rmdir(P("t")), 0);
		ck_assert_int_eq(unlink(P("f0")), 0);
		ck_assert_int_eq(unlink(P("f1")), 0);
	}
	unmount();
}
END_TEST

/* Wait (at most 10 s) until nobody holds the backing file's lock: a
 * mapping goes idle when the release that follows close() arrives. */
static void wait_unlocked(const char *rel)
{
	for (int i = 0; i < 1000 && !flock_free(tmount_bpath(&m, rel)); i++)
		usleep(10000);
	ck_assert_msg(flock_free(tmount_bpath(&m, rel)),
		      "backing file %s still locked", rel);
}

static void expect_content(const char *rel, char want)
{
	char c = 0;
	ck_assert_int_eq(get_file(P(rel), &c, 1), 1);
	ck_assert_int_eq(c, want);
}

/* A rename over "b" refused by the backing directory (the backing file
 * of "a" moved away behind the daemon's back) leaves both names as they
 * were, and b idle: its backing file not held. The mount must not know
 * of the move yet: no watcher, and a long actimeo (else "a" is gone as
 * soon as it is moved, as check_truth shows). */
START_TEST(rename_fails_file)
{
	setenv("SHMAPFS_TEST_NO_WATCH", "1", 1);
	int res = tmount_start(&m, 1, "actimeo=600");
	unsetenv("SHMAPFS_TEST_NO_WATCH");
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(put_file(P("a"), "a", 1, 0644), 0);
	ck_assert_int_eq(put_file(P("b"), "b", 1, 0644), 0);
	wait_unlocked("a");
	wait_unlocked("b");
	char moved[PATH_MAX + 16];
	snprintf(moved, sizeof(moved), "%s/a-moved", m.root);
	ck_assert_int_eq(rename(tmount_bpath(&m, "a"), moved), 0);
	ck_assert_int_eq(rename(P("a"), P("b")), -1);
	/* Before any open of b, which would close its store at release. */
	ck_assert_msg(flock_free(tmount_bpath(&m, "b")),
		      "a failed rename left b's backing file held");
	ck_assert_int_eq(listed(".", "a"), 1);
	ck_assert_int_eq(listed(".", "b"), 1);
	expect_content("b", 'b');
	ck_assert_int_eq(rename(moved, tmount_bpath(&m, "a")), 0);
	ck_assert_int_eq(rename(P("a"), P("b")), 0);
	ck_assert_int_eq(listed(".", "a"), 0);
	expect_content("b", 'a');
	unmount();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("false_names");
	TCase *tc = tcase_create("names");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, emfile_memory);
	tcase_add_test(tc, emfile_file);
	tcase_add_test(tc, enospc_memory);
	tcase_add_test(tc, enospc_file);
	tcase_add_test(tc, edquot_memory);
	tcase_add_test(tc, rename_fails_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
