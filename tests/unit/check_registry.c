/*
 * Unit tests of the core registry, mostly on memory-backed registries
 * (fs/core/namespace.c, attr.c, data.c, xattr.c, registry.c): node
 * lifetimes, the namespace operations and their errors, attributes,
 * capacity and node limits, data, fallocate, protection, user.* extended
 * attributes, fault injection and threads racing. Differential tests run
 * random operations on a registry (memory- and file-backed) and on a real
 * directory or file under /tmp and insist on the same results. No mount:
 * the core is driven directly. File-backed specifics: check_backing.c.
 */
#include "mount.h"
#include "registry.h"
#include "util.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ULL
#define CAP  (16 * PAGE)
#define MAXN 64

static const struct caller ROOT = {0, 0};
static const struct caller USER = {1000, 1000};
static const struct caller OTHER = {2000, 2000};

/* Check forces file-static state on fixtures: the registry under test. */
static struct registry *R;
/* The last message the core logged (each test runs in its own process). */
static char last_log[512];

static void log_msg(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static struct registry *reg_new_with(uint64_t cap, uint64_t max_nodes,
				     unsigned fault_write,
				     unsigned fault_resize)
{
	struct registry_config cfg = {
	    .capacity = cap,
	    .max_nodes = max_nodes,
	    .root_mode = 01777,
	    .root_uid = 0,
	    .root_gid = 0,
	    .backing_dirfd = -1,
	    .fault_write = fault_write,
	    .fault_resize = fault_resize,
	    .log = log_msg,
	};
	struct registry *r = NULL;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void setup(void)
{
	R = reg_new_with(CAP, MAXN, 0, 0);
}

static void teardown(void)
{
	registry_free(R);
	R = NULL;
}

static struct node *root(void)
{
	return registry_root(R);
}

/* A regular file (mapping) made by USER; one lookup reference. */
static struct node *mkfile(struct registry *r, struct node *dir,
			   const char *name)
{
	struct node *n = NULL;
	struct stat st;
	int res =
	    registry_mknod(r, dir, name, S_IFREG | 0644, 0, &USER, &n, &st);
	ck_assert_msg(res == 0, "mknod %s: %s", name, strerror(-res));
	ck_assert(S_ISREG(st.st_mode));
	return n;
}

static struct node *mkdir_(struct registry *r, struct node *dir,
			   const char *name)
{
	struct node *n = NULL;
	struct stat st;
	int res = registry_mkdir(r, dir, name, 0755, &USER, &n, &st);
	ck_assert_msg(res == 0, "mkdir %s: %s", name, strerror(-res));
	ck_assert(S_ISDIR(st.st_mode));
	return n;
}

static int lookup(struct registry *r, struct node *dir, const char *name,
		  struct node **out, struct stat *st)
{
	struct node *n;
	struct stat s;
	int res = registry_lookup(r, dir, name, &n, &s);
	if (res == 0) {
		if (out)
			*out = n;
		else
			registry_forget(r, n, 1);
		if (st)
			*st = s;
	}
	return res;
}

static struct stat getattr(struct registry *r, struct node *n)
{
	struct stat st;
	ck_assert_int_eq(registry_getattr(r, n, &st), 0);
	return st;
}

static struct statvfs statfs_(struct registry *r)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	return sv;
}

/* Entries in use, from statfs. */
static uint64_t nodes_used(struct registry *r)
{
	struct statvfs sv = statfs_(r);
	return sv.f_files - sv.f_ffree;
}

static uint64_t bytes_free(struct registry *r)
{
	struct statvfs sv = statfs_(r);
	return (uint64_t)sv.f_bfree * sv.f_frsize;
}

static void write_str(struct registry *r, struct node *n, const char *s,
		      uint64_t off)
{
	ck_assert_int_eq(registry_write(r, n, s, strlen(s), off), 0);
}

/* Read exactly len bytes at off and compare with want. */
static void expect_data(struct registry *r, struct node *n, uint64_t off,
			const void *want, size_t len)
{
	char buf[65536];
	size_t got = 0;
	ck_assert_uint_le(len, sizeof(buf));
	ck_assert_int_eq(registry_read(r, n, buf, len, off, &got), 0);
	ck_assert_uint_eq(got, len);
	ck_assert_msg(memcmp(buf, want, len) == 0, "data differs at %llu",
		      (unsigned long long)off);
}

static void expect_zeroes(struct registry *r, struct node *n, uint64_t off,
			  size_t len)
{
	static const char zero[65536];
	expect_data(r, n, off, zero, len);
}

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

/* ---- lifetimes and independence ---- */

START_TEST(two_registries)
{
	struct registry *a = reg_new_with(CAP, 10, 0, 0);
	struct registry *b = reg_new_with(2 * CAP, 20, 0, 0);
	struct node *fa = mkfile(a, registry_root(a), "x");
	write_str(a, fa, "only in a", 0);
	ck_assert_int_eq(lookup(b, registry_root(b), "x", NULL, NULL), -ENOENT);
	struct node *fb = mkfile(b, registry_root(b), "x");
	write_str(b, fb, "B", 0);
	expect_data(a, fa, 0, "only in a", 9);
	expect_data(b, fb, 0, "B", 1);
	ck_assert_uint_eq(statfs_(a).f_files, 10);
	ck_assert_uint_eq(statfs_(b).f_files, 20);
	ck_assert_uint_eq(statfs_(a).f_blocks, CAP / PAGE);
	ck_assert_uint_eq(statfs_(b).f_blocks, 2 * CAP / PAGE);
	ck_assert_uint_eq(registry_node_id(a, registry_root(a)), 1);
	ck_assert_ptr_eq(registry_node(b, 1), registry_root(b));
	ck_assert_ptr_eq(registry_node(a, registry_node_id(a, fa)), fa);
	registry_forget(a, fa, 1);
	registry_free(a);
	/* b is untouched by a's end. */
	expect_data(b, fb, 0, "B", 1);
	registry_forget(b, fb, 1);
	registry_free(b);
}
END_TEST

START_TEST(lifetime_lookup)
{
	struct node *f = mkfile(R, root(), "f");
	write_str(R, f, "content", 0);
	ck_assert_uint_eq(nodes_used(R), 1);
	struct node *g;
	ck_assert_int_eq(lookup(R, root(), "f", &g, NULL), 0);
	ck_assert_ptr_eq(f, g);
	/* Three references now: the create and two lookups. */
	ck_assert_int_eq(lookup(R, root(), "f", &g, NULL), 0);
	ck_assert_int_eq(registry_unlink(R, root(), "f"), 0);
	ck_assert_int_eq(lookup(R, root(), "f", NULL, NULL), -ENOENT);
	/* Unlinked but known to the kernel, which may still open it (an open
	 * racing the unlink, /proc/self/fd): node and data stay. */
	ck_assert_uint_eq(nodes_used(R), 1);
	ck_assert_uint_eq(getattr(R, f).st_nlink, 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 7);
	ck_assert_uint_eq(bytes_free(R), CAP - PAGE);
	ck_assert_int_eq(registry_open(R, f, O_RDWR), 0);
	expect_data(R, f, 0, "content", 7);
	registry_release(R, f, O_RDWR);
	registry_forget(R, f, 2);
	ck_assert_uint_eq(nodes_used(R), 1);
	expect_data(R, f, 0, "content", 7);
	/* The last reference frees it all. */
	registry_forget(R, f, 1);
	ck_assert_uint_eq(nodes_used(R), 0);
	ck_assert_uint_eq(bytes_free(R), CAP);
	/* The root is never forgotten away. */
	registry_forget(R, root(), 100);
	ck_assert(S_ISDIR(getattr(R, root()).st_mode));
}
END_TEST

START_TEST(lifetime_open)
{
	struct node *f = mkfile(R, root(), "f");
	ck_assert_int_eq(registry_open(R, f, O_RDWR), 0);
	registry_forget(R, f, 1);
	/* Named and open: stays. */
	ck_assert_uint_eq(nodes_used(R), 1);
	write_str(R, f, "still here", 0);
	ck_assert_int_eq(registry_unlink(R, root(), "f"), 0);
	/* Open but nameless and forgotten: stays until release. */
	ck_assert_uint_eq(nodes_used(R), 1);
	expect_data(R, f, 0, "still here", 10);
	write_str(R, f, "!", 10);
	expect_data(R, f, 0, "still here!", 11);
	/* A second open handle keeps it past the first release. */
	ck_assert_int_eq(registry_open(R, f, O_RDONLY), 0);
	registry_release(R, f, O_RDWR);
	ck_assert_uint_eq(nodes_used(R), 1);
	expect_data(R, f, 0, "still here!", 11);
	registry_release(R, f, O_RDONLY);
	ck_assert_uint_eq(nodes_used(R), 0);
}
END_TEST

START_TEST(create_and_open)
{
	struct node *f;
	struct stat st;
	ck_assert_int_eq(registry_create(R, root(), "c", 0600, O_RDWR | O_CREAT,
					 &USER, &f, &st),
			 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 1000);
	ck_assert_uint_eq(st.st_size, 0);
	ck_assert_uint_eq(st.st_nlink, 1);
	/* Without O_EXCL an existing mapping is opened; with it, EEXIST. */
	struct node *g;
	ck_assert_int_eq(registry_create(R, root(), "c", 0600, O_RDWR | O_CREAT,
					 &OTHER, &g, &st),
			 0);
	ck_assert_ptr_eq(f, g);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_int_eq(registry_create(R, root(), "c", 0600,
					 O_RDWR | O_CREAT | O_EXCL, &USER, &g,
					 &st),
			 -EEXIST);
	/* A directory of that name is not a mapping to open. */
	struct node *d = mkdir_(R, root(), "d");
	ck_assert_int_eq(
	    registry_create(R, root(), "d", 0600, O_RDWR, &USER, &g, &st),
	    -EISDIR);
	ck_assert_int_eq(registry_open(R, d, O_RDONLY), -EISDIR);
	registry_release(R, f, O_RDWR);
	registry_release(R, f, O_RDWR);
	registry_forget(R, f, 2);
	registry_forget(R, d, 1);
	ck_assert_int_eq(registry_unlink(R, root(), "c"), 0);
	ck_assert_uint_eq(nodes_used(R), 1);
}
END_TEST

/* ---- namespace ---- */

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

static int rename_(const char *a, const char *b, unsigned flags)
{
	return registry_rename(R, root(), a, root(), b, flags);
}

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

/* ---- attributes ---- */

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

/* ---- capacity and limits ---- */

START_TEST(capacity_enospc)
{
	struct node *f = mkfile(R, root(), "f");
	struct node *g = mkfile(R, root(), "g");
	write_str(R, f, "keep", 0);
	write_str(R, g, "other", 0);
	uint64_t free0 = bytes_free(R);
	ck_assert_uint_eq(free0, CAP - 2 * PAGE);
	static char big[CAP];
	memset(big, 'B', sizeof(big));
	/* Write past the capacity: refused, nothing changed. */
	ck_assert_int_eq(registry_write(R, f, big, CAP, 0), -ENOSPC);
	ck_assert_int_eq(registry_write(R, f, "z", 1, CAP), -ENOSPC);
	ck_assert_uint_eq(getattr(R, f).st_size, 4);
	expect_data(R, f, 0, "keep", 4);
	ck_assert_uint_eq(bytes_free(R), free0);
	struct setattr_req q = {.valid = SET_SIZE, .size = CAP};
	struct stat st;
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), -ENOSPC);
	ck_assert_uint_eq(getattr(R, f).st_size, 4);
	ck_assert_int_eq(registry_fallocate(R, f, 0, 0, CAP), -ENOSPC);
	ck_assert_uint_eq(getattr(R, f).st_size, 4);
	ck_assert_uint_eq(bytes_free(R), free0);
	expect_data(R, f, 0, "keep", 4);
	expect_data(R, g, 0, "other", 5);
	/* Exactly up to the capacity is fine. */
	ck_assert_int_eq(registry_write(R, f, big, CAP - PAGE, 0), 0);
	ck_assert_uint_eq(bytes_free(R), 0);
	ck_assert_int_eq(registry_write(R, g, "x", 1, PAGE), -ENOSPC);
	/* Space kept within a file's size: overwrite in place works (so a
	 * store through a view inside the file, written back later, never
	 * fails), as do fallocates and writes that end inside it. */
	write_str(R, f, "over", 100);
	ck_assert_int_eq(registry_write(R, f, big, CAP - PAGE, 0), 0);
	ck_assert_int_eq(registry_fallocate(R, f, 0, 0, CAP - PAGE), 0);
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, CAP - PAGE),
	    0);
	ck_assert_int_eq(registry_write(R, f, big, CAP - PAGE, 0), 0);
	ck_assert_uint_eq(bytes_free(R), 0);
	/* KEEP_SIZE past the end reserves nothing and is allowed. */
	ck_assert_int_eq(
	    registry_fallocate(R, g, FALLOC_FL_KEEP_SIZE, 0, 4 * CAP), 0);
	ck_assert_uint_eq(getattr(R, g).st_size, 5);
	registry_forget(R, f, 1);
	registry_forget(R, g, 1);
}
END_TEST

