/*
 * The backing directory is a boundary. Someone who can write into the
 * backing directory plants symbolic links there, before the mount and
 * behind the daemon's back while it is mounted (a directory swapped for a
 * link to the outside, a mapping's backing file swapped for a link to a
 * file outside), and the tests then do every operation they can through
 * the mount: open, create, write, truncate, mmap, setxattr, lchown,
 * utimensat, link, rename, unlink, mkdir and create inside a linked
 * directory. A FIFO planted there must not hang the daemon either.
 *
 * Outside the backing directory sits a sentinel tree (a file "target",
 * a directory "dir" holding "inner"). After the operations, while still
 * mounted, and again after the daemon exited 0 at unmount, the sentinels
 * must have their content, size, mtime, ctime, owner, mode, link count and
 * (no) extended attributes unchanged, must not be locked (the test takes
 * flock(LOCK_EX|LOCK_NB) on them), and no name may have appeared outside.
 *
 * The operations' own results do not matter (refusing is fine, so is
 * acting on the link itself): only what happens outside does. Operations
 * that the client's kernel would resolve itself (following a link the
 * mount shows as a symbolic link) are not the daemon's doing and are done
 * with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW instead. "." and ".." never reach
 * the daemon: the kernel resolves them.
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
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define MAXNAMES 32

/* What the outside looks like; must never change. */
struct outside {
	char target[64], inner[64];
	struct stat st_target, st_inner, st_dir, st_outside;
	char names_root[512], names_outside[512], names_dir[512];
};

static char root_path[PATH_MAX];

static const char *out(const char *rel)
{
	static char bufs[4][PATH_MAX + 64];
	static int next;
	next = (next + 1) % 4;
	snprintf(bufs[next], sizeof(bufs[next]), "%.4000s/outside%s%s",
		 root_path, *rel ? "/" : "", rel);
	return bufs[next];
}

static void read_small(const char *path, char *buf, size_t n)
{
	memset(buf, 0, n);
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_ge(read(fd, buf, n - 1), 0);
	close(fd);
}

/* Sorted, comma-separated names in a directory. */
static void list_names(const char *dir, char *buf, size_t n)
{
	struct dirent **ents;
	int k = scandir(dir, &ents, NULL, alphasort);
	ck_assert_msg(k >= 0, "scandir %s: %s", dir, strerror(errno));
	buf[0] = '\0';
	for (int i = 0; i < k; i++) {
		if (strlen(buf) + strlen(ents[i]->d_name) + 2 < n) {
			strcat(buf, ents[i]->d_name);
			strcat(buf, ",");
		}
		free(ents[i]);
	}
	free(ents);
}

static void take(struct outside *o)
{
	memset(o, 0, sizeof(*o));
	read_small(out("target"), o->target, sizeof(o->target));
	read_small(out("dir/inner"), o->inner, sizeof(o->inner));
	ck_assert_int_eq(lstat(out("target"), &o->st_target), 0);
	ck_assert_int_eq(lstat(out("dir/inner"), &o->st_inner), 0);
	ck_assert_int_eq(lstat(out("dir"), &o->st_dir), 0);
	ck_assert_int_eq(lstat(out(""), &o->st_outside), 0);
	list_names(root_path, o->names_root, sizeof(o->names_root));
	list_names(out(""), o->names_outside, sizeof(o->names_outside));
	list_names(out("dir"), o->names_dir, sizeof(o->names_dir));
}

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void same_stat(const char *what, const struct stat *a,
		      const struct stat *b, int check_mtime)
{
	ck_assert_msg(a->st_ino == b->st_ino, "%s replaced", what);
	ck_assert_msg(a->st_size == b->st_size, "%s: size changed", what);
	ck_assert_msg(a->st_mode == b->st_mode, "%s: mode changed", what);
	ck_assert_msg(a->st_uid == b->st_uid && a->st_gid == b->st_gid,
		      "%s: owner changed", what);
	ck_assert_msg(a->st_nlink == b->st_nlink,
		      "%s: link count %lu -> %lu (hard-linked?)", what,
		      (unsigned long)a->st_nlink, (unsigned long)b->st_nlink);
	ck_assert_msg(!check_mtime || same_time(a->st_mtim, b->st_mtim),
		      "%s: mtime changed", what);
	ck_assert_msg(!check_mtime || same_time(a->st_ctim, b->st_ctim),
		      "%s: ctime changed (chmod, chown, xattr?)", what);
}

