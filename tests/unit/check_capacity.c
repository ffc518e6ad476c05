/*
 * Unit tests of the core registry, capacity and limits: ENOSPC at the
 * capacity, capacity given back, symlinks that take none, and the most
 * entries (max_nodes). No mount: the core is driven directly, on memory-
 * backed registries unless a test says otherwise; the fixture is
 * registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

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

int main(void)
{
	TCase *tc = registry_tcase("capacity", 30);
	tcase_add_test(tc, capacity_enospc);
	tcase_add_test(tc, capacity_released);
	tcase_add_test(tc, symlink_capacity);
	tcase_add_test(tc, max_nodes);
	return registry_run(tc);
}