START_TEST(capacity_released)
{
	static char big[8 * PAGE];
	struct node *f = mkfile(R, root(), "f");
	ck_assert_int_eq(registry_write(R, f, big, sizeof(big), 0), 0);
	ck_assert_uint_eq(bytes_free(R), CAP - sizeof(big));
	/* A closed mapping: released when its last name and the kernel's
	 * last reference are gone. */
	ck_assert_int_eq(registry_unlink(R, root(), "f"), 0);
	ck_assert_uint_eq(bytes_free(R), CAP - sizeof(big));
	registry_forget(R, f, 1);
	ck_assert_uint_eq(bytes_free(R), CAP);
	/* An open one: only at its last release. */
	struct node *g;
	struct stat st;
	ck_assert_int_eq(
	    registry_create(R, root(), "g", 0644, O_RDWR, &USER, &g, &st), 0);
	ck_assert_int_eq(registry_write(R, g, big, sizeof(big), 0), 0);
	ck_assert_int_eq(registry_unlink(R, root(), "g"), 0);
	registry_forget(R, g, 1);
	ck_assert_uint_eq(bytes_free(R), CAP - sizeof(big));
	/* Still full: the unlinked mapping's space is not yet free. */
	struct node *h = mkfile(R, root(), "h");
	ck_assert_int_eq(registry_write(R, h, big, sizeof(big) + 1, 0),
			 -ENOSPC);
	registry_release(R, g, O_RDWR);
	ck_assert_uint_eq(bytes_free(R), CAP);
	ck_assert_int_eq(registry_write(R, h, big, sizeof(big), 0), 0);
	/* Replaced by a rename: the victim's space comes back. */
	struct node *k = mkfile(R, root(), "k");
	ck_assert_int_eq(registry_write(R, k, big, 4 * PAGE, 0), 0);
	ck_assert_uint_eq(bytes_free(R), CAP - 12 * PAGE);
	ck_assert_int_eq(rename_("h", "k", 0), 0);
	registry_forget(R, k, 1);
	ck_assert_uint_eq(bytes_free(R), CAP - 8 * PAGE);
	registry_forget(R, h, 1);
}
END_TEST

START_TEST(max_nodes)
{
	struct registry *r = reg_new_with(CAP, 3, 0, 0);
	struct node *rt = registry_root(r), *a, *b, *c, *x;
	struct stat st;
	a = mkfile(r, rt, "a");
	b = mkdir_(r, rt, "b");
	ck_assert_int_eq(registry_symlink(r, rt, "c", "a", &USER, &c, &st), 0);
	ck_assert_int_eq(
	    registry_mknod(r, rt, "d", S_IFREG | 0644, 0, &USER, &x, &st),
	    -ENOSPC);
	ck_assert_int_eq(registry_mkdir(r, b, "d", 0755, &USER, &x, &st),
			 -ENOSPC);
	ck_assert_int_eq(registry_symlink(r, rt, "d", "a", &USER, &x, &st),
			 -ENOSPC);
	ck_assert_int_eq(
	    registry_create(r, rt, "d", 0644, O_RDWR, &USER, &x, &st), -ENOSPC);
	ck_assert_int_eq(lookup(r, rt, "d", NULL, NULL), -ENOENT);
	/* A hard link is no new entry. */
	ck_assert_int_eq(registry_link(r, a, b, "a2", &st), 0);
	ck_assert_uint_eq(statfs_(r).f_ffree, 0);
	ck_assert_int_eq(registry_unlink(r, rt, "c"), 0);
	registry_forget(r, c, 1);
	ck_assert_uint_eq(statfs_(r).f_ffree, 1);
	x = mkfile(r, rt, "d");
	registry_forget(r, a, 2);
	registry_forget(r, b, 1);
	registry_forget(r, x, 1);
	registry_free(r);
}
END_TEST

/* ---- data ---- */

