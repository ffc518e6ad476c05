/*
 * Unit tests of failed name-making operations in the core (namespace.c,
 * data.c, residency.c): a create whose open fails after the name was made
 * (a store open failing with EMFILE, ENFILE, ENOSPC, EDQUOT or ENOMEM,
 * injected with registry_config.fault_open, or a real EMFILE at a low
 * RLIMIT_NOFILE) leaves no name, no node, no store and no backing file;
 * entries refused before the name leave nothing either; a file that was
 * in the backing directory before is never removed; a failed link makes
 * no name and a failed rename leaves both names as they were, their
 * backing files unlocked. No mount: the core is driven directly.
 */
#include "mount.h"
#include "registry.h"
#include "util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096u
#define MAXN 16

static const struct caller USER = {1000, 1000};

enum kind {
	MEMORY_STORE_DIR, /* stores are files in a directory (the daemon) */
	FILE_BACKED,
	MEMORY_MEMFD, /* stores are memfds, made with the entry */
};

/* Check forces file-static state on fixtures: the registry under test,
 * its kind, and its directories (TOP holds "store" and "backing"). */
static struct registry *R;
static enum kind KIND;
static char TOP[PATH_MAX];
static int store_dirfd = -1;

static char *top_path(const char *rel)
{
	static char buf[2][PATH_MAX + 64];
	static int i;
	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%.60s", TOP, rel);
	return buf[i];
}

static const char *backing(const char *rel)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "backing/%.60s", rel);
	return top_path(buf);
}

static void make_top(void)
{
	snprintf(TOP, sizeof(TOP), "%s/names-undo.XXXXXX", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(TOP));
	ck_assert_int_eq(mkdir(top_path("store"), 0700), 0);
	ck_assert_int_eq(mkdir(top_path("backing"), 0755), 0);
}

/* A registry of kind; with fault_open, its fault_open-th store open
 * fails with err; usrquota: each user holds at most 2 mappings. */
static void start(enum kind kind, unsigned fault_open, int err, int usrquota)
{
	make_top();
	KIND = kind;
	struct registry_config cfg = {
	    .capacity = 64 * PAGE,
	    .max_nodes = MAXN,
	    .root_mode = 01777,
	    .backing_dirfd = -1,
	    .sparse = 1,
	    .fault_open = fault_open,
	    .fault_open_err = err,
	    .quota = {.usr = usrquota, .usr_limit = {64 * PAGE, 2}},
	};
	if (kind == MEMORY_STORE_DIR) {
		store_dirfd = open(top_path("store"), O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(store_dirfd, 0);
		cfg.store_dirfd = store_dirfd;
	}
	if (kind == FILE_BACKED) {
		cfg.backing_dirfd =
		    open(top_path("backing"), O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(cfg.backing_dirfd, 0);
	}
	ck_assert_int_eq(registry_new(&cfg, &R), 0);
}

static void teardown(void)
{
	registry_free(R);
	R = NULL;
	if (store_dirfd >= 0)
		close(store_dirfd);
	store_dirfd = -1;
	tsh(30, "rm -rf '%s'", TOP);
}

static struct node *root(void)
{
	return registry_root(R);
}

static struct node *mkdir_(struct node *dir, const char *name)
{
	struct node *n = NULL;
	struct stat st;
	int res = registry_mkdir(R, dir, name, 0755, &USER, &n, &st);
	ck_assert_msg(res == 0, "mkdir %s: %s", name, strerror(-res));
	return n;
}

static int create(struct node *dir, const char *name, int flags,
		  struct node **out)
{
	struct stat st;
	return registry_create(R, dir, name, 0644, flags | O_CREAT, &USER, out,
			       &st);
}

/* How many entries a directory lists, "." and ".." aside. */
static size_t listed(struct node *dir)
{
	struct dir_snapshot *s = NULL;
	ck_assert_int_eq(registry_opendir(R, dir, &s), 0);
	size_t n = s->count - 2;
	registry_closedir(s);
	return n;
}

/* Files in a directory of the file system, "." and ".." aside. */
static int files_in(const char *path)
{
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static uint64_t entries_used(void)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(R, &sv), 0);
	return sv.f_files - sv.f_ffree;
}

/* What the root's user.shmap.quota says ("" with nothing charged). */
static const char *usage(void)
{
	static char buf[1024];
	size_t len = 0;
	ck_assert_int_eq(registry_getxattr(R, root(), "user.shmap.quota", buf,
					   sizeof(buf) - 1, &len),
			 0);
	buf[len] = '\0';
	return buf;
}

/* dir (named dirname in the root) holds nothing called name, anywhere. */
static void expect_gone(struct node *dir, const char *dirname, const char *name)
{
	struct node *n;
	struct stat st;
	ck_assert_int_eq(registry_lookup(R, dir, name, &n, &st), -ENOENT);
	ck_assert_uint_eq(listed(dir), 0);
	ck_assert_int_eq(registry_unlink(R, dir, name), -ENOENT);
	if (KIND == FILE_BACKED)
		ck_assert_int_eq(files_in(backing(dirname)), 0);
	if (KIND == MEMORY_STORE_DIR)
		ck_assert_int_eq(files_in(top_path("store")), 0);
}

/* Now the same name can be made, and then dir removed. */
static void expect_retry_works(struct node *dir, const char *dirname,
			       const char *name)
{
	struct node *n = NULL;
	ck_assert_int_eq(create(dir, name, O_RDWR, &n), 0);
	ck_assert_uint_eq(listed(dir), 1);
	registry_release(R, n, O_RDWR);
	registry_forget(R, n, 1);
	ck_assert_int_eq(registry_unlink(R, dir, name), 0);
	registry_forget(R, dir, 1);
	ck_assert_int_eq(registry_rmdir(R, root(), dirname), 0);
}

static const int ERRS[] = {EMFILE, ENFILE, ENOSPC, EDQUOT, ENOMEM};
#define NERRS ((int)(sizeof(ERRS) / sizeof(ERRS[0])))

/* Loop index i: the kind (store directory, file-backed) and the error. */
START_TEST(create_open_fails)
{
	int err = ERRS[_i % NERRS];
	start(_i < NERRS ? MEMORY_STORE_DIR : FILE_BACKED, 1, -err, _i < NERRS);
	struct node *d = mkdir_(root(), "d");
	uint64_t used = entries_used();
	struct node *n = NULL;
	int res = create(d, "n", O_RDWR | O_EXCL, &n);
	ck_assert_msg(res == -err, "create with a failing open: %s, want %s",
		      strerror(-res), strerror(err));
	expect_gone(d, "d", "n");
	if (KIND == MEMORY_STORE_DIR) {
		ck_assert_uint_eq(entries_used(), used);
		ck_assert_str_eq(usage(), "");
	}
	expect_retry_works(d, "d", "n");
}
END_TEST

/* The real thing: the process out of descriptors (RLIMIT_NOFILE 0). A
 * file-backed mkdir opens the directory it made. */
static int at_fd_limit(int (*op)(void))
{
	struct rlimit saved, none;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	none = saved;
	none.rlim_cur = 0;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &none), 0);
	int res = op();
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	return res;
}

