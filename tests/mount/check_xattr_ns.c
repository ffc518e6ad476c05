/*
 * Mount tests of the extended-attribute namespaces tmpfs has (issue 21):
 * security.* and trusted.* are stored and listed as user.* (in the backing
 * file of a file-backed mapping, so they survive a remount), trusted.*
 * only for CAP_SYS_ADMIN; a file capability set with setcap(8) takes
 * effect when the file is executed from a mount with suid allowed (the
 * mount is nosuid by default, like every FUSE mount) and goes at a write,
 * as on tmpfs; and overlayfs takes
 * a directory of the mount as its upper layer (trusted.* and
 * RENAME_WHITEOUT): copy-up, whiteouts and opaque directories.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define NOBODY 65534

static struct tmount m;

static void mount_memory(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "allow_other"), 0);
}

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, "allow_other"), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

static const char *P(const char *name)
{
	return tmount_path(&m, name);
}

static int set(const char *path, const char *name, const char *value)
{
	return setxattr(path, name, value, strlen(value), 0) < 0 ? -errno : 0;
}

/* The value of name as a string, or "-errno". */
static const char *get(const char *path, const char *name)
{
	static char buf[256];
	ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);
	if (n < 0)
		snprintf(buf, sizeof(buf), "%d", -errno);
	else
		buf[n] = '\0';
	return buf;
}

/* 1 if name is in path's list, 0 if not, -1 if it cannot be listed. */
static int listed(const char *path, const char *name)
{
	char buf[4096];
	ssize_t n = listxattr(path, buf, sizeof(buf));
	if (n < 0)
		return -1;
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if (!strcmp(p, name))
			return 1;
	return 0;
}

/* Let other users reach the mount (the test's directory is private). */
static void open_to_all(void)
{
	ck_assert_int_eq(chmod(m.root, 0755), 0);
}

static void make_file(const char *name)
{
	ck_assert_int_eq(put_file(P(name), "x", 1, 0644), 0);
}

static const char *const names[] = {"user.a", "security.b", "trusted.c"};

/* Every namespace on a file and a directory: set, get, list, replace,
 * remove. */
START_TEST(every_namespace_stored)
{
	make_file("f");
	ck_assert_int_eq(mkdir(P("d"), 0755), 0);
	const char *paths[] = {P("f"), P("d")};
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(set(paths[p], names[i], "one"), 0);
			ck_assert_str_eq(get(paths[p], names[i]), "one");
			ck_assert_int_eq(listed(paths[p], names[i]), 1);
			ck_assert_int_eq(
			    setxattr(paths[p], names[i], "2", 1, XATTR_CREATE),
			    -1);
			ck_assert_int_eq(errno, EEXIST);
			ck_assert_int_eq(set(paths[p], names[i], "two"), 0);
			ck_assert_str_eq(get(paths[p], names[i]), "two");
		}
	ck_assert_int_eq(removexattr(P("f"), "trusted.c"), 0);
	ck_assert_int_eq(listed(P("f"), "trusted.c"), 0);
	ck_assert_str_eq(get(P("f"), "trusted.c"), "-61"); /* ENODATA */
	/* Namespaces tmpfs has not: refused as there. */
	ck_assert_int_eq(set(P("f"), "bogus.x", "1"), -EOPNOTSUPP);
	/* The daemon's own names keep their rules. */
	ck_assert_int_eq(set(P("f"), "user.shmap.protect", "nonsense"),
			 -EINVAL);
}
END_TEST

