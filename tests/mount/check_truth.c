/*
 * Mount tests of issue 20: a file-backed mount shows its backing
 * directory, also what others change there. Names created, removed,
 * renamed and replaced there, and a size, mode, owner and times changed
 * there, show through the mount (at once: the watcher); open(O_CREAT)
 * opens what the directory has; with the watcher off (the daemon's hook
 * SHMAPFS_TEST_NO_WATCH), revalidation alone shows them within actimeo,
 * and at every open; two mounts over one directory share it, the lock on
 * a mapping's file deciding who may use it. Each change is made on a name
 * that was idle and on one just released. On both data paths, as every
 * mount test. Waits poll for the state, bounded; none sleeps a fixed time.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

/* What "at once" may take on a CI machine loaded 20 times over. */
#define SEEN_MS 5000
/* A backing file is free for others after a release (the sweep runs
 * every second). */
#define WAIT_FREE_MS 5000

static struct tmount m;

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

static const char *P(const char *rel)
{
	return tmount_path(&m, rel);
}

static const char *B(const char *rel)
{
	return tmount_bpath(&m, rel);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll cond(arg) every 10 ms for at most ms: the ms it took, or -1. */
static long long wait_for(int (*cond)(const void *), const void *arg, int ms)
{
	long long start = now_ms();
	for (;;) {
		if (cond(arg))
			return now_ms() - start;
		if (now_ms() - start > ms)
			return -1;
		usleep(10 * 1000);
	}
}

static int absent(const void *path)
{
	struct stat st;
	return stat(path, &st) < 0 && errno == ENOENT;
}

static int present(const void *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Whether the mount's root lists name. */
static int listed(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	int found = 0;
	while ((e = readdir(d)))
		found |= !strcmp(e->d_name, name);
	closedir(d);
	return found;
}

/* The whole content of path as a string ("" on error). */
static const char *content(const char *path)
{
	static char buf[256];
	ssize_t n = get_file(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int opens_directly(const void *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/*
 * rel, a mapping made through the mount with data and its attributes
 * cached by the kernel: idle (its backing file free again) or just
 * released (open, written and closed through the mount a moment ago).
 */
static void prepare(const char *rel, const char *data, int released)
{
	ck_assert_int_eq(put_file(P(rel), data, strlen(data), 0644), 0);
	ck_assert(present(P(rel)));
	if (!released) {
		ck_assert(wait_for(opens_directly, B(rel), WAIT_FREE_MS) >= 0);
		return;
	}
	int fd = open(P(rel), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, data, strlen(data), 0),
			 (ssize_t)strlen(data));
	ck_assert_int_eq(close(fd), 0);
}

/* A missing name the kernel remembers as missing. */
static void cache_missing(const char *rel)
{
	ck_assert(absent(P(rel)));
	ck_assert_int_lt(open(P(rel), O_RDONLY), 0);
}

/* For the "released" variant of a new name: one made, used and removed
 * through the mount. */
static void prepare_gone(const char *rel, int released)
{
	if (released) {
		prepare(rel, "before", 1);
		ck_assert_int_eq(unlink(P(rel)), 0);
	}
	cache_missing(rel);
}

START_TEST(created_in_backing)
{
	prepare_gone("frame", _i);
	ck_assert_int_eq(put_file(B("frame"), "made there", 10, 0644), 0);
	ck_assert(wait_for(present, P("frame"), SEEN_MS) >= 0);
	ck_assert(listed(m.mnt, "frame"));
	ck_assert_str_eq(content(P("frame")), "made there");
	/* A directory of files copied in, too. */
	ck_assert_int_eq(mkdir(B("set"), 0755), 0);
	ck_assert_int_eq(put_file(B("set/one"), "1", 1, 0644), 0);
	ck_assert(wait_for(present, P("set/one"), SEEN_MS) >= 0);
	ck_assert(listed(P("set"), "one"));
	ck_assert_str_eq(content(P("set/one")), "1");
}
END_TEST

START_TEST(removed_in_backing)
{
	prepare("f", "ghost", _i);
	ck_assert_int_eq(unlink(B("f")), 0);
	ck_assert(wait_for(absent, P("f"), SEEN_MS) >= 0);
	ck_assert(!listed(m.mnt, "f"));
	ck_assert_int_lt(open(P("f"), O_RDONLY), 0);
	ck_assert_int_eq(errno, ENOENT);
	/* The name is free to make again, through the mount. */
	ck_assert_int_eq(put_file(P("f"), "again", 5, 0644), 0);
	ck_assert(wait_for(opens_directly, B("f"), WAIT_FREE_MS) >= 0);
	ck_assert_str_eq(content(B("f")), "again");
}
END_TEST

START_TEST(renamed_in_backing)
{
	prepare("a", "moved", _i);
	ck_assert_int_eq(rename(B("a"), B("b")), 0);
	ck_assert(wait_for(absent, P("a"), SEEN_MS) >= 0);
	ck_assert(wait_for(present, P("b"), SEEN_MS) >= 0);
	ck_assert(!listed(m.mnt, "a"));
	ck_assert(listed(m.mnt, "b"));
	ck_assert_str_eq(content(P("b")), "moved");
}
END_TEST

static int holds_new(const void *path)
{
	return !strcmp(content(path), "the new one");
}

START_TEST(replaced_in_backing)
{
	prepare("r", "old", _i);
	ck_assert_int_eq(put_file(B("r.tmp"), "the new one", 11, 0600), 0);
	ck_assert_int_eq(rename(B("r.tmp"), B("r")), 0);
	ck_assert(wait_for(holds_new, P("r"), SEEN_MS) >= 0);
	struct stat st;
	ck_assert_int_eq(stat(P("r"), &st), 0);
	ck_assert_int_eq(st.st_size, 11);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert(!listed(m.mnt, "r.tmp"));
}
END_TEST

static int size_is_10000(const void *path)
{
	struct stat st;
	return stat(path, &st) == 0 && st.st_size == 10000;
}

START_TEST(size_changed_in_backing)
{
	prepare("s", "1", _i);
	/* Grown by another process: it needs the file free. */
	ck_assert(wait_for(opens_directly, B("s"), WAIT_FREE_MS) >= 0);
	ck_assert_int_eq(truncate(B("s"), 10000), 0);
	ck_assert(wait_for(size_is_10000, P("s"), SEEN_MS) >= 0);
	char buf[10001];
	ck_assert_int_eq(get_file(P("s"), buf, sizeof(buf)), 10000);
	ck_assert_int_eq(buf[0], '1');
	ck_assert_int_eq(buf[9999], 0);
}
END_TEST

struct want_attrs {
	const char *path;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	time_t mtime;
};

static int attrs_are(const void *arg)
{
	const struct want_attrs *w = arg;
	struct stat st;
	return stat(w->path, &st) == 0 && (st.st_mode & 07777) == w->mode &&
	       st.st_uid == w->uid && st.st_gid == w->gid &&
	       st.st_mtime == w->mtime;
}

START_TEST(attributes_changed_in_backing)
{
	prepare("m", "attrs", _i);
	ck_assert_int_eq(chmod(B("m"), 0640), 0);
	ck_assert_int_eq(chown(B("m"), 1234, 4321), 0);
	struct timespec ts[2] = {{1000000000, 0}, {1200000000, 0}};
	ck_assert_int_eq(utimensat(AT_FDCWD, B("m"), ts, 0), 0);
	struct want_attrs w = {P("m"), 0640, 1234, 4321, 1200000000};
	ck_assert(wait_for(attrs_are, &w, SEEN_MS) >= 0);
}
END_TEST

/* open(O_CREAT) never fails with ENOENT in an existing directory: it
 * opens what the directory has, at once; O_EXCL refuses only that. */
START_TEST(o_creat_opens_what_is_there)
{
	prepare_gone("c", _i);
	ck_assert_int_eq(put_file(B("c"), "there", 5, 0644), 0);
	int fd = open(P("c"), O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_lt(fd, 0);
	ck_assert_int_eq(errno, EEXIST);
	fd = open(P("c"), O_RDWR | O_CREAT, 0600);
	ck_assert_msg(fd >= 0, "open(O_CREAT): %s", strerror(errno));
	char buf[8] = {0};
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), 5);
	ck_assert_str_eq(buf, "there");
	ck_assert_int_eq(close(fd), 0);
	/* And where nothing is, it creates. */
	fd = open(P("c2"), O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(present(B("c2")));
}
END_TEST

static int lists_only_listed(const void *unused)
{
	(void)unused;
	return listed(m.mnt, "only_listed");
}

/* A mount that has no watcher: what revalidation alone does. */
static void mount_unwatched(const char *opts)
{
	setenv("SHMAPFS_TEST_NO_WATCH", "1", 1);
	int res = tmount_start(&m, 1, opts);
	unsetenv("SHMAPFS_TEST_NO_WATCH");
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(tsh(10, "grep -q 'watch: unavailable' '%s'", m.log),
			 0);
}

/* With actimeo=1 and no watcher, names and sizes changed in the
 * directory show within the bound (plus what a loaded machine adds). */
START_TEST(actimeo_bounds_unwatched_changes)
{
	mount_unwatched("actimeo=1");
	prepare("gone", "x", _i);
	prepare("grown", "1", _i);
	cache_missing("new");
	ck_assert(wait_for(opens_directly, B("grown"), WAIT_FREE_MS) >= 0);
	ck_assert_int_eq(put_file(B("new"), "n", 1, 0644), 0);
	ck_assert_int_eq(unlink(B("gone")), 0);
	ck_assert_int_eq(truncate(B("grown"), 10000), 0);
	long long t1 = wait_for(present, P("new"), 1000 + SEEN_MS);
	long long t2 = wait_for(absent, P("gone"), 1000 + SEEN_MS);
	long long t3 = wait_for(size_is_10000, P("grown"), 1000 + SEEN_MS);
	ck_assert_msg(t1 >= 0 && t2 >= 0 && t3 >= 0,
		      "seen after %lld %lld %lld", t1, t2, t3);
	ck_assert(listed(m.mnt, "new"));
	ck_assert(!listed(m.mnt, "gone"));
	/* A listing alone (no lookup of the name) shows it too. */
	ck_assert_int_eq(put_file(B("only_listed"), "l", 1, 0644), 0);
	ck_assert(wait_for(lists_only_listed, NULL, 1000 + SEEN_MS) >= 0);
}
END_TEST

static int fd_mode_is_0640(const void *fd)
{
	struct stat st;
	return fstat(*(const int *)fd, &st) == 0 &&
	       (st.st_mode & 07777) == 0640;
}

/* The same for a replaced name, and mode, owner and times; a stat of an
 * open file (no lookup: getattr alone) too. */
START_TEST(actimeo_bounds_unwatched_attributes)
{
	mount_unwatched("actimeo=1");
	prepare("r", "old", _i);
	prepare("m", "attrs", _i);
	prepare("o", "open", _i);
	int fd = open(P("o"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(chmod(B("o"), 0640), 0);
	ck_assert(wait_for(fd_mode_is_0640, &fd, 1000 + SEEN_MS) >= 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(put_file(B("r.tmp"), "the new one", 11, 0600), 0);
	ck_assert_int_eq(rename(B("r.tmp"), B("r")), 0);
	ck_assert_int_eq(chmod(B("m"), 0640), 0);
	ck_assert_int_eq(chown(B("m"), 1234, 4321), 0);
	struct timespec ts[2] = {{1000000000, 0}, {1200000000, 0}};
	ck_assert_int_eq(utimensat(AT_FDCWD, B("m"), ts, 0), 0);
	struct want_attrs w = {P("m"), 0640, 1234, 4321, 1200000000};
	ck_assert(wait_for(attrs_are, &w, 1000 + SEEN_MS) >= 0);
	ck_assert(wait_for(holds_new, P("r"), 1000 + SEEN_MS) >= 0);
}
END_TEST

/* Every open looks at the directory, however long actimeo is. */
START_TEST(open_revalidates_unwatched)
{
	mount_unwatched("actimeo=600");
	prepare("o", "1", _i);
	ck_assert(wait_for(opens_directly, B("o"), WAIT_FREE_MS) >= 0);
	ck_assert_int_eq(put_file(B("o"), "now longer", 10, 0644), 0);
	int fd = open(P("o"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 10);
	char buf[16] = {0};
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), 10);
	ck_assert_str_eq(buf, "now longer");
	ck_assert_int_eq(close(fd), 0);
	/* And O_CREAT finds what was made there. */
	cache_missing("c");
	ck_assert_int_eq(put_file(B("c"), "c", 1, 0644), 0);
	fd = open(P("c"), O_RDWR | O_CREAT, 0600);
	ck_assert_msg(fd >= 0, "open(O_CREAT): %s", strerror(errno));
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

static struct tmount other;

static const char *Q(const char *rel)
{
	return tmount_path(&other, rel);
}

static int opens_on_other(const void *rel)
{
	int fd = open(Q(rel), O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* Two mounts over one directory behave as two hosts: each sees what the
 * other made, one holds a mapping at a time (the other's open: EBUSY,
 * and its log names the holder), the data follows, removal shows. */
START_TEST(two_mounts_share_a_directory)
{
	ck_assert_int_eq(tmount_start_over(&other, m.backing, NULL), 0);
	cache_missing("a"); /* on the first; the second: below */
	ck_assert(absent(Q("a")));
	prepare("a", "from A", _i);
	ck_assert(wait_for(present, Q("a"), SEEN_MS) >= 0);
	ck_assert(listed(other.mnt, "a"));
	ck_assert_int_eq(put_file(P("other"), "o", 1, 0644), 0);
	/* A holds it: B is refused, and says by whom. */
	int fd = open(P("a"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "held by A", 9, 0), 9);
	ck_assert_int_lt(open(Q("a"), O_RDWR), 0);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(tsh(10,
			     "grep -q \"mapping 'a' refused: .*held by pid "
			     "%d\" '%s'",
			     (int)m.pid, other.log),
			 0);
	/* B's other mappings work meanwhile. */
	ck_assert(wait_for(opens_on_other, "other", SEEN_MS) >= 0);
	ck_assert_int_eq(close(fd), 0);
	/* Released: B opens it and sees everything A stored. */
	ck_assert(wait_for(opens_on_other, "a", WAIT_FREE_MS) >= 0);
	ck_assert_str_eq(content(Q("a")), "held by A");
	/* Removed on one, gone on the other; both ways. */
	ck_assert_int_eq(unlink(P("a")), 0);
	ck_assert(wait_for(absent, Q("a"), SEEN_MS) >= 0);
	ck_assert_int_eq(unlink(Q("other")), 0);
	ck_assert(wait_for(absent, P("other"), SEEN_MS) >= 0);
	ck_assert_int_eq(tmount_stop(&other), 0);
}
END_TEST

static Suite *truth_suite(void)
{
	Suite *s = suite_create("truth");
	TCase *tc = tcase_create("watched");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, mount_file, unmount);
	/* _i: 0 on an idle name, 1 on one just released. */
	tcase_add_loop_test(tc, created_in_backing, 0, 2);
	tcase_add_loop_test(tc, removed_in_backing, 0, 2);
	tcase_add_loop_test(tc, renamed_in_backing, 0, 2);
	tcase_add_loop_test(tc, replaced_in_backing, 0, 2);
	tcase_add_loop_test(tc, size_changed_in_backing, 0, 2);
	tcase_add_loop_test(tc, attributes_changed_in_backing, 0, 2);
	tcase_add_loop_test(tc, o_creat_opens_what_is_there, 0, 2);
	tcase_add_loop_test(tc, two_mounts_share_a_directory, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("unwatched");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, unmount);
	tcase_add_loop_test(tc, actimeo_bounds_unwatched_changes, 0, 2);
	tcase_add_loop_test(tc, actimeo_bounds_unwatched_attributes, 0, 2);
	tcase_add_loop_test(tc, open_revalidates_unwatched, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(truth_suite());
}