START_TEST(read_write)
{
	struct node *f = mkfile(R, root(), "f");
	write_str(R, f, "hello", 0);
	write_str(R, f, "world", 10);
	ck_assert_uint_eq(getattr(R, f).st_size, 15);
	expect_data(R, f, 0, "hello\0\0\0\0\0world", 15);
	write_str(R, f, "J", 0);
	expect_data(R, f, 0, "Jello", 5);
	char buf[64];
	size_t got = 99;
	/* Past EOF: nothing; across EOF: what there is. */
	ck_assert_int_eq(registry_read(R, f, buf, sizeof(buf), 15, &got), 0);
	ck_assert_uint_eq(got, 0);
	ck_assert_int_eq(registry_read(R, f, buf, sizeof(buf), 1000000, &got),
			 0);
	ck_assert_uint_eq(got, 0);
	ck_assert_int_eq(
	    registry_read(R, f, buf, sizeof(buf), UINT64_MAX - 1, &got), 0);
	ck_assert_uint_eq(got, 0);
	ck_assert_int_eq(registry_read(R, f, buf, sizeof(buf), 12, &got), 0);
	ck_assert_uint_eq(got, 3);
	ck_assert(memcmp(buf, "rld", 3) == 0);
	/* Where a read can be spliced from: the store's descriptor and the
	 * length within the file. */
	int fd = -1;
	size_t len = 99;
	ck_assert_int_eq(registry_read_fd(R, f, 64, 12, &fd, &len), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(pread(fd, buf, len, 12), 3);
	ck_assert(memcmp(buf, "rld", 3) == 0);
	ck_assert_int_eq(registry_read_fd(R, f, 4, 1, &fd, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(registry_read_fd(R, f, 64, 15, &fd, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(registry_read_fd(R, f, 64, UINT64_MAX, &fd, &len), 0);
	ck_assert_uint_eq(len, 0);
	/* A large write round-trips. */
	static char big[40000], back[40000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	ck_assert_int_eq(registry_write(R, f, big, sizeof(big), 333), 0);
	ck_assert_int_eq(registry_read(R, f, back, sizeof(back), 333, &got), 0);
	ck_assert_uint_eq(got, sizeof(back));
	ck_assert(memcmp(big, back, sizeof(big)) == 0);
	/* Offsets no file can have. */
	ck_assert_int_eq(registry_write(R, f, "x", 1, UINT64_MAX), -EFBIG);
	ck_assert_int_eq(registry_write(R, f, "x", 1, INT64_MAX), -EFBIG);
	ck_assert_uint_eq(getattr(R, f).st_size, 40333);
	registry_forget(R, f, 1);
}
END_TEST

START_TEST(empty_write_past_eof)
{
	struct node *f = mkfile(R, root(), "f");
	write_str(R, f, "abc", 0);
	/* write(2) of nothing changes no size. */
	ck_assert_int_eq(registry_write(R, f, "", 0, 8 * PAGE), 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 3);
	ck_assert_uint_eq(bytes_free(R), CAP - PAGE);
	registry_forget(R, f, 1);
}
END_TEST

START_TEST(open_trunc)
{
	struct node *f = mkfile(R, root(), "f");
	static char big[4 * PAGE];
	memset(big, 'T', sizeof(big));
	ck_assert_int_eq(registry_write(R, f, big, sizeof(big), 0), 0);
	/* O_TRUNC with a read-only open truncates nothing. */
	ck_assert_int_eq(registry_open(R, f, O_RDONLY | O_TRUNC), 0);
	registry_release(R, f, O_RDONLY | O_TRUNC);
	ck_assert_uint_eq(getattr(R, f).st_size, sizeof(big));
	/* With a write open it does, and gives the space back. */
	ck_assert_int_eq(registry_open(R, f, O_WRONLY | O_TRUNC), 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 0);
	ck_assert_uint_eq(bytes_free(R), CAP);
	write_str(R, f, "new", 0);
	registry_release(R, f, O_WRONLY | O_TRUNC);
	/* Through create of an existing name too. */
	struct node *g;
	struct stat st;
	ck_assert_int_eq(registry_create(R, root(), "f", 0644,
					 O_RDWR | O_CREAT | O_TRUNC, &USER, &g,
					 &st),
			 0);
	ck_assert_ptr_eq(g, f);
	ck_assert_uint_eq(getattr(R, f).st_size, 0);
	registry_release(R, f, O_RDWR);
	registry_forget(R, f, 2);
}
END_TEST

START_TEST(fallocate_modes)
{
	struct node *f = mkfile(R, root(), "f");
	static char ones[3 * PAGE];
	memset(ones, 1, sizeof(ones));
	ck_assert_int_eq(registry_write(R, f, ones, sizeof(ones), 0), 0);
	/* Punch a hole: zeroes, size kept. */
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       100, PAGE),
	    0);
	ck_assert_uint_eq(getattr(R, f).st_size, 3 * PAGE);
	expect_data(R, f, 0, ones, 100);
	expect_zeroes(R, f, 100, PAGE);
	expect_data(R, f, 100 + PAGE, ones, 2 * PAGE - 100);
	/* Zero a range. */
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_ZERO_RANGE, 2 * PAGE, 10), 0);
	expect_zeroes(R, f, 2 * PAGE, 10);
	expect_data(R, f, 2 * PAGE + 10, ones, PAGE - 10);
	/* Zero range past EOF grows; with KEEP_SIZE it does not. */
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			       3 * PAGE - 5, 100),
	    0);
	ck_assert_uint_eq(getattr(R, f).st_size, 3 * PAGE);
	expect_zeroes(R, f, 3 * PAGE - 5, 5);
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_ZERO_RANGE, 3 * PAGE, 100), 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 3 * PAGE + 100);
	/* Plain allocation grows and reserves; KEEP_SIZE keeps size. */
	ck_assert_int_eq(registry_fallocate(R, f, 0, 0, 5 * PAGE), 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 5 * PAGE);
	ck_assert_uint_eq(bytes_free(R), CAP - 5 * PAGE);
	expect_zeroes(R, f, 3 * PAGE, 2 * PAGE);
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_KEEP_SIZE, 0, 9 * PAGE), 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 5 * PAGE);
	ck_assert_uint_eq(bytes_free(R), CAP - 5 * PAGE);
	/* Modes we do not take, empty ranges, impossible ranges. */
	ck_assert_int_eq(registry_fallocate(R, f, FALLOC_FL_PUNCH_HOLE, 0, 10),
			 -EOPNOTSUPP);
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_COLLAPSE_RANGE, 0, PAGE),
	    -EOPNOTSUPP);
	ck_assert_int_eq(
	    registry_fallocate(R, f, FALLOC_FL_INSERT_RANGE, 0, PAGE),
	    -EOPNOTSUPP);
	ck_assert_int_eq(registry_fallocate(R, f, 0x4000, 0, PAGE),
			 -EOPNOTSUPP);
	ck_assert_int_eq(registry_fallocate(R, f, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(registry_fallocate(R, f, 0, UINT64_MAX - 10, 100),
			 -EFBIG);
	ck_assert_int_eq(registry_fallocate(R, root(), 0, 0, 10), -ENODEV);
	ck_assert_uint_eq(getattr(R, f).st_size, 5 * PAGE);
	registry_forget(R, f, 1);
}
END_TEST

/* ---- protection ---- */

static int set_protect(struct node *n, const struct caller *c, const char *v)
{
	return registry_setxattr(R, n, c, SHMAP_XATTR_PROTECT, v, strlen(v), 0);
}

static void expect_protect(struct node *n, const char *want)
{
	char buf[64];
	size_t len = 0;
	ck_assert_int_eq(registry_getxattr(R, n, SHMAP_XATTR_PROTECT, buf,
					   sizeof(buf), &len),
			 0);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert(memcmp(buf, want, len) == 0);
}

START_TEST(protection)
{
	struct node *f = mkfile(R, root(), "f");
	write_str(R, f, "data", 0);
	expect_protect(f, "readwrite");
	ck_assert_int_eq(set_protect(f, &OTHER, "readonly"), -EPERM);
	expect_protect(f, "readwrite");
	ck_assert_int_eq(set_protect(f, &USER, "bogus"), -EINVAL);
	ck_assert_int_eq(set_protect(f, &USER, "readonlyx"), -EINVAL);
	ck_assert_int_eq(set_protect(f, &USER, ""), -EINVAL);
	expect_protect(f, "readwrite");
	/* A handle opened before the change keeps its access. */
	ck_assert_int_eq(registry_open(R, f, O_RDWR), 0);
	ck_assert_int_eq(set_protect(f, &USER, "readonly"), 0);
	expect_protect(f, "readonly");
	write_str(R, f, "DATA", 0);
	registry_release(R, f, O_RDWR);
	/* Later opens for writing are refused; the caller does not matter. */
	ck_assert_int_eq(registry_open(R, f, O_RDWR), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY | O_TRUNC), -EACCES);
	struct node *g;
	struct stat st;
	ck_assert_int_eq(registry_create(R, root(), "f", 0644, O_RDWR | O_CREAT,
					 &ROOT, &g, &st),
			 -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_RDONLY), 0);
	registry_release(R, f, O_RDONLY);
	expect_data(R, f, 0, "DATA", 4);
	/* No truncate or fallocate either. */
	struct setattr_req q = {.valid = SET_SIZE, .size = 0};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), -EACCES);
	ck_assert_int_eq(registry_fallocate(R, f, 0, 0, 10), -EACCES);
	expect_data(R, f, 0, "DATA", 4);
	/* writecopy: the same for writers; a trailing newline is fine. */
	ck_assert_int_eq(set_protect(f, &ROOT, "writecopy\n"), 0);
	expect_protect(f, "writecopy");
	ck_assert_int_eq(registry_open(R, f, O_RDWR), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_RDONLY), 0);
	registry_release(R, f, O_RDONLY);
	/* Listed with the other attributes. */
	char list[256];
	size_t len;
	ck_assert_int_eq(registry_listxattr(R, f, list, sizeof(list), &len), 0);
	ck_assert_uint_eq(len, sizeof(SHMAP_XATTR_PROTECT));
	ck_assert_str_eq(list, SHMAP_XATTR_PROTECT);
	/* Removing it resets it, for the owner or root only. */
	ck_assert_int_eq(
	    registry_removexattr(R, f, &OTHER, SHMAP_XATTR_PROTECT), -EPERM);
	ck_assert_int_eq(registry_removexattr(R, f, &USER, SHMAP_XATTR_PROTECT),
			 0);
	expect_protect(f, "readwrite");
	ck_assert_int_eq(registry_open(R, f, O_RDWR), 0);
	registry_release(R, f, O_RDWR);
	/* readwrite can be set explicitly too. */
	ck_assert_int_eq(set_protect(f, &USER, "readonly"), 0);
	ck_assert_int_eq(set_protect(f, &USER, "readwrite"), 0);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY), 0);
	registry_release(R, f, O_WRONLY);
	registry_forget(R, f, 1);
}
END_TEST