static struct node *DIR_UNDER_TEST;

static int create_n(void)
{
	struct node *n;
	return create(DIR_UNDER_TEST, "n", O_RDWR, &n);
}

static int mkdir_n(void)
{
	struct node *n;
	struct stat st;
	return registry_mkdir(R, DIR_UNDER_TEST, "n", 0755, &USER, &n, &st);
}

START_TEST(create_at_fd_limit)
{
	start(_i == 0 ? MEMORY_STORE_DIR : FILE_BACKED, 0, 0, 0);
	DIR_UNDER_TEST = mkdir_(root(), "d");
	ck_assert_int_eq(at_fd_limit(create_n), -EMFILE);
	expect_gone(DIR_UNDER_TEST, "d", "n");
	if (KIND == FILE_BACKED) {
		ck_assert_int_eq(at_fd_limit(mkdir_n), -EMFILE);
		expect_gone(DIR_UNDER_TEST, "d", "n");
	}
	expect_retry_works(DIR_UNDER_TEST, "d", "n");
}
END_TEST

/* A file put in the backing directory behind the registry's back is
 * never removed by a create or mkdir of its name, failing or not: O_EXCL
 * refuses it, a plain O_CREAT opens it (here first meeting the injected
 * fault, then not). */
START_TEST(existing_backing_file_kept)
{
	start(FILE_BACKED, 1, -EMFILE, 0);
	ck_assert_int_eq(put_file(backing("x"), "before", 6, 0644), 0);
	struct node *n = NULL;
	ck_assert_int_eq(create(root(), "x", O_RDWR | O_EXCL, &n), -EEXIST);
	ck_assert_int_eq(create(root(), "x", O_RDWR, &n), -EMFILE);
	struct stat st;
	ck_assert_int_eq(registry_mkdir(R, root(), "x", 0755, &USER, &n, &st),
			 -EEXIST);
	char buf[16] = "";
	ck_assert_int_eq(get_file(backing("x"), buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "before", 6), 0);
	ck_assert_int_eq(create(root(), "x", O_RDWR, &n), 0);
	ck_assert_int_eq(registry_getattr(R, n, &st), 0);
	ck_assert_int_eq(st.st_size, 6);
	registry_release(R, n, O_RDWR);
	registry_forget(R, n, 1);
	ck_assert_int_eq(get_file(backing("x"), buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "before", 6), 0);
}
END_TEST

/* Refused before the name (nr_mappings, a user's mapping limit): nothing
 * left either. Loop index: the kind of memory store. */
