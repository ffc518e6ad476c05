/*
 * Unit tests of direct access (registry_share(), fs/core/data.c and
 * attr.c) and of residency (residency.c): when a store is shared, the
 * kernel writes it without the daemon, and the core must take sizes and
 * times from the store; an idle store is closed and its handle let go.
 * A fake kernel stands in for FUSE passthrough: it records the descriptor
 * it is given and writes to it directly, as the kernel would.
 */
#include "registry.h"
#include "util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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

/* A memory-backed registry whose stores live in store_dirfd, a directory
 * in /dev/shm standing for the daemon's own tmpfs; with sees_every_write,
 * one where every write must reach the daemon (as with quotas). */
static struct registry *reg_new_seeing(struct fake_kernel *k, int store_dirfd,
				       unsigned fault_write,
				       int sees_every_write)
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
	    .store_dir_capacity = store_dirfd > 0,
	    .sees_every_write = sees_every_write,
	};
	struct registry *r = NULL;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	return r;
}

static struct registry *reg_new(struct fake_kernel *k, int store_dirfd,
				unsigned fault_write)
{
	return reg_new_seeing(k, store_dirfd, fault_write, 0);
}

static char shm_dir[64];

static int open_shm_dir(void)
{
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/check_share.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(shm_dir));
	int fd = open(shm_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 1);
	return fd;
}

/* How many stores the directory holds. */
static int stores(void)
{
	int n = 0;
	DIR *d = opendir(shm_dir);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
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
	ck_assert_int_eq(stores(), 0); /* every store went with its node */
	close(shm_dirfd);
	rmdir(shm_dir);
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
	kernel_write(k.last_fd, 3 * PAGE + 1, 0);
	struct stat fst, st = getattr(r, n);
	ck_assert_int_eq(fstat(k.last_fd, &fst), 0);
	ck_assert_int_eq(st.st_size, 3 * PAGE + 1);
	ck_assert_int_eq(st.st_blocks, fst.st_blocks);
	ck_assert_int_eq(st.st_mtim.tv_sec, fst.st_mtim.tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, fst.st_mtim.tv_nsec);

	/* The daemon's own paths start from the caught-up size. */
	char c = 0;
	size_t got = 0;
	ck_assert_int_eq(registry_read(r, n, &c, 1, 3 * PAGE, &got), 0);
	ck_assert_uint_eq(got, 1);
	ck_assert_int_eq(c, 'k');
	struct setattr_req q = {.valid = SET_SIZE, .size = PAGE};
	ck_assert_int_eq(registry_setattr(r, n, &q, &st), 0);
	ck_assert_int_eq(st.st_size, PAGE);

	registry_release(r, n, O_RDWR);
	registry_forget(r, n, 1);
}
END_TEST

/* Writes through a view that outlives the last release (the kernel maps
 * the store itself) still count: an idle store is looked at by name. */
START_TEST(idle_store_is_caught_up)
{
	struct node *n = create(r, "m");
	ck_assert_int_gt(registry_share(r, n), 0);
	int view = dup(k.last_fd);
	registry_release(r, n, O_RDWR);
	kernel_write(view, 2 * PAGE, 0);
	close(view);
	struct stat st = getattr(r, n);
	ck_assert_int_eq(st.st_size, 2 * PAGE);
	ck_assert_int_eq(st.st_blocks, 2 * PAGE / 512);
	registry_forget(r, n, 1);
}
END_TEST

/* statfs reports the tmpfs of the stores, which counts every page. */
START_TEST(statfs_is_the_tmpfs)
{
	struct node *a = create(r, "a");
	share_and_write(a, 2 * PAGE);
	struct statvfs sv, tv;
	ck_assert_int_eq(registry_statfs(r, &sv), 0);
	ck_assert_int_eq(fstatvfs(shm_dirfd, &tv), 0);
	ck_assert_uint_eq(sv.f_blocks, tv.f_blocks);
	ck_assert_uint_eq(sv.f_files, 64);
	ck_assert_uint_eq(sv.f_ffree, 63);
	registry_release(r, a, O_RDWR);
	registry_forget(r, a, 1);
}
END_TEST

/* Times set by the caller stick: the store carries them, open or idle. */
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
	q.mtime.tv_nsec = 9;
	ck_assert_int_eq(registry_setattr(r, n, &q, &st), 0);
	st = getattr(r, n);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 9);
	registry_forget(r, n, 1);
}
END_TEST

/* One handle per use of a mapping: asked for once while it is open, let
 * go with the last release, asked for again at the next open. */
