/*
 * The registry under test and the helpers the registry's unit tests share;
 * see registry_fixture.h.
 */
#include "registry_fixture.h"
#include "mount.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct caller ROOT = {0, 0};
const struct caller USER = {1000, 1000};
const struct caller OTHER = {2000, 2000};

struct registry *R;
char last_log[512];
char DIFF_TOP[64];

static void log_msg(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

struct registry *reg_new_with(uint64_t cap, uint64_t max_nodes,
			      unsigned fault_write, unsigned fault_resize)
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

struct node *root(void)
{
	return registry_root(R);
}

struct node *mkfile(struct registry *r, struct node *dir, const char *name)
{
	struct node *n = NULL;
	struct stat st;
	int res =
	    registry_mknod(r, dir, name, S_IFREG | 0644, 0, &USER, &n, &st);
	ck_assert_msg(res == 0, "mknod %s: %s", name, strerror(-res));
	ck_assert(S_ISREG(st.st_mode));
	return n;
}

struct node *mkdir_(struct registry *r, struct node *dir, const char *name)
{
	struct node *n = NULL;
	struct stat st;
	int res = registry_mkdir(r, dir, name, 0755, &USER, &n, &st);
	ck_assert_msg(res == 0, "mkdir %s: %s", name, strerror(-res));
	ck_assert(S_ISDIR(st.st_mode));
	return n;
}

int lookup(struct registry *r, struct node *dir, const char *name,
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

struct stat getattr(struct registry *r, struct node *n)
{
	struct stat st;
	ck_assert_int_eq(registry_getattr(r, n, &st), 0);
	return st;
}

struct statvfs statfs_(struct registry *r)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	return sv;
}

uint64_t nodes_used(struct registry *r)
{
	struct statvfs sv = statfs_(r);
	return sv.f_files - sv.f_ffree;
}

uint64_t bytes_free(struct registry *r)
{
	struct statvfs sv = statfs_(r);
	return (uint64_t)sv.f_bfree * sv.f_frsize;
}

void write_str(struct registry *r, struct node *n, const char *s, uint64_t off)
{
	ck_assert_int_eq(registry_write(r, n, s, strlen(s), off), 0);
}

void expect_data(struct registry *r, struct node *n, uint64_t off,
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

void expect_zeroes(struct registry *r, struct node *n, uint64_t off, size_t len)
{
	static const char zero[65536];
	expect_data(r, n, off, zero, len);
}

int rename_(const char *a, const char *b, unsigned flags)
{
	return registry_rename(R, root(), a, root(), b, flags);
}

void diff_tree(struct registry *r, struct node *dir, int kfd, const char *path)
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

/* Once per test case, in Check's parent process: a directory under
 * test_tmpdir() for the reference trees, removed even when a test fails. */
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

void diff_mkdtemp(char *out, size_t len, const char *what)
{
	snprintf(out, len, "%s/%s.XXXXXX", DIFF_TOP, what);
	ck_assert_ptr_nonnull(mkdtemp(out));
}

TCase *registry_tcase(const char *name, int timeout)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, timeout);
	tcase_add_unchecked_fixture(tc, diff_top_setup, diff_top_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	return tc;
}

int registry_run(TCase *tc)
{
	Suite *s = suite_create("registry");
	suite_add_tcase(s, tc);
	return run_suite(s);
}
