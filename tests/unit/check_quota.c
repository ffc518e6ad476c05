/*
 * Unit tests of per-user and per-group quotas in the core (fs/core/
 * quota.c): each id's bytes and mappings, counted with the capacity at
 * every change, EDQUOT before a change past a limit and nothing changed,
 * root never limited, chown moving the usage, and the text of
 * user.shmap.quota.
 */
#include "registry.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#define PAGE 4096u

static const struct caller ROOT = {0, 0};
static const struct caller ALICE = {1000, 100};
static const struct caller BOB = {1001, 100};

/* 64 pages of capacity; per user 4 pages and 2 mappings, per group 6
 * pages and 3 mappings. */
static struct registry *reg_new(int usr, int grp)
{
	struct registry_config cfg = {
	    .capacity = 64 * PAGE,
	    .max_nodes = 64,
	    .root_mode = 01777,
	    .backing_dirfd = -1,
	    .sparse = 1,
	    .quota = {.usr = usr,
		      .grp = grp,
		      .usr_limit = {4 * PAGE, 2},
		      .grp_limit = {6 * PAGE, 3}},
	};
	struct registry *r = NULL;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	return r;
}

static int create(struct registry *r, const char *name, const struct caller *c,
		  struct node **n)
{
	struct stat st;
	return registry_create(r, registry_root(r), name, 0644,
			       O_RDWR | O_CREAT, c, n, &st);
}

static struct node *created(struct registry *r, const char *name,
			    const struct caller *c)
{
	struct node *n = NULL;
	ck_assert_int_eq(create(r, name, c, &n), 0);
	return n;
}

static void remove_mapping(struct registry *r, struct node *n, const char *name)
{
	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
	ck_assert_int_eq(registry_unlink(r, registry_root(r), name), 0);
}

static const char *usage(struct registry *r)
{
	static char buf[1024];
	size_t len = 0;
	ck_assert_int_eq(registry_getxattr(r, registry_root(r),
					   SHMAP_XATTR_QUOTA, buf,
					   sizeof(buf) - 1, &len),
			 0);
	buf[len] = '\0';
	return buf;
}

static uint64_t used_pages(struct registry *r)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	return sv.f_blocks - sv.f_bfree;
}

static int setattr(struct registry *r, struct node *n, unsigned valid,
		   uint64_t size, uid_t uid, gid_t gid)
{
	struct setattr_req q = {
	    .valid = valid, .size = size, .uid = uid, .gid = gid};
	struct stat st;
	return registry_setattr(r, n, &q, &st);
}

static char page[PAGE];

/* Writes fill a user's bytes to the page; the next is refused and
 * changes nothing; another user still writes. */
START_TEST(bytes_per_user)
{
	struct registry *r = reg_new(1, 0);
	struct node *a = created(r, "a", &ALICE), *b = created(r, "b", &BOB);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(registry_write(r, a, page, PAGE, i * PAGE), 0);
	ck_assert_int_eq(registry_write(r, a, page, 1, 4 * PAGE), -EDQUOT);
	ck_assert_int_eq(registry_fallocate(r, a, 0, 4 * PAGE, PAGE), -EDQUOT);
	ck_assert_int_eq(registry_write(r, a, "re", 2, PAGE), 0);
	ck_assert_int_eq(registry_write(r, b, page, PAGE, 1000 * PAGE), 0);
	ck_assert_str_eq(usage(r), "user 1000 16384 1\nuser 1001 4096 1\n");
	ck_assert_uint_eq(used_pages(r), 5);
	/* A punched hole gives its page back. */
	ck_assert_int_eq(
	    registry_fallocate(r, a, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, PAGE),
	    0);
	ck_assert_str_eq(usage(r), "user 1000 12288 1\nuser 1001 4096 1\n");
	remove_mapping(r, a, "a");
	remove_mapping(r, b, "b");
	ck_assert_str_eq(usage(r), "");
	ck_assert_uint_eq(used_pages(r), 0);
	registry_free(r);
}
END_TEST

/* A committed mapping is charged its size as it grows; committing a
 * sparse one charges the whole size, or fails and stays sparse. */
START_TEST(committed_size)
{
	struct registry *r = reg_new(1, 0);
	struct node *a = created(r, "a", &ALICE);
	ck_assert_int_eq(setattr(r, a, SET_SIZE, 5 * PAGE, 0, 0), 0);
	ck_assert_str_eq(usage(r), "user 1000 0 1\n");
	ck_assert_int_eq(registry_setxattr(r, a, &ALICE, SHMAP_XATTR_COMMIT,
					   "committed", 9, 0),
			 -EDQUOT);
	ck_assert_int_eq(setattr(r, a, SET_SIZE, 3 * PAGE + 1, 0, 0), 0);
	ck_assert_int_eq(registry_setxattr(r, a, &ALICE, SHMAP_XATTR_COMMIT,
					   "committed", 9, 0),
			 0);
	ck_assert_str_eq(usage(r), "user 1000 16384 1\n");
	ck_assert_int_eq(setattr(r, a, SET_SIZE, 4 * PAGE + 1, 0, 0), -EDQUOT);
	ck_assert_int_eq(setattr(r, a, SET_SIZE, PAGE, 0, 0), 0);
	ck_assert_str_eq(usage(r), "user 1000 4096 1\n");
	ck_assert_uint_eq(used_pages(r), 1);
	remove_mapping(r, a, "a");
	ck_assert_str_eq(usage(r), "");
	registry_free(r);
}
END_TEST