START_TEST(refused_entries_leave_nothing)
{
	start(_i == 0 ? MEMORY_STORE_DIR : MEMORY_MEMFD, 0, 0, 1);
	struct node *d = mkdir_(root(), "d"), *n = NULL, *f[2];
	struct stat st;
	ck_assert_int_eq(create(root(), "f0", O_RDWR, &f[0]), 0);
	ck_assert_int_eq(create(root(), "f1", O_RDWR, &f[1]), 0);
	ck_assert_int_eq(create(d, "n", O_RDWR, &n), -EDQUOT);
	ck_assert_int_eq(
	    registry_mknod(R, d, "n", S_IFREG | 0644, 0, &USER, &n, &st),
	    -EDQUOT);
	ck_assert_int_eq(registry_lookup(R, d, "n", &n, &st), -ENOENT);
	ck_assert_uint_eq(listed(d), 0);
	/* Fill the entries up: every kind is refused. */
	char name[16];
	for (int i = 0; entries_used() < MAXN; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ck_assert_int_eq(
		    registry_symlink(R, root(), name, "t", &USER, &n, &st), 0);
	}
	ck_assert_int_eq(registry_mkdir(R, d, "n", 0755, &USER, &n, &st),
			 -ENOSPC);
	ck_assert_int_eq(registry_symlink(R, d, "n", "t", &USER, &n, &st),
			 -ENOSPC);
	ck_assert_int_eq(
	    registry_mknod(R, d, "n", S_IFIFO | 0644, 0, &USER, &n, &st),
	    -ENOSPC);
	ck_assert_int_eq(registry_lookup(R, d, "n", &n, &st), -ENOENT);
	ck_assert_uint_eq(listed(d), 0);
	ck_assert_uint_eq(entries_used(), MAXN);
	for (int i = 0; i < 2; i++)
		registry_release(R, f[i], O_RDWR);
}
END_TEST

/* file-backed: two mappings "a" and "b" with their data, idle, known to
 * the kernel (one lookup each). */
static void two_idle_mappings(struct node **a, struct node **b)
{
	start(FILE_BACKED, 0, 0, 0);
	struct node *n[2];
	const char *names[2] = {"a", "b"};
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(create(root(), names[i], O_RDWR, &n[i]), 0);
		ck_assert_int_eq(registry_write(R, n[i], names[i], 1, 0), 0);
		registry_release(R, n[i], O_RDWR);
	}
	*a = n[0];
	*b = n[1];
}

static void expect_named(const char *name, struct node *want)
{
	struct node *n = NULL;
	struct stat st;
	ck_assert_int_eq(registry_lookup(R, root(), name, &n, &st), 0);
	ck_assert_ptr_eq(n, want);
	registry_forget(R, n, 1);
}

/* A link whose backing link fails makes no name. */
START_TEST(failed_link_makes_no_name)
{
	struct node *a, *b;
	two_idle_mappings(&a, &b);
	ck_assert_int_eq(unlink(backing("a")), 0); /* behind our back */
	struct stat st;
	ck_assert_int_ne(registry_link(R, a, root(), "c", &st), 0);
	struct node *n;
	ck_assert_int_eq(registry_lookup(R, root(), "c", &n, &st), -ENOENT);
	ck_assert_int_ne(access(backing("c"), F_OK), 0);
	ck_assert_uint_eq(listed(root()), 2);
}
END_TEST

/* A rename over "b" that fails in the backing directory leaves both
 * names as they were, and b's backing file as it was: unlocked, since
 * nobody uses b. */
START_TEST(failed_rename_keeps_both)
{
	struct node *a, *b;
	two_idle_mappings(&a, &b);
	ck_assert_int_eq(rename(backing("a"), top_path("a-moved")), 0);
	ck_assert_int_ne(registry_rename(R, root(), "a", root(), "b", 0), 0);
	expect_named("a", a);
	expect_named("b", b);
	ck_assert_int_eq(flock_free(backing("b")), 1);
	char c = 0;
	ck_assert_int_eq(get_file(backing("b"), &c, 1), 1);
	ck_assert_int_eq(c, 'b');
	/* With its backing file back, the rename works. */
	ck_assert_int_eq(rename(top_path("a-moved"), backing("a")), 0);
	ck_assert_int_eq(registry_rename(R, root(), "a", root(), "b", 0), 0);
	expect_named("b", a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("names_undo");
	TCase *tc = tcase_create("undo");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, create_open_fails, 0, 2 * NERRS);
	tcase_add_loop_test(tc, create_at_fd_limit, 0, 2);
	tcase_add_test(tc, existing_backing_file_kept);
	tcase_add_loop_test(tc, refused_entries_leave_nothing, 0, 2);
	tcase_add_test(tc, failed_link_makes_no_name);
	tcase_add_test(tc, failed_rename_keeps_both);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
