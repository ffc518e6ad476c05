/*
 * Unit tests of the core registry, node lifetimes and independence: two
 * registries side by side, lookup and open references, create-and-open,
 * registry_free() with everything still held. No mount: the core is driven
 * directly, on memory-backed registries unless a test says otherwise; the
 * fixture is registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

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

int main(void)
{
	TCase *tc = registry_tcase("lifetime", 30);
	tcase_add_test(tc, two_registries);
	tcase_add_test(tc, lifetime_lookup);
	tcase_add_test(tc, lifetime_open);
	tcase_add_test(tc, create_and_open);
	tcase_add_test(tc, free_with_references);
	return registry_run(tc);
}