/* Mappings per user and per group; names and directories are not
 * mappings; root creates any number. */
START_TEST(mappings)
{
	struct registry *r = reg_new(1, 1);
	struct node *n[4], *x = NULL, *d = NULL;
	struct stat st;
	n[0] = created(r, "a1", &ALICE);
	n[1] = created(r, "a2", &ALICE);
	ck_assert_int_eq(create(r, "a3", &ALICE, &x), -EDQUOT);
	ck_assert_int_eq(
	    registry_mkdir(r, registry_root(r), "d", 0755, &ALICE, &d, &st), 0);
	ck_assert_int_eq(registry_link(r, n[0], registry_root(r), "a1b", &st),
			 0);
	registry_forget(r, n[0], 1); /* the link's reference */
	n[2] = created(r, "b1", &BOB);
	/* Group 100 has its 3 now. */
	ck_assert_int_eq(create(r, "b2", &BOB, &x), -EDQUOT);
	for (int i = 0; i < 5; i++) {
		char name[8] = {'r', (char)('0' + i)};
		struct node *rn = created(r, name, &ROOT);
		registry_release(r, rn, O_RDWR);
		registry_forget(r, rn, 1);
	}
	ck_assert_str_eq(usage(r), "user 0 0 5\nuser 1000 0 2\nuser 1001 0 1\n"
				   "group 0 0 5\ngroup 100 0 3\n");
	/* The mapping goes with its last name. */
	remove_mapping(r, n[0], "a1");
	ck_assert_int_eq(create(r, "a3", &ALICE, &x), -EDQUOT);
	ck_assert_int_eq(registry_unlink(r, registry_root(r), "a1b"), 0);
	n[3] = created(r, "a3", &ALICE);
	ck_assert_str_eq(usage(r), "user 0 0 5\nuser 1000 0 2\nuser 1001 0 1\n"
				   "group 0 0 5\ngroup 100 0 3\n");
	registry_forget(r, d, 1);
	for (int i = 1; i < 4; i++) {
		registry_release(r, n[i], O_RDWR);
		registry_forget(r, n[i], 1);
	}
	registry_free(r);
}
END_TEST

/* Root's mappings are counted, never limited; the capacity still is. */
START_TEST(root_exempt)
{
	struct registry *r = reg_new(1, 1);
	struct node *n = created(r, "r", &ROOT);
	for (unsigned i = 0; i < 64; i++)
		ck_assert_int_eq(registry_write(r, n, page, PAGE, i * PAGE), 0);
	ck_assert_int_eq(registry_write(r, n, page, PAGE, 64 * PAGE), -ENOSPC);
	ck_assert_str_eq(usage(r), "user 0 262144 1\ngroup 0 262144 1\n");
	remove_mapping(r, n, "r");
	ck_assert_str_eq(usage(r), "");
	registry_free(r);
}
END_TEST

/* chown and chgrp move what a mapping holds, or fail and move nothing. */
START_TEST(chown_moves)
{
	struct registry *r = reg_new(1, 1);
	struct node *a = created(r, "a", &ALICE), *b = created(r, "b", &BOB);
	ck_assert_int_eq(registry_write(r, a, page, PAGE, 0), 0);
	ck_assert_int_eq(registry_write(r, a, page, PAGE, PAGE), 0);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(registry_write(r, b, page, PAGE, i * PAGE), 0);
	ck_assert_int_eq(setattr(r, a, SET_UID, 0, BOB.uid, 0), -EDQUOT);
	ck_assert_str_eq(usage(r), "user 1000 8192 1\nuser 1001 12288 1\n"
				   "group 100 20480 2\n");
	ck_assert_int_eq(setattr(r, a, SET_GID, 0, 0, 200), 0);
	ck_assert_int_eq(setattr(r, b, SET_UID, 0, ALICE.uid, 0), -EDQUOT);
	ck_assert_int_eq(setattr(r, b, SET_SIZE, PAGE, 0, 0), 0);
	ck_assert_int_eq(setattr(r, b, SET_UID | SET_GID, 0, ALICE.uid, 200),
			 0);
	ck_assert_str_eq(usage(r), "user 1000 12288 2\n"
				   "group 200 12288 2\n");
	ck_assert_int_eq(setattr(r, a, SET_UID, 0, 0, 0), 0);
	ck_assert_str_eq(usage(r), "user 0 8192 1\nuser 1000 4096 1\n"
				   "group 200 12288 2\n");
	remove_mapping(r, a, "a");
	remove_mapping(r, b, "b");
	ck_assert_str_eq(usage(r), "");
	registry_free(r);
}
END_TEST

