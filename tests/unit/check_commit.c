/*
 * Unit tests of sparse and committed mappings where the daemon counts the
 * capacity itself (a memory-backed registry with no tmpfs of its own): a
 * committed mapping holds its size, reserved before it grows; a sparse
 * one holds the pages its store has. user.shmap.commit switches between
 * them.
 */
#include "registry.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#define PAGE 4096u
#define CAP  (16 * PAGE)

static const struct caller OWNER = {1000, 1000};
static const struct caller OTHER = {1001, 1001};

static struct registry *reg_new(int sparse)
{
	struct registry_config cfg = {
	    .capacity = CAP,
	    .max_nodes = 64,
	    .root_mode = 01777,
	    .backing_dirfd = -1,
	    .sparse = sparse,
	};
	struct registry *r = NULL;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	return r;
}

static struct node *create(struct registry *r, const char *name)
{
	struct node *n = NULL;
	struct stat st;
	ck_assert_int_eq(registry_create(r, registry_root(r), name, 0644,
					 O_RDWR | O_CREAT, &OWNER, &n, &st),
			 0);
	return n;
}

static void drop(struct registry *r, struct node *n)
{
	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
}

static uint64_t used_pages(struct registry *r)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	return sv.f_blocks - sv.f_bfree;
}

static int resize(struct registry *r, struct node *n, uint64_t size)
{
	struct setattr_req q = {.valid = SET_SIZE, .size = size};
	struct stat st;
	return registry_setattr(r, n, &q, &st);
}

static int set_kind(struct registry *r, struct node *n, const struct caller *c,
		    const char *kind)
{
	return registry_setxattr(r, n, c, SHMAP_XATTR_COMMIT, kind,
				 strlen(kind), 0);
}

static const char *kind(struct registry *r, struct node *n)
{
	static char buf[32];
	size_t len = 0;
	ck_assert_int_eq(registry_getxattr(r, n, SHMAP_XATTR_COMMIT, buf,
					   sizeof(buf) - 1, &len),
			 0);
	buf[len] = '\0';
	return buf;
}

/* A sparse mapping far past the capacity holds only the pages stored;
 * stores past the capacity are refused, rewrites of its pages are not. */
START_TEST(sparse_counts_pages)
{
	struct registry *r = reg_new(1);
	struct node *n = create(r, "s");
	ck_assert_str_eq(kind(r, n), "sparse");
	ck_assert_int_eq(resize(r, n, 1ULL << 40), 0);
	ck_assert_uint_eq(used_pages(r), 0);
	char page[PAGE];
	memset(page, 's', sizeof(page));
	for (unsigned i = 0; i < 16; i++)
		ck_assert_int_eq(
		    registry_write(r, n, page, PAGE, (uint64_t)i * 1000 * PAGE),
		    0);
	ck_assert_uint_eq(used_pages(r), 16);
	ck_assert_int_eq(registry_write(r, n, page, PAGE, 7777 * PAGE),
			 -ENOSPC);
	ck_assert_int_eq(registry_write(r, n, "again", 5, 3000 * PAGE), 0);
	ck_assert_uint_eq(used_pages(r), 16);
	/* Punching and shrinking give pages back. */
	ck_assert_int_eq(
	    registry_fallocate(r, n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, PAGE),
	    0);
	ck_assert_uint_eq(used_pages(r), 15);
	ck_assert_int_eq(resize(r, n, 8000 * PAGE), 0);
	ck_assert_uint_eq(used_pages(r), 7);
	drop(r, n);
	ck_assert_int_eq(registry_unlink(r, registry_root(r), "s"), 0);
	ck_assert_uint_eq(used_pages(r), 0);
	registry_free(r);
}
END_TEST

/* A store over pages the mapping has and pages it lacks takes only the
 * pages it lacks: with one page free, two pages over the last stored page
 * and the next fit; three over two new pages do not, and change nothing. */