START_TEST(protect_names)
{
	enum shmap_protect p = SHMAP_PROTECT_WRITECOPY;
	ck_assert_int_eq(protect_parse("readwrite", 9, &p), 0);
	ck_assert_int_eq(p, SHMAP_PROTECT_READWRITE);
	ck_assert_int_eq(protect_parse("readonly\n", 9, &p), 0);
	ck_assert_int_eq(p, SHMAP_PROTECT_READONLY);
	ck_assert_int_eq(protect_parse("writecopy", 10, &p), 0); /* + NUL */
	ck_assert_int_eq(p, SHMAP_PROTECT_WRITECOPY);
	/* Only the length given counts. */
	ck_assert_int_eq(protect_parse("readonlyXYZ", 8, &p), 0);
	ck_assert_int_eq(p, SHMAP_PROTECT_READONLY);
	static const char *const bad[] = {"",	       "READONLY",  "read",
					  " readonly", "readonly ", "readonlyx",
					  "rw"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(protect_parse(bad[i], strlen(bad[i]), &p) ==
				  -EINVAL,
			      "'%s' accepted", bad[i]);
	ck_assert_str_eq(protect_name(SHMAP_PROTECT_READWRITE), "readwrite");
	ck_assert_str_eq(protect_name(SHMAP_PROTECT_READONLY), "readonly");
	ck_assert_str_eq(protect_name(SHMAP_PROTECT_WRITECOPY), "writecopy");
}
END_TEST

/* ---- user.* extended attributes ---- */

START_TEST(xattrs)
{
	struct node *f = mkfile(R, root(), "f");
	struct node *d = mkdir_(R, root(), "d");
	char buf[256];
	size_t len = 0;
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "one", 3, XATTR_REPLACE),
	    -ENODATA);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "one", 3, XATTR_CREATE),
	    0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "two", 3, XATTR_CREATE),
	    -EEXIST);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "three", 5, XATTR_REPLACE),
	    0);
	ck_assert_int_eq(registry_setxattr(R, f, &USER, "user.b", "", 0, 0), 0);
	/* Size query, too small a buffer, a fitting one. */
	ck_assert_int_eq(registry_getxattr(R, f, "user.a", NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(registry_getxattr(R, f, "user.a", buf, 4, &len),
			 -ERANGE);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.a", buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(buf, "three", 5) == 0);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.b", buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.none", buf, sizeof(buf), &len),
	    -ENODATA);
	/* The list: protection first, then ours in order. */
	static const char want[] = SHMAP_XATTR_PROTECT "\0user.a\0user.b";
	ck_assert_int_eq(registry_listxattr(R, f, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert_int_eq(registry_listxattr(R, f, buf, 10, &len), -ERANGE);
	ck_assert_int_eq(registry_listxattr(R, f, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert(memcmp(buf, want, sizeof(want)) == 0);
	/* security.* and trusted.* are stored as on tmpfs; trusted.* names
	 * are listed only for the privileged. */
	ck_assert_int_eq(registry_setxattr(R, f, &ROOT, "trusted.t", "1", 1, 0),
			 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &ROOT, "security.s", "2", 1, 0), 0);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "trusted.t", buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 1);
	static const char all[] =
	    SHMAP_XATTR_PROTECT "\0user.a\0user.b\0trusted.t\0security.s";
	ck_assert_int_eq(registry_listxattr(R, f, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(all));
	ck_assert(memcmp(buf, all, sizeof(all)) == 0);
	static const char seen[] =
	    SHMAP_XATTR_PROTECT "\0user.a\0user.b\0security.s";
	int hidden = 0;
	ck_assert_int_eq(
	    registry_listxattr_for(R, f, 0, buf, sizeof(buf), &len, &hidden),
	    0);
	ck_assert_int_eq(hidden, 1);
	ck_assert_uint_eq(len, sizeof(seen));
	ck_assert(memcmp(buf, seen, sizeof(seen)) == 0);
	ck_assert_int_eq(registry_removexattr(R, f, &ROOT, "trusted.t"), 0);
	ck_assert_int_eq(registry_removexattr(R, f, &ROOT, "security.s"), 0);
	/* Other namespaces are not ours. */
	static const char *const foreign[] = {"system.x", "x", "USER.x",
					      "trust.x", "osx.x"};
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(
		    registry_setxattr(R, f, &ROOT, foreign[i], "v", 1, 0),
		    -EOPNOTSUPP);
		ck_assert_int_eq(registry_removexattr(R, f, &ROOT, foreign[i]),
				 -EOPNOTSUPP);
	}
	/* Directories carry user attributes but no protection. */
	ck_assert_int_eq(registry_setxattr(R, d, &USER, "user.dir", "v", 1, 0),
			 0);
	ck_assert_int_eq(registry_listxattr(R, d, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof("user.dir"));
	ck_assert_str_eq(buf, "user.dir");
	/* Symlinks carry none, as on Linux. */
	struct node *l;
	struct stat st;
	ck_assert_int_eq(registry_symlink(R, root(), "l", "f", &USER, &l, &st),
			 0);
	ck_assert_int_eq(registry_setxattr(R, l, &USER, "user.x", "v", 1, 0),
			 -EPERM);
	/* Remove. */
	ck_assert_int_eq(registry_removexattr(R, f, &USER, "user.a"), 0);
	ck_assert_int_eq(registry_removexattr(R, f, &USER, "user.a"), -ENODATA);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.a", buf, sizeof(buf), &len),
	    -ENODATA);
	ck_assert_int_eq(registry_listxattr(R, f, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(SHMAP_XATTR_PROTECT "\0user.b"));
	registry_forget(R, f, 1);
	registry_forget(R, d, 1);
	registry_forget(R, l, 1);
}
END_TEST

START_TEST(xattr_limits)
{
	struct node *f = mkfile(R, root(), "f");
	static char big[70000];
	memset(big, 'v', sizeof(big));
	ck_assert_int_eq(registry_setxattr(R, f, &USER, "user.big", big,
					   XATTR_SIZE_MAX + 1, 0),
			 -E2BIG);
	/* Names and values of one node share 64 KiB. */
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.big", big, 60000, 0), 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.more", big, 6000, 0), -ENOSPC);
	size_t len;
	char buf[64];
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.more", buf, sizeof(buf), &len),
	    -ENODATA);
	ck_assert_int_eq(registry_getxattr(R, f, "user.big", NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 60000);
	/* Replacing counts the old value out. */
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.big", big, 65000, 0), 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.big", big, 100, 0), 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.more", big, 6000, 0), 0);
	/* Names past XATTR_NAME_MAX are refused. */
	char name[300] = "user.";
	memset(name + 5, 'n', 260);
	name[265] = '\0';
	ck_assert_int_lt(registry_setxattr(R, f, &USER, name, "v", 1, 0), 0);
	registry_forget(R, f, 1);
}
END_TEST