static void not_locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(flock(fd, LOCK_EX | LOCK_NB) == 0,
		      "%s is locked by someone: %s", path, strerror(errno));
	flock(fd, LOCK_UN);
	close(fd);
}

static void no_xattrs(const char *path)
{
	char buf[256];
	ssize_t n = llistxattr(path, buf, sizeof(buf));
	ck_assert_msg(n == 0, "%s has extended attributes now (%.*s)", path,
		      (int)(n > 0 ? n : 0), buf);
}

static void unchanged(const struct outside *before, const char *when)
{
	struct outside now;
	take(&now);
	ck_assert_msg(strcmp(before->target, now.target) == 0,
		      "%s: outside file rewritten: \"%s\"", when, now.target);
	ck_assert_msg(strcmp(before->inner, now.inner) == 0,
		      "%s: file in outside dir rewritten: \"%s\"", when,
		      now.inner);
	same_stat("outside/target", &before->st_target, &now.st_target, 1);
	same_stat("outside/dir/inner", &before->st_inner, &now.st_inner, 1);
	same_stat("outside/dir", &before->st_dir, &now.st_dir, 1);
	same_stat("outside", &before->st_outside, &now.st_outside, 1);
	ck_assert_msg(strcmp(before->names_root, now.names_root) == 0,
		      "%s: names next to the backing dir: %s -> %s", when,
		      before->names_root, now.names_root);
	ck_assert_msg(strcmp(before->names_outside, now.names_outside) == 0,
		      "%s: names outside: %s -> %s", when,
		      before->names_outside, now.names_outside);
	ck_assert_msg(strcmp(before->names_dir, now.names_dir) == 0,
		      "%s: names in outside/dir: %s -> %s", when,
		      before->names_dir, now.names_dir);
	not_locked(out("target"));
	not_locked(out("dir/inner"));
	no_xattrs(out("target"));
	no_xattrs(out("dir/inner"));
}

static void make_outside(const struct tmount *m)
{
	snprintf(root_path, sizeof(root_path), "%s", m->root);
	ck_assert_int_eq(tsh(10,
			     "mkdir -p '%s/outside/dir' && "
			     "printf sentinel > '%s/outside/target' && "
			     "printf inner > '%s/outside/dir/inner' && "
			     "touch -d '2001-01-01' '%s/outside/target' "
			     "'%s/outside/dir/inner' '%s/outside/dir'",
			     m->root, m->root, m->root, m->root, m->root,
			     m->root),
			 0);
}

static void plant(const char *link, const char *target)
{
	ck_assert_msg(symlink(target, link) == 0, "symlink %s: %s", link,
		      strerror(errno));
}

/* Write, truncate, map and tag an open mapping; results do not matter. */
static void abuse_fd(int fd)
{
	if (write(fd, "EVIL", 4) < 0) {
		/* refused: fine */
	}
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, 4096) < 0) {
		/* refused: fine */
	}
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		memcpy(p, "EVIL", 4);
		msync(p, 4096, MS_SYNC);
		munmap(p, 4096);
	}
	fsetxattr(fd, "user.shmap.protect", "readonly", 8, 0);
	fsetxattr(fd, "user.evil", "1", 1, 0);
	fsync(fd);
	close(fd);
}

/* Everything one can do to a name through the mount without following a
 * link on the client side. */
