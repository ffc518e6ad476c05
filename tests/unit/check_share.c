/*
 * Unit tests of direct access (registry_share(), fs/core/data.c and
 * attr.c): when a store is shared, the kernel writes it without the
 * daemon, and the core must take sizes, times and capacity from the store.
 * A fake kernel stands in for FUSE passthrough: it records the descriptor
 * it is given and writes to it directly, as the kernel would.
 */
#include "registry.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096u
#define CAP  (16 * PAGE)

static const struct caller USER = {1000, 1000};

/* What the fake kernel was given and gave back. */
struct fake_kernel {
	int refuse;	 /* share_store fails with this errno, if set */
	int shares;	 /* calls of share_store */
	int last_fd;	 /* the descriptor it was given last */
	int unshared[8]; /* handles let go, in order */
	int nunshared;
};

static int fake_share(void *ctx, int fd)
{
	struct fake_kernel *k = ctx;
	k->shares++;
	if (k->refuse)
		return -k->refuse;
	k->last_fd = fd;
	return 40 + k->shares;
}

static void fake_unshare(void *ctx, int handle)
{
	struct fake_kernel *k = ctx;
	if (k->nunshared < 8)
		k->unshared[k->nunshared++] = handle;
}

/* A memory-backed registry whose stores live in /dev/shm (a tmpfs). */
static struct registry *reg_new(struct fake_kernel *k, int store_dirfd,
				unsigned fault_write)
{
	struct registry_config cfg = {
	    .capacity = CAP,
	    .max_nodes = 64,
	    .root_mode = 01777,
	    .backing_dirfd = -1,
	    .fault_write = fault_write,
	    .share_store = fake_share,
	    .unshare_store = fake_unshare,
	    .share_ctx = k,
	    .store_dirfd = store_dirfd,
	};
	struct registry *r = NULL;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	return r;
}

static int open_shm_dir(void)
{
	int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 1);
	return fd;
}

/* Create and open "name" for writing; one lookup and one open held. */
static struct node *create(struct registry *r, const char *name)
{
	struct node *n = NULL;
	struct stat st;
	ck_assert_int_eq(registry_create(r, registry_root(r), name, 0644,
					 O_RDWR | O_CREAT, &USER, &n, &st),
			 0);
	return n;
}

static struct stat getattr(struct registry *r, struct node *n)
{
	struct stat st;
	ck_assert_int_eq(registry_getattr(r, n, &st), 0);
	return st;
}

static uint64_t used_pages(struct registry *r)
{
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	return sv.f_blocks - sv.f_bfree;
}

/* The kernel writing a shared store directly. */
static void kernel_write(int fd, size_t len, off_t off)
{
	char *buf = malloc(len);
	memset(buf, 'k', len);
	ck_assert_int_eq(pwrite(fd, buf, len, off), (ssize_t)len);
	free(buf);
}

/* Check's fixtures share state through file-scope variables: the fake
 * kernel, /dev/shm, and a memory-backed registry sharing its stores. */
static struct fake_kernel k;
static int shm_dirfd = -1;
static struct registry *r;

static void setup(void)
{
	memset(&k, 0, sizeof(k));
	shm_dirfd = open_shm_dir();
	r = reg_new(&k, shm_dirfd, 0);
}

static void teardown(void)
{
	registry_free(r);
	close(shm_dirfd);
}

/* Share n with the fake kernel, which then writes len bytes to it. */
static void share_and_write(struct node *n, size_t len)
{
	ck_assert_int_gt(registry_share(r, n), 0);
	kernel_write(k.last_fd, len, 0);
}

START_TEST(direct_writes_are_caught_up)
{
	struct node *n = create(r, "m");
	ck_assert_int_eq(registry_share(r, n), 41);
	ck_assert_uint_eq(used_pages(r), 0);

	kernel_write(k.last_fd, 3 * PAGE + 1, 0);
	struct stat fst, st = getattr(r, n);
	ck_assert_int_eq(fstat(k.last_fd, &fst), 0);
	ck_assert_int_eq(st.st_size, 3 * PAGE + 1);
	ck_assert_int_eq(st.st_mtim.tv_sec, fst.st_mtim.tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, fst.st_mtim.tv_nsec);
	ck_assert_uint_eq(used_pages(r), 4);

	/* The daemon's own paths start from the caught-up size. */
	char c = 0;
	size_t got = 0;
	ck_assert_int_eq(registry_read(r, n, &c, 1, 3 * PAGE, &got), 0);
	ck_assert_uint_eq(got, 1);
	ck_assert_int_eq(c, 'k');
	struct setattr_req q = {.valid = SET_SIZE, .size = PAGE};
	ck_assert_int_eq(registry_setattr(r, n, &q, &st), 0);
	ck_assert_uint_eq(used_pages(r), 1);

	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
}
END_TEST

/* statfs alone counts what the kernel wrote to a shared mapping, and a
 * freed mapping leaves its list. */
