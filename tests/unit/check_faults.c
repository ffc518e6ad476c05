/*
 * Unit tests of the core registry, fault injection: every store's Nth
 * write or resize fails, and the core reports it and loses nothing. No
 * mount: the core is driven directly, on memory-backed registries unless a
 * test says otherwise; the fixture is registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

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

int main(void)
{
	TCase *tc = registry_tcase("faults", 30);
	tcase_add_test(tc, fault_write);
	tcase_add_test(tc, fault_resize);
	return registry_run(tc);
}
