/*
 * Unit tests of the calls that shmapfs answers as tmpfs does (issue 21),
 * on a memory-backed registry: SEEK_DATA / SEEK_HOLE from the store
 * (holes.c), rename with RENAME_WHITEOUT (whiteout.c), and unnamed
 * mappings for O_TMPFILE (tmpfile.c).
 */
#include "registry.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <string.h>
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

static struct node *tmpfile(struct registry *r, int flags, struct stat *st)
{
	struct node *n = NULL;
	ck_assert_int_eq(registry_tmpfile(r, registry_root(r), 0640,
					  O_RDWR | O_TMPFILE | flags, &OWNER,
					  &n, st),
			 0);
	return n;
}

static uint64_t used_bytes(struct registry *r)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	return (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

static uint64_t used_nodes(struct registry *r)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	return sv.f_files - sv.f_ffree;
}

/* An unnamed mapping: no name, nlink 0, the caller's; link names it once,
 * with its data; a second name is an ordinary link. */
START_TEST(tmpfile_named_by_link)
{
	struct registry *r = reg_new();
	struct node *root = registry_root(r);
	struct stat st;
	struct node *n = tmpfile(r, 0, &st);
	ck_assert_int_eq(st.st_nlink, 0);
	ck_assert_int_eq(st.st_mode, S_IFREG | 0640);
	ck_assert_int_eq(st.st_uid, OWNER.uid);
	struct dir_snapshot *snap;
	ck_assert_int_eq(registry_opendir(r, root, &snap), 0);
	ck_assert_int_eq(snap->count, 2); /* "." and ".." */
	registry_closedir(snap);
	ck_assert_int_eq(registry_write(r, n, "data", 4, 0), 0);
	ck_assert_int_eq(registry_link(r, n, root, "a", &st), 0);
	ck_assert_int_eq(st.st_nlink, 1);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(registry_link(r, n, root, "b", &st), 0);
	ck_assert_int_eq(st.st_nlink, 2);
	drop(r, n);
	registry_forget(r, n, 2); /* the two links' references */
	struct node *a = NULL;
	ck_assert_int_eq(registry_lookup(r, root, "a", &a, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	char buf[4];
	size_t got = 0;
	ck_assert_int_eq(registry_open(r, a, O_RDONLY), 0);
	ck_assert_int_eq(registry_read(r, a, buf, 4, 0, &got), 0);
	ck_assert_int_eq(got, 4);
	ck_assert_int_eq(memcmp(buf, "data", 4), 0);
	registry_release(r, a, O_RDONLY);
	/* Unnamed again, it takes no name back (tmpfs: ENOENT). */
	ck_assert_int_eq(registry_unlink(r, root, "a"), 0);
	ck_assert_int_eq(registry_unlink(r, root, "b"), 0);
	ck_assert_int_eq(registry_link(r, a, root, "c", &st), -ENOENT);
	registry_forget(r, a, 1);
	registry_free(r);
}
END_TEST

/* With O_EXCL it never takes a name. */
START_TEST(tmpfile_excl_takes_no_name)
{
	struct registry *r = reg_new();
	struct stat st;
	struct node *n = tmpfile(r, O_EXCL, &st);
	ck_assert_int_eq(registry_link(r, n, registry_root(r), "a", &st),
			 -ENOENT);
	struct node *a = NULL;
	ck_assert_int_eq(registry_lookup(r, registry_root(r), "a", &a, &st),
			 -ENOENT);
	drop(r, n);
	registry_free(r);
}
END_TEST

/* Never named, it goes after its release and forget, and gives back what
 * it held: its entry and its pages. */
START_TEST(tmpfile_freed_unnamed)
{
	struct registry *r = reg_new();
	uint64_t bytes = used_bytes(r), nodes = used_nodes(r);
	struct stat st;
	struct node *n = tmpfile(r, 0, &st);
	static char page[4 * PAGE];
	ck_assert_int_eq(registry_write(r, n, page, sizeof(page), 0), 0);
	ck_assert_uint_eq(used_bytes(r), bytes + sizeof(page));
	ck_assert_uint_eq(used_nodes(r), nodes + 1);
	registry_release(r, n, O_RDWR);
	ck_assert_uint_eq(used_nodes(r), nodes + 1); /* the kernel knows it */
	registry_forget(r, n, 1);
	ck_assert_uint_eq(used_bytes(r), bytes);
	ck_assert_uint_eq(used_nodes(r), nodes);
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
	tcase_add_test(tc, tmpfile_named_by_link);
	tcase_add_test(tc, tmpfile_excl_takes_no_name);
	tcase_add_test(tc, tmpfile_freed_unnamed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
