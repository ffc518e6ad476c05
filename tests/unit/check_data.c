/*
 * Unit tests of the core registry, data: read and write, an empty write
 * past the end, open with O_TRUNC, and the fallocate modes. No mount: the
 * core is driven directly, on memory-backed registries unless a test says
 * otherwise; the fixture is registry_fixture.h.
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
#include <unistd.h>

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

/* A memory-backed directory has nothing below it to sync: fsyncdir
 * succeeds (check_backing tests a backing directory's). */
START_TEST(fsyncdir_memory_backed)
{
	struct node *d = mkdir_(R, root(), "d");
	ck_assert_int_eq(registry_fsyncdir(R, d, 0), 0);
	ck_assert_int_eq(registry_fsyncdir(R, d, 1), 0);
	ck_assert_int_eq(registry_fsyncdir(R, root(), 0), 0);
	registry_forget(R, d, 1);
}
END_TEST

int main(void)
{
	TCase *tc = registry_tcase("data", 30);
	tcase_add_test(tc, read_write);
	tcase_add_test(tc, empty_write_past_eof);
	tcase_add_test(tc, open_trunc);
	tcase_add_test(tc, fallocate_modes);
	tcase_add_test(tc, fsyncdir_memory_backed);
	return registry_run(tc);
}
