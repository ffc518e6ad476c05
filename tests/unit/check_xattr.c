/*
 * Unit tests of the core registry, protection (user.shmap.protect) and its
 * names, and user.* extended attributes with their limits. No mount: the
 * core is driven directly, on memory-backed registries unless a test says
 * otherwise; the fixture is registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <linux/limits.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static int set_protect(struct node *n, const struct caller *c, const char *v)
{
	return registry_setxattr(R, n, c, SHMAP_XATTR_PROTECT, v, strlen(v), 0);
}

static void expect_protect(struct node *n, const char *want)
{
	char buf[64];
	size_t len = 0;
	ck_assert_int_eq(registry_getxattr(R, n, SHMAP_XATTR_PROTECT, buf,
					   sizeof(buf), &len),
			 0);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert(memcmp(buf, want, len) == 0);
}

START_TEST(protection)
{
	struct node *f = mkfile(R, root(), "f");
	write_str(R, f, "data", 0);
	expect_protect(f, "readwrite");
	ck_assert_int_eq(set_protect(f, &OTHER, "readonly"), -EPERM);
	expect_protect(f, "readwrite");
	ck_assert_int_eq(set_protect(f, &USER, "bogus"), -EINVAL);
	ck_assert_int_eq(set_protect(f, &USER, "readonlyx"), -EINVAL);
	ck_assert_int_eq(set_protect(f, &USER, ""), -EINVAL);
	expect_protect(f, "readwrite");
	/* A handle opened before the change keeps its access. */
	ck_assert_int_eq(registry_open(R, f, O_RDWR), 0);
	ck_assert_int_eq(set_protect(f, &USER, "readonly"), 0);
	expect_protect(f, "readonly");
	write_str(R, f, "DATA", 0);
	registry_release(R, f, O_RDWR);
	/* Later opens for writing are refused; the caller does not matter. */
	ck_assert_int_eq(registry_open(R, f, O_RDWR), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY | O_TRUNC), -EACCES);
	struct node *g;
	struct stat st;
	ck_assert_int_eq(registry_create(R, root(), "f", 0644, O_RDWR | O_CREAT,
					 &ROOT, &g, &st),
			 -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_RDONLY), 0);
	registry_release(R, f, O_RDONLY);
	expect_data(R, f, 0, "DATA", 4);
	/* No truncate or fallocate either. */
	struct setattr_req q = {.valid = SET_SIZE, .size = 0};
	ck_assert_int_eq(registry_setattr(R, f, &q, &st), -EACCES);
	ck_assert_int_eq(registry_fallocate(R, f, 0, 0, 10), -EACCES);
	expect_data(R, f, 0, "DATA", 4);
	/* writecopy: the same for writers; a trailing newline is fine. */
	ck_assert_int_eq(set_protect(f, &ROOT, "writecopy\n"), 0);
	expect_protect(f, "writecopy");
	ck_assert_int_eq(registry_open(R, f, O_RDWR), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY), -EACCES);
	ck_assert_int_eq(registry_open(R, f, O_RDONLY), 0);
	registry_release(R, f, O_RDONLY);
	/* Listed with the other attributes. */
	char list[256];
	size_t len;
	ck_assert_int_eq(registry_listxattr(R, f, list, sizeof(list), &len), 0);
	ck_assert_uint_eq(len, sizeof(SHMAP_XATTR_PROTECT));
	ck_assert_str_eq(list, SHMAP_XATTR_PROTECT);
	/* Removing it resets it, for the owner or root only. */
	ck_assert_int_eq(
	    registry_removexattr(R, f, &OTHER, SHMAP_XATTR_PROTECT), -EPERM);
	ck_assert_int_eq(registry_removexattr(R, f, &USER, SHMAP_XATTR_PROTECT),
			 0);
	expect_protect(f, "readwrite");
	ck_assert_int_eq(registry_open(R, f, O_RDWR), 0);
	registry_release(R, f, O_RDWR);
	/* readwrite can be set explicitly too. */
	ck_assert_int_eq(set_protect(f, &USER, "readonly"), 0);
	ck_assert_int_eq(set_protect(f, &USER, "readwrite"), 0);
	ck_assert_int_eq(registry_open(R, f, O_WRONLY), 0);
	registry_release(R, f, O_WRONLY);
	registry_forget(R, f, 1);
}
END_TEST