/* Pages fallocated count once: writing them later needs no room, at the
 * limit (EDQUOT) as at the capacity (ENOSPC). */
START_TEST(fallocated_then_written)
{
	struct registry *r = reg_new(1, 0);
	struct node *a = created(r, "a", &ALICE), *o = created(r, "o", &ROOT);
	ck_assert_int_eq(registry_fallocate(r, a, 0, 0, 4 * PAGE), 0);
	ck_assert_int_eq(registry_fallocate(r, o, 0, 0, 60 * PAGE), 0);
	ck_assert_uint_eq(used_pages(r), 64);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(registry_write(r, a, page, PAGE, i * PAGE), 0);
	ck_assert_int_eq(registry_write(r, a, page, 2 * PAGE, PAGE / 2), 0);
	ck_assert_int_eq(registry_write(r, o, page, PAGE, 59 * PAGE), 0);
	ck_assert_int_eq(
	    registry_fallocate(r, a, FALLOC_FL_KEEP_SIZE, 0, 4 * PAGE), 0);
	ck_assert_int_eq(registry_write(r, a, page, 1, 4 * PAGE), -ENOSPC);
	ck_assert_str_eq(usage(r), "user 0 245760 1\nuser 1000 16384 1\n");
	remove_mapping(r, a, "a");
	ck_assert_int_eq(registry_write(r, o, page, PAGE, 60 * PAGE), 0);
	remove_mapping(r, o, "o");
	ck_assert_str_eq(usage(r), "");
	registry_free(r);
}
END_TEST

/* Users writing at once each get exactly their limit (quota.lock). */
struct writer {
	struct registry *r;
	struct caller c;
	int stored;
};

static void *write_until_full(void *arg)
{
	struct writer *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "w%u", (unsigned)w->c.uid);
	struct node *n = created(w->r, name, &w->c);
	for (unsigned i = 0; i < 8; i++)
		w->stored += registry_write(w->r, n, page, PAGE, i * PAGE) == 0;
	remove_mapping(w->r, n, name);
	return NULL;
}

START_TEST(users_at_once)
{
	struct registry *r = reg_new(1, 0);
	struct writer w[8];
	pthread_t t[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct writer){.r = r, .c = {2000 + i, 100}};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, write_until_full, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].stored, 4);
	}
	ck_assert_str_eq(usage(r), "");
	ck_assert_uint_eq(used_pages(r), 0);
	registry_free(r);
}
END_TEST

/* Without quotas there is nothing to read; the name stays reserved. */
START_TEST(off)
{
	struct registry *r = reg_new(0, 0);
	struct node *root = registry_root(r);
	char buf[64];
	size_t len = 0;
	ck_assert_int_eq(
	    registry_getxattr(r, root, SHMAP_XATTR_QUOTA, buf, 64, &len),
	    -ENODATA);
	ck_assert_int_eq(registry_listxattr(r, root, buf, sizeof(buf), &len),
			 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(
	    registry_setxattr(r, root, &ROOT, SHMAP_XATTR_QUOTA, "x", 1, 0),
	    -EPERM);
	registry_free(r);

	r = reg_new(1, 0);
	root = registry_root(r);
	ck_assert_int_eq(registry_listxattr(r, root, buf, sizeof(buf), &len),
			 0);
	ck_assert_uint_eq(len, sizeof(SHMAP_XATTR_QUOTA));
	ck_assert_str_eq(buf, SHMAP_XATTR_QUOTA);
	ck_assert_int_eq(
	    registry_removexattr(r, root, &ROOT, SHMAP_XATTR_QUOTA), -EPERM);
	/* The size alone, and too small a buffer. */
	struct node *a = created(r, "a", &ALICE);
	ck_assert_int_eq(
	    registry_getxattr(r, root, SHMAP_XATTR_QUOTA, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, strlen("user 1000 0 1\n"));
	ck_assert_int_eq(
	    registry_getxattr(r, root, SHMAP_XATTR_QUOTA, buf, 4, &len),
	    -ERANGE);
	remove_mapping(r, a, "a");
	registry_free(r);
}
END_TEST

static Suite *quota_suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tc = tcase_create("quota");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, bytes_per_user);
	tcase_add_test(tc, committed_size);
	tcase_add_test(tc, mappings);
	tcase_add_test(tc, root_exempt);
	tcase_add_test(tc, chown_moves);
	tcase_add_test(tc, fallocated_then_written);
	tcase_add_test(tc, users_at_once);
	tcase_add_test(tc, off);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(quota_suite());
}
