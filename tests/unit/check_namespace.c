/*
 * Unit tests of the core registry, the namespace operations and their
 * errors: mkdir and rmdir, mknod of every kind, owners and set-group-ID
 * directories, hard and symbolic links, rename (plain, with flags, of
 * directories), names, and directory listings taken at opendir. No mount:
 * the core is driven directly, on memory-backed registries unless a test
 * says otherwise; the fixture is registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

START_TEST(mkdir_rmdir)
{
	struct node *d = mkdir_(R, root(), "d");
	struct node *f = mkfile(R, d, "f");
	ck_assert_int_eq(registry_rmdir(R, root(), "d"), -ENOTEMPTY);
	ck_assert_int_eq(registry_rmdir(R, d, "f"), -ENOTDIR);
	ck_assert_int_eq(registry_unlink(R, root(), "d"), -EISDIR);
	ck_assert_int_eq(registry_rmdir(R, root(), "nope"), -ENOENT);
	ck_assert_int_eq(registry_unlink(R, root(), "nope"), -ENOENT);
	/* A file is no directory to look in or create in. */
	ck_assert_int_eq(lookup(R, f, "x", NULL, NULL), -ENOTDIR);
	struct node *x;
	struct stat st;
	ck_assert_int_eq(
	    registry_mknod(R, f, "x", S_IFREG | 0644, 0, &USER, &x, &st),
	    -ENOTDIR);
	ck_assert_int_eq(registry_mkdir(R, d, "f", 0755, &USER, &x, &st),
			 -EEXIST);
	ck_assert_int_eq(registry_unlink(R, d, "f"), 0);
	ck_assert_int_eq(registry_rmdir(R, root(), "d"), 0);
	ck_assert_int_eq(lookup(R, root(), "d", NULL, NULL), -ENOENT);
	ck_assert_uint_eq(getattr(R, d).st_nlink, 0);
	/* A removed directory takes no new names. */
	ck_assert_int_eq(
	    registry_mknod(R, d, "y", S_IFREG | 0644, 0, &USER, &x, &st),
	    -ENOENT);
	ck_assert_int_eq(registry_mkdir(R, d, "y", 0755, &USER, &x, &st),
			 -ENOENT);
	registry_forget(R, f, 1);
	registry_forget(R, d, 1);
	ck_assert_uint_eq(nodes_used(R), 0);
}
END_TEST