/* ---- read-only registry ---- */

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

/* ---- fault injection ---- */

START_TEST(fault_write)
{
	struct registry *r = reg_new_with(CAP, MAXN, 2, 0);
	struct node *f = mkfile(r, registry_root(r), "f");
	write_str(r, f, "first", 0);
	uint64_t free0 = bytes_free(r);
	static char big[3 * PAGE];
	memset(big, 'X', sizeof(big));
	/* The second write fails: content, size and capacity unchanged. */
	ck_assert_int_eq(registry_write(r, f, big, sizeof(big), 0), -EIO);
	ck_assert_uint_eq(getattr(r, f).st_size, 5);
	expect_data(r, f, 0, "first", 5);
	ck_assert_uint_eq(bytes_free(r), free0);
	ck_assert_ptr_nonnull(strstr(last_log, "Input/output error"));
	/* Later writes succeed. */
	ck_assert_int_eq(registry_write(r, f, big, sizeof(big), 0), 0);
	ck_assert_uint_eq(getattr(r, f).st_size, sizeof(big));
	ck_assert_uint_eq(bytes_free(r), CAP - sizeof(big));
	expect_data(r, f, 0, big, sizeof(big));
	/* Each mapping counts its own writes. */
	struct node *g = mkfile(r, registry_root(r), "g");
	write_str(r, g, "1", 0);
	ck_assert_int_eq(registry_write(r, g, "2", 1, 1), -EIO);
	write_str(r, g, "3", 1);
	expect_data(r, g, 0, "13", 2);
	registry_forget(r, f, 1);
	registry_forget(r, g, 1);
	ck_assert_uint_eq(bytes_free(r), CAP - sizeof(big) - PAGE);
	registry_free(r);
}
END_TEST

START_TEST(fault_resize)
{
	struct registry *r = reg_new_with(CAP, MAXN, 0, 1);
	struct node *f = mkfile(r, registry_root(r), "f");
	write_str(r, f, "abc", 0);
	struct setattr_req q = {.valid = SET_SIZE, .size = 5 * PAGE};
	struct stat st;
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), -EIO);
	ck_assert_uint_eq(getattr(r, f).st_size, 3);
	ck_assert_uint_eq(bytes_free(r), CAP - PAGE);
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
	ck_assert_uint_eq(st.st_size, 5 * PAGE);
	ck_assert_uint_eq(bytes_free(r), CAP - 5 * PAGE);
	expect_data(r, f, 0, "abc", 3);
	registry_forget(r, f, 1);
	registry_free(r);
}
END_TEST

/* A symlink's size is its target's length: no capacity is reserved for
 * it, and none may be given back when it goes. */
START_TEST(symlink_capacity)
{
	struct node *l;
	struct stat st;
	char target[3000];
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	ck_assert_int_eq(
	    registry_symlink(R, root(), "l", target, &USER, &l, &st), 0);
	ck_assert_uint_eq(bytes_free(R), CAP);
	ck_assert_int_eq(registry_unlink(R, root(), "l"), 0);
	registry_forget(R, l, 1);
	ck_assert_uint_eq(bytes_free(R), CAP);
	struct node *f = mkfile(R, root(), "f");
	write_str(R, f, "still room", 0);
	ck_assert_uint_eq(bytes_free(R), CAP - PAGE);
	registry_forget(R, f, 1);
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

/* registry_free with everything still held: lookups, open handles, an
 * unlinked open mapping, links, xattrs. ASan's leak check proves that it
 * frees it all. */
START_TEST(free_with_references)
{
	struct registry *r = reg_new_with(CAP, MAXN, 0, 0);
	struct node *rt = registry_root(r), *n;
	struct stat st;
	struct node *d = mkdir_(r, rt, "d");
	struct node *e = mkdir_(r, d, "e");
	struct node *f = mkfile(r, e, "f");
	write_str(r, f, "data", 0);
	ck_assert_int_eq(registry_link(r, f, rt, "f2", &st), 0);
	ck_assert_int_eq(
	    registry_setxattr(r, f, &USER, "user.x", "value", 5, 0), 0);
	ck_assert_int_eq(registry_setxattr(r, d, &USER, "user.d", "v", 1, 0),
			 0);
	ck_assert_int_eq(registry_symlink(r, e, "l", "f", &USER, &n, &st), 0);
	ck_assert_int_eq(
	    registry_create(r, rt, "gone", 0644, O_RDWR, &USER, &n, &st), 0);
	write_str(r, n, "unlinked but open", 0);
	ck_assert_int_eq(registry_unlink(r, rt, "gone"), 0);
	ck_assert_int_eq(registry_open(r, f, O_RDONLY), 0);
	struct dir_snapshot *s;
	ck_assert_int_eq(registry_opendir(r, d, &s), 0);
	registry_closedir(s);
	registry_free(r);
}
END_TEST

/* ---- concurrency ---- */

#define WRITERS 6
#define RECORD	10000 /* unaligned: spans pages, so a torn copy would show */
#define SLOTS	5

struct writer_arg {
	pthread_barrier_t *start; /* all threads go at once */
	struct node *n;
	int id;
	int rounds;
	int bad; /* records seen torn (readers) or writes failed */
};

static void *record_writer(void *p)
{
	struct writer_arg *a = p;
	static __thread char rec[RECORD];
	memset(rec, 'A' + a->id, sizeof(rec));
	if (a->start)
		pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++) {
		uint64_t off = 7 + (uint64_t)((i * 3 + a->id) % SLOTS) * RECORD;
		if (registry_write(R, a->n, rec, sizeof(rec), off) != 0)
			a->bad++;
	}
	return NULL;
}

/* Is each record all one writer's byte (or all zero, never written)? */
static int torn_records(struct node *n)
{
	static __thread char buf[SLOTS * RECORD];
	size_t got;
	if (registry_read(R, n, buf, sizeof(buf), 7, &got) != 0)
		return 1;
	int torn = 0;
	for (size_t r = 0; r < got / RECORD; r++) {
		const char *rec = buf + r * RECORD;
		for (size_t i = 1; i < RECORD; i++)
			if (rec[i] != rec[0]) {
				torn++;
				break;
			}
	}
	return torn;
}

static void *record_reader(void *p)
{
	struct writer_arg *a = p;
	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++)
		a->bad += torn_records(a->n);
	return NULL;
}

START_TEST(writes_serialized)
{
	struct node *f = mkfile(R, root(), "f");
	pthread_t t[WRITERS + 2];
	struct writer_arg args[WRITERS + 2];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, WRITERS + 2);
	for (int i = 0; i < WRITERS + 2; i++) {
		args[i] = (struct writer_arg){
		    .start = &start, .n = f, .id = i, .rounds = 500};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL,
				   i < WRITERS ? record_writer : record_reader,
				   &args[i]),
		    0);
	}
	for (int i = 0; i < WRITERS + 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(args[i].bad == 0, "thread %d: %d bad", i,
			      args[i].bad);
	}
	pthread_barrier_destroy(&start);
	ck_assert_int_eq(torn_records(f), 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 7 + SLOTS * RECORD);
	registry_forget(R, f, 1);
}
END_TEST

static void *fill_until_full(void *p)
{
	struct writer_arg *a = p;
	static __thread char page[PAGE];
	uint64_t off = 0;
	while (registry_write(R, a->n, page, sizeof(page), off) == 0)
		off += sizeof(page);
	a->rounds = (int)(off / PAGE);
	return NULL;
}

/* Writers racing for the last of the capacity never overcommit it. */
START_TEST(capacity_race)
{
	pthread_t t[WRITERS];
	struct writer_arg args[WRITERS];
	char name[16];
	for (int i = 0; i < WRITERS; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		args[i] = (struct writer_arg){.n = mkfile(R, root(), name)};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, fill_until_full, &args[i]), 0);
	}
	uint64_t pages = 0;
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
		pages += (uint64_t)args[i].rounds;
		ck_assert_uint_eq(getattr(R, args[i].n).st_size,
				  (uint64_t)args[i].rounds * PAGE);
	}
	ck_assert_uint_eq(pages, CAP / PAGE);
	ck_assert_uint_eq(bytes_free(R), 0);
	for (int i = 0; i < WRITERS; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(registry_unlink(R, root(), name), 0);
		registry_forget(R, args[i].n, 1);
	}
	ck_assert_uint_eq(bytes_free(R), CAP);
}
END_TEST

