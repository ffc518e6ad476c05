/*
 * Unit tests of the calls that shmapfs answers as tmpfs does (issue 21),
 * on a memory-backed registry: SEEK_DATA / SEEK_HOLE from the store
 * (holes.c), and rename with RENAME_WHITEOUT (whiteout.c).
 */
#include "registry.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PAGE 4096u
#define MB   (1u << 20)

static const struct caller OWNER = {1000, 1000};

static struct registry *reg_new(void)
{
	struct registry_config cfg = {
	    .capacity = 64 * MB,
	    .max_nodes = 64,
	    .root_mode = 01777,
	    .backing_dirfd = -1,
	    .sparse = 1,
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

/* The answer, or -errno. */
static long long seek(struct registry *r, struct node *n, uint64_t off,
		      int whence)
{
	uint64_t out = 0;
	int res = registry_seek_data(r, n, off, whence, &out);
	return res < 0 ? res : (long long)out;
}

/* One byte at 1 MiB: data there, a hole before and after it, nothing past
 * the end; as on tmpfs. */
START_TEST(seek_one_byte)
{
	struct registry *r = reg_new();
	struct node *n = create(r, "f");
	ck_assert_int_eq(seek(r, n, 0, SEEK_DATA), -ENXIO); /* empty */
	ck_assert_int_eq(registry_write(r, n, "x", 1, MB), 0);
	ck_assert_int_eq(seek(r, n, 0, SEEK_DATA), MB);
	ck_assert_int_eq(seek(r, n, 0, SEEK_HOLE), 0);
	ck_assert_int_eq(seek(r, n, MB, SEEK_DATA), MB);
	ck_assert_int_eq(seek(r, n, MB, SEEK_HOLE), MB + 1);
	ck_assert_int_eq(seek(r, n, MB + 1, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(seek(r, n, MB + 1, SEEK_HOLE), -ENXIO);
	ck_assert_int_eq(seek(r, n, 0, SEEK_SET), -EINVAL);
	/* Grown past the byte: its page is data, the rest a hole to the new
	 * end. */
	struct setattr_req q = {.valid = SET_SIZE, .size = 4 * MB};
	struct stat st;
	ck_assert_int_eq(registry_setattr(r, n, &q, &st), 0);
	ck_assert_int_eq(seek(r, n, MB + 1, SEEK_DATA), MB + 1);
	ck_assert_int_eq(seek(r, n, MB + PAGE, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(seek(r, n, MB, SEEK_HOLE), MB + PAGE);
	ck_assert_int_eq(seek(r, n, 4 * MB - 1, SEEK_HOLE), 4 * MB - 1);
	/* A punch past the end takes the page whole, as tmpfs's does. */
	ck_assert_int_eq(registry_write(r, n, "y", 1, 4 * MB - PAGE), 0);
	q.size = 4 * MB - 100; /* the last page partly in the file */
	ck_assert_int_eq(registry_setattr(r, n, &q, &st), 0);
	ck_assert_int_eq(seek(r, n, 2 * MB, SEEK_DATA), 4 * MB - PAGE);
	ck_assert_int_eq(
	    registry_fallocate(r, n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       4 * MB - PAGE, 2 * PAGE),
	    0);
	ck_assert_int_eq(seek(r, n, 2 * MB, SEEK_DATA), -ENXIO);
	drop(r, n);
	registry_free(r);
}
END_TEST

/* The rename happens and a whiteout (0:0, the caller's) takes the old
 * name. */
START_TEST(rename_leaves_whiteout)
{
	struct registry *r = reg_new();
	struct node *root = registry_root(r);
	drop(r, create(r, "a"));
	const struct caller c = {0, 0};
	ck_assert_int_eq(registry_rename_whiteout(r, root, "a", root, "b",
						  RENAME_EXCHANGE, &c),
			 -EINVAL);
	ck_assert_int_eq(
	    registry_rename_whiteout(r, root, "a", root, "b", 0, &c), 0);
	struct node *w = NULL, *b = NULL;
	struct stat st;
	ck_assert_int_eq(registry_lookup(r, root, "a", &w, &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(0, 0));
	ck_assert_uint_eq(st.st_uid, 0);
	registry_forget(r, w, 1);
	ck_assert_int_eq(registry_lookup(r, root, "b", &b, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	registry_forget(r, b, 1);
	/* Nothing to rename: no whiteout either. */
	ck_assert_int_eq(
	    registry_rename_whiteout(r, root, "none", root, "c", 0, &c),
	    -ENOENT);
	ck_assert_int_eq(registry_lookup(r, root, "none", &w, &st), -ENOENT);
	registry_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tmpfs_calls");
	TCase *tc = tcase_create("tmpfs_calls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, seek_one_byte);
	tcase_add_test(tc, rename_leaves_whiteout);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