START_TEST(statfs_catches_up_shared_mappings)
{
	struct node *a = create(r, "a");
	struct node *b = create(r, "b");
	share_and_write(a, 2 * PAGE);
	share_and_write(b, 3 * PAGE);
	ck_assert_uint_eq(used_pages(r), 5);
	ck_assert_int_eq(registry_unlink(r, registry_root(r), "a"), 0);
	registry_release(r, a, O_RDWR);
	registry_forget(r, a, 1);
	ck_assert_uint_eq(used_pages(r), 3);
	registry_release(r, b, O_RDWR);
	registry_forget(r, b, 1);
}
END_TEST

/* Growth the daemon did not allow still counts, and blocks more. */
START_TEST(direct_growth_past_capacity_counts)
{
	struct node *a = create(r, "a");
	struct node *b = create(r, "b");
	share_and_write(a, CAP - PAGE);
	registry_release(r, a, O_RDWR); /* catches up */
	ck_assert_uint_eq(used_pages(r), 15);
	struct stat st;
	struct setattr_req q = {.valid = SET_SIZE, .size = 2 * PAGE};
	ck_assert_int_eq(registry_setattr(r, b, &q, &st), -ENOSPC);
	q.size = PAGE;
	ck_assert_int_eq(registry_setattr(r, b, &q, &st), 0);
	ck_assert_uint_eq(used_pages(r), 16);
	registry_release(r, b, O_RDWR);
	registry_forget(r, a, 1);
	registry_forget(r, b, 1);
}
END_TEST

/* Times set by the caller stick: the store carries them. */
START_TEST(set_times_stick)
{
	struct node *n = create(r, "m");
	ck_assert_int_gt(registry_share(r, n), 0);
	struct stat st;
	struct setattr_req q = {.valid = SET_MTIME | SET_ATIME,
				.mtime = {1000000000, 5},
				.atime = {1000000000, 7}};
	ck_assert_int_eq(registry_setattr(r, n, &q, &st), 0);
	st = getattr(r, n);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 5);
	kernel_write(k.last_fd, 10, 0);
	st = getattr(r, n);
	ck_assert_int_gt(st.st_mtim.tv_sec, 1000000000);
	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
}
END_TEST

/* One handle per mapping, asked for once and let go when it dies. */
START_TEST(one_handle_per_mapping)
{
	struct node *n = create(r, "m");
	ck_assert_int_eq(registry_share(r, n), 41);
	ck_assert_int_eq(registry_share(r, n), 41);
	ck_assert_int_eq(k.shares, 1);
	ck_assert_int_eq(registry_unlink(r, registry_root(r), "m"), 0);
	registry_release(r, n, O_RDWR);
	ck_assert_int_eq(k.nunshared, 0); /* the kernel still knows it */
	registry_forget(r, n, 1);
	ck_assert_int_eq(k.nunshared, 1);
	ck_assert_int_eq(k.unshared[0], 41);
}
END_TEST

/* A refusal is remembered: the mapping stays the daemon's. */
START_TEST(refusal_is_remembered)
{
	k.refuse = EPERM;
	struct node *n = create(r, "m");
	ck_assert_int_eq(registry_share(r, n), 0);
	ck_assert_int_eq(registry_share(r, n), 0);
	ck_assert_int_eq(k.shares, 1);
	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
	ck_assert_int_eq(k.nunshared, 0);
}
END_TEST

/* Without a tmpfs to hold the capacity, or with injected faults, the
 * daemon must see every write: nothing is shared. */
START_TEST(not_shared_when_daemon_must_see_writes)
{
	struct fake_kernel k2 = {0};
	struct registry *plain = reg_new(&k2, 0, 0);
	struct node *n = create(plain, "m");
	ck_assert_int_eq(registry_share(plain, n), 0);
	registry_release(plain, n, O_RDWR);
	registry_forget(plain, n, 1);
	registry_free(plain);

	struct registry *faulty = reg_new(&k2, shm_dirfd, 5);
	n = create(faulty, "m");
	ck_assert_int_eq(registry_share(faulty, n), 0);
	registry_release(faulty, n, O_RDWR);
	registry_forget(faulty, n, 1);
	registry_free(faulty);
	ck_assert_int_eq(k2.shares, 0);
}
END_TEST

/* Directories and other kinds have no store to share. */
START_TEST(only_regular_files)
{
	struct node *d = NULL;
	struct stat st;
	ck_assert_int_eq(
	    registry_mkdir(r, registry_root(r), "d", 0755, &USER, &d, &st), 0);
	ck_assert_int_eq(registry_share(r, d), 0);
	ck_assert_int_eq(k.shares, 0);
	registry_forget(r, d, 1);
}
END_TEST

static Suite *share_suite(void)
{
	Suite *s = suite_create("share");
	TCase *tc = tcase_create("share");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, direct_writes_are_caught_up);
	tcase_add_test(tc, direct_growth_past_capacity_counts);
	tcase_add_test(tc, statfs_catches_up_shared_mappings);
	tcase_add_test(tc, set_times_stick);
	tcase_add_test(tc, one_handle_per_mapping);
	tcase_add_test(tc, refusal_is_remembered);
	tcase_add_test(tc, not_shared_when_daemon_must_see_writes);
	tcase_add_test(tc, only_regular_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(share_suite());
}