static void abuse_name(const char *p)
{
	char q[PATH_MAX + 64];
	struct stat st;
	int shown = lstat(p, &st);
	/* O_NONBLOCK: a FIFO shown as such must not block the test. */
	int fd = open(p, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0)
		abuse_fd(fd);
	fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0644);
	if (fd >= 0)
		abuse_fd(fd);
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0) {
		flock(fd, LOCK_EX | LOCK_NB);
		close(fd);
	}
	if (lchown(p, 4242, 4242) < 0) {
		/* refused: fine */
	}
	struct timespec ts[2] = {{1, 0}, {1, 0}};
	utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
	lsetxattr(p, "user.shmap.protect", "readonly", 8, 0);
	lsetxattr(p, "user.evil", "1", 1, 0);
	lremovexattr(p, "user.evil");
	snprintf(q, sizeof(q), "%s.hard", p);
	if (link(p, q) == 0) {
		fd = open(q, O_RDWR | O_NOFOLLOW);
		if (fd >= 0)
			abuse_fd(fd);
		unlink(q);
	}
	snprintf(q, sizeof(q), "%s.renamed", p);
	if (rename(p, q) == 0 && rename(q, p) < 0) {
		/* refused: fine */
	}
	if (shown == 0 && S_ISREG(st.st_mode)) {
		if (truncate(p, 0) < 0) {
			/* refused: fine */
		}
		chmod(p, 0777);
	}
	if (shown == 0 && S_ISDIR(st.st_mode)) {
		snprintf(q, sizeof(q), "%s/inner", p);
		abuse_name(q);
		fd = open(q, O_RDWR | O_NOFOLLOW);
		if (fd >= 0)
			abuse_fd(fd);
		unlink(q);
		snprintf(q, sizeof(q), "%s/newfile", p);
		fd = open(q, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
		if (fd >= 0)
			abuse_fd(fd);
		snprintf(q, sizeof(q), "%s/newdir", p);
		mkdir(q, 0755);
		chmod(p, 0777);
	}
}

static const char *const links[] = {
    "abs_file",	    "rel_file",	   "abs_dir",	 "rel_dir",	    "dangling",
    "rel_dangling", "sub/up_file", "sub/up_dir", "sub/up_dangling",
};

START_TEST(links_planted_before_mount)
{
	struct tmount m;
	struct outside before;
	char b[PATH_MAX + 64];
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	make_outside(&m);
#define B(rel) (snprintf(b, sizeof(b), "%s/%s", m.backing, rel), b)
	plant(B("abs_file"), out("target"));
	plant(B("rel_file"), "../outside/target");
	plant(B("abs_dir"), out("dir"));
	plant(B("rel_dir"), "../outside/dir");
	plant(B("dangling"), out("created"));
	plant(B("rel_dangling"), "../outside/created");
	ck_assert_int_eq(mkdir(B("sub"), 0755), 0);
	plant(B("sub/up_file"), "../../outside/target");
	plant(B("sub/up_dir"), "../../outside/dir");
	plant(B("sub/up_dangling"), "../../outside/dir/created");
	/* A FIFO: a daemon that opened it to serve a lookup would hang. */
	ck_assert_int_eq(mkfifo(B("fifo"), 0666), 0);
	ck_assert_int_eq(tsh(10, "printf real > '%s/real'", m.backing), 0);
	take(&before);

	ck_assert_int_eq(tmount_restart(&m, NULL), 0);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		abuse_name(tmount_path(&m, links[i]));
	/* The mount still works for what is really inside. */
	char buf[8] = "";
	int fd = open(tmount_path(&m, "real"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, 4), 4);
	ck_assert_str_eq(buf, "real");
	close(fd);
	unchanged(&before, "mounted, after the operations");

	/* Deleting the links through the mount deletes only the links. */
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		unlink(tmount_path(&m, links[i]));
	unchanged(&before, "mounted, after unlinking");
	ck_assert_int_eq(tmount_unmount(&m), 0);
	unchanged(&before, "after unmount");
	tsh(30, "rm -rf '%s'", m.root);
#undef B
}
END_TEST