/* Truncates racing writers: sizes and capacity stay consistent. */
static void *truncator(void *p)
{
	struct writer_arg *a = p;
	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++) {
		struct setattr_req q = {.valid = SET_SIZE,
					.size = (uint64_t)(i % 3) * RECORD};
		struct stat st;
		if (registry_setattr(R, a->n, &q, &st) != 0)
			a->bad++;
	}
	return NULL;
}

START_TEST(truncate_race)
{
	struct node *f = mkfile(R, root(), "f");
	pthread_t t[4];
	struct writer_arg args[4];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, 4);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct writer_arg){
		    .start = &start, .n = f, .id = i, .rounds = 500};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL,
				   i < 3 ? record_writer : truncator, &args[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(args[i].bad, 0);
	}
	pthread_barrier_destroy(&start);
	/* Every whole record is one writer's or zeroes; the reservation is
	 * exactly the final size's pages. */
	ck_assert_int_eq(torn_records(f), 0);
	uint64_t size = (uint64_t)getattr(R, f).st_size;
	ck_assert_uint_eq(bytes_free(R), CAP - (size + PAGE - 1) / PAGE * PAGE);
	registry_forget(R, f, 1);
}
END_TEST

/* ---- differential: the registry against a real directory ---- */

/*
 * Random namespace operations (symlinks all dangle) applied both to a registry
 * and, through system calls, to a real directory under /tmp: each must succeed
 * or fail alike, and the two trees must end the same. The kernel checks a few
 * things itself before a FUSE filesystem sees them (a rename into its own
 * subtree); those may fail with another errno, but must fail.
 */
static const char *const pool[] = {"a", "b", "c", "x"};
#define DANGLING "/nonexistent-shmapfs-unit/target"

static void rand_path(unsigned *seed, char *out, size_t len)
{
	int w = rand_r(seed) % 20, depth = w < 10 ? 1 : w < 17 ? 2 : 3;
	size_t used = 0;
	for (int i = 0; i < depth; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s",
					 i ? "/" : "", pool[rand_r(seed) % 4]);
}

/* The directory holding path's last component, and that component. Every
 * node looked up on the way is put in held[] for a later forget. */
static int reg_walk(struct registry *r, const char *path, struct node **dir,
		    char *last, struct node **held, int *nheld)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", path);
	struct node *cur = registry_root(r);
	char *save, *comp = strtok_r(buf, "/", &save);
	for (;;) {
		char *next = strtok_r(NULL, "/", &save);
		if (!next)
			break;
		struct node *n;
		struct stat st;
		int res = registry_lookup(r, cur, comp, &n, &st);
		if (res < 0)
			return res;
		held[(*nheld)++] = n;
		/* As a path walk finds it: the kernel follows our symlinks,
		 * which all dangle, and stops at a non-directory. */
		if (S_ISLNK(st.st_mode))
			return -ENOENT;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		cur = n;
		comp = next;
	}
	snprintf(last, 64, "%s", comp);
	*dir = cur;
	return 0;
}

static void forget_all(struct registry *r, struct node **held, int nheld)
{
	for (int i = 0; i < nheld; i++)
		registry_forget(r, held[i], 1);
}

/* One random operation on both; returns the two results. */
static void diff_op(struct registry *r, int kfd, const char *kroot,
		    unsigned *seed, char *desc, size_t desclen, int *kres,
		    int *rres)
{
	char p[64], q[64], last[64], last2[64];
	rand_path(seed, p, sizeof(p));
	rand_path(seed, q, sizeof(q));
	struct node *held[16], *dir, *dir2, *n;
	int nheld = 0, op = rand_r(seed) % 8;
	struct stat st;
	static const unsigned flags[] = {0, 0, RENAME_NOREPLACE,
					 RENAME_EXCHANGE};
	unsigned fl = flags[rand_r(seed) % 4];
	uint64_t size = (uint64_t)(rand_r(seed) % 3) * 3000;
	snprintf(desc, desclen, "op %d %s %s flags %u size %llu", op, p, q, fl,
		 (unsigned long long)size);
	int res = reg_walk(r, p, &dir, last, held, &nheld);
	switch (op) {
	case 0:
		*kres = mkdirat(kfd, p, 0755) ? -errno : 0;
		if (!res &&
		    !(res = registry_mkdir(r, dir, last, 0755, &ROOT, &n, &st)))
			held[nheld++] = n;
		break;
	case 1:
		*kres = mknodat(kfd, p, S_IFREG | 0644, 0) ? -errno : 0;
		if (!res && !(res = registry_mknod(r, dir, last, S_IFREG | 0644,
						   0, &ROOT, &n, &st)))
			held[nheld++] = n;
		break;
	case 2:
		*kres = unlinkat(kfd, p, 0) ? -errno : 0;
		if (!res)
			res = registry_unlink(r, dir, last);
		break;
	case 3:
		*kres = unlinkat(kfd, p, AT_REMOVEDIR) ? -errno : 0;
		if (!res)
			res = registry_rmdir(r, dir, last);
		break;
	case 4:
		*kres = renameat2(kfd, p, kfd, q, fl) ? -errno : 0;
		if (!res)
			res = reg_walk(r, q, &dir2, last2, held, &nheld);
		if (!res)
			res = registry_rename(r, dir, last, dir2, last2, fl);
		break;
	case 5:
		*kres = linkat(kfd, p, kfd, q, 0) ? -errno : 0;
		if (!res && !(res = registry_lookup(r, dir, last, &n, &st)))
			held[nheld++] = n;
		if (!res)
			res = reg_walk(r, q, &dir2, last2, held, &nheld);
		if (!res && !(res = registry_link(r, n, dir2, last2, &st)))
			held[nheld++] = n;
		break;
	case 7:
		*kres = symlinkat(DANGLING, kfd, p) ? -errno : 0;
		if (!res && !(res = registry_symlink(r, dir, last, DANGLING,
						     &ROOT, &n, &st)))
			held[nheld++] = n;
		break;
	default: {
		char full[256];
		snprintf(full, sizeof(full), "%s/%s", kroot, p);
		*kres = truncate(full, (off_t)size) ? -errno : 0;
		if (!res && !(res = registry_lookup(r, dir, last, &n, &st)))
			held[nheld++] = n;
		struct setattr_req sq = {.valid = SET_SIZE, .size = size};
		/* truncate(2) follows a symlink; the kernel does that. */
		if (!res && S_ISLNK(st.st_mode))
			res = -ENOENT;
		if (!res)
			res = registry_setattr(r, n, &sq, &st);
		break;
	}
	}
	forget_all(r, held, nheld);
	*rres = res;
}