START_TEST(mknod_kinds)
{
	struct node *n;
	struct stat st;
	ck_assert_int_eq(registry_mknod(R, root(), "fifo", S_IFIFO | 0600, 7,
					&USER, &n, &st),
			 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, 0);
	registry_forget(R, n, 1);
	ck_assert_int_eq(registry_mknod(R, root(), "sock", S_IFSOCK | 0600, 0,
					&USER, &n, &st),
			 0);
	ck_assert(S_ISSOCK(st.st_mode));
	registry_forget(R, n, 1);
	ck_assert_int_eq(registry_mknod(R, root(), "chr", S_IFCHR | 0600,
					makedev(1, 3), &ROOT, &n, &st),
			 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(1, 3));
	registry_forget(R, n, 1);
	/* No type means a regular file, as mknod(2) has it. */
	ck_assert_int_eq(
	    registry_mknod(R, root(), "plain", 0600, 0, &USER, &n, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	registry_forget(R, n, 1);
	/* A directory or symlink is not made by mknod. */
	ck_assert_int_eq(
	    registry_mknod(R, root(), "dir", S_IFDIR | 0700, 0, &USER, &n, &st),
	    -EINVAL);
	ck_assert_int_eq(
	    registry_mknod(R, root(), "lnk", S_IFLNK | 0700, 0, &USER, &n, &st),
	    -EINVAL);
	ck_assert_uint_eq(nodes_used(R), 4);
}
END_TEST

START_TEST(owner_and_sgid)
{
	struct node *d = mkdir_(R, root(), "d");
	struct setattr_req q = {
	    .valid = SET_MODE | SET_GID, .mode = 02775, .gid = 555};
	struct stat st;
	ck_assert_int_eq(registry_setattr(R, d, &q, &st), 0);
	/* In a set-group-ID directory, new entries take its group, and new
	 * directories its set-group-ID bit. */
	struct node *f = mkfile(R, d, "f");
	ck_assert_uint_eq(getattr(R, f).st_uid, 1000);
	ck_assert_uint_eq(getattr(R, f).st_gid, 555);
	struct node *sub;
	ck_assert_int_eq(registry_mkdir(R, d, "sub", 0755, &OTHER, &sub, &st),
			 0);
	ck_assert_uint_eq(st.st_uid, 2000);
	ck_assert_uint_eq(st.st_gid, 555);
	ck_assert(st.st_mode & S_ISGID);
	/* Elsewhere, the caller's group. */
	struct node *g = mkfile(R, root(), "g");
	ck_assert_uint_eq(getattr(R, g).st_gid, 1000);
	registry_forget(R, d, 1);
	registry_forget(R, f, 1);
	registry_forget(R, sub, 1);
	registry_forget(R, g, 1);
}
END_TEST

START_TEST(hard_links)
{
	struct node *f = mkfile(R, root(), "f");
	struct node *d = mkdir_(R, root(), "d");
	struct stat st;
	write_str(R, f, "shared", 0);
	ck_assert_int_eq(registry_link(R, f, d, "g", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_uint_eq(st.st_ino, getattr(R, f).st_ino);
	ck_assert_int_eq(registry_link(R, f, d, "g", &st), -EEXIST);
	ck_assert_int_eq(registry_link(R, f, root(), "d", &st), -EEXIST);
	ck_assert_int_eq(registry_link(R, d, root(), "d2", &st), -EPERM);
	struct node *g;
	struct stat gst;
	ck_assert_int_eq(lookup(R, d, "g", &g, &gst), 0);
	ck_assert_ptr_eq(g, f);
	ck_assert_uint_eq(gst.st_nlink, 2);
	expect_data(R, g, 0, "shared", 6);
	ck_assert_int_eq(registry_unlink(R, root(), "f"), 0);
	ck_assert_uint_eq(getattr(R, f).st_nlink, 1);
	expect_data(R, g, 0, "shared", 6);
	/* An unlinked mapping gets no new name. */
	ck_assert_int_eq(registry_unlink(R, d, "g"), 0);
	ck_assert_int_eq(registry_link(R, f, root(), "back", &st), -ENOENT);
	registry_forget(R, f, 3); /* mkfile, link, lookup */
	registry_forget(R, d, 1);
	ck_assert_uint_eq(nodes_used(R), 1);
}
END_TEST

START_TEST(symlinks)
{
	struct node *l;
	struct stat st;
	ck_assert_int_eq(
	    registry_symlink(R, root(), "l", "some/where", &USER, &l, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_uint_eq(st.st_size, 10);
	ck_assert_uint_eq(st.st_uid, 1000);
	const char *t = NULL;
	ck_assert_int_eq(registry_readlink(R, l, &t), 0);
	ck_assert_str_eq(t, "some/where");
	struct node *f = mkfile(R, root(), "f");
	ck_assert_int_eq(registry_readlink(R, f, &t), -EINVAL);
	ck_assert_int_eq(registry_readlink(R, root(), &t), -EINVAL);
	struct node *x;
	ck_assert_int_eq(registry_symlink(R, root(), "e", "", &USER, &x, &st),
			 -ENOENT);
	ck_assert_int_eq(registry_symlink(R, root(), "l", "x", &USER, &x, &st),
			 -EEXIST);
	char longt[5000];
	memset(longt, 'a', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	ck_assert_int_eq(
	    registry_symlink(R, root(), "long", longt, &USER, &x, &st),
	    -ENAMETOOLONG);
	longt[4095] = '\0';
	ck_assert_int_eq(
	    registry_symlink(R, root(), "long", longt, &USER, &x, &st), 0);
	ck_assert_uint_eq(st.st_size, 4095);
	/* Links to a symlink are links to the link. */
	ck_assert_int_eq(registry_link(R, l, root(), "l2", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_uint_eq(st.st_nlink, 2);
	registry_forget(R, l, 2);
	registry_forget(R, f, 1);
	registry_forget(R, x, 1);
}
END_TEST

static uint64_t ino_of(struct node *dir, const char *name)
{
	struct stat st;
	int res = lookup(R, dir, name, NULL, &st);
	ck_assert_msg(res == 0, "lookup %s: %s", name, strerror(-res));
	return st.st_ino;
}

START_TEST(rename_plain)
{
	struct node *a = mkfile(R, root(), "a");
	struct node *b = mkfile(R, root(), "b");
	uint64_t ia = getattr(R, a).st_ino;
	write_str(R, a, "AAA", 0);
	write_str(R, b, "B", 0);
	ck_assert_int_eq(rename_("a", "c", 0), 0);
	ck_assert_int_eq(lookup(R, root(), "a", NULL, NULL), -ENOENT);
	ck_assert_uint_eq(ino_of(root(), "c"), ia);
	/* Over an existing file: the victim loses its name. */
	ck_assert_int_eq(rename_("c", "b", 0), 0);
	ck_assert_uint_eq(ino_of(root(), "b"), ia);
	ck_assert_int_eq(lookup(R, root(), "c", NULL, NULL), -ENOENT);
	ck_assert_uint_eq(getattr(R, b).st_nlink, 0);
	ck_assert_uint_eq(nodes_used(R), 2);
	registry_forget(R, b, 1);
	ck_assert_uint_eq(nodes_used(R), 1);
	/* Onto itself (or another name of itself): nothing happens. */
	ck_assert_int_eq(rename_("b", "b", 0), 0);
	struct stat st;
	ck_assert_int_eq(registry_link(R, a, root(), "b2", &st), 0);
	ck_assert_int_eq(rename_("b", "b2", 0), 0);
	ck_assert_uint_eq(getattr(R, a).st_nlink, 2);
	ck_assert_int_eq(rename_("missing", "z", 0), -ENOENT);
	ck_assert_int_eq(rename_("b", "z", 4242), -EINVAL);
	ck_assert_int_eq(rename_("b", "z", RENAME_NOREPLACE | RENAME_EXCHANGE),
			 -EINVAL);
	expect_data(R, a, 0, "AAA", 3);
	registry_forget(R, a, 2);
}
END_TEST

START_TEST(rename_flags)
{
	struct node *a = mkfile(R, root(), "a");
	struct node *b = mkfile(R, root(), "b");
	uint64_t ia = getattr(R, a).st_ino, ib = getattr(R, b).st_ino;
	ck_assert_int_eq(rename_("a", "b", RENAME_NOREPLACE), -EEXIST);
	ck_assert_uint_eq(ino_of(root(), "a"), ia);
	ck_assert_uint_eq(ino_of(root(), "b"), ib);
	ck_assert_int_eq(rename_("a", "n", RENAME_NOREPLACE), 0);
	ck_assert_uint_eq(ino_of(root(), "n"), ia);
	ck_assert_int_eq(rename_("n", "missing", RENAME_EXCHANGE), -ENOENT);
	ck_assert_uint_eq(ino_of(root(), "n"), ia);
	ck_assert_int_eq(rename_("n", "b", RENAME_EXCHANGE), 0);
	ck_assert_uint_eq(ino_of(root(), "n"), ib);
	ck_assert_uint_eq(ino_of(root(), "b"), ia);
	ck_assert_uint_eq(getattr(R, a).st_nlink, 1);
	ck_assert_uint_eq(getattr(R, b).st_nlink, 1);
	/* Exchange of a file and a directory in different directories. */
	struct node *d = mkdir_(R, root(), "d");
	struct node *e = mkdir_(R, d, "e");
	ck_assert_uint_eq(getattr(R, d).st_nlink, 3);
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 3);
	ck_assert_int_eq(
	    registry_rename(R, root(), "b", d, "e", RENAME_EXCHANGE), 0);
	ck_assert_uint_eq(ino_of(root(), "b"), getattr(R, e).st_ino);
	ck_assert_uint_eq(ino_of(d, "e"), ia);
	ck_assert_uint_eq(getattr(R, d).st_nlink, 2);
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 4);
	registry_forget(R, a, 1);
	registry_forget(R, b, 1);
	registry_forget(R, d, 1);
	registry_forget(R, e, 1);
}
END_TEST

START_TEST(rename_dirs)
{
	struct node *d = mkdir_(R, root(), "d");
	struct node *e = mkdir_(R, d, "e");
	struct node *f = mkfile(R, e, "f");
	struct node *g = mkdir_(R, root(), "g");
	struct node *h = mkfile(R, root(), "h");
	/* Into its own subtree, or onto itself as its own child. */
	ck_assert_int_eq(registry_rename(R, root(), "d", e, "x", 0), -EINVAL);
	ck_assert_int_eq(registry_rename(R, root(), "d", d, "x", 0), -EINVAL);
	ck_assert_int_eq(registry_rename(R, d, "e", e, "x", 0), -EINVAL);
	ck_assert_int_eq(
	    registry_rename(R, root(), "g", e, "f", RENAME_EXCHANGE), 0);
	ck_assert_int_eq(
	    registry_rename(R, e, "f", root(), "g", RENAME_EXCHANGE), 0);
	ck_assert_int_eq(
	    registry_rename(R, root(), "g", d, "e", RENAME_EXCHANGE), 0);
	ck_assert_int_eq(
	    registry_rename(R, d, "e", root(), "g", RENAME_EXCHANGE), 0);
	/* A directory swapped into its own subtree is refused too. */
	ck_assert_int_eq(
	    registry_rename(R, e, "f", root(), "d", RENAME_EXCHANGE), -EINVAL);
	/* Over a non-empty directory, over a file, a file over a dir. */
	ck_assert_int_eq(rename_("g", "d", 0), -ENOTEMPTY);
	ck_assert_int_eq(rename_("g", "h", 0), -ENOTDIR);
	ck_assert_int_eq(rename_("h", "g", 0), -EISDIR);
	ck_assert_int_eq(registry_rename(R, root(), "h", f, "x", 0), -ENOTDIR);
	/* Over an empty directory: replaced; link counts follow. */
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 4);
	ck_assert_int_eq(registry_rename(R, root(), "g", d, "e", 0),
			 -ENOTEMPTY);
	ck_assert_int_eq(registry_unlink(R, e, "f"), 0);
	ck_assert_int_eq(registry_rename(R, root(), "g", d, "e", 0), 0);
	ck_assert_uint_eq(getattr(R, e).st_nlink, 0);
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 3);
	ck_assert_uint_eq(getattr(R, d).st_nlink, 3);
	ck_assert_uint_eq(ino_of(d, "e"), getattr(R, g).st_ino);
	/* Nothing moves into a removed directory. */
	struct node *gone = mkdir_(R, root(), "gone");
	ck_assert_int_eq(registry_rmdir(R, root(), "gone"), 0);
	ck_assert_int_eq(registry_rename(R, root(), "h", gone, "h", 0),
			 -ENOENT);
	ck_assert_int_eq(registry_link(R, h, gone, "h", &(struct stat){0}),
			 -ENOENT);
	ck_assert_uint_eq(ino_of(root(), "h"), getattr(R, h).st_ino);
	registry_forget(R, gone, 1);
	/* Moving a directory up moves its ".." link. */
	ck_assert_int_eq(registry_rename(R, d, "e", root(), "top", 0), 0);
	ck_assert_uint_eq(getattr(R, d).st_nlink, 2);
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 4);
	registry_forget(R, d, 1);
	registry_forget(R, e, 1);
	registry_forget(R, f, 1);
	registry_forget(R, g, 1);
	registry_forget(R, h, 1);
	ck_assert_uint_eq(nodes_used(R), 3);
}
END_TEST

START_TEST(names)
{
	char n255[256], n256[257];
	memset(n255, 'n', 255);
	n255[255] = '\0';
	memset(n256, 'n', 256);
	n256[256] = '\0';
	struct node *n, *x;
	struct stat st;
	n = mkfile(R, root(), n255);
	ck_assert_int_eq(lookup(R, root(), n255, NULL, NULL), 0);
	ck_assert_int_eq(
	    registry_mknod(R, root(), n256, S_IFREG | 0644, 0, &USER, &x, &st),
	    -ENAMETOOLONG);
	ck_assert_int_eq(registry_mkdir(R, root(), n256, 0755, &USER, &x, &st),
			 -ENAMETOOLONG);
	ck_assert_int_eq(registry_symlink(R, root(), n256, "t", &USER, &x, &st),
			 -ENAMETOOLONG);
	ck_assert_int_eq(registry_link(R, n, root(), n256, &st), -ENAMETOOLONG);
	ck_assert_int_eq(lookup(R, root(), n256, NULL, NULL), -ENAMETOOLONG);
	ck_assert_int_eq(registry_unlink(R, root(), n256), -ENAMETOOLONG);
	ck_assert_int_eq(rename_(n255, n256, 0), -ENAMETOOLONG);
	ck_assert_int_eq(rename_(n256, "x", 0), -ENAMETOOLONG);
	ck_assert_int_eq(
	    registry_create(R, root(), n256, 0644, O_RDWR, &USER, &x, &st),
	    -ENAMETOOLONG);
	static const char *const bad[] = {".", "..", "a/b", "/", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(registry_mknod(R, root(), bad[i], S_IFREG | 0644,
					     0, &USER, &x, &st) < 0,
			      "mknod '%s' accepted", bad[i]);
		ck_assert_msg(
		    registry_mkdir(R, root(), bad[i], 0755, &USER, &x, &st) < 0,
		    "mkdir '%s' accepted", bad[i]);
		ck_assert_msg(registry_link(R, n, root(), bad[i], &st) < 0,
			      "link '%s' accepted", bad[i]);
		ck_assert_msg(rename_(n255, bad[i], 0) < 0,
			      "rename to '%s' accepted", bad[i]);
	}
	ck_assert_int_eq(
	    registry_mknod(R, root(), "a/b", S_IFREG | 0644, 0, &USER, &x, &st),
	    -EINVAL);
	/* Any other bytes make a name. */
	const char odd[] = "\x01 sp\xff\xfe\t\\*?";
	x = mkfile(R, root(), odd);
	ck_assert_int_eq(lookup(R, root(), odd, NULL, NULL), 0);
	ck_assert_uint_eq(nodes_used(R), 2);
	registry_forget(R, n, 1);
	registry_forget(R, x, 1);
}
END_TEST

START_TEST(readdir_snapshot)
{
	struct node *d = mkdir_(R, root(), "d");
	struct node *b = mkfile(R, d, "b");
	struct node *a = mkdir_(R, d, "a");
	struct node *c;
	struct stat st;
	ck_assert_int_eq(registry_symlink(R, d, "c", "b", &USER, &c, &st), 0);
	ck_assert_int_eq(registry_rename(R, d, "b", d, "b2", 0), 0);
	struct dir_snapshot *s;
	ck_assert_int_eq(registry_opendir(R, d, &s), 0);
	/* Later changes do not reach a snapshot taken already. */
	struct node *late = mkfile(R, d, "late");
	ck_assert_int_eq(registry_unlink(R, d, "c"), 0);
	ck_assert_uint_eq(s->count, 5);
	static const char *const want[] = {".", "..", "a", "c", "b2"};
	uint64_t inos[] = {getattr(R, d).st_ino, getattr(R, root()).st_ino,
			   getattr(R, a).st_ino, getattr(R, c).st_ino,
			   getattr(R, b).st_ino};
	mode_t types[] = {S_IFDIR, S_IFDIR, S_IFDIR, S_IFLNK, S_IFREG};
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(s->entries[i].name, want[i]);
		ck_assert_uint_eq(s->entries[i].ino, inos[i]);
		ck_assert_uint_eq(s->entries[i].type, types[i]);
	}
	registry_closedir(s);
	ck_assert_int_eq(registry_opendir(R, d, &s), 0);
	ck_assert_uint_eq(s->count, 5);
	ck_assert_str_eq(s->entries[4].name, "late");
	registry_closedir(s);
	/* The root's ".." is itself; a file is no directory. */
	ck_assert_int_eq(registry_opendir(R, root(), &s), 0);
	ck_assert_uint_eq(s->count, 3);
	ck_assert_uint_eq(s->entries[1].ino, getattr(R, root()).st_ino);
	ck_assert_str_eq(s->entries[2].name, "d");
	registry_closedir(s);
	ck_assert_int_eq(registry_opendir(R, b, &s), -ENOTDIR);
	registry_forget(R, d, 1);
	registry_forget(R, a, 1);
	registry_forget(R, b, 1);
	registry_forget(R, c, 1);
	registry_forget(R, late, 1);
}
END_TEST

int main(void)
{
	TCase *tc = registry_tcase("namespace", 30);
	tcase_add_test(tc, mkdir_rmdir);
	tcase_add_test(tc, mknod_kinds);
	tcase_add_test(tc, owner_and_sgid);
	tcase_add_test(tc, hard_links);
	tcase_add_test(tc, symlinks);
	tcase_add_test(tc, rename_plain);
	tcase_add_test(tc, rename_flags);
	tcase_add_test(tc, rename_dirs);
	tcase_add_test(tc, names);
	tcase_add_test(tc, readdir_snapshot);
	return registry_run(tc);
}