/*
 * Create through the mount, then swap things for links behind its back.
 * The mount must not see the swaps yet (no watcher, actimeo=600): then
 * the kernel still shows "d" as the directory it was and sends the
 * operations under it to the daemon, which must act on what it opened,
 * never on the link. (A mount that has seen them shows links, which the
 * kernel follows itself: not the daemon's doing, see above.)
 */
START_TEST(links_planted_while_mounted)
{
	struct tmount m;
	struct outside before;
	char b[PATH_MAX + 64], c[PATH_MAX + 64];
	setenv("SHMAPFS_TEST_NO_WATCH", "1", 1);
	int res = tmount_start(&m, 1, "actimeo=600");
	unsetenv("SHMAPFS_TEST_NO_WATCH");
	ck_assert_int_eq(res, 0);
	make_outside(&m);
	ck_assert_int_eq(mkdir(tmount_path(&m, "d"), 0755), 0);
	ck_assert_int_eq(mkdir(tmount_path(&m, "sub"), 0755), 0);
	ck_assert_int_eq(
	    tsh(10, "printf inside > '%s'", tmount_path(&m, "d/target")), 0);
	ck_assert_int_eq(tsh(10, "printf keep > '%s'", tmount_path(&m, "f0")),
			 0);
	int kept = open(tmount_path(&m, "f0"), O_RDWR);
	ck_assert_int_ge(kept, 0);
	take(&before);

#define B(rel) (snprintf(b, sizeof(b), "%s/%s", m.backing, rel), b)
#define C(rel) (snprintf(c, sizeof(c), "%s/%s", m.backing, rel), c)
	/* A directory the daemon knows becomes a link to the outside (which
	 * holds a "target" too); so does a mapping's backing file. */
	ck_assert_int_eq(rename(B("d"), C("d.moved")), 0);
	plant(B("d"), out(""));
	ck_assert_int_eq(rename(B("f0"), C("f0.moved")), 0);
	plant(B("f0"), out("target"));
	plant(B("late"), out("target"));
	plant(B("sub/late"), "../../outside/target");
	plant(B("sub/late_dir"), "../../outside/dir");
#undef B
#undef C

	abuse_name(tmount_path(&m, "d/target"));
	abuse_name(tmount_path(&m, "d"));
	abuse_name(tmount_path(&m, "f0"));
	abuse_fd(kept);
	abuse_name(tmount_path(&m, "late"));
	abuse_name(tmount_path(&m, "sub/late"));
	abuse_name(tmount_path(&m, "sub/late_dir"));
	/* A link made through the mount itself, if the mount makes links. */
	if (symlink(out("target"), tmount_path(&m, "made")) == 0)
		abuse_name(tmount_path(&m, "made"));
	/* The renames above refreshed "d": the mount may show the link now,
	 * which the kernel would follow itself. */
	struct stat st;
	if (lstat(tmount_path(&m, "d"), &st) == 0 && S_ISDIR(st.st_mode)) {
		rename(tmount_path(&m, "d/target"), tmount_path(&m, "d/t2"));
		unlink(tmount_path(&m, "d/t2"));
		unlink(tmount_path(&m, "d/target"));
	}
	unchanged(&before, "mounted, after the operations");
	for (int i = 0; i < 2; i++) {
		unlink(tmount_path(&m, "f0"));
		unlink(tmount_path(&m, "late"));
		unlink(tmount_path(&m, "sub/late"));
		unlink(tmount_path(&m, "sub/late_dir"));
		unlink(tmount_path(&m, "made"));
		rmdir(tmount_path(&m, "d/newdir"));
		rmdir(tmount_path(&m, "d"));
	}
	unchanged(&before, "mounted, after unlinking");
	ck_assert_int_eq(tmount_unmount(&m), 0);
	unchanged(&before, "after unmount");
	tsh(30, "rm -rf '%s'", m.root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("boundary");
	TCase *tc = tcase_create("boundary");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, links_planted_before_mount);
	tcase_add_test(tc, links_planted_while_mounted);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
