/*
 * Unit tests of the core registry, file flags: who may set them (by
 * capability, not by uid: the kernel checks the same before it asks, so a
 * mount test cannot tell whether the core does), which flags are kept,
 * and the daemon's own attribute that keeps them. The rules each flag
 * makes are compared with tmpfs by tests/mount/check_flags.c.
 */
#include "registry_fixture.h"

#include <check.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <stdint.h>

#define HAS(c) ((uint64_t)1 << (c))

static unsigned flags_of(struct node *n)
{
	unsigned flags = ~0u;
	ck_assert_int_eq(registry_getflags(R, n, &flags), 0);
	return flags;
}

START_TEST(owner_or_fowner_sets)
{
	struct node *f = mkfile(R, root(), "f"); /* USER's */
	ck_assert_int_eq(registry_setflags(R, f, &OTHER, 0, FS_NODUMP_FL),
			 -EPERM);
	/* uid 0 is not enough: the capability is. */
	ck_assert_int_eq(registry_setflags(R, f, &ROOT, 0, FS_NODUMP_FL),
			 -EPERM);
	ck_assert_int_eq(
	    registry_setflags(R, f, &OTHER, HAS(CAP_FOWNER), FS_NODUMP_FL), 0);
	ck_assert_uint_eq(flags_of(f), FS_NODUMP_FL);
	ck_assert_int_eq(registry_setflags(R, f, &USER, 0, FS_NOATIME_FL), 0);
	ck_assert_uint_eq(flags_of(f), FS_NOATIME_FL);
	registry_forget(R, f, 1);
}
END_TEST

START_TEST(immutable_and_append_need_the_capability)
{
	struct node *f = mkfile(R, root(), "f");
	const uint64_t all = HAS(CAP_FOWNER) | HAS(CAP_SYS_ADMIN);
	ck_assert_int_eq(registry_setflags(R, f, &USER, all, FS_IMMUTABLE_FL),
			 -EPERM);
	ck_assert_int_eq(registry_setflags(R, f, &USER, 0, FS_APPEND_FL),
			 -EPERM);
	ck_assert_int_eq(registry_setflags(R, f, &USER,
					   HAS(CAP_LINUX_IMMUTABLE),
					   FS_IMMUTABLE_FL),
			 0);
	/* The owner changes the others while immutable stays... */
	ck_assert_int_eq(
	    registry_setflags(R, f, &USER, 0, FS_IMMUTABLE_FL | FS_NODUMP_FL),
	    0);
	ck_assert_uint_eq(flags_of(f), FS_IMMUTABLE_FL | FS_NODUMP_FL);
	/* ...but does not take it away. */
	ck_assert_int_eq(registry_setflags(R, f, &USER, 0, FS_NODUMP_FL),
			 -EPERM);
	ck_assert_uint_eq(flags_of(f), FS_IMMUTABLE_FL | FS_NODUMP_FL);
	registry_forget(R, f, 1);
}
END_TEST

START_TEST(only_what_tmpfs_keeps)
{
	struct node *f = mkfile(R, root(), "f");
	const unsigned refused[] = {FS_SYNC_FL, FS_COMPR_FL, FS_DIRSYNC_FL,
				    FS_NOCOW_FL, FS_PROJINHERIT_FL};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_int_eq(registry_setflags(R, f, &USER, 0,
						   refused[i] | FS_NODUMP_FL),
				 -EOPNOTSUPP);
	ck_assert_uint_eq(flags_of(f), 0);
	struct node *l = NULL;
	struct stat st;
	ck_assert_int_eq(registry_symlink(R, root(), "l", "f", &USER, &l, &st),
			 0);
	unsigned flags;
	ck_assert_int_eq(registry_getflags(R, l, &flags), -ENOTTY);
	ck_assert_int_eq(registry_setflags(R, l, &USER, 0, 0), -ENOTTY);
	registry_forget(R, f, 1);
	registry_forget(R, l, 1);
}
END_TEST

/* The attribute a backing file keeps them in is the daemon's. */
START_TEST(their_attribute_is_reserved)
{
	struct node *f = mkfile(R, root(), "f");
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, SHMAP_XATTR_FLAGS, "i", 1, 0),
	    -EPERM);
	ck_assert_int_eq(registry_removexattr(R, f, &USER, SHMAP_XATTR_FLAGS),
			 -EPERM);
	ck_assert_uint_eq(flags_of(f), 0);
	registry_forget(R, f, 1);
}
END_TEST

int main(void)
{
	TCase *tc = registry_tcase("flags", 30);
	tcase_add_test(tc, owner_or_fowner_sets);
	tcase_add_test(tc, immutable_and_append_need_the_capability);
	tcase_add_test(tc, only_what_tmpfs_keeps);
	tcase_add_test(tc, their_attribute_is_reserved);
	return registry_run(tc);
}
