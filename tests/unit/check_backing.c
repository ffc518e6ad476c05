/*
 * Unit tests of file-backed registries (fs/core/backing.c, store_fd.c):
 * each test builds a backing directory under /tmp, scans it with
 * registry_new, and checks what the registry shows, what it mirrors back
 * onto the directory, how backing files are locked, and that nothing in
 * the backing directory leads the core outside it.
 */
#include "mount.h"
#include "registry.h"
#include "util.h"

#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static const struct caller ROOT = {0, 0};
static const struct caller USER = {1000, 1000};

/* Check forces file-static state on fixtures: the temporary directories
 * (backing, and one outside it) of the test in this process. */
static char TOP[128], B[160], OUT[160];
/* Everything the core logged, one message per line. */
static char logged[8192];

static void log_msg(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	size_t used = strlen(logged);
	snprintf(logged + used, sizeof(logged) - used, "%s\n", msg);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Once per test case, in Check's parent process: a directory for all of
 * the case's tests, removed even when a test fails or times out. */
static void top_setup(void)
{
	/* SHMAPFS_UNIT_TMP runs the tests on another filesystem. */
	const char *tmp = getenv("SHMAPFS_UNIT_TMP");
	snprintf(TOP, sizeof(TOP), "%s/shmapfs-unit.XXXXXX",
		 tmp ? tmp : test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(TOP));
}

static void top_teardown(void)
{
	nftw(TOP, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Per test: a backing directory and a directory outside it. */
static void setup(void)
{
	snprintf(B, sizeof(B), "%s/backing.XXXXXX", TOP);
	snprintf(OUT, sizeof(OUT), "%s/outside.XXXXXX", TOP);
	ck_assert_ptr_nonnull(mkdtemp(B));
	ck_assert_ptr_nonnull(mkdtemp(OUT));
	chmod(B, 0755);
	logged[0] = '\0';
}

static void teardown(void)
{
	nftw(B, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(OUT, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path under the backing directory (static buffers, round robin). */
static const char *bp(const char *rel)
{
	static char bufs[4][512];
	static int i;
	char *p = bufs[i++ % 4];
	snprintf(p, 512, "%s/%s", B, rel);
	return p;
}

static void plant_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
	ck_assert_int_ge(fd, 0);
	size_t len = strlen(content);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* The whole content of a file, NUL-terminated, in a static buffer. */
static const char *slurp(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

/* With resident_max: how many stores keep a descriptor (0: the daemon's
 * default). */
static int reg_open_dir_with(const char *dir, int read_only,
			     unsigned fault_write, unsigned resident_max,
			     struct registry **out)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	struct registry_config cfg = {
	    .capacity = 1 << 20,
	    .max_nodes = 1000,
	    .root_mode = 0755,
	    .backing_dirfd = fd, /* the registry owns it from here */
	    .read_only = read_only,
	    .fault_write = fault_write,
	    .resident_max = resident_max,
	    .log = log_msg,
	};
	return registry_new(&cfg, out);
}

static int reg_open_dir(const char *dir, int read_only, unsigned fault_write,
			struct registry **out)
{
	return reg_open_dir_with(dir, read_only, fault_write, 0, out);
}

static struct registry *reg_new(void)
{
	struct registry *r = NULL;
	int res = reg_open_dir(B, 0, 0, &r);
	ck_assert_msg(res == 0, "registry_new: %s", strerror(-res));
	return r;
}

static struct node *look(struct registry *r, struct node *dir, const char *name,
			 struct stat *st)
{
	struct node *n = NULL;
	struct stat s;
	int res = registry_lookup(r, dir, name, &n, st ? st : &s);
	ck_assert_msg(res == 0, "lookup %s: %s", name, strerror(-res));
	return n;
}

static mode_t getattr_mode(struct registry *r, const char *name)
{
	struct stat st;
	struct node *n = look(r, registry_root(r), name, &st);
	registry_forget(r, n, 1);
	return st.st_mode & 07777;
}

static void expect_read(struct registry *r, struct node *n, const char *want)
{
	char buf[4096];
	size_t got = 0;
	ck_assert_int_eq(registry_read(r, n, buf, sizeof(buf), 0, &got), 0);
	ck_assert_uint_eq(got, strlen(want));
	ck_assert(memcmp(buf, want, got) == 0);
}

static mode_t stat_mode(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

START_TEST(scan_existing)
{
	plant_file(bp("a"), "hello", 0640);
	ck_assert_int_eq(mkdir(bp("d"), 0700), 0);
	plant_file(bp("d/b"), "inner", 0600);
	ck_assert_int_eq(link(bp("a"), bp("d/a2")), 0);
	ck_assert_int_eq(symlink("a", bp("l")), 0);
	ck_assert_int_eq(mkfifo(bp("fifo"), 0600), 0);
	ck_assert_int_eq(mknod(bp("sock"), S_IFSOCK | 0600, 0), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(
		    mknod(bp("chr"), S_IFCHR | 0600, makedev(1, 3)), 0);
	/* A second name outside the backing directory is not one of ours. */
	char outside[200];
	snprintf(outside, sizeof(outside), "%s/outside-link", OUT);
	plant_file(bp("shared"), "shared", 0644);
	ck_assert_int_eq(link(bp("shared"), outside), 0);
	ck_assert_int_eq(lsetxattr(bp("a"), "user.shmap.base", "0x7f00", 6, 0),
			 0);
	ck_assert_int_eq(setxattr(bp("d"), "user.tag", "dir", 3, 0), 0);
	/* Kept too: trusted.* is stored as on tmpfs. */
	if (geteuid() == 0) {
		ck_assert_int_eq(setxattr(bp("a"), "trusted.x", "t", 1, 0), 0);
		ck_assert_int_eq(chown(bp("a"), 1234, 5678), 0);
	}
	struct timespec ts[2] = {{1000000, 1}, {2000000, 2}};
	ck_assert_int_eq(utimensat(AT_FDCWD, bp("a"), ts, 0), 0);

	struct registry *r = reg_new();
	struct node *rt = registry_root(r);
	struct stat st;
	struct node *a = look(r, rt, "a", &st);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_size, 5);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(st.st_mtim.tv_sec, 2000000);
	ck_assert_int_eq(st.st_atim.tv_sec, 1000000);
	if (geteuid() == 0) {
		ck_assert_uint_eq(st.st_uid, 1234);
		ck_assert_uint_eq(st.st_gid, 5678);
	}
	expect_read(r, a, "hello");
	struct node *d = look(r, rt, "d", &st);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_nlink, 2);
	struct node *b = look(r, d, "b", &st);
	expect_read(r, b, "inner");
	/* Hard links: one node, two names. */
	struct node *a2 = look(r, d, "a2", &st);
	ck_assert_ptr_eq(a2, a);
	ck_assert_uint_eq(st.st_nlink, 2);
	struct node *l = look(r, rt, "l", &st);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_uint_eq(st.st_size, 1);
	const char *t;
	ck_assert_int_eq(registry_readlink(r, l, &t), 0);
	ck_assert_str_eq(t, "a");
	struct node *fifo = look(r, rt, "fifo", &st);
	ck_assert(S_ISFIFO(st.st_mode));
	struct node *sock = look(r, rt, "sock", &st);
	ck_assert(S_ISSOCK(st.st_mode));
	registry_forget(r, sock, 1);
	if (geteuid() == 0) {
		struct node *chr = look(r, rt, "chr", &st);
		ck_assert(S_ISCHR(st.st_mode));
		ck_assert_uint_eq(st.st_rdev, makedev(1, 3));
		registry_forget(r, chr, 1);
	}
	struct node *shared = look(r, rt, "shared", &st);
	ck_assert_uint_eq(st.st_nlink, 1);
	ck_assert_int_eq(registry_unlink(r, rt, "shared"), 0);
	registry_forget(r, shared, 1);
	ck_assert_str_eq(slurp(outside), "shared");
	/* Attributes. */
	char buf[256];
	size_t len;
	ck_assert_int_eq(
	    registry_getxattr(r, a, "user.shmap.base", buf, sizeof(buf), &len),
	    0);
	ck_assert_uint_eq(len, 6);
	ck_assert(memcmp(buf, "0x7f00", 6) == 0);
	ck_assert_int_eq(
	    registry_getxattr(r, d, "user.tag", buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 3);
	/* trusted.* too, as tmpfs stores it (root could set it). */
	int trusted = geteuid() == 0;
	ck_assert_int_eq(
	    registry_getxattr(r, a, "trusted.x", buf, sizeof(buf), &len),
	    trusted ? 0 : -ENODATA);
	static const char want[] = "user.shmap.protect\0user.shmap.base";
	static const char want_t[] =
	    "user.shmap.protect\0user.shmap.base\0trusted.x";
	size_t want_len = trusted ? sizeof(want_t) : sizeof(want);
	ck_assert_int_eq(registry_listxattr(r, a, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, want_len);
	ck_assert(memcmp(buf, trusted ? want_t : want, want_len) == 0);
	/* The listing has everything. */
	struct dir_snapshot *s;
	ck_assert_int_eq(registry_opendir(r, rt, &s), 0);
	ck_assert_uint_eq(s->count, geteuid() == 0 ? 8 : 7);
	int seen = 0;
	for (size_t i = 2; i < s->count; i++)
		for (int k = 0; k < 4; k++)
			if (!strcmp(s->entries[i].name,
				    (const char *[]){"a", "d", "l", "fifo"}[k]))
				seen |= 1 << k;
	ck_assert_int_eq(seen, 15);
	registry_closedir(s);
	/* An idle mapping holds no lock; one in use holds its file's. */
	ck_assert(flock_free(bp("a")));
	ck_assert(flock_free(bp("d/b")));
	ck_assert_int_eq(registry_open(r, a, O_RDONLY), 0);
	ck_assert(!flock_free(bp("a")));
	ck_assert(flock_free(bp("d/b")));
	registry_release(r, a, O_RDONLY);
	ck_assert(flock_free(bp("a")));
	ck_assert_int_eq(registry_open(r, a, O_RDWR), 0);
	registry_forget(r, a, 2);
	registry_forget(r, b, 1);
	registry_forget(r, d, 1);
	registry_forget(r, l, 1);
	registry_forget(r, fifo, 1);
	registry_free(r);
	/* ... and releases them all. */
	ck_assert(flock_free(bp("a")));
	ck_assert(flock_free(bp("d/b")));
}
END_TEST

START_TEST(scan_protect)
{
	plant_file(bp("ro"), "fixed", 0644);
	plant_file(bp("cow"), "copy", 0644);
	plant_file(bp("rw"), "free", 0644);
	ck_assert_int_eq(
	    setxattr(bp("ro"), "user.shmap.protect", "readonly", 8, 0), 0);
	ck_assert_int_eq(
	    setxattr(bp("cow"), "user.shmap.protect", "writecopy", 9, 0), 0);
	struct registry *r = reg_new();
	struct node *rt = registry_root(r);
	struct node *ro = look(r, rt, "ro", NULL);
	struct node *cow = look(r, rt, "cow", NULL);
	struct node *rw = look(r, rt, "rw", NULL);
	ck_assert_int_eq(registry_open(r, ro, O_RDWR), -EACCES);
	ck_assert_int_eq(registry_open(r, cow, O_WRONLY), -EACCES);
	ck_assert_int_eq(registry_open(r, ro, O_RDONLY), 0);
	registry_release(r, ro, O_RDONLY);
	ck_assert_int_eq(registry_open(r, rw, O_RDWR), 0);
	registry_release(r, rw, O_RDWR);
	char buf[64];
	size_t len;
	ck_assert_int_eq(registry_getxattr(r, cow, "user.shmap.protect", buf,
					   sizeof(buf), &len),
			 0);
	ck_assert_uint_eq(len, 9);
	ck_assert(memcmp(buf, "writecopy", 9) == 0);
	/* Listed once, though the backing file carries it too. */
	ck_assert_int_eq(registry_listxattr(r, cow, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(SHMAP_XATTR_PROTECT));
	registry_forget(r, ro, 1);
	registry_forget(r, cow, 1);
	registry_forget(r, rw, 1);
	registry_free(r);
}
END_TEST

/* The lookup a FUSE LOOKUP makes: the backing directory first. */
static int fresh_lookup(struct registry *r, const char *name, struct node **n,
			struct stat *st)
{
	struct node *rt = registry_root(r);
	ck_assert_int_ge(registry_revalidate_name(r, rt, name, 0), 0);
	return registry_lookup(r, rt, name, n, st);
}

/* Two registries over one directory: each sees what the other made and
 * removed, and the lock on the mapping's file decides who may use it. */
START_TEST(two_registries_share_a_dir)
{
	struct registry *a = reg_new(), *b = reg_new();
	struct node *n, *m;
	struct stat st;
	ck_assert_int_eq(registry_create(a, registry_root(a), "m", 0644, O_RDWR,
					 &ROOT, &n, &st),
			 0);
	ck_assert_int_eq(registry_write(a, n, "from a", 6, 0), 0);
	ck_assert_int_eq(fresh_lookup(b, "m", &m, &st), 0);
	ck_assert_int_eq(registry_open(b, m, O_RDWR), -EBUSY);
	ck_assert_ptr_nonnull(strstr(logged, "locked by another process"));
	ck_assert_ptr_nonnull(strstr(logged, "held by pid"));
	registry_release(a, n, O_RDWR);
	ck_assert_int_eq(registry_open(b, m, O_RDWR), 0);
	char buf[16];
	size_t got;
	ck_assert_int_eq(registry_read(b, m, buf, sizeof(buf), 0, &got), 0);
	ck_assert_int_eq(got, 6);
	ck_assert_int_eq(memcmp(buf, "from a", 6), 0);
	registry_release(b, m, O_RDWR);
	/* A's protection holds on B too, at B's next open. */
	ck_assert_int_eq(registry_setxattr(a, n, &ROOT, "user.shmap.protect",
					   "readonly", 8, 0),
			 0);
	ck_assert_int_eq(registry_revalidate_attr(b, m, 1) & BACKING_ATTR,
			 BACKING_ATTR);
	ck_assert_int_eq(registry_open(b, m, O_RDWR), -EACCES);
	registry_forget(b, m, 1);
	ck_assert_int_eq(registry_unlink(a, registry_root(a), "m"), 0);
	ck_assert_int_eq(fresh_lookup(b, "m", &m, &st), -ENOENT);
	registry_forget(a, n, 1);
	registry_free(a);
	registry_free(b);
}
END_TEST

/* Names made, removed and replaced in the directory behind the
 * registry's back, and attributes changed there, are taken in. */
START_TEST(revalidate_takes_in_direct_changes)
{
	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *n, *n2;
	struct stat st;
	plant_file(bp("f"), "1", 0644);
	ck_assert_int_eq(registry_lookup(r, rt, "f", &n, &st), -ENOENT);
	ck_assert_int_eq(registry_revalidate_name(r, rt, "f", 0), BACKING_NAME);
	ck_assert_int_eq(registry_lookup(r, rt, "f", &n, &st), 0);
	ck_assert_int_eq(st.st_size, 1);
	/* Size, mode and times, seen by an open or an old enough look. */
	ck_assert_int_eq(truncate(bp("f"), 10000), 0);
	ck_assert_int_eq(chmod(bp("f"), 0600), 0);
	ck_assert_int_eq(registry_revalidate_attr(r, n, 1),
			 BACKING_ATTR | BACKING_IDLE);
	ck_assert_int_eq(registry_getattr(r, n, &st), 0);
	ck_assert_int_eq(st.st_size, 10000);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(registry_revalidate_attr(r, n, 1), 0);
	/* Replaced: another file under the name is another mapping. */
	plant_file(bp("g"), "22", 0640);
	ck_assert_int_eq(rename(bp("g"), bp("f")), 0);
	/* Found by a look at the old mapping (an open), which loses its
	 * name to the new one. */
	ck_assert_int_eq(registry_revalidate_attr(r, n, 1), BACKING_NAME);
	ck_assert_int_eq(registry_lookup(r, rt, "f", &n2, &st), 0);
	ck_assert_ptr_ne(n2, n);
	ck_assert_int_eq(st.st_size, 2);
	ck_assert_int_eq(registry_open(r, n, O_RDONLY), -ENOENT);
	/* Removed. */
	ck_assert_int_eq(unlink(bp("f")), 0);
	ck_assert_int_eq(registry_revalidate_name(r, rt, "f", 0), BACKING_NAME);
	ck_assert_int_eq(registry_lookup(r, rt, "f", &n, &st), -ENOENT);
	registry_forget(r, n2, 1);
	registry_free(r);
}
END_TEST

/* A listing is read again once it is older than actimeo: names made
 * and removed there show, a new directory's entries too. */
START_TEST(revalidate_listing)
{
	plant_file(bp("old"), "o", 0644);
	int fd = open(B, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct registry_config cfg = {.capacity = 1 << 20,
				      .max_nodes = 1000,
				      .root_mode = 0755,
				      .backing_dirfd = fd,
				      .actimeo_ms = 0,
				      .log = log_msg};
	struct registry *r;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	struct node *rt = registry_root(r), *n;
	struct stat st;
	ck_assert_int_eq(unlink(bp("old")), 0);
	plant_file(bp("new"), "n", 0644);
	ck_assert_int_eq(mkdir(bp("d"), 0755), 0);
	plant_file(bp("d/inner"), "i", 0644);
	ck_assert_int_eq(registry_revalidate_dir(r, rt), BACKING_NAME);
	struct dir_snapshot *snap;
	ck_assert_int_eq(registry_opendir(r, rt, &snap), 0);
	ck_assert_int_eq(snap->count, 4); /* . .. new d */
	registry_closedir(snap);
	ck_assert_int_eq(registry_lookup(r, rt, "old", &n, &st), -ENOENT);
	struct node *d = look(r, rt, "d", &st);
	ck_assert_int_eq(registry_revalidate_dir(r, d), BACKING_NAME);
	registry_forget(r, look(r, d, "inner", &st), 1);
	registry_forget(r, d, 1);
	registry_free(r);
}
END_TEST

/* O_CREAT opens what the directory holds; O_EXCL refuses only that. */
START_TEST(create_opens_what_the_dir_holds)
{
	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *n;
	struct stat st;
	plant_file(bp("f"), "there", 0644);
	ck_assert_int_eq(
	    registry_create(r, rt, "f", 0600, O_RDWR | O_EXCL, &ROOT, &n, &st),
	    -EEXIST);
	ck_assert_int_eq(
	    registry_create(r, rt, "f", 0600, O_RDWR, &ROOT, &n, &st), 0);
	ck_assert_int_eq(st.st_size, 5);
	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
	ck_assert_int_eq(unlink(bp("f")), 0);
	ck_assert_int_eq(
	    registry_create(r, rt, "f", 0600, O_RDWR | O_EXCL, &ROOT, &n, &st),
	    0);
	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
	registry_free(r);
}
END_TEST

START_TEST(locked_backing_file)
{
	plant_file(bp("m"), "mapped", 0644);
	plant_file(bp("free"), "other", 0644);
	int fd = open(bp("m"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	struct registry *r = reg_new();
	struct node *rt = registry_root(r);
	struct stat st;
	struct node *m = look(r, rt, "m", &st);
	/* The name is there; the mapping is not available. */
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_size, 6);
	ck_assert_int_eq(registry_open(r, m, O_RDONLY), -EBUSY);
	ck_assert_ptr_nonnull(strstr(logged, "locked"));
	ck_assert_int_eq(registry_open(r, m, O_RDWR), -EBUSY);
	char buf[16];
	size_t got;
	ck_assert_int_eq(registry_read(r, m, buf, sizeof(buf), 0, &got),
			 -EBUSY);
	ck_assert_int_eq(registry_write(r, m, "x", 1, 0), -EBUSY);
	int sfd;
	ck_assert_int_eq(registry_read_fd(r, m, 16, 0, &sfd, &got), -EBUSY);
	struct setattr_req q = {.valid = SET_SIZE, .size = 0};
	ck_assert_int_eq(registry_setattr(r, m, &q, &st), -EBUSY);
	ck_assert_int_eq(registry_fallocate(r, m, 0, 0, 100), -EBUSY);
	/* Its attributes are the daemon's, as of any idle mapping. */
	ck_assert_int_eq(registry_setxattr(r, m, &ROOT, "user.x", "v", 1, 0),
			 0);
	ck_assert_uint_eq(getattr_mode(r, "m"), 0644);
	ck_assert_int_eq(stat(bp("m"), &st), 0);
	ck_assert_int_eq(st.st_size, 6);
	/* Other mappings are unaffected. */
	struct node *f = look(r, rt, "free", NULL);
	ck_assert_int_eq(registry_open(r, f, O_RDWR), 0);
	expect_read(r, f, "other");
	registry_release(r, f, O_RDWR);
	/* Released by its holder: the next open takes it. */
	close(fd);
	ck_assert_int_eq(registry_open(r, m, O_RDWR), 0);
	expect_read(r, m, "mapped");
	ck_assert_int_eq(registry_read_fd(r, m, 16, 2, &sfd, &got), 0);
	ck_assert_uint_eq(got, 4);
	ck_assert_int_eq(pread(sfd, buf, got, 2), 4);
	ck_assert(memcmp(buf, "pped", 4) == 0);
	ck_assert_int_eq(registry_write(r, m, "M", 1, 0), 0);
	ck_assert_str_eq(slurp(bp("m")), "Mapped");
	ck_assert(!flock_free(bp("m")));
	registry_release(r, m, O_RDWR);
	registry_forget(r, m, 1);
	registry_forget(r, f, 1);
	registry_free(r);
	ck_assert(flock_free(bp("m")));
}
END_TEST

/* A mapping whose backing file was locked at the scan keeps its protection
 * and attributes once it becomes available. */
START_TEST(locked_backing_file_keeps_protect)
{
	plant_file(bp("m"), "mapped", 0644);
	ck_assert_int_eq(
	    setxattr(bp("m"), "user.shmap.protect", "readonly", 8, 0), 0);
	ck_assert_int_eq(setxattr(bp("m"), "user.shmap.base", "42", 2, 0), 0);
	int fd = open(bp("m"), O_RDONLY);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	struct registry *r = reg_new();
	struct node *m = look(r, registry_root(r), "m", NULL);
	close(fd);
	ck_assert_int_eq(registry_open(r, m, O_RDONLY), 0);
	registry_release(r, m, O_RDONLY);
	ck_assert_int_eq(registry_open(r, m, O_RDWR), -EACCES);
	char buf[16];
	size_t len;
	ck_assert_int_eq(
	    registry_getxattr(r, m, "user.shmap.base", buf, sizeof(buf), &len),
	    0);
	ck_assert_uint_eq(len, 2);
	registry_forget(r, m, 1);
	registry_free(r);
}
END_TEST

START_TEST(mirror_namespace)
{
	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *f, *d, *l, *x;
	struct stat st, bst;
	ck_assert_int_eq(
	    registry_create(r, rt, "f", 0640, O_RDWR, &USER, &f, &st), 0);
	ck_assert_int_eq(lstat(bp("f"), &bst), 0);
	ck_assert(S_ISREG(bst.st_mode));
	ck_assert_uint_eq(bst.st_mode & 07777, 0640);
	if (geteuid() == 0) {
		ck_assert_uint_eq(bst.st_uid, 1000);
		ck_assert_uint_eq(bst.st_gid, 1000);
	}
	ck_assert(!flock_free(bp("f")));
	ck_assert_int_eq(registry_write(r, f, "payload", 7, 0), 0);
	ck_assert_int_eq(registry_sync_all(r), 0);
	ck_assert_str_eq(slurp(bp("f")), "payload");
	registry_release(r, f, O_RDWR);
	ck_assert_int_eq(registry_mkdir(r, rt, "d", 0750, &USER, &d, &st), 0);
	ck_assert_int_eq(lstat(bp("d"), &bst), 0);
	ck_assert(S_ISDIR(bst.st_mode));
	ck_assert_uint_eq(bst.st_mode & 07777, 0750);
	ck_assert_int_eq(registry_symlink(r, d, "l", "../f", &USER, &l, &st),
			 0);
	char target[64] = {0};
	ck_assert_int_eq(readlink(bp("d/l"), target, sizeof(target) - 1), 4);
	ck_assert_str_eq(target, "../f");
	ck_assert_int_eq(
	    registry_mknod(r, d, "p", S_IFIFO | 0600, 0, &USER, &x, &st), 0);
	ck_assert_int_eq(lstat(bp("d/p"), &bst), 0);
	ck_assert(S_ISFIFO(bst.st_mode));
	registry_forget(r, x, 1);
	/* A file made inside a new directory lands inside it. */
	struct node *g;
	ck_assert_int_eq(
	    registry_create(r, d, "g", 0600, O_RDWR, &USER, &g, &st), 0);
	ck_assert_int_eq(registry_write(r, g, "G", 1, 0), 0);
	registry_release(r, g, O_RDWR);
	ck_assert_str_eq(slurp(bp("d/g")), "G");
	/* link */
	ck_assert_int_eq(registry_link(r, f, d, "f2", &st), 0);
	struct stat b1, b2;
	ck_assert_int_eq(stat(bp("f"), &b1), 0);
	ck_assert_int_eq(stat(bp("d/f2"), &b2), 0);
	ck_assert_uint_eq(b1.st_ino, b2.st_ino);
	ck_assert_uint_eq(b1.st_nlink, 2);
	/* rename, plain and exchanging */
	ck_assert_int_eq(registry_rename(r, rt, "f", rt, "f3", 0), 0);
	ck_assert_int_eq(access(bp("f"), F_OK), -1);
	ck_assert_str_eq(slurp(bp("f3")), "payload");
	ck_assert_int_eq(registry_rename(r, rt, "f3", d, "g", RENAME_EXCHANGE),
			 0);
	ck_assert_str_eq(slurp(bp("f3")), "G");
	ck_assert_str_eq(slurp(bp("d/g")), "payload");
	ck_assert_int_eq(registry_rename(r, d, "g", rt, "f3", RENAME_NOREPLACE),
			 -EEXIST);
	ck_assert_str_eq(slurp(bp("d/g")), "payload");
	/* A renamed directory still takes new entries, in its new place. */
	ck_assert_int_eq(registry_rename(r, rt, "d", rt, "dd", 0), 0);
	ck_assert_int_eq(
	    registry_mknod(r, d, "q", S_IFREG | 0644, 0, &USER, &x, &st), 0);
	registry_forget(r, x, 1);
	ck_assert_int_eq(access(bp("dd/q"), F_OK), 0);
	ck_assert_int_eq(registry_unlink(r, d, "q"), 0);
	ck_assert_int_eq(access(bp("dd/q"), F_OK), -1);
	ck_assert_int_eq(registry_rename(r, rt, "dd", rt, "d", 0), 0);
	/* unlink and rmdir */
	ck_assert_int_eq(registry_unlink(r, d, "f2"), 0);
	ck_assert_int_eq(access(bp("d/f2"), F_OK), -1);
	ck_assert_int_eq(registry_rmdir(r, rt, "d"), -ENOTEMPTY);
	ck_assert_int_eq(access(bp("d"), F_OK), 0);
	ck_assert_int_eq(registry_unlink(r, d, "g"), 0);
	ck_assert_int_eq(registry_unlink(r, d, "l"), 0);
	ck_assert_int_eq(registry_unlink(r, d, "p"), 0);
	ck_assert_int_eq(registry_rmdir(r, rt, "d"), 0);
	ck_assert_int_eq(access(bp("d"), F_OK), -1);
	/* An unlinked but open mapping still works without a name. */
	ck_assert_int_eq(registry_open(r, g, O_RDWR), 0);
	ck_assert_int_eq(registry_unlink(r, rt, "f3"), 0);
	ck_assert_int_eq(access(bp("f3"), F_OK), -1);
	expect_read(r, g, "G");
	ck_assert_int_eq(registry_write(r, g, "H", 1, 1), 0);
	expect_read(r, g, "GH");
	registry_release(r, g, O_RDWR);
	registry_forget(r, f, 2);
	registry_forget(r, d, 1);
	registry_forget(r, l, 1);
	registry_forget(r, g, 1);
	registry_free(r);
	/* Nothing left behind. */
	struct dir_snapshot *s;
	r = reg_new();
	ck_assert_int_eq(registry_opendir(r, registry_root(r), &s), 0);
	ck_assert_uint_eq(s->count, 2);
	registry_closedir(s);
	registry_free(r);
}
END_TEST

START_TEST(mirror_attributes)
{
	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *f, *d;
	struct stat st, bst;
	ck_assert_int_eq(
	    registry_create(r, rt, "f", 0644, O_RDWR, &USER, &f, &st), 0);
	registry_release(r, f, O_RDWR);
	ck_assert_int_eq(registry_mkdir(r, rt, "d", 0755, &USER, &d, &st), 0);
	struct setattr_req q = {.valid = SET_MODE, .mode = 0600};
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
	ck_assert_int_eq(registry_setattr(r, d, &q, &st), 0);
	ck_assert_int_eq(stat(bp("f"), &bst), 0);
	ck_assert_uint_eq(bst.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(bp("d"), &bst), 0);
	ck_assert_uint_eq(bst.st_mode & 07777, 0600);
	/* Set-ID bits cleared for a write land on the backing file too. */
	q.mode = 04755;
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
	ck_assert_int_eq(registry_kill_suid_sgid(r, f), 1);
	ck_assert_int_eq(stat(bp("f"), &bst), 0);
	ck_assert_uint_eq(bst.st_mode & 07777, 0755);
	q.mode = 0600;
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
	q = (struct setattr_req){.valid = SET_SIZE, .size = 10000};
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
	ck_assert_int_eq(stat(bp("f"), &bst), 0);
	ck_assert_int_eq(bst.st_size, 10000);
	q = (struct setattr_req){.valid = SET_ATIME | SET_MTIME,
				 .atime = {111, 0},
				 .mtime = {222, 0}};
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
	ck_assert_int_eq(stat(bp("f"), &bst), 0);
	ck_assert_int_eq(bst.st_atim.tv_sec, 111);
	ck_assert_int_eq(bst.st_mtim.tv_sec, 222);
	if (geteuid() == 0) {
		q = (struct setattr_req){
		    .valid = SET_UID | SET_GID, .uid = 4321, .gid = 8765};
		ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
		ck_assert_int_eq(stat(bp("f"), &bst), 0);
		ck_assert_uint_eq(bst.st_uid, 4321);
		ck_assert_uint_eq(bst.st_gid, 8765);
	}
	/* Extended attributes and protection land on the backing file. */
	char buf[64];
	ck_assert_int_eq(
	    registry_setxattr(r, f, &ROOT, "user.shmap.base", "0x1000", 6, 0),
	    0);
	ck_assert_int_eq(getxattr(bp("f"), "user.shmap.base", buf, sizeof(buf)),
			 6);
	ck_assert(memcmp(buf, "0x1000", 6) == 0);
	ck_assert_int_eq(registry_setxattr(r, d, &ROOT, "user.d", "v", 1, 0),
			 0);
	ck_assert_int_eq(getxattr(bp("d"), "user.d", buf, sizeof(buf)), 1);
	ck_assert_int_eq(registry_setxattr(r, f, &ROOT, SHMAP_XATTR_PROTECT,
					   "writecopy\n", 10, 0),
			 0);
	ck_assert_int_eq(
	    getxattr(bp("f"), SHMAP_XATTR_PROTECT, buf, sizeof(buf)), 9);
	ck_assert(memcmp(buf, "writecopy", 9) == 0);
	ck_assert_int_eq(registry_removexattr(r, f, &ROOT, "user.shmap.base"),
			 0);
	ck_assert_int_eq(getxattr(bp("f"), "user.shmap.base", buf, sizeof(buf)),
			 -1);
	ck_assert_int_eq(errno, ENODATA);
	registry_forget(r, f, 1);
	registry_forget(r, d, 1);
	registry_free(r);
	/* A new registry finds it all again. */
	r = reg_new();
	f = look(r, registry_root(r), "f", &st);
	ck_assert_uint_eq(st.st_size, 10000);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_mtim.tv_sec, 222);
	ck_assert_int_eq(registry_open(r, f, O_RDWR), -EACCES);
	ck_assert_int_eq(registry_removexattr(r, f, &ROOT, SHMAP_XATTR_PROTECT),
			 0);
	ck_assert_int_eq(
	    getxattr(bp("f"), SHMAP_XATTR_PROTECT, buf, sizeof(buf)), -1);
	ck_assert_int_eq(registry_open(r, f, O_RDWR), 0);
	registry_release(r, f, O_RDWR);
	registry_forget(r, f, 1);
	registry_free(r);
}
END_TEST

START_TEST(data_and_sync)
{
	plant_file(bp("m"), "0123456789", 0644);
	struct registry *r = reg_new();
	struct node *m = look(r, registry_root(r), "m", NULL);
	ck_assert_int_eq(registry_open(r, m, O_RDWR), 0);
	ck_assert_int_eq(registry_write(r, m, "AB", 2, 4), 0);
	ck_assert_int_eq(registry_write(r, m, "Z", 1, 12), 0);
	ck_assert_int_eq(registry_fsync(r, m, 0), 0);
	ck_assert_int_eq(registry_fsync(r, m, 1), 0);
	ck_assert_int_eq(registry_sync_all(r), 0);
	ck_assert(memcmp(slurp(bp("m")), "0123AB6789\0\0Z", 13) == 0);
	struct stat bst;
	ck_assert_int_eq(stat(bp("m"), &bst), 0);
	ck_assert_int_eq(bst.st_size, 13);
	ck_assert_int_eq(
	    registry_fallocate(r, m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, 4),
	    0);
	ck_assert(memcmp(slurp(bp("m")), "\0\0\0\0AB6789\0\0Z", 13) == 0);
	/* open(O_TRUNC) empties the backing file. */
	ck_assert_int_eq(registry_open(r, m, O_WRONLY | O_TRUNC), 0);
	registry_release(r, m, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(stat(bp("m"), &bst), 0);
	ck_assert_int_eq(bst.st_size, 0);
	/* Capacity is the backing filesystem's, not cfg.capacity. */
	static char big[2 << 20];
	ck_assert_int_eq(registry_write(r, m, big, sizeof(big), 0), 0);
	struct statvfs sv, bsv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	ck_assert_int_eq(statvfs(B, &bsv), 0);
	ck_assert_uint_eq(sv.f_blocks, bsv.f_blocks);
	ck_assert_uint_le(sv.f_namemax, 255);
	registry_release(r, m, O_RDWR);
	registry_forget(r, m, 1);
	registry_free(r);
}
END_TEST

START_TEST(read_only_registry)
{
	plant_file(bp("m"), "data", 0644);
	struct registry *r = NULL;
	ck_assert_int_eq(reg_open_dir(B, 1, 0, &r), 0);
	struct node *rt = registry_root(r), *x;
	struct node *m = look(r, rt, "m", NULL);
	ck_assert_int_eq(registry_open(r, m, O_RDWR), -EROFS);
	ck_assert_int_eq(registry_open(r, m, O_RDONLY), 0);
	expect_read(r, m, "data");
	registry_release(r, m, O_RDONLY);
	struct stat st;
	ck_assert_int_eq(
	    registry_mknod(r, rt, "n", S_IFREG | 0644, 0, &USER, &x, &st),
	    -EROFS);
	ck_assert_int_eq(registry_unlink(r, rt, "m"), -EROFS);
	ck_assert_int_eq(registry_rename(r, rt, "m", rt, "z", 0), -EROFS);
	ck_assert_int_eq(registry_write(r, m, "x", 1, 0), -EROFS);
	ck_assert_int_eq(registry_fallocate(r, m, 0, 0, 4096), -EROFS);
	struct setattr_req q = {.valid = SET_SIZE, .size = 0};
	ck_assert_int_eq(registry_setattr(r, m, &q, &st), -EROFS);
	ck_assert_int_eq(registry_setxattr(r, m, &ROOT, "user.x", "v", 1, 0),
			 -EROFS);
	ck_assert_int_eq(access(bp("n"), F_OK), -1);
	ck_assert_str_eq(slurp(bp("m")), "data");
	registry_forget(r, m, 1);
	registry_free(r);
}
END_TEST

START_TEST(fault_write_backing)
{
	plant_file(bp("m"), "original", 0644);
	struct registry *r = NULL;
	ck_assert_int_eq(reg_open_dir(B, 0, 1, &r), 0);
	struct node *m = look(r, registry_root(r), "m", NULL);
	/* The fault counts the writes of one use of the store. */
	ck_assert_int_eq(registry_open(r, m, O_RDWR), 0);
	ck_assert_int_eq(registry_write(r, m, "CHANGED!!", 9, 0), -EIO);
	ck_assert_str_eq(slurp(bp("m")), "original");
	expect_read(r, m, "original");
	ck_assert_int_eq(registry_write(r, m, "O", 1, 0), 0);
	ck_assert_str_eq(slurp(bp("m")), "Original");
	registry_release(r, m, O_RDWR);
	registry_forget(r, m, 1);
	registry_free(r);
}
END_TEST

/* Symlinks in the backing directory that point outside it. */
START_TEST(boundary_symlinks)
{
	char secret[200], outdir[200];
	snprintf(secret, sizeof(secret), "%s/secret", OUT);
	snprintf(outdir, sizeof(outdir), "%s/sub", OUT);
	plant_file(secret, "secret", 0600);
	ck_assert_int_eq(mkdir(outdir, 0700), 0);
	ck_assert_int_eq(symlink(OUT, bp("escdir")), 0);
	ck_assert_int_eq(symlink(secret, bp("escfile")), 0);
	struct timespec ts[2] = {{5000, 0}, {6000, 0}};
	ck_assert_int_eq(utimensat(AT_FDCWD, secret, ts, 0), 0);

	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *x;
	struct stat st;
	struct node *ed = look(r, rt, "escdir", &st);
	ck_assert(S_ISLNK(st.st_mode));
	struct node *ef = look(r, rt, "escfile", &st);
	ck_assert(S_ISLNK(st.st_mode));
	const char *t;
	ck_assert_int_eq(registry_readlink(r, ed, &t), 0);
	ck_assert_str_eq(t, OUT);
	/* Nothing is made, found or listed through the link. */
	ck_assert_int_eq(
	    registry_mknod(r, ed, "planted", S_IFREG | 0644, 0, &USER, &x, &st),
	    -ENOTDIR);
	ck_assert_int_eq(
	    registry_create(r, ed, "planted", 0644, O_RDWR, &USER, &x, &st),
	    -ENOTDIR);
	ck_assert_int_eq(registry_mkdir(r, ed, "planted", 0755, &USER, &x, &st),
			 -ENOTDIR);
	ck_assert_int_eq(
	    registry_symlink(r, ed, "planted", "x", &USER, &x, &st), -ENOTDIR);
	ck_assert_int_eq(registry_lookup(r, ed, "secret", &x, &st), -ENOTDIR);
	ck_assert_int_eq(registry_unlink(r, ed, "secret"), -ENOTDIR);
	ck_assert_int_eq(registry_rmdir(r, ed, "sub"), -ENOTDIR);
	ck_assert_int_eq(registry_rename(r, ed, "secret", rt, "stolen", 0),
			 -ENOTDIR);
	ck_assert_int_eq(registry_rename(r, rt, "escfile", ed, "x", 0),
			 -ENOTDIR);
	struct dir_snapshot *s;
	ck_assert_int_eq(registry_opendir(r, ed, &s), -ENOTDIR);
	/* A link to a file outside is no mapping of it. */
	char buf[64];
	size_t got = 0;
	ck_assert_int_eq(
	    registry_read(r, ef, buf, sizeof(buf), 0, &got) < 0 || got == 0, 1);
	ck_assert_int_lt(registry_write(r, ef, "pwned", 5, 0), 0);
	/* Attribute changes of the link never reach its target. */
	struct setattr_req q = {.valid = SET_MODE | SET_ATIME | SET_MTIME,
				.mode = 0777,
				.atime = {1, 0},
				.mtime = {2, 0}};
	registry_setattr(r, ef, &q, &st);
	registry_setattr(r, ed, &q, &st);
	if (geteuid() == 0) {
		q = (struct setattr_req){
		    .valid = SET_UID | SET_GID, .uid = 4242, .gid = 4242};
		registry_setattr(r, ef, &q, &st);
		registry_setattr(r, ed, &q, &st);
	}
	ck_assert_int_lt(
	    registry_setxattr(r, ef, &ROOT, "user.evil", "1", 1, 0), 0);
	/* Replacing the link by rename replaces the link, not the target. */
	struct node *dec;
	ck_assert_int_eq(
	    registry_create(r, rt, "decoy", 0644, O_RDWR, &USER, &dec, &st), 0);
	registry_release(r, dec, O_RDWR);
	ck_assert_int_eq(registry_rename(r, rt, "decoy", rt, "escfile", 0), 0);
	ck_assert_int_eq(registry_unlink(r, rt, "escdir"), 0);
	registry_forget(r, ed, 1);
	registry_forget(r, ef, 1);
	registry_forget(r, dec, 1);
	registry_free(r);

	struct stat sst;
	ck_assert_int_eq(stat(secret, &sst), 0);
	ck_assert_uint_eq(sst.st_mode & 07777, 0600);
	ck_assert_uint_eq(sst.st_uid, getuid());
	ck_assert_int_eq(sst.st_mtim.tv_sec, 6000);
	ck_assert_int_eq(sst.st_size, 6);
	ck_assert_int_eq(getxattr(secret, "user.evil", buf, sizeof(buf)), -1);
	ck_assert_str_eq(slurp(secret), "secret");
	ck_assert_int_eq(stat(OUT, &sst), 0);
	ck_assert_uint_eq(sst.st_mode & 07777, 0700);
	ck_assert_uint_eq(sst.st_uid, getuid());
	/* Nothing appeared outside. */
	char planted[224];
	snprintf(planted, sizeof(planted), "%s/planted", OUT);
	ck_assert_int_eq(access(planted, F_OK), -1);
	ck_assert_int_eq(access(outdir, F_OK), 0);
	ck_assert_int_eq(access(bp("stolen"), F_OK), -1);
}
END_TEST

/* Entries swapped for symlinks behind the registry's back, after the scan:
 * the registry works on what it opened, never on what the name now
 * points to. */
START_TEST(boundary_swapped_after_scan)
{
	char secret[200], target[200];
	snprintf(secret, sizeof(secret), "%s/secret", OUT);
	plant_file(secret, "secret", 0600);
	ck_assert_int_eq(mkdir(bp("d"), 0755), 0);
	plant_file(bp("f"), "file", 0644);
	ck_assert_int_eq(mkfifo(bp("p"), 0644), 0);
	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *x;
	struct stat st;
	struct node *d = look(r, rt, "d", NULL);
	struct node *f = look(r, rt, "f", NULL);
	struct node *p = look(r, rt, "p", NULL);
	/* The directory moves away and a symlink to outside takes its name:
	 * new entries still go into the directory the registry holds. */
	ck_assert_int_eq(rename(bp("d"), bp("d.moved")), 0);
	ck_assert_int_eq(symlink(OUT, bp("d")), 0);
	ck_assert_int_eq(
	    registry_create(r, d, "planted", 0644, O_RDWR, &USER, &x, &st), 0);
	registry_release(r, x, O_RDWR);
	registry_forget(r, x, 1);
	snprintf(target, sizeof(target), "%s/planted", OUT);
	ck_assert_int_eq(access(target, F_OK), -1);
	ck_assert_int_eq(access(bp("d.moved/planted"), F_OK), 0);
	/* The same for a mapping in use: its data goes to the file it
	 * holds. Once idle, it is opened by name again, never through a
	 * symlink: refused. */
	ck_assert_int_eq(registry_open(r, f, O_RDWR), 0);
	ck_assert_int_eq(rename(bp("f"), bp("f.moved")), 0);
	ck_assert_int_eq(symlink(secret, bp("f")), 0);
	ck_assert_int_eq(registry_write(r, f, "FILE", 4, 0), 0);
	registry_release(r, f, O_RDWR);
	ck_assert_int_eq(registry_write(r, f, "FILE", 4, 0), -ELOOP);
	struct setattr_req q = {.valid = SET_MODE, .mode = 0666};
	registry_setattr(r, f, &q, &st);
	ck_assert_uint_eq(stat_mode(secret), 0600);
	ck_assert_str_eq(slurp(secret), "secret");
	ck_assert_str_eq(slurp(bp("f.moved")), "FILE");
	/* And for an entry with no descriptor (a fifo): its attributes. */
	ck_assert_int_eq(unlink(bp("p")), 0);
	ck_assert_int_eq(symlink(secret, bp("p")), 0);
	q = (struct setattr_req){.valid = SET_MTIME, .mtime = {7, 0}};
	registry_setattr(r, p, &q, &st);
	if (geteuid() == 0) {
		q = (struct setattr_req){
		    .valid = SET_UID | SET_GID, .uid = 4242, .gid = 4242};
		registry_setattr(r, p, &q, &st);
	}
	struct stat sst;
	ck_assert_int_eq(stat(secret, &sst), 0);
	ck_assert_uint_eq(sst.st_mode & 07777, 0600);
	ck_assert_uint_eq(sst.st_uid, getuid());
	ck_assert_int_ne(sst.st_mtim.tv_sec, 7);
	registry_forget(r, d, 1);
	registry_forget(r, f, 1);
	registry_forget(r, p, 1);
	registry_free(r);
}
END_TEST

/* As above, for a chmod of an entry with no descriptor. */
START_TEST(boundary_chmod_swapped_fifo)
{
	char secret[200];
	snprintf(secret, sizeof(secret), "%s/secret", OUT);
	plant_file(secret, "secret", 0600);
	ck_assert_int_eq(mkfifo(bp("p"), 0644), 0);
	struct registry *r = reg_new();
	struct node *p = look(r, registry_root(r), "p", NULL);
	ck_assert_int_eq(unlink(bp("p")), 0);
	ck_assert_int_eq(symlink(secret, bp("p")), 0);
	struct setattr_req q = {.valid = SET_MODE, .mode = 0666};
	struct stat st, sst;
	registry_setattr(r, p, &q, &st);
	ck_assert_int_eq(stat(secret, &sst), 0);
	ck_assert_uint_eq(sst.st_mode & 07777, 0600);
	registry_forget(r, p, 1);
	registry_free(r);
}
END_TEST

/* registry_free with references outstanding releases every lock. */
START_TEST(free_releases_locks)
{
	plant_file(bp("a"), "a", 0644);
	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *b;
	struct stat st;
	struct node *a = look(r, rt, "a", NULL);
	ck_assert_int_eq(registry_open(r, a, O_RDWR), 0);
	ck_assert_int_eq(
	    registry_create(r, rt, "b", 0644, O_RDWR, &USER, &b, &st), 0);
	ck_assert(!flock_free(bp("a")));
	ck_assert(!flock_free(bp("b")));
	registry_free(r);
	ck_assert(flock_free(bp("a")));
	ck_assert(flock_free(bp("b")));
	ck_assert(flock_free(B));
}
END_TEST

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A scan that fails part-way (too many entries, too deep) frees what it
 * built, closes every descriptor and releases every lock. */
START_TEST(scan_failure_cleans_up)
{
	char name[16];
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		plant_file(bp(name), "x", 0644);
	}
	int fds = open_fds();
	int fd = open(B, O_RDONLY | O_DIRECTORY);
	struct registry_config cfg = {.capacity = 1 << 20,
				      .max_nodes = 2,
				      .root_mode = 0755,
				      .backing_dirfd = fd,
				      .log = log_msg};
	struct registry *r = NULL;
	ck_assert_int_eq(registry_new(&cfg, &r), -ENOSPC);
	ck_assert_int_eq(open_fds(), fds);
	ck_assert(flock_free(B));
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert(flock_free(bp(name)));
	}
	/* Deeper than the scan goes. */
	int dfd = open(B, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(mkdirat(dfd, "d", 0755), 0);
		int next = openat(dfd, "d", O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(next, 0);
		close(dfd);
		dfd = next;
	}
	close(dfd);
	fd = open(B, O_RDONLY | O_DIRECTORY);
	cfg.backing_dirfd = fd;
	cfg.max_nodes = 10000;
	ck_assert_int_lt(registry_new(&cfg, &r), 0);
	ck_assert_int_eq(open_fds(), fds);
	ck_assert(flock_free(B));
}
END_TEST

/* Modes reach the backing directory exactly (the daemon runs with umask
 * 0, as main.c sets it). */
START_TEST(exact_modes)
{
	umask(0);
	struct registry *r = reg_new();
	struct node *rt = registry_root(r), *f, *d, *p;
	struct stat st, bst;
	ck_assert_int_eq(
	    registry_create(r, rt, "f", 0666, O_RDWR, &USER, &f, &st), 0);
	registry_release(r, f, O_RDWR);
	ck_assert_int_eq(registry_mkdir(r, rt, "d", 01777, &USER, &d, &st), 0);
	ck_assert_int_eq(
	    registry_mknod(r, rt, "p", S_IFIFO | 0666, 0, &USER, &p, &st), 0);
	ck_assert_int_eq(lstat(bp("f"), &bst), 0);
	ck_assert_uint_eq(bst.st_mode & 07777, 0666);
	ck_assert_int_eq(lstat(bp("d"), &bst), 0);
	ck_assert_uint_eq(bst.st_mode & 07777, 01777);
	ck_assert_int_eq(lstat(bp("p"), &bst), 0);
	ck_assert_uint_eq(bst.st_mode & 07777, 0666);
	registry_forget(r, f, 1);
	registry_forget(r, d, 1);
	registry_forget(r, p, 1);
	registry_free(r);
	r = reg_new();
	ck_assert_uint_eq(getattr_mode(r, "d"), 01777);
	ck_assert_uint_eq(getattr_mode(r, "f"), 0666);
	registry_free(r);
}
END_TEST

struct race_arg {
	struct registry *r;
	struct node *n;
	int rounds;
	int errors;
};

static void *chmod_loop(void *p)
{
	struct race_arg *a = p;
	for (int i = 0; i < a->rounds; i++) {
		struct setattr_req q = {.valid = SET_MODE | SET_MTIME,
					.mode = i & 1 ? 0600 : 0644,
					.mtime = {i, 0}};
		struct stat st;
		int res = registry_setattr(a->r, a->n, &q, &st);
		/* The name may be between two places: ENOENT is fair. */
		if (res != 0 && res != -ENOENT)
			a->errors++;
	}
	return NULL;
}

static void *rename_loop(void *p)
{
	struct race_arg *a = p;
	struct node *rt = registry_root(a->r);
	for (int i = 0; i < a->rounds; i++) {
		const char *from = i & 1 ? "q" : "p", *to = i & 1 ? "p" : "q";
		if (registry_rename(a->r, rt, from, rt, to, 0) != 0)
			a->errors++;
	}
	return NULL;
}

/* Attribute changes of an entry with no descriptor (a fifo, a symlink)
 * go through its name in the backing directory; a rename racing them must
 * not pull the name from under them (ASan watches for use after free). */
START_TEST(setattr_races_rename)
{
	ck_assert_int_eq(mkfifo(bp("p"), 0644), 0);
	struct registry *r = reg_new();
	struct node *p = look(r, registry_root(r), "p", NULL);
	struct race_arg a = {.r = r, .n = p, .rounds = 3000};
	struct race_arg b = a;
	pthread_t ta, tb;
	ck_assert_int_eq(pthread_create(&ta, NULL, chmod_loop, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, rename_loop, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_int_eq(a.errors, 0);
	ck_assert_int_eq(b.errors, 0);
	registry_forget(r, p, 1);
	registry_free(r);
}
END_TEST

/* Does the registry have attribute name exactly when the backing file
 * does, with the same size? */
static void xattr_agrees(struct registry *r, struct node *n, const char *path,
			 const char *name)
{
	size_t len = 0;
	int res = registry_getxattr(r, n, name, NULL, 0, &len);
	ssize_t blen = getxattr(path, name, NULL, 0);
	ck_assert_msg((res == 0) == (blen >= 0),
		      "%s: registry says %d, backing file %zd", name, res,
		      blen);
	if (res == 0)
		ck_assert_uint_eq(len, (size_t)blen);
}

/* An attribute refused (by the registry's 64 KiB per node, or by the
 * backing filesystem's own limit) is refused by both: the registry and
 * the backing file never disagree. */
START_TEST(xattr_refused_not_mirrored)
{
	plant_file(bp("m"), "m", 0644);
	struct registry *r = reg_new();
	struct node *m = look(r, registry_root(r), "m", NULL);
	static char big[65536];
	memset(big, 'v', sizeof(big));
	static const size_t sizes[] = {100, 2000, 3000, 6000, 30000, 60000};
	char name[32];
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "user.a%zu", i);
		int res =
		    registry_setxattr(r, m, &ROOT, name, big, sizes[i], 0);
		ck_assert_msg(res == 0 || res == -ENOSPC || res == -E2BIG,
			      "%s: %d", name, res);
		xattr_agrees(r, m, bp("m"), name);
		/* A refused replacement keeps the old value on both sides. */
		res = registry_setxattr(r, m, &ROOT, "user.small", "s", 1, 0);
		if (res == 0) {
			registry_setxattr(r, m, &ROOT, "user.small", big,
					  sizes[i], XATTR_REPLACE);
			xattr_agrees(r, m, bp("m"), "user.small");
		}
	}
	registry_forget(r, m, 1);
	registry_free(r);
}
END_TEST

/* A fault hook of this program's own, as fchmod's below: the core's
 * strdup() is this one, which fails with ENOMEM while strdup_fails. */
static int strdup_fails;

char *strdup(const char *s)
{
	if (strdup_fails) {
		errno = ENOMEM;
		return NULL;
	}
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	return p ? memcpy(p, s, n) : NULL;
}

/* No memory for a new attribute's name: the registry refuses it before
 * the backing file takes it, and the two still agree. */
START_TEST(xattr_no_memory_not_mirrored)
{
	plant_file(bp("m"), "m", 0644);
	struct registry *r = reg_new();
	struct node *m = look(r, registry_root(r), "m", NULL);
	strdup_fails = 1;
	int res = registry_setxattr(r, m, &ROOT, "user.new", "v", 1, 0);
	strdup_fails = 0;
	ck_assert_int_eq(res, -ENOMEM);
	ck_assert_int_eq(getxattr(bp("m"), "user.new", NULL, 0), -1);
	xattr_agrees(r, m, bp("m"), "user.new");
	ck_assert_int_eq(registry_setxattr(r, m, &ROOT, "user.new", "v", 1, 0),
			 0);
	ck_assert_int_eq(getxattr(bp("m"), "user.new", NULL, 0), 1);
	xattr_agrees(r, m, bp("m"), "user.new");
	registry_forget(r, m, 1);
	registry_free(r);
}
END_TEST

/* A backing file locked elsewhere at the scan, then replaced by a fifo:
 * the later open must neither block on the fifo nor adopt it. */
START_TEST(locked_file_swapped_for_fifo)
{
	for (int ro = 0; ro < 2; ro++) {
		plant_file(bp("m"), "mapped", 0644);
		int fd = open(bp("m"), O_RDONLY);
		ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
		struct registry *r = NULL;
		ck_assert_int_eq(reg_open_dir(B, ro, 0, &r), 0);
		struct node *m = look(r, registry_root(r), "m", NULL);
		close(fd);
		ck_assert_int_eq(unlink(bp("m")), 0);
		ck_assert_int_eq(mkfifo(bp("m"), 0644), 0);
		ck_assert_int_lt(registry_open(r, m, ro ? O_RDONLY : O_RDWR),
				 0);
		char buf[8];
		size_t got;
		ck_assert_int_lt(registry_read(r, m, buf, sizeof(buf), 0, &got),
				 0);
		registry_forget(r, m, 1);
		registry_free(r);
		ck_assert_int_eq(unlink(bp("m")), 0);
	}
}
END_TEST

/* Descriptors this process holds now. */
static int fds_held(void)
{
	return count_entries_in("/proc/self/fd");
}

/*
 * Past resident_max, a store is parked: it holds no descriptor, yet every
 * use reaches its backing file, which stays locked, through a rename of
 * its name. A registry over "a" and "b" that parks every store past the
 * first: "a" opened, "b" parked, used, and renamed to "c" with an impostor
 * put under "b". by_name: as if the pin could not be opened again (an
 * unprivileged daemon, played by SHMAPFS_TEST_NO_MAP_FILES). *before: the
 * descriptors held with "a" open.
 */
static struct registry *parked_b_renamed(int by_name, struct node **a,
					 struct node **b, int *before)
{
	plant_file(bp("a"), "alpha", 0644);
	plant_file(bp("b"), "bravo", 0644);
	struct registry *r = NULL;
	if (by_name)
		setenv("SHMAPFS_TEST_NO_MAP_FILES", "1", 1);
	ck_assert_int_eq(reg_open_dir_with(B, 0, 0, 1, &r), 0);
	unsetenv("SHMAPFS_TEST_NO_MAP_FILES");
	struct node *rt = registry_root(r);
	*a = look(r, rt, "a", NULL);
	*b = look(r, rt, "b", NULL);
	ck_assert_int_eq(registry_open(r, *a, O_RDWR), 0);
	*before = fds_held();
	ck_assert_int_eq(registry_open(r, *b, O_RDWR), 0);
	ck_assert_int_eq(fds_held(), *before);
	ck_assert(!flock_free(bp("b")));
	expect_read(r, *b, "bravo");
	ck_assert_int_eq(registry_write(r, *b, "B", 1, 0), 0);
	ck_assert_str_eq(slurp(bp("b")), "Bravo");
	struct stat st;
	struct setattr_req q = {
	    .valid = SET_SIZE | SET_MODE, .size = 3, .mode = 0600};
	ck_assert_int_eq(registry_setattr(r, *b, &q, &st), 0);
	ck_assert_int_eq(stat(bp("b"), &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(registry_setxattr(r, *b, &ROOT, "user.x", "v", 1, 0),
			 0);
	char v[4] = {0};
	ck_assert_int_eq(getxattr(bp("b"), "user.x", v, sizeof(v)), 1);
	ck_assert_int_eq(registry_fsync(r, *b, 0), 0);
	uint64_t at;
	ck_assert_int_eq(registry_seek_data(r, *b, 0, SEEK_DATA, &at), 0);
	ck_assert_uint_eq(at, 0);
	ck_assert_int_eq(fds_held(), *before);
	/* Renamed: still the same file, still locked. */
	ck_assert_int_eq(registry_rename(r, rt, "b", rt, "c", 0), 0);
	plant_file(bp("b"), "impostor", 0644);
	ck_assert_int_eq(registry_write(r, *b, "C", 1, 0), 0);
	ck_assert_str_eq(slurp(bp("c")), "Cra");
	ck_assert_str_eq(slurp(bp("b")), "impostor");
	ck_assert(!flock_free(bp("c")));
	return r;
}

/* A parked store reaches its file unlinked through the registry too:
 * through its pin, or (by_name) through the descriptor it kept as the
 * last name went. */
static void parked_store_unlinked(int by_name)
{
	struct node *a, *b;
	int before;
	struct registry *r = parked_b_renamed(by_name, &a, &b, &before);
	int keep = open(bp("c"), O_RDONLY);
	ck_assert_int_ge(keep, 0);
	ck_assert_int_eq(registry_unlink(r, registry_root(r), "c"), 0);
	ck_assert_int_eq(registry_write(r, b, "D", 1, 1), 0);
	expect_read(r, b, "CDa");
	ck_assert_int_eq(flock(keep, LOCK_EX | LOCK_NB), -1);
	ck_assert_int_eq(fds_held(), before + 1 + by_name);
	registry_release(r, b, O_RDWR);
	registry_forget(r, b, 1);
	ck_assert_int_eq(flock(keep, LOCK_EX | LOCK_NB), 0);
	close(keep);
	ck_assert_int_eq(fds_held(), before);
	registry_release(r, a, O_RDWR);
	registry_forget(r, a, 1);
	registry_free(r);
}

START_TEST(parked_store)
{
	parked_store_unlinked(0);
}
END_TEST

START_TEST(parked_store_by_name_unlinked)
{
	parked_store_unlinked(1);
}
END_TEST

/* Opened by name, a parked store is used only if the name still leads to
 * the file pinned: renamed and replaced behind the daemon's back, the use
 * fails with ESTALE, and the impostor under the name is never touched. */
START_TEST(parked_store_by_name)
{
	struct node *a, *b;
	int before;
	struct registry *r = parked_b_renamed(1, &a, &b, &before);
	ck_assert_int_eq(rename(bp("c"), bp("d")), 0);
	plant_file(bp("c"), "impostor", 0644);
	ck_assert_int_eq(registry_write(r, b, "D", 1, 0), -ESTALE);
	struct stat st;
	struct setattr_req grow = {.valid = SET_SIZE, .size = 4096};
	ck_assert_int_eq(registry_setattr(r, b, &grow, &st), -ESTALE);
	ck_assert_str_eq(slurp(bp("c")), "impostor");
	ck_assert_str_eq(slurp(bp("d")), "Cra");
	ck_assert(!flock_free(bp("d")));
	ck_assert_int_eq(fds_held(), before);
	registry_release(r, b, O_RDWR);
	registry_forget(r, b, 1);
	ck_assert(flock_free(bp("d")));
	registry_release(r, a, O_RDWR);
	registry_forget(r, a, 1);
	registry_free(r);
}
END_TEST

/*
 * A fault hook of this program's own: the core's fchmod() and fchmodat()
 * are these (a program's own definitions come before the C library's).
 * Once chmod_fail_at is set, its chmod_fail_at-th call fails with EIO.
 */
static unsigned chmod_calls, chmod_fail_at;

static void fail_nth_chmod(unsigned nth)
{
	chmod_calls = 0;
	chmod_fail_at = nth;
}

static int chmod_fails(void)
{
	if (!chmod_fail_at || ++chmod_calls != chmod_fail_at)
		return 0;
	errno = EIO;
	return 1;
}

int fchmod(int fd, mode_t mode)
{
	return chmod_fails() ? -1 : (int)syscall(SYS_fchmod, fd, mode);
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	static int (*next)(int, const char *, mode_t, int);
	if (!next)
		next = (int (*)(int, const char *, mode_t, int))dlsym(
		    RTLD_NEXT, "fchmodat");
	return chmod_fails() ? -1 : next(dirfd, path, mode, flags);
}

/* The mode of f in the registry and of its backing file, which must
 * agree. */
static mode_t agreed_mode(struct registry *r, struct node *f)
{
	struct stat st, bst;
	ck_assert_int_eq(registry_getattr(r, f, &st), 0);
	ck_assert_int_eq(stat(bp("f"), &bst), 0);
	ck_assert_uint_eq(st.st_mode & 07777, bst.st_mode & 07777);
	return st.st_mode & 07777;
}

/*
 * Set-ID bits a write, truncate or chown must clear, when the backing
 * file's chmod fails: the call fails with its error and nothing changes,
 * in memory or on the backing file (the kernel fails a write whose
 * file_remove_privs() fails).
 */
START_TEST(kill_suid_sgid_failure_changes_nothing)
{
	struct registry *r = reg_new();
	struct node *f;
	struct stat st, bst;
	ck_assert_int_eq(registry_create(r, registry_root(r), "f", 0644, O_RDWR,
					 &USER, &f, &st),
			 0);
	struct setattr_req q = {.valid = SET_MODE, .mode = 06775};
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), 0);
	fail_nth_chmod(1);
	ck_assert_int_eq(registry_kill_suid_sgid(r, f), -EIO);
	ck_assert_uint_eq(agreed_mode(r, f), 06775);
	/* A truncate: the size stays too. */
	fail_nth_chmod(1);
	q = (struct setattr_req){.valid = SET_SIZE | SET_KILL_SUIDGID,
				 .size = 10000};
	ck_assert_int_eq(registry_setattr(r, f, &q, &st), -EIO);
	ck_assert_uint_eq(agreed_mode(r, f), 06775);
	ck_assert_int_eq(registry_getattr(r, f, &st), 0);
	ck_assert_int_eq(stat(bp("f"), &bst), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(bst.st_size, 0);
	/* A chown: the owner goes back (the second chmod, the undo's,
	 * works). */
	if (geteuid() == 0) {
		fail_nth_chmod(1);
		q = (struct setattr_req){.valid = SET_UID | SET_GID |
						  SET_KILL_SUIDGID,
					 .uid = 4321,
					 .gid = 8765};
		ck_assert_int_eq(registry_setattr(r, f, &q, &st), -EIO);
		ck_assert_uint_eq(agreed_mode(r, f), 06775);
		ck_assert_int_eq(registry_getattr(r, f, &st), 0);
		ck_assert_int_eq(stat(bp("f"), &bst), 0);
		ck_assert_uint_eq(st.st_uid, USER.uid);
		ck_assert_uint_eq(bst.st_uid, USER.uid);
	}
	/* Without the fault both clear. */
	fail_nth_chmod(0);
	ck_assert_int_eq(registry_kill_suid_sgid(r, f), 1);
	ck_assert_uint_eq(agreed_mode(r, f), 0775);
	registry_release(r, f, O_RDWR);
	registry_forget(r, f, 1);
	registry_free(r);
}
END_TEST

/* Our descriptor open on the directory at path (the registry's), or -1. */
static int fd_open_on(const char *path)
{
	char want[PATH_MAX], link[300], got[PATH_MAX];
	ck_assert_ptr_nonnull(realpath(path, want));
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	int found = -1;
	struct dirent *e;
	while (found < 0 && (e = readdir(d))) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, got, sizeof(got) - 1);
		if (n <= 0)
			continue;
		got[n] = '\0';
		if (!strcmp(got, want) && atoi(e->d_name) != dirfd(d))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* fsyncdir syncs the backing directory and returns its error: the
 * registry's descriptor for it is made, for a moment, one that cannot be
 * synced (a pipe: EINVAL). */
START_TEST(fsyncdir_syncs_backing_dir)
{
	ck_assert_int_eq(mkdir(bp("d"), 0755), 0);
	struct registry *r = reg_new();
	struct node *d = look(r, registry_root(r), "d", NULL);
	ck_assert_int_eq(registry_fsyncdir(r, d, 0), 0);
	ck_assert_int_eq(registry_fsyncdir(r, d, 1), 0);
	int fd = fd_open_on(bp("d")), saved = dup(fd), p[2];
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(dup2(p[1], fd), fd);
	int res = registry_fsyncdir(r, d, 0);
	int datasync_res = registry_fsyncdir(r, d, 1);
	ck_assert_int_eq(dup2(saved, fd), fd);
	close(saved);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(res, -EINVAL);
	ck_assert_int_eq(datasync_res, -EINVAL);
	ck_assert_ptr_nonnull(strstr(logged, "syncing directory inode "));
	ck_assert_int_eq(registry_fsyncdir(r, d, 0), 0);
	registry_forget(r, d, 1);
	registry_free(r);
}
END_TEST

static Suite *backing_suite(void)
{
	Suite *s = suite_create("backing");
	struct {
		const char *name;
		const TTest *tests[10];
	} groups[] = {
	    {"scan",
	     {scan_existing, scan_protect, scan_failure_cleans_up, exact_modes,
	      NULL}},
	    {"locks",
	     {two_registries_share_a_dir, locked_backing_file,
	      locked_backing_file_keeps_protect, free_releases_locks, NULL}},
	    {"mirror",
	     {mirror_namespace, mirror_attributes, xattr_refused_not_mirrored,
	      xattr_no_memory_not_mirrored, data_and_sync, read_only_registry,
	      fault_write_backing, fsyncdir_syncs_backing_dir,
	      kill_suid_sgid_failure_changes_nothing, NULL}},
	    {"boundary",
	     {boundary_symlinks, boundary_swapped_after_scan,
	      boundary_chmod_swapped_fifo, locked_file_swapped_for_fifo, NULL}},
	    {"races", {setattr_races_rename, NULL}},
	    {"revalidate",
	     {revalidate_takes_in_direct_changes, revalidate_listing,
	      create_opens_what_the_dir_holds, NULL}},
	    {"parked",
	     {parked_store, parked_store_by_name, parked_store_by_name_unlinked,
	      NULL}},
	};
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		TCase *tc = tcase_create(groups[g].name);
		tcase_set_timeout(tc, 30);
		tcase_add_unchecked_fixture(tc, top_setup, top_teardown);
		tcase_add_checked_fixture(tc, setup, teardown);
		for (const TTest *const *t = groups[g].tests; *t; t++)
			tcase_add_test(tc, *t);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return run_suite(backing_suite());
}