/* Compare the registry's directory dir with the real directory kfd. */
static void diff_tree(struct registry *r, struct node *dir, int kfd,
		      const char *path)
{
	struct dir_snapshot *s;
	ck_assert_int_eq(registry_opendir(r, dir, &s), 0);
	size_t kcount = 0;
	int dupfd = dup(kfd);
	DIR *d = fdopendir(dupfd);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			kcount++;
	closedir(d);
	ck_assert_msg(kcount == s->count - 2, "%s: %zu entries, kernel %zu",
		      path, s->count - 2, kcount);
	for (size_t i = 2; i < s->count; i++) {
		const char *name = s->entries[i].name;
		struct stat kst, rst;
		struct node *n;
		ck_assert_msg(fstatat(kfd, name, &kst, AT_SYMLINK_NOFOLLOW) ==
				  0,
			      "%s/%s: only in the registry", path, name);
		ck_assert_int_eq(registry_lookup(r, dir, name, &n, &rst), 0);
		ck_assert_msg((kst.st_mode & S_IFMT) == (rst.st_mode & S_IFMT),
			      "%s/%s: type differs", path, name);
		ck_assert_msg(kst.st_nlink == rst.st_nlink,
			      "%s/%s: nlink %lu, kernel %lu", path, name,
			      (unsigned long)rst.st_nlink,
			      (unsigned long)kst.st_nlink);
		if (S_ISREG(kst.st_mode) || S_ISLNK(kst.st_mode))
			ck_assert_msg(kst.st_size == rst.st_size,
				      "%s/%s: size differs", path, name);
		if (S_ISDIR(kst.st_mode)) {
			char sub[256];
			snprintf(sub, sizeof(sub), "%s/%s", path, name);
			int fd = openat(kfd, name, O_RDONLY | O_DIRECTORY);
			ck_assert_int_ge(fd, 0);
			diff_tree(r, n, fd, sub);
			close(fd);
		}
		registry_forget(r, n, 1);
	}
	registry_closedir(s);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Loop index: seed, and below 4 memory-backed, 4 and 5 file-backed (on a
 * backing directory of its own, which must then match too). */
/* Once per test case, in Check's parent process: a directory under
 * test_tmpdir() for the reference trees, removed even when a test fails. */
static char DIFF_TOP[64];

static void diff_top_setup(void)
{
	int n = snprintf(DIFF_TOP, sizeof(DIFF_TOP), "%s/shmapfs-diff.XXXXXX",
			 test_tmpdir());
	ck_assert_msg(n > 0 && (size_t)n < sizeof(DIFF_TOP),
		      "temporary directory name too long: %s", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(DIFF_TOP));
}

static void diff_top_teardown(void)
{
	nftw(DIFF_TOP, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new directory under DIFF_TOP. */
static void diff_mkdtemp(char *out, size_t len, const char *what)
{
	snprintf(out, len, "%s/%s.XXXXXX", DIFF_TOP, what);
	ck_assert_ptr_nonnull(mkdtemp(out));
}

START_TEST(differential)
{
	char kroot[128], broot[128];
	diff_mkdtemp(kroot, sizeof(kroot), "reference");
	diff_mkdtemp(broot, sizeof(broot), "backing");
	int kfd = open(kroot, O_RDONLY | O_DIRECTORY);
	int file_backed = _i >= 4;
	struct registry_config cfg = {
	    .capacity = 1ULL << 30,
	    .max_nodes = 100000,
	    .root_mode = 0755,
	    .backing_dirfd =
		file_backed ? open(broot, O_RDONLY | O_DIRECTORY) : -1,
	};
	struct registry *r;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	unsigned seed = 12345u + (unsigned)(_i % 4);
	char desc[256];
	for (int i = 0; i < 1500; i++) {
		int kres, rres;
		diff_op(r, kfd, kroot, &seed, desc, sizeof(desc), &kres, &rres);
		/* Checked by the kernel before FUSE sees it, maybe after
		 * other checks: any refusal will do. A rename into its own
		 * subtree; a link of a directory (the kernel first resolves
		 * the new name, so may say EEXIST or ENOTDIR). */
		int vfs_checked =
		    rres < 0 && (kres == -EINVAL || kres == -ENOTEMPTY ||
				 (rres == -EPERM && kres < 0));
		/* RENAME_NOREPLACE onto any existing name, itself included;
		 * the registry may call that a no-op: the trees are compared
		 * at the end. */
		vfs_checked |= kres == -EEXIST && rres == 0 &&
			       strstr(desc, "op 4") && strstr(desc, "flags 1");
		if (kres != rres && !vfs_checked)
			ck_abort_msg("step %d, %s: kernel %d, registry %d", i,
				     desc, kres, rres);
	}
	diff_tree(r, registry_root(r), kfd, "");
	if (file_backed) {
		int bfd = open(broot, O_RDONLY | O_DIRECTORY);
		diff_tree(r, registry_root(r), bfd, "(backing)");
		close(bfd);
	}
	close(kfd);
	registry_free(r);
}
END_TEST

/*
 * fallocate() on the reference file, done by hand where its filesystem
 * refuses the mode (tmpfs has no FALLOC_FL_ZERO_RANGE): what the mode does
 * to sizes and contents, so that the reference and the registry never
 * drift apart, whatever filesystem the temporary directory is on.
 */
static int reference_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (fallocate(fd, mode, off, len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	off_t end = off + len;
	if ((mode & FALLOC_FL_KEEP_SIZE) && end > st.st_size)
		end = st.st_size;
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		/* Plain allocation: only the size can change. */
		if (end > st.st_size)
			ck_assert_int_eq(ftruncate(fd, end), 0);
		return 0;
	}
	static const char zeros[65536];
	for (off_t at = off; at < end;) {
		size_t n = (size_t)(end - at) < sizeof(zeros)
			       ? (size_t)(end - at)
			       : sizeof(zeros);
		ck_assert_int_eq(pwrite(fd, zeros, n, at), (ssize_t)n);
		at += (off_t)n;
	}
	return 0;
}

/* Random writes, truncates and fallocates on one mapping and on a real
 * file: sizes and contents must stay the same. */
START_TEST(differential_data)
{
	char kpath[160], broot[128];
	snprintf(kpath, sizeof(kpath), "%s/reference.XXXXXX", DIFF_TOP);
	int kfd = mkstemp(kpath);
	ck_assert_int_ge(kfd, 0);
	unlink(kpath);
	/* Loop index 0 and 1 memory-backed, 2 and 3 file-backed. */
	diff_mkdtemp(broot, sizeof(broot), "backing");
	struct registry_config cfg = {
	    .capacity = 1ULL << 30,
	    .max_nodes = 100,
	    .backing_dirfd = _i >= 2 ? open(broot, O_RDONLY | O_DIRECTORY) : -1,
	};
	struct registry *r;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	struct node *f = mkfile(r, registry_root(r), "f");
	unsigned seed = 777u + (unsigned)(_i % 2);
	static char buf[3 * 65536], kbuf[3 * 65536], rbuf[3 * 65536];
	static const int modes[] = {
	    0,
	    FALLOC_FL_KEEP_SIZE,
	    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    FALLOC_FL_ZERO_RANGE,
	    FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
	};
	for (int i = 0; i < 1000; i++) {
		uint64_t off = (uint64_t)(rand_r(&seed) % 150000);
		size_t len = 1 + (size_t)(rand_r(&seed) % 40000);
		int op = rand_r(&seed) % 4, kres, rres;
		if (op == 0) {
			memset(buf, 'a' + i % 26, len);
			kres = pwrite(kfd, buf, len, (off_t)off) == (ssize_t)len
				   ? 0
				   : -errno;
			rres = registry_write(r, f, buf, len, off);
		} else if (op == 1) {
			kres = ftruncate(kfd, (off_t)off) ? -errno : 0;
			struct setattr_req q = {.valid = SET_SIZE, .size = off};
			struct stat st;
			rres = registry_setattr(r, f, &q, &st);
		} else {
			int mode = modes[rand_r(&seed) % 5];
			kres = reference_fallocate(kfd, mode, (off_t)off,
						   (off_t)len);
			rres = registry_fallocate(r, f, mode, off, len);
		}
		struct stat kst;
		ck_assert_int_eq(fstat(kfd, &kst), 0);
		ck_assert_msg(kres == rres, "step %d op %d: kernel %d, core %d",
			      i, op, kres, rres);
		ck_assert_msg(
		    (uint64_t)kst.st_size == (uint64_t)getattr(r, f).st_size,
		    "step %d op %d off %llu len %zu: size %lld vs %lld", i, op,
		    (unsigned long long)off, len, (long long)kst.st_size,
		    (long long)getattr(r, f).st_size);
	}
	struct stat kst;
	ck_assert_int_eq(fstat(kfd, &kst), 0);
	size_t size = (size_t)kst.st_size, got = 0;
	ck_assert_uint_le(size, sizeof(kbuf));
	ck_assert_int_eq(pread(kfd, kbuf, size, 0), (ssize_t)size);
	ck_assert_int_eq(registry_read(r, f, rbuf, sizeof(rbuf), 0, &got), 0);
	ck_assert_uint_eq(got, size);
	for (size_t i = 0; i < size; i++)
		ck_assert_msg(kbuf[i] == rbuf[i], "byte %zu: %d vs %d", i,
			      kbuf[i], rbuf[i]);
	close(kfd);
	registry_forget(r, f, 1);
	registry_free(r);
}
END_TEST

/* Random user.* attribute calls on one mapping and on a real file: same
 * results, values and (as sets) lists. */
START_TEST(differential_xattr)
{
	char kpath[160];
	snprintf(kpath, sizeof(kpath), "%s/xattr.XXXXXX", DIFF_TOP);
	int kfd = mkstemp(kpath);
	ck_assert_int_ge(kfd, 0);
	struct node *f = mkfile(R, root(), "f");
	unsigned seed = 4242u + (unsigned)_i;
	static const char *const xnames[] = {
	    "user.a", "user.b", "user.long.name", "user.shmap.base", "user.z"};
	static const int flags[] = {0, XATTR_CREATE, XATTR_REPLACE};
	char val[256], kbuf[512], rbuf[512];
	for (int i = 0; i < 1000; i++) {
		const char *name = xnames[rand_r(&seed) % 5];
		int op = rand_r(&seed) % 4, kres, rres;
		size_t len = (size_t)(rand_r(&seed) % 200), rlen = 0;
		if (op == 0) {
			int fl = flags[rand_r(&seed) % 3];
			memset(val, 'A' + i % 26, len);
			kres = fsetxattr(kfd, name, val, len, fl) ? -errno : 0;
			rres =
			    registry_setxattr(R, f, &USER, name, val, len, fl);
		} else if (op == 1) {
			kres = fremovexattr(kfd, name) ? -errno : 0;
			rres = registry_removexattr(R, f, &USER, name);
		} else {
			/* Sometimes a size query, sometimes too small. */
			size_t bsz =
			    op == 2 ? 0 : (size_t)(rand_r(&seed) % 300);
			ssize_t k =
			    fgetxattr(kfd, name, bsz ? kbuf : NULL, bsz);
			kres = k < 0 ? -errno : 0;
			rres = registry_getxattr(R, f, name, bsz ? rbuf : NULL,
						 bsz, &rlen);
			if (kres == 0 && rres == 0) {
				ck_assert_uint_eq((size_t)k, rlen);
				if (bsz)
					ck_assert(memcmp(kbuf, rbuf, rlen) ==
						  0);
			}
		}
		ck_assert_msg(kres == rres,
			      "step %d op %d %s: kernel %d, core %d", i, op,
			      name, kres, rres);
	}
	/* The lists, as sets; ours also names the protection. */
	ssize_t klen = flistxattr(kfd, kbuf, sizeof(kbuf));
	size_t rlen;
	ck_assert_int_ge(klen, 0);
	ck_assert_int_eq(registry_listxattr(R, f, rbuf, sizeof(rbuf), &rlen),
			 0);
	int kn = 0, rn = 0;
	for (char *p = kbuf; p < kbuf + klen; p += strlen(p) + 1) {
		if (strncmp(p, "user.", 5))
			continue;
		kn++;
		int found = 0;
		for (char *q = rbuf; q < rbuf + rlen; q += strlen(q) + 1)
			found |= !strcmp(p, q);
		ck_assert_msg(found, "%s missing from the registry's list", p);
	}
	for (char *q = rbuf; q < rbuf + rlen; q += strlen(q) + 1)
		rn += strcmp(q, SHMAP_XATTR_PROTECT) != 0;
	ck_assert_int_eq(kn, rn);
	close(kfd);
	unlink(kpath);
	registry_forget(R, f, 1);
}
END_TEST

/* Threads doing random namespace and data operations on a few names at
 * once; afterwards the registry must be consistent: link counts match the
 * names, every unreachable node is freed, and the capacity in use is
 * exactly that of the reachable mappings. */
static const char *const race_names[] = {"n0", "n1", "n2", "n3", "n4", "d0"};

static void *namespace_churn(void *p)
{
	struct writer_arg *a = p;
	unsigned seed = 99u + (unsigned)a->id;
	struct node *rt = root(), *n;
	struct stat st;
	char page[PAGE];
	memset(page, 'c', sizeof(page));
	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++) {
		const char *x = race_names[rand_r(&seed) % 6];
		const char *y = race_names[rand_r(&seed) % 6];
		switch (rand_r(&seed) % 8) {
		case 0:
			if (!registry_mknod(R, rt, x, S_IFREG | 0644, 0, &USER,
					    &n, &st))
				registry_forget(R, n, 1);
			break;
		case 1:
			if (!registry_mkdir(R, rt, x, 0755, &USER, &n, &st))
				registry_forget(R, n, 1);
			break;
		case 2:
			registry_unlink(R, rt, x);
			break;
		case 3:
			registry_rmdir(R, rt, x);
			break;
		case 4: {
			static const unsigned fl[] = {0, RENAME_NOREPLACE,
						      RENAME_EXCHANGE};
			registry_rename(R, rt, x, rt, y, fl[rand_r(&seed) % 3]);
			break;
		}
		case 5:
			if (!registry_lookup(R, rt, x, &n, &st)) {
				if (!registry_link(R, n, rt, y, &st))
					registry_forget(R, n, 1);
				registry_forget(R, n, 1);
			}
			break;
		default:
			if (!registry_lookup(R, rt, x, &n, &st)) {
				if (S_ISREG(st.st_mode) &&
				    !registry_open(R, n, O_RDWR)) {
					uint64_t off =
					    (uint64_t)(rand_r(&seed) % 4) *
					    PAGE;
					registry_write(R, n, page, sizeof(page),
						       off);
					registry_getattr(R, n, &st);
					registry_release(R, n, O_RDWR);
				}
				registry_forget(R, n, 1);
			}
			break;
		}
	}
	return NULL;
}

static void churn_and_check(void)
{
	enum {
		THREADS = 4
	};
	pthread_t t[THREADS];
	struct writer_arg args[THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct writer_arg){
		    .start = &start, .id = i, .rounds = 3000};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, namespace_churn, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	/* Count what is reachable. Only the root holds names here (mkdir
	 * makes empty directories and everything happens in the root). */
	struct dir_snapshot *s;
	ck_assert_int_eq(registry_opendir(R, root(), &s), 0);
	uint64_t inos[8], reserved = 0;
	int names_of[8] = {0}, nino = 0, subdirs = 0;
	struct stat sts[8];
	for (size_t i = 2; i < s->count; i++) {
		struct stat st;
		ck_assert_int_eq(
		    lookup(R, root(), s->entries[i].name, NULL, &st), 0);
		subdirs += S_ISDIR(st.st_mode);
		int k = 0;
		while (k < nino && inos[k] != st.st_ino)
			k++;
		if (k == nino) {
			inos[nino] = st.st_ino;
			sts[nino++] = st;
			if (S_ISREG(st.st_mode))
				reserved += ((uint64_t)st.st_size + PAGE - 1) /
					    PAGE * PAGE;
		}
		names_of[k]++;
	}
	registry_closedir(s);
	for (int k = 0; k < nino; k++) {
		if (S_ISDIR(sts[k].st_mode))
			ck_assert_uint_eq(sts[k].st_nlink, 2);
		else
			ck_assert_uint_eq(sts[k].st_nlink, names_of[k]);
	}
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 2 + subdirs);
	/* statfs counts entries and capacity only when memory-backed. */
	if (statfs_(R).f_blocks == CAP / PAGE) {
		ck_assert_uint_eq(nodes_used(R), nino);
		ck_assert_uint_eq(bytes_free(R), CAP - reserved);
	}
}

START_TEST(namespace_race)
{
	churn_and_check();
}
END_TEST

/* The same on a file-backed registry, whose backing directory must then
 * hold exactly the same tree. */
START_TEST(namespace_race_backing)
{
	char broot[128];
	diff_mkdtemp(broot, sizeof(broot), "backing");
	registry_free(R);
	struct registry_config cfg = {
	    .capacity = CAP,
	    .max_nodes = MAXN,
	    .root_mode = 0755,
	    .backing_dirfd = open(broot, O_RDONLY | O_DIRECTORY),
	};
	ck_assert_int_eq(registry_new(&cfg, &R), 0);
	churn_and_check();
	int bfd = open(broot, O_RDONLY | O_DIRECTORY);
	diff_tree(R, root(), bfd, "(backing)");
	close(bfd);
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	struct {
		const char *name;
		const TTest *tests[12];
	} groups[] = {
	    {"lifetime",
	     {two_registries, lifetime_lookup, lifetime_open, create_and_open,
	      free_with_references, NULL}},
	    {"namespace",
	     {mkdir_rmdir, mknod_kinds, owner_and_sgid, hard_links, symlinks,
	      rename_plain, rename_flags, rename_dirs, names, readdir_snapshot,
	      NULL}},
	    {"attributes",
	     {getattr_basics, times_move_forward, times_of_names, setattr_all,
	      kill_suid_sgid, statfs_counts, read_only, NULL}},
	    {"capacity",
	     {capacity_enospc, capacity_released, symlink_capacity, max_nodes,
	      NULL}},
	    {"data",
	     {read_write, empty_write_past_eof, open_trunc, fallocate_modes,
	      NULL}},
	    {"xattr", {protection, protect_names, xattrs, xattr_limits, NULL}},
	    {"faults", {fault_write, fault_resize, NULL}},
	    {"concurrency",
	     {writes_serialized, capacity_race, truncate_race, namespace_race,
	      namespace_race_backing, NULL}},
	};
	TCase *diff = tcase_create("differential");
	tcase_set_timeout(diff, 60);
	tcase_add_unchecked_fixture(diff, diff_top_setup, diff_top_teardown);
	tcase_add_checked_fixture(diff, setup, teardown);
	tcase_add_loop_test(diff, differential, 0, 6);
	tcase_add_loop_test(diff, differential_data, 0, 4);
	tcase_add_loop_test(diff, differential_xattr, 0, 2);
	suite_add_tcase(s, diff);
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		TCase *tc = tcase_create(groups[g].name);
		tcase_set_timeout(tc, 30);
		/* A directory for reference trees and backing directories. */
		tcase_add_unchecked_fixture(tc, diff_top_setup,
					    diff_top_teardown);
		tcase_add_checked_fixture(tc, setup, teardown);
		for (const TTest *const *t = groups[g].tests; *t; t++)
			tcase_add_test(tc, *t);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return run_suite(registry_suite());
}