START_TEST(one_handle_per_use)
{
	struct node *n = create(r, "m");
	ck_assert_int_eq(registry_share(r, n), 41);
	ck_assert_int_eq(registry_share(r, n), 41);
	ck_assert_int_eq(k.shares, 1);
	ck_assert_int_eq(registry_open(r, n, O_RDONLY), 0);
	registry_release(r, n, O_RDWR);
	ck_assert_int_eq(k.nunshared, 0); /* one open left */
	registry_release(r, n, O_RDONLY);
	ck_assert_int_eq(k.nunshared, 1);
	ck_assert_int_eq(k.unshared[0], 41);
	ck_assert_int_eq(stores(), 1); /* the data stays, by name */
	ck_assert_int_eq(registry_open(r, n, O_RDWR), 0);
	ck_assert_int_eq(registry_share(r, n), 42);
	ck_assert_int_eq(registry_unlink(r, registry_root(r), "m"), 0);
	registry_release(r, n, O_RDWR);
	ck_assert_int_eq(k.nunshared, 2);
	ck_assert_int_eq(stores(), 1); /* the kernel still knows it */
	registry_forget(r, n, 1);
	ck_assert_int_eq(stores(), 0);
}
END_TEST

/* An idle mapping holds no descriptor: its data waits in its file. */
START_TEST(idle_holds_no_descriptor)
{
	struct node *n = create(r, "m");
	ck_assert_int_eq(registry_write(r, n, "data", 4, 0), 0);
	int before = open("/dev/null", O_RDONLY);
	registry_release(r, n, O_RDWR);
	int after = open("/dev/null", O_RDONLY);
	ck_assert_int_lt(after, before); /* a descriptor was freed */
	close(before);
	close(after);
	char buf[8];
	size_t got = 0;
	ck_assert_int_eq(registry_open(r, n, O_RDONLY), 0);
	ck_assert_int_eq(registry_read(r, n, buf, sizeof(buf), 0, &got), 0);
	ck_assert_uint_eq(got, 4);
	ck_assert(memcmp(buf, "data", 4) == 0);
	registry_release(r, n, O_RDONLY);
	registry_forget(r, n, 1);
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

/* Without a tmpfs to hold the capacity, with injected faults, or where
 * the daemon counts every write (quotas), it must see every write:
 * nothing is shared. */
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

	struct registry *counting = reg_new_seeing(&k2, shm_dirfd, 0, 1);
	n = create(counting, "m");
	ck_assert_int_eq(registry_share(counting, n), 0);
	registry_release(counting, n, O_RDWR);
	registry_forget(counting, n, 1);
	registry_free(counting);
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

/* Opens, releases, stats and sweeps of one mapping racing: the store is
 * opened and closed under them (run under TSan by make check). */
struct race {
	struct node *n;
	atomic_int stop;
};

static void *open_release_loop(void *arg)
{
	struct race *rc = arg;
	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(registry_open(r, rc->n, O_RDWR), 0);
		ck_assert_int_eq(registry_write(r, rc->n, "x", 1, (uint64_t)i),
				 0);
		registry_release(r, rc->n, O_RDWR);
	}
	return NULL;
}

static void *stat_sweep_loop(void *arg)
{
	struct race *rc = arg;
	while (!atomic_load(&rc->stop)) {
		getattr(r, rc->n);
		registry_sweep(r);
	}
	return NULL;
}

START_TEST(uses_race)
{
	struct race rc = {.n = create(r, "m")};
	registry_release(r, rc.n, O_RDWR);
	pthread_t users[3], watcher;
	ck_assert_int_eq(pthread_create(&watcher, NULL, stat_sweep_loop, &rc),
			 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(
		    pthread_create(&users[i], NULL, open_release_loop, &rc), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(users[i], NULL);
	atomic_store(&rc.stop, 1);
	pthread_join(watcher, NULL);
	ck_assert_int_eq(getattr(r, rc.n).st_size, 2000);
	ck_assert_int_eq(stores(), 1);
	registry_forget(r, rc.n, 1);
}
END_TEST

static Suite *share_suite(void)
{
	Suite *s = suite_create("share");
	TCase *tc = tcase_create("share");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, direct_writes_are_caught_up);
	tcase_add_test(tc, idle_store_is_caught_up);
	tcase_add_test(tc, statfs_is_the_tmpfs);
	tcase_add_test(tc, set_times_stick);
	tcase_add_test(tc, one_handle_per_use);
	tcase_add_test(tc, idle_holds_no_descriptor);
	tcase_add_test(tc, uses_race);
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
