/*
 * Mount tests of exclusive backing files (issue 13): while a file-backed
 * mapping is in use, every open of its backing file by a process other
 * than the daemon is refused (EPERM), root included; once nobody uses the
 * mapping, or the daemon is gone (exited or killed), it opens again. The
 * daemon's own work on the mapping, and every other file, is untouched.
 * On both data paths, as every mount test.
 *
 * It fails closed: a view that outlives close(), read-only or
 * read-write, keeps the file refused until munmap, also with leases off
 * (fs.leases-enable=0, set by a fixture of the runner process and given
 * back after the last test, also when one fails) and on a filesystem
 * without leases (the daemon's hook SHMAPFS_TEST_NO_LEASES); a file the
 * daemon cannot guard (a failing mark, SHMAPFS_TEST_FAIL_GUARD) is not
 * served.
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define NOBODY	     65534
#define WAIT_FREE_MS 5000 /* a release, or the next sweep (each second) */

static struct tmount m;

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, "allow_other"), 0);
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

/* In a child (another process than the daemon): 0 if the path opens,
 * else the errno. */
static int open_ro(void *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int open_rw(void *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* A file beside the mount, on the backing directory's filesystem. */
static const char *outside(void)
{
	static char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/outside", m.root);
	return path;
}

/* In a child: the errno of executing path (it never runs: its bytes are
 * no program, so an allowed exec fails with ENOEXEC). */
static int exec_it(void *path)
{
	execl(path, path, (char *)NULL);
	return errno;
}

static int direct_ro(const char *path)
{
	return in_child(open_ro, (void *)path, -1, -1, 10);
}

static int direct_rw(const char *path)
{
	return in_child(open_rw, (void *)path, -1, -1, 10);
}

/* Whether a direct read-only open of path works within WAIT_FREE_MS. */
static int opens_eventually(const char *path)
{
	for (int waited = 0; waited < WAIT_FREE_MS; waited += 20) {
		if (direct_ro(path) == 0)
			return 1;
		usleep(20 * 1000);
	}
	return 0;
}

/* A mapping of 4 KiB made through the mount, then idle. */
static void new_mapping(const char *rel)
{
	char page[4096];
	fill_pattern(page, sizeof(page), 7);
	ck_assert_int_eq(put_file(P(rel), page, sizeof(page), 0644), 0);
}

static int open_mapping(const char *rel)
{
	int fd = open(P(rel), O_RDWR | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", rel, strerror(errno));
	return fd;
}

/* The root's user.shmap.exclusive, or "" (with errno set). */
static const char *exclusive_state(void)
{
	static char v[128];
	ssize_t len = getxattr(m.mnt, "user.shmap.exclusive", v, sizeof(v) - 1);
	v[len > 0 ? len : 0] = '\0';
	return v;
}

static int log_says(const char *line)
{
	return tsh(10, "grep -qxF 'shmapfs: %s' '%s'", line, m.log) == 0;
}

/* Whether the daemon's log has text in a line (text: no ", $, ` or \). */
static int log_has(const char *text)
{
	return tsh(10, "grep -qF \"%s\" '%s'", text, m.log) == 0;
}

START_TEST(in_use_refused_idle_free)
{
	new_mapping("a");
	new_mapping("idle");
	ck_assert_int_eq(put_file(outside(), "x", 1, 0644), 0);
	ck_assert(opens_eventually(B("a"))); /* idle once released */
	int fd = open_mapping("a");
	ck_assert_int_eq(direct_ro(B("a")), EPERM);
	/* Also for the thread that opened it through the mount. */
	ck_assert_int_eq(open_ro((void *)B("a")), EPERM);
	/* An exec opens the file too. */
	ck_assert_int_eq(chmod(P("a"), 0755), 0);
	ck_assert_int_eq(in_child(exec_it, (void *)B("a"), -1, -1, 10), EPERM);
	ck_assert_int_eq(direct_rw(B("a")), EPERM);
	ck_assert_int_eq(in_child(open_ro, (void *)B("a"), NOBODY, NOBODY, 10),
			 EPERM);
	/* Other files of the same filesystem open as ever. */
	ck_assert_int_eq(direct_rw(B("idle")), 0);
	ck_assert_int_eq(direct_rw(outside()), 0);
	/* The mapping itself works. */
	char back[4];
	ck_assert_int_eq(pwrite(fd, "abcd", 4, 0), 4);
	ck_assert_int_eq(pread(fd, back, 4, 0), 4);
	ck_assert_mem_eq(back, "abcd", 4);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(opens_eventually(B("a")));
	ck_assert_int_eq(direct_rw(B("a")), 0);
	ck_assert_int_eq(in_child(exec_it, (void *)B("a"), -1, -1, 10),
			 ENOEXEC);
	char data[4];
	ck_assert_int_eq(get_file(B("a"), data, 4), 4);
	ck_assert_mem_eq(data, "abcd", 4);
}
END_TEST

/* Whether rel's backing file stays refused for ms: past a release and
 * the sweeps that follow it (each second). */
static int refused_for(const char *rel, int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		if (direct_ro(B(rel)) != EPERM)
			return 0;
		usleep(50 * 1000);
	}
	return 1;
}

/* A view of rel whose descriptor is closed: only the view holds it. */
static char *view_after_close(const char *rel, int flags, int prot)
{
	int fd = open(P(rel), flags | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", rel, strerror(errno));
	char *view = mmap(NULL, 4096, prot, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(view, MAP_FAILED);
	ck_assert_int_eq(close(fd), 0);
	return view;
}

/* A read-only view is invisible to a write lease probe: it keeps the
 * file exclusive all the same. */
START_TEST(ro_view_keeps_it_exclusive)
{
	char page[4096];
	fill_pattern(page, sizeof(page), 7);
	new_mapping("ro");
	ck_assert(opens_eventually(B("ro"))); /* idle: nothing lingers */
	char *view = view_after_close("ro", O_RDONLY, PROT_READ);
	ck_assert(refused_for("ro", 2500));
	ck_assert_mem_eq(view, page, 64);
	ck_assert_int_eq(munmap(view, 4096), 0);
	ck_assert(opens_eventually(B("ro")));
}
END_TEST

/* A view keeps its mapping in use after the last close. */
START_TEST(rw_view_keeps_it_exclusive)
{
	new_mapping("rw");
	ck_assert(opens_eventually(B("rw")));
	char *view = view_after_close("rw", O_RDWR, PROT_READ | PROT_WRITE);
	memcpy(view, "view", 4);
	ck_assert(refused_for("rw", 2500));
	ck_assert_int_eq(munmap(view, 4096), 0);
	ck_assert(opens_eventually(B("rw")));
	char data[4];
	ck_assert_int_eq(get_file(B("rw"), data, 4), 4);
	ck_assert_mem_eq(data, "view", 4);
}
END_TEST

/* A view that only a child inherited (its parent, the opener, has
 * unmapped and closed): the daemon finds it in any process's maps. */
START_TEST(inherited_view_keeps_it_exclusive)
{
	new_mapping("in");
	ck_assert(opens_eventually(B("in")));
	char *view = view_after_close("in", O_RDONLY, PROT_READ);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(p[1]);
		char c;
		_exit(read(p[0], &c, 1) == 0 ? 0 : 1); /* keeps the view */
	}
	close(p[0]);
	ck_assert_int_eq(munmap(view, 4096), 0);
	ck_assert(refused_for("in", 2500));
	close(p[1]); /* the child ends, and its view with it */
	ck_assert_int_eq(twait(child, 10000), 0);
	ck_assert(opens_eventually(B("in")));
}
END_TEST

/* Everything the daemon does to an in-use mapping works; its new names
 * are as exclusive as the old (the same inode). */
START_TEST(daemon_work_unaffected)
{
	new_mapping("w");
	int fd = open_mapping("w");
	int fd2 = open(P("w"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	ck_assert_int_eq(pwrite(fd, "tail", 4, 8188), 4);
	struct stat st;
	ck_assert_int_eq(stat(P("w"), &st), 0);
	ck_assert_int_eq(st.st_size, 8192);
	ck_assert_int_eq(chmod(P("w"), 0600), 0);
	ck_assert_int_eq(setxattr(P("w"), "user.note", "n", 1, 0), 0);
	ck_assert_int_eq(truncate(P("w"), 12288), 0);
	ck_assert_int_eq(rename(P("w"), P("w2")), 0);
	ck_assert_int_eq(link(P("w2"), P("w3")), 0);
	ck_assert_int_eq(direct_ro(B("w2")), EPERM);
	ck_assert_int_eq(direct_ro(B("w3")), EPERM);
	ck_assert_int_eq(unlink(P("w3")), 0);
	ck_assert_int_eq(stat(B("w2"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 12288);
	char v[2];
	ck_assert_int_eq(getxattr(B("w2"), "user.note", v, sizeof(v)), 1);
	/* New mappings come and go meanwhile. */
	new_mapping("n");
	ck_assert_int_eq(unlink(P("n")), 0);
	char back[4];
	ck_assert_int_eq(pread(fd2, back, 4, 8188), 4);
	ck_assert_mem_eq(back, "tail", 4);
	ck_assert_int_eq(close(fd2), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(opens_eventually(B("w2")));
}
END_TEST

/* In a child: open and close rel through the mount 300 times. */
static int open_many(void *path)
{
	for (int i = 0; i < 300; i++) {
		int fd = open(path, i % 2 ? O_RDONLY : O_RDWR);
		if (fd < 0)
			return 1;
		close(fd);
	}
	return 0;
}

/* In a child: try the backing file 300 times; each must be refused. */
static int refused_many(void *path)
{
	for (int i = 0; i < 300; i++)
		if (open_ro(path) != EPERM)
			return 1;
	return 0;
}

/* Opens through the mount and refused direct opens at once, from several
 * processes: all complete, none hangs. */
START_TEST(concurrent_opens_complete)
{
	new_mapping("c");
	int fd = open_mapping("c");
	pid_t pids[6];
	for (int i = 0; i < 6; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			_exit(i < 4 ? open_many((void *)P("c"))
				    : refused_many((void *)B("c")));
	}
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(twait(pids[i], 60000), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(opens_eventually(B("c")));
}
END_TEST

START_TEST(killed_daemon_lets_go)
{
	new_mapping("k");
	int fd = open_mapping("k");
	ck_assert_int_eq(direct_ro(B("k")), EPERM);
	ck_assert_int_eq(kill(m.pid, SIGKILL), 0);
	ck_assert(opens_eventually(B("k")));
	ck_assert_int_eq(direct_rw(B("k")), 0);
	close(fd);
	ck_assert_int_eq(tmount_unmount(&m), -1); /* it was killed */
	tmount_stop(&m);
}
END_TEST

/* The daemon that exits (here: after a lazy unmount, once the last user
 * is gone) lets go as well. */
START_TEST(exited_daemon_lets_go)
{
	new_mapping("e");
	int fd = open_mapping("e");
	ck_assert_int_eq(umount2(m.mnt, MNT_DETACH), 0);
	ck_assert_int_eq(direct_ro(B("e")), EPERM); /* still served */
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(twait(m.pid, 20000), 0);
	m.pid = -1;
	ck_assert_int_eq(direct_rw(B("e")), 0);
	tmount_stop(&m);
}
END_TEST

/*
 * A filesystem mounted inside the backing directory: the daemon's private
 * clone of the backing directory's mount carries it as a submount, whose
 * opens do raise events, so there the kernel's passthrough opens pass by
 * expectation, one each, and nobody else's.
 */
START_TEST(submount_in_backing_dir)
{
	ck_assert_int_eq(tmount_start(&m, 1, "allow_other"), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(mkdir(B("sub"), 0755), 0);
	ck_assert_int_eq(mount("tmpfs", B("sub"), "tmpfs", 0, "size=4m"), 0);
	ck_assert_int_eq(tmount_restart(&m, "allow_other"), 0);
	new_mapping("sub/s");
	int fd = open_mapping("sub/s");
	int fd2 = open(P("sub/s"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(direct_ro(B("sub/s")), EPERM);
	ck_assert_int_eq(open_ro((void *)B("sub/s")), EPERM);
	char back[4];
	ck_assert_int_eq(pread(fd2, back, 4, 0), 4);
	ck_assert_int_eq(close(fd2), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(opens_eventually(B("sub/s")));
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(umount2(B("sub"), 0), 0);
	tmount_stop(&m);
}
END_TEST

START_TEST(root_attribute)
{
	ck_assert_str_eq(exclusive_state(), "on");
	ck_assert(log_says("exclusive backing files: on"));
	char list[1024];
	ssize_t len = listxattr(m.mnt, list, sizeof(list));
	ck_assert_int_gt(len, 0);
	ck_assert(memmem(list, (size_t)len, "user.shmap.exclusive",
			 sizeof("user.shmap.exclusive")) != NULL);
	ck_assert_int_eq(setxattr(m.mnt, "user.shmap.exclusive", "off", 3, 0),
			 -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(removexattr(m.mnt, "user.shmap.exclusive"), -1);
	ck_assert_int_eq(errno, EPERM);
	/* Only the root has it. */
	new_mapping("f");
	char v[16];
	ck_assert_int_eq(getxattr(P("f"), "user.shmap.exclusive", v, sizeof(v)),
			 -1);
	ck_assert_int_eq(errno, ENODATA);
}
END_TEST

/*
 * A file the daemon cannot guard is refused (EBUSY), with a line naming
 * it and the reason, rather than served with others let in. The test
 * hook fails the second guard: the first is the mapping's creation.
 */
START_TEST(unguardable_file_refused)
{
	ck_assert_int_eq(setenv("SHMAPFS_TEST_FAIL_GUARD", "2", 1), 0);
	int res = tmount_start(&m, 1, "allow_other");
	unsetenv("SHMAPFS_TEST_FAIL_GUARD");
	ck_assert_int_eq(res, 0);
	new_mapping("g");
	ck_assert(opens_eventually(B("g")));
	ck_assert_int_eq(open(P("g"), O_RDWR | O_CLOEXEC), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert(log_has("mapping 'g' refused: cannot make its backing file "
			  "exclusive: No space left on device"));
	/* Nothing holds it: not locked, not guarded. */
	ck_assert_int_eq(direct_rw(B("g")), 0);
	ck_assert_int_eq(flock_free(B("g")), 1);
	ck_assert_str_eq(exclusive_state(), "on");
	/* The next guard works: the mapping is served, and exclusive. */
	int fd = open_mapping("g");
	ck_assert_int_eq(direct_ro(B("g")), EPERM);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(opens_eventually(B("g")));
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* fs.leases-enable before the "leases off" tests, or -1. The fixture runs
 * in the runner process, so it is given back whatever a test does. */
static int leases_were = -1;

static int leases_get(void)
{
	char v[16] = "";
	FILE *f = fopen("/proc/sys/fs/leases-enable", "re");
	if (!f)
		return -1;
	int ok = fgets(v, sizeof(v), f) != NULL;
	fclose(f);
	return ok ? atoi(v) : -1;
}

static int leases_set(int on)
{
	FILE *f = fopen("/proc/sys/fs/leases-enable", "we");
	if (!f)
		return -errno;
	int ok = fprintf(f, "%d\n", on) > 0;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

static void leases_restore(void)
{
	if (leases_were >= 0)
		leases_set(leases_were);
}

static void leases_off(void)
{
	leases_were = leases_get();
	ck_assert_int_ge(leases_were, 0);
	atexit(leases_restore);
	ck_assert_int_eq(leases_set(0), 0);
}

/* A backing filesystem without leases (F_SETLEASE fails with EINVAL
 * whoever has the file open), as the daemon's test hook plays it. */
static void mount_without_leases(void)
{
	ck_assert_int_eq(setenv("SHMAPFS_TEST_NO_LEASES", "1", 1), 0);
	int res = tmount_start(&m, 1, "allow_other");
	unsetenv("SHMAPFS_TEST_NO_LEASES");
	ck_assert_int_eq(res, 0);
}

START_TEST(noexclusive_lets_others_in)
{
	ck_assert_int_eq(tmount_start(&m, 1, "allow_other,noexclusive"), 0);
	ck_assert_str_eq(exclusive_state(), "off (noexclusive)");
	ck_assert(log_says("exclusive backing files: off (noexclusive)"));
	new_mapping("o");
	int fd = open_mapping("o");
	ck_assert_int_eq(direct_rw(B("o")), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(tmount_stop(&m), 0);
	/* Later options win. */
	ck_assert_int_eq(tmount_start(&m, 1, "noexclusive,exclusive"), 0);
	ck_assert_str_eq(exclusive_state(), "on");
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

START_TEST(memory_backed_says_off)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=16m"), 0);
	ck_assert_str_eq(exclusive_state(), "off (memory-backed)");
	ck_assert(log_says("exclusive backing files: off (memory-backed)"));
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* A case of the views that outlive close(), on mounts made by setup. */
static TCase *views_case(const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, unmount);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ro_view_keeps_it_exclusive);
	tcase_add_test(tc, rw_view_keeps_it_exclusive);
	tcase_add_test(tc, inherited_view_keeps_it_exclusive);
	return tc;
}

static Suite *suite(void)
{
	Suite *s = suite_create("exclusive");
	TCase *tc = tcase_create("file-backed");
	tcase_add_checked_fixture(tc, mount_file, unmount);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, in_use_refused_idle_free);
	tcase_add_test(tc, daemon_work_unaffected);
	tcase_add_test(tc, concurrent_opens_complete);
	tcase_add_test(tc, root_attribute);
	suite_add_tcase(s, tc);

	suite_add_tcase(s, views_case("views", mount_file));
	tc = views_case("leases off", mount_file);
	tcase_add_unchecked_fixture(tc, leases_off, leases_restore);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, views_case("no leases", mount_without_leases));

	tc = tcase_create("daemon gone");
	tcase_add_checked_fixture(tc, mount_file, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, killed_daemon_lets_go);
	tcase_add_test(tc, exited_daemon_lets_go);
	suite_add_tcase(s, tc);

	tc = tcase_create("options");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, noexclusive_lets_others_in);
	tcase_add_test(tc, unguardable_file_refused);
	tcase_add_test(tc, submount_in_backing_dir);
	tcase_add_test(tc, memory_backed_says_off);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