/* File-backed: kept in the backing file, so they survive a remount. */
START_TEST(namespaces_survive_remount)
{
	make_file("f");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(set(P("f"), names[i], "kept"), 0);
	ck_assert_str_eq(get(tmount_bpath(&m, "f"), "trusted.c"), "kept");
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(tmount_restart(&m, "allow_other"), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_str_eq(get(P("f"), names[i]), "kept");
}
END_TEST

/* As nobody: what an unprivileged process sees of trusted.* */
static int nobody_sees(void *arg)
{
	const char *path = arg;
	if (listed(path, "trusted.c") != 0 || listed(path, "security.b") != 1 ||
	    listed(path, "user.a") != 1)
		return 1;
	if (strcmp(get(path, "trusted.c"), "-61") != 0) /* ENODATA */
		return 2;
	if (strcmp(get(path, "security.b"), "one") != 0)
		return 3;
	if (set(path, "trusted.d", "1") != -EPERM)
		return 4;
	return 0;
}

START_TEST(trusted_only_for_admin)
{
	open_to_all();
	make_file("f");
	ck_assert_int_eq(chmod(P("f"), 0666), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(set(P("f"), names[i], "one"), 0);
	ck_assert_int_eq(
	    in_child(nobody_sees, (void *)P("f"), NOBODY, NOBODY, 30), 0);
	ck_assert_int_eq(listed(P("f"), "trusted.c"), 1);
}
END_TEST

static const char *helper(const char *name)
{
	static char buf[PATH_MAX];
	const char *dir = getenv("TEST_HELPERS");
	snprintf(buf, sizeof(buf), "%s/%s",
		 dir && *dir ? dir : "build/normal/tests/mount/helpers", name);
	return buf;
}

static int run_capeff(void *arg)
{
	const char *path = arg;
	pid_t pid = fork();
	if (pid == 0) {
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 100;
	return WEXITSTATUS(st);
}

/* setcap on a copy of capeff; exit status of running it as nobody. */
static int capeff_as_nobody(void)
{
	open_to_all();
	ck_assert_int_eq(tsh(30, "cp '%s' '%s' && chmod 755 '%s'",
			     helper("capeff"), P("capeff"), P("capeff")),
			 0);
	ck_assert_int_eq(
	    tsh(30, "setcap cap_net_bind_service+ep '%s'", P("capeff")), 0);
	ck_assert_int_eq(
	    tsh(30, "getcap '%s' | grep -q cap_net_bind_service", P("capeff")),
	    0);
	return in_child(run_capeff, (void *)P("capeff"), NOBODY, NOBODY, 30);
}

/* The capability takes effect from a mount that allows suid... */
START_TEST(setcap_takes_effect_with_suid)
{
	ck_assert_int_eq(tmount_start(&m, 1, "allow_other,suid"), 0);
	ck_assert_int_eq(capeff_as_nobody(), 0);
	/* ...and a plain copy of the helper has none: the test can tell. */
	ck_assert_int_eq(
	    in_child(run_capeff, (void *)helper("capeff"), NOBODY, NOBODY, 30),
	    3);
	/* A write takes the capability away, as on tmpfs, root's too. */
	ck_assert_int_eq(tsh(30, "echo >> '%s'", P("capeff")), 0);
	ck_assert_str_eq(get(P("capeff"), "security.capability"), "-61");
	ck_assert_int_eq(
	    in_child(run_capeff, (void *)P("capeff"), NOBODY, NOBODY, 30), 3);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* ...and not from the default mount, which is nosuid. */
START_TEST(setcap_ignored_when_nosuid)
{
	ck_assert_int_eq(tmount_start(&m, 1, "allow_other"), 0);
	ck_assert_int_eq(capeff_as_nobody(), 3);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

struct overlay {
	char lower[PATH_MAX + 16], merged[PATH_MAX + 16];
	char upper[PATH_MAX + 16], work[PATH_MAX + 16];
};

static const char *in(const char *dir, const char *name)
{
	static char buf[4][PATH_MAX + 64];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int is_whiteout(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(0, 0);
}

static int file_is(const char *path, const char *want)
{
	char buf[64];
	ssize_t n = get_file(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return !strcmp(buf, want);
}

/* Through the overlay: modify, delete and create lower files, and replace
 * a lower directory. Returns 0 or the number of the step that failed. */
static int use_overlay(void *arg)
{
	const struct overlay *o = arg;
	if (!file_is(in(o->merged, "a"), "lower a"))
		return 1;
	if (put_file(in(o->merged, "a"), "changed", 7, 0644) < 0)
		return 2;
	if (unlink(in(o->merged, "b")) < 0)
		return 3;
	if (put_file(in(o->merged, "c"), "new", 3, 0644) < 0)
		return 4;
	if (unlink(in(o->merged, "d/f")) < 0 || rmdir(in(o->merged, "d")) < 0)
		return 5;
	if (mkdir(in(o->merged, "d"), 0755) < 0)
		return 6;
	if (access(in(o->merged, "b"), F_OK) == 0)
		return 7;
	if (access(in(o->merged, "d/f"), F_OK) == 0)
		return 8;
	if (!file_is(in(o->merged, "a"), "changed"))
		return 9;
	return 0;
}

/* What the layers hold afterwards. */
static void check_layers(const struct overlay *o)
{
	/* Copy-up: the upper layer has the change, the lower none. */
	ck_assert(file_is(in(o->upper, "a"), "changed"));
	ck_assert(file_is(in(o->lower, "a"), "lower a"));
	/* Whiteout: a 0:0 device in the upper layer hides the lower b. */
	ck_assert(is_whiteout(in(o->upper, "b")));
	ck_assert(file_is(in(o->lower, "b"), "lower b"));
	ck_assert(file_is(in(o->upper, "c"), "new"));
	/* The new d is opaque: the lower d/f stays hidden. */
	ck_assert_str_eq(get(in(o->upper, "d"), "trusted.overlay.opaque"), "y");
	ck_assert(file_is(in(o->lower, "d/f"), "lower f"));
}

static void overlay_dirs(struct overlay *o)
{
	snprintf(o->lower, sizeof(o->lower), "%s/lower", m.root);
	snprintf(o->merged, sizeof(o->merged), "%s/merged", m.root);
	snprintf(o->upper, sizeof(o->upper), "%s", P("upper"));
	snprintf(o->work, sizeof(o->work), "%s", P("work"));
	ck_assert_int_eq(mkdir(o->lower, 0755), 0);
	ck_assert_int_eq(mkdir(in(o->lower, "d"), 0755), 0);
	ck_assert_int_eq(mkdir(o->merged, 0755), 0);
	ck_assert_int_eq(mkdir(o->upper, 0755), 0);
	ck_assert_int_eq(mkdir(o->work, 0755), 0);
	ck_assert_int_eq(put_file(in(o->lower, "a"), "lower a", 7, 0644), 0);
	ck_assert_int_eq(put_file(in(o->lower, "b"), "lower b", 7, 0644), 0);
	ck_assert_int_eq(put_file(in(o->lower, "d/f"), "lower f", 7, 0644), 0);
}

START_TEST(overlay_upper_layer)
{
	struct overlay o;
	overlay_dirs(&o);
	char opts[4 * PATH_MAX];
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s",
		 o.lower, o.upper, o.work);
	ck_assert_int_eq(mount("overlay", o.merged, "overlay", 0, opts), 0);
	int step = in_child(use_overlay, &o, 0, 0, 60);
	/* Down before any assertion, so that the mount can stop. */
	ck_assert_int_eq(umount2(o.merged, 0), 0);
	ck_assert_int_eq(step, 0);
	check_layers(&o);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("xattr_ns");
	TCase *mem = tcase_create("memory");
	tcase_add_checked_fixture(mem, mount_memory, unmount);
	tcase_set_timeout(mem, 60);
	tcase_add_test(mem, every_namespace_stored);
	tcase_add_test(mem, trusted_only_for_admin);
	tcase_add_test(mem, overlay_upper_layer);
	suite_add_tcase(s, mem);

	TCase *file = tcase_create("file");
	tcase_add_checked_fixture(file, mount_file, unmount);
	tcase_set_timeout(file, 60);
	tcase_add_test(file, every_namespace_stored);
	tcase_add_test(file, namespaces_survive_remount);
	tcase_add_test(file, trusted_only_for_admin);
	tcase_add_test(file, overlay_upper_layer);
	suite_add_tcase(s, file);

	TCase *caps = tcase_create("capabilities");
	tcase_set_timeout(caps, 60);
	tcase_add_test(caps, setcap_takes_effect_with_suid);
	tcase_add_test(caps, setcap_ignored_when_nosuid);
	suite_add_tcase(s, caps);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