START_TEST(protect_names)
{
	enum shmap_protect p = SHMAP_PROTECT_WRITECOPY;
	ck_assert_int_eq(protect_parse("readwrite", 9, &p), 0);
	ck_assert_int_eq(p, SHMAP_PROTECT_READWRITE);
	ck_assert_int_eq(protect_parse("readonly\n", 9, &p), 0);
	ck_assert_int_eq(p, SHMAP_PROTECT_READONLY);
	ck_assert_int_eq(protect_parse("writecopy", 10, &p), 0); /* + NUL */
	ck_assert_int_eq(p, SHMAP_PROTECT_WRITECOPY);
	/* Only the length given counts. */
	ck_assert_int_eq(protect_parse("readonlyXYZ", 8, &p), 0);
	ck_assert_int_eq(p, SHMAP_PROTECT_READONLY);
	static const char *const bad[] = {"",	       "READONLY",  "read",
					  " readonly", "readonly ", "readonlyx",
					  "rw"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(protect_parse(bad[i], strlen(bad[i]), &p) ==
				  -EINVAL,
			      "'%s' accepted", bad[i]);
	ck_assert_str_eq(protect_name(SHMAP_PROTECT_READWRITE), "readwrite");
	ck_assert_str_eq(protect_name(SHMAP_PROTECT_READONLY), "readonly");
	ck_assert_str_eq(protect_name(SHMAP_PROTECT_WRITECOPY), "writecopy");
}
END_TEST

START_TEST(xattrs)
{
	struct node *f = mkfile(R, root(), "f");
	struct node *d = mkdir_(R, root(), "d");
	char buf[256];
	size_t len = 0;
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "one", 3, XATTR_REPLACE),
	    -ENODATA);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "one", 3, XATTR_CREATE),
	    0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "two", 3, XATTR_CREATE),
	    -EEXIST);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.a", "three", 5, XATTR_REPLACE),
	    0);
	ck_assert_int_eq(registry_setxattr(R, f, &USER, "user.b", "", 0, 0), 0);
	/* Size query, too small a buffer, a fitting one. */
	ck_assert_int_eq(registry_getxattr(R, f, "user.a", NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(registry_getxattr(R, f, "user.a", buf, 4, &len),
			 -ERANGE);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.a", buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(buf, "three", 5) == 0);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.b", buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.none", buf, sizeof(buf), &len),
	    -ENODATA);
	/* The list: protection first, then ours in order. */
	static const char want[] = SHMAP_XATTR_PROTECT "\0user.a\0user.b";
	ck_assert_int_eq(registry_listxattr(R, f, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert_int_eq(registry_listxattr(R, f, buf, 10, &len), -ERANGE);
	ck_assert_int_eq(registry_listxattr(R, f, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert(memcmp(buf, want, sizeof(want)) == 0);
	/* security.* and trusted.* are stored as on tmpfs; trusted.* names
	 * are listed only for the privileged. */
	ck_assert_int_eq(registry_setxattr(R, f, &ROOT, "trusted.t", "1", 1, 0),
			 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &ROOT, "security.s", "2", 1, 0), 0);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "trusted.t", buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 1);
	static const char all[] =
	    SHMAP_XATTR_PROTECT "\0user.a\0user.b\0trusted.t\0security.s";
	ck_assert_int_eq(registry_listxattr(R, f, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(all));
	ck_assert(memcmp(buf, all, sizeof(all)) == 0);
	static const char seen[] =
	    SHMAP_XATTR_PROTECT "\0user.a\0user.b\0security.s";
	int hidden = 0;
	ck_assert_int_eq(
	    registry_listxattr_for(R, f, 0, buf, sizeof(buf), &len, &hidden),
	    0);
	ck_assert_int_eq(hidden, 1);
	ck_assert_uint_eq(len, sizeof(seen));
	ck_assert(memcmp(buf, seen, sizeof(seen)) == 0);
	ck_assert_int_eq(registry_removexattr(R, f, &ROOT, "trusted.t"), 0);
	ck_assert_int_eq(registry_removexattr(R, f, &ROOT, "security.s"), 0);
	/* Other namespaces are not ours. */
	static const char *const foreign[] = {"system.x", "x", "USER.x",
					      "trust.x", "osx.x"};
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(
		    registry_setxattr(R, f, &ROOT, foreign[i], "v", 1, 0),
		    -EOPNOTSUPP);
		ck_assert_int_eq(registry_removexattr(R, f, &ROOT, foreign[i]),
				 -EOPNOTSUPP);
	}
	/* Directories carry user attributes but no protection. */
	ck_assert_int_eq(registry_setxattr(R, d, &USER, "user.dir", "v", 1, 0),
			 0);
	ck_assert_int_eq(registry_listxattr(R, d, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof("user.dir"));
	ck_assert_str_eq(buf, "user.dir");
	/* Symlinks carry none, as on Linux. */
	struct node *l;
	struct stat st;
	ck_assert_int_eq(registry_symlink(R, root(), "l", "f", &USER, &l, &st),
			 0);
	ck_assert_int_eq(registry_setxattr(R, l, &USER, "user.x", "v", 1, 0),
			 -EPERM);
	/* Remove. */
	ck_assert_int_eq(registry_removexattr(R, f, &USER, "user.a"), 0);
	ck_assert_int_eq(registry_removexattr(R, f, &USER, "user.a"), -ENODATA);
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.a", buf, sizeof(buf), &len),
	    -ENODATA);
	ck_assert_int_eq(registry_listxattr(R, f, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(SHMAP_XATTR_PROTECT "\0user.b"));
	registry_forget(R, f, 1);
	registry_forget(R, d, 1);
	registry_forget(R, l, 1);
}
END_TEST

START_TEST(xattr_limits)
{
	struct node *f = mkfile(R, root(), "f");
	static char big[70000];
	memset(big, 'v', sizeof(big));
	ck_assert_int_eq(registry_setxattr(R, f, &USER, "user.big", big,
					   XATTR_SIZE_MAX + 1, 0),
			 -E2BIG);
	/* Names and values of one node share 64 KiB. */
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.big", big, 60000, 0), 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.more", big, 6000, 0), -ENOSPC);
	size_t len;
	char buf[64];
	ck_assert_int_eq(
	    registry_getxattr(R, f, "user.more", buf, sizeof(buf), &len),
	    -ENODATA);
	ck_assert_int_eq(registry_getxattr(R, f, "user.big", NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 60000);
	/* Replacing counts the old value out. */
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.big", big, 65000, 0), 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.big", big, 100, 0), 0);
	ck_assert_int_eq(
	    registry_setxattr(R, f, &USER, "user.more", big, 6000, 0), 0);
	/* Names past XATTR_NAME_MAX are refused. */
	char name[300] = "user.";
	memset(name + 5, 'n', 260);
	name[265] = '\0';
	ck_assert_int_lt(registry_setxattr(R, f, &USER, name, "v", 1, 0), 0);
	registry_forget(R, f, 1);
}
END_TEST

int main(void)
{
	TCase *tc = registry_tcase("xattr", 30);
	tcase_add_test(tc, protection);
	tcase_add_test(tc, protect_names);
	tcase_add_test(tc, xattrs);
	tcase_add_test(tc, xattr_limits);
	return registry_run(tc);
}