START_TEST(sparse_takes_only_new_pages)
{
	struct registry *r = reg_new(1);
	struct node *n = create(r, "s");
	char buf[3 * PAGE];
	memset(buf, 'p', sizeof(buf));
	for (unsigned i = 0; i < 15; i++)
		ck_assert_int_eq(registry_write(r, n, buf, PAGE, i * PAGE), 0);
	ck_assert_uint_eq(used_pages(r), 15);
	ck_assert_int_eq(registry_write(r, n, buf, 2 * PAGE, 14 * PAGE), 0);
	ck_assert_uint_eq(used_pages(r), 16);
	ck_assert_int_eq(registry_write(r, n, buf, 3 * PAGE, 15 * PAGE),
			 -ENOSPC);
	ck_assert_uint_eq(used_pages(r), 16);
	/* Unaligned, from the middle of a stored page into a hole. */
	ck_assert_int_eq(
	    registry_fallocate(r, n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       3 * PAGE, PAGE),
	    0);
	ck_assert_int_eq(registry_write(r, n, buf, PAGE, 2 * PAGE + 100), 0);
	ck_assert_uint_eq(used_pages(r), 16);
	drop(r, n);
	registry_free(r);
}
END_TEST

/* Committing reserves the whole size, or fails and changes nothing;
 * a committed mapping cannot grow past the capacity. */
START_TEST(commit_reserves_size)
{
	struct registry *r = reg_new(1);
	struct node *a = create(r, "a"), *b = create(r, "b");
	ck_assert_int_eq(resize(r, a, 10 * PAGE), 0);
	ck_assert_int_eq(registry_write(r, a, "x", 1, 0), 0);
	ck_assert_uint_eq(used_pages(r), 1);
	ck_assert_int_eq(set_kind(r, a, &OWNER, "committed"), 0);
	ck_assert_str_eq(kind(r, a), "committed");
	ck_assert_uint_eq(used_pages(r), 10);
	ck_assert_int_eq(resize(r, a, 17 * PAGE), -ENOSPC);
	ck_assert_int_eq(resize(r, b, 7 * PAGE), 0);
	ck_assert_int_eq(set_kind(r, b, &OWNER, "committed"), -ENOSPC);
	ck_assert_str_eq(kind(r, b), "sparse");
	ck_assert_uint_eq(used_pages(r), 10);
	/* Back to sparse: it holds what its store has, all of it here. */
	ck_assert_int_eq(set_kind(r, a, &OWNER, "sparse"), 0);
	ck_assert_uint_eq(used_pages(r), 10);
	ck_assert_int_eq(resize(r, a, PAGE), 0);
	ck_assert_uint_eq(used_pages(r), 1);
	ck_assert_int_eq(set_kind(r, b, &OWNER, "committed"), 0);
	ck_assert_uint_eq(used_pages(r), 8);
	drop(r, a);
	drop(r, b);
	registry_free(r);
}
END_TEST

/* The attribute: who may set it, what it takes, and its default. */
START_TEST(attribute_rules)
{
	struct registry *r = reg_new(0);
	struct node *n = create(r, "c");
	ck_assert_str_eq(kind(r, n), "committed");
	ck_assert_int_eq(set_kind(r, n, &OTHER, "sparse"), -EPERM);
	ck_assert_int_eq(set_kind(r, n, &OWNER, "reserve"), -EINVAL);
	ck_assert_int_eq(registry_setxattr(r, n, &OWNER, SHMAP_XATTR_COMMIT,
					   "sparse\n", 7, 0),
			 0);
	ck_assert_str_eq(kind(r, n), "sparse");
	ck_assert_int_eq(registry_setxattr(r, n, &OWNER, SHMAP_XATTR_COMMIT,
					   "sparse", 6, XATTR_CREATE),
			 -EEXIST);
	ck_assert_int_eq(registry_removexattr(r, n, &OWNER, SHMAP_XATTR_COMMIT),
			 0);
	ck_assert_str_eq(kind(r, n), "committed");
	drop(r, n);
	registry_free(r);
}
END_TEST

static Suite *commit_suite(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("commit");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, sparse_counts_pages);
	tcase_add_test(tc, sparse_takes_only_new_pages);
	tcase_add_test(tc, commit_reserves_size);
	tcase_add_test(tc, attribute_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(commit_suite());
}
