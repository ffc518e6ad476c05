/*
 * Mount tests of per-user and per-group quotas (issue 13): one user at a
 * limit gets EDQUOT at the create, truncate, fallocate or write that
 * passes it, while other users' writes still succeed and everyone's data
 * stays intact; root is never limited; chown moves the usage; a sparse
 * mapping counts the pages it has stored; the usage read from the root's
 * user.shmap.quota is exact, and back to nothing once the mappings are
 * gone. Users are plain numeric ids (no passwd entries needed).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define PAGE		 4096
#define KB		 1024LL
#define MB		 (1LL << 20)
#define GB		 (1LL << 30)
#define QUOTA		 "user.shmap.quota"
#define A		 20001 /* users, each in a group of the same number */
#define B		 20002
#define FUSE_SUPER_MAGIC 0x65735546
/* The usage of A alone, with one mapping at the limit. */
#define A_FULL "user 20001 1048576 1\ngroup 20001 1048576 1\n"

/* Per user: 1 MiB and 4 mappings; groups counted, not limited. */
#define USER_OPTS                                                              \
	"size=64m,allow_other,usrquota,grpquota,"                              \
	"usrquota_block_hardlimit=1m,usrquota_inode_hardlimit=4"

static struct tmount m;

static const char *P(const char *name)
{
	static char buf[4][PATH_MAX + 64];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", m.mnt, name);
	return buf[i];
}

static void mount_users(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, USER_OPTS), 0);
}

static void mount_groups(void)
{
	ck_assert_int_eq(
	    tmount_start(
		&m, 0,
		"size=64m,allow_other,grpquota,"
		"grpquota_block_hardlimit=1m,grpquota_inode_hardlimit=3"),
	    0);
}

static void mount_plain(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=64m,allow_other"), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/* The usage text, as the root shows it ("" if nothing is charged). */
static const char *usage(void)
{
	static char buf[4096];
	ssize_t n = getxattr(m.mnt, QUOTA, buf, sizeof(buf) - 1);
	ck_assert_msg(n >= 0, "getxattr %s: %s", QUOTA, strerror(errno));
	buf[n] = '\0';
	return buf;
}

/* Wait (at most 5 s) until the usage is want: the kernel lets an
 * unlinked file go asynchronously after its last close. */
static void usage_becomes(const char *want)
{
	for (int i = 0; i < 500 && strcmp(usage(), want); i++)
		usleep(10000);
	ck_assert_str_eq(usage(), want);
}

/* In a child as another user: a failed check prints and exits 1. */
#define REQUIRE(c)                                                             \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: %s (errno %s)\n", __FILE__,    \
				__LINE__, #c, strerror(errno));                \
			return 1;                                              \
		}                                                              \
	} while (0)

/* The pattern of page i of a file written by uid. */
static void page_of(char *buf, uid_t uid, long long i)
{
	fill_pattern(buf, PAGE, (uint32_t)(uid * 100000 + i));
}

/* Store pages [from, from+count) of name, one write each, with the
 * writer's pattern; the number stored, and errno for the first refused. */
static long long put_pages(const char *name, long long from, long long count,
			   int *err)
{
	char page[PAGE];
	*err = 0;
	int fd = open(P(name), O_CREAT | O_WRONLY, 0644);
	if (fd < 0) {
		*err = errno;
		return 0;
	}
	long long i;
	for (i = 0; i < count; i++) {
		page_of(page, geteuid(), from + i);
		if (pwrite(fd, page, PAGE, (from + i) * PAGE) != PAGE) {
			*err = errno;
			break;
		}
	}
	close(fd);
	return i;
}

/* Whether pages [0, count) of name are the pattern uid wrote. */
static int pages_intact(const char *name, uid_t uid, long long count)
{
	char want[PAGE], got[PAGE];
	int fd = open(P(name), O_RDONLY);
	if (fd < 0)
		return 0;
	int ok = 1;
	for (long long i = 0; ok && i < count; i++) {
		page_of(want, uid, i);
		ok = pread(fd, got, PAGE, i * PAGE) == PAGE &&
		     !memcmp(want, got, PAGE);
	}
	close(fd);
	return ok;
}

static int fill_a(void *arg)
{
	(void)arg;
	int err;
	/* Exactly the limit fits, page by page; the next page does not. */
	REQUIRE(put_pages("a", 0, 256, &err) == 256);
	REQUIRE(put_pages("a", 256, 1, &err) == 0 && err == EDQUOT);
	return 0;
}

static int fill_b(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("b", 0, 256, &err) == 256);
	return 0;
}

static int a_still_refused(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("a2", 0, 1, &err) == 0 && err == EDQUOT);
	/* A write() of many pages stores what fits, then fails. */
	int fd = open(P("a"), O_WRONLY);
	REQUIRE(fd >= 0);
	static char big[64 * 1024];
	REQUIRE(pwrite(fd, big, sizeof(big), MB) < 0 && errno == EDQUOT);
	close(fd);
	return 0;
}

START_TEST(write_at_limit)
{
	ck_assert_int_eq(in_child(fill_a, NULL, A, A, 30), 0);
	ck_assert_int_eq(in_child(fill_b, NULL, B, B, 30), 0);
	ck_assert_int_eq(in_child(a_still_refused, NULL, A, A, 30), 0);
	ck_assert(pages_intact("a", A, 256));
	ck_assert(pages_intact("b", B, 256));
	struct stat st;
	ck_assert_int_eq(stat(P("a"), &st), 0);
	ck_assert_int_eq(st.st_size, MB);
	ck_assert_str_eq(usage(), "user 20001 1048576 2\n"
				  "user 20002 1048576 1\n"
				  "group 20001 1048576 2\n"
				  "group 20002 1048576 1\n");
	/* Removing A's mappings gives A's usage back, to the byte. */
	ck_assert_int_eq(unlink(P("a")), 0);
	ck_assert_int_eq(unlink(P("a2")), 0);
	usage_becomes("user 20002 1048576 1\ngroup 20002 1048576 1\n");
	ck_assert_int_eq(in_child(fill_a, NULL, A, A, 30), 0);
	ck_assert(pages_intact("b", B, 256));
	ck_assert_int_eq(unlink(P("a")), 0);
	ck_assert_int_eq(unlink(P("b")), 0);
	usage_becomes("");
}
END_TEST

static int write_big(void *arg)
{
	(void)arg;
	/* Page-aligned: the kernel cuts a write into parts of 256 pages of
	 * the caller's buffer. */
	static char big[2 * MB] __attribute__((aligned(PAGE)));
	int fd = open(P("w"), O_CREAT | O_WRONLY, 0644);
	REQUIRE(fd >= 0);
	/* The part that fits is stored, the next refused whole. */
	REQUIRE(pwrite(fd, big, sizeof(big), 0) == MB);
	REQUIRE(pwrite(fd, big, 8 * KB, 0) == 8 * KB);
	REQUIRE(pwrite(fd, big, 8 * KB, MB - 4 * KB) < 0 && errno == EDQUOT);
	close(fd);
	return 0;
}

START_TEST(write_in_parts)
{
	ck_assert_int_eq(in_child(write_big, NULL, A, A, 30), 0);
	ck_assert_str_eq(usage(), A_FULL);
}
END_TEST

static int truncate_a(void *arg)
{
	(void)arg;
	int fd = open(P("c"), O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(fsetxattr(fd, "user.shmap.commit", "committed", 9, 0) == 0);
	REQUIRE(ftruncate(fd, MB) == 0);
	REQUIRE(ftruncate(fd, MB + 1) < 0 && errno == EDQUOT);
	REQUIRE(truncate(P("c"), 2 * MB) < 0 && errno == EDQUOT);
	struct stat st;
	REQUIRE(fstat(fd, &st) == 0 && st.st_size == MB);
	/* A sparse mapping's size takes nothing. */
	int s = open(P("s"), O_CREAT | O_RDWR, 0644);
	REQUIRE(s >= 0 && ftruncate(s, 100 * GB) == 0);
	close(s);
	/* Shrinking gives back. */
	REQUIRE(ftruncate(fd, 512 * KB) == 0);
	REQUIRE(ftruncate(fd, MB) == 0);
	close(fd);
	return 0;
}

static int truncate_b(void *arg)
{
	(void)arg;
	int fd = open(P("cb"), O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(fsetxattr(fd, "user.shmap.commit", "committed", 9, 0) == 0);
	REQUIRE(ftruncate(fd, MB) == 0);
	close(fd);
	return 0;
}

START_TEST(truncate_at_limit)
{
	ck_assert_int_eq(in_child(truncate_a, NULL, A, A, 30), 0);
	ck_assert_int_eq(in_child(truncate_b, NULL, B, B, 30), 0);
	ck_assert_str_eq(usage(), "user 20001 1048576 2\n"
				  "user 20002 1048576 1\n"
				  "group 20001 1048576 2\n"
				  "group 20002 1048576 1\n");
	ck_assert_int_eq(unlink(P("c")), 0);
	ck_assert_int_eq(unlink(P("s")), 0);
	ck_assert_int_eq(unlink(P("cb")), 0);
	usage_becomes("");
}
END_TEST

static int fallocate_a(void *arg)
{
	(void)arg;
	int fd = open(P("f"), O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(fallocate(fd, 0, 0, MB) == 0);
	REQUIRE(fallocate(fd, 0, MB, PAGE) < 0 && errno == EDQUOT);
	/* What was fallocated is written, or fallocated again, freely. */
	char page[PAGE];
	page_of(page, A, 0);
	REQUIRE(pwrite(fd, page, PAGE, 0) == PAGE);
	REQUIRE(pwrite(fd, page, PAGE, MB - PAGE) == PAGE);
	REQUIRE(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, MB) == 0);
	REQUIRE(pwrite(fd, "x", 1, MB) < 0 && errno == EDQUOT);
	/* A hole punched gives its pages back. */
	REQUIRE(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			  512 * KB) == 0);
	REQUIRE(fallocate(fd, 0, MB, 512 * KB) == 0);
	REQUIRE(fallocate(fd, 0, 3 * MB / 2, PAGE) < 0 && errno == EDQUOT);
	close(fd);
	return 0;
}

START_TEST(fallocate_at_limit)
{
	ck_assert_int_eq(in_child(fallocate_a, NULL, A, A, 30), 0);
	ck_assert_int_eq(in_child(fill_b, NULL, B, B, 30), 0);
	ck_assert(pages_intact("b", B, 256));
	ck_assert_str_eq(usage(), "user 20001 1048576 1\n"
				  "user 20002 1048576 1\n"
				  "group 20001 1048576 1\n"
				  "group 20002 1048576 1\n");
}
END_TEST

static int create_a(void *arg)
{
	(void)arg;
	char name[16];
	for (int i = 1; i <= 4; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		int fd = open(P(name), O_CREAT | O_EXCL | O_RDWR, 0644);
		REQUIRE(fd >= 0);
		close(fd);
	}
	REQUIRE(open(P("m5"), O_CREAT | O_EXCL | O_RDWR, 0644) < 0 &&
		errno == EDQUOT);
	REQUIRE(mknod(P("m5"), S_IFREG | 0644, 0) < 0 && errno == EDQUOT);
	/* Names are not mappings: more names for one, a directory, a
	 * symlink, all still fit. */
	REQUIRE(link(P("m1"), P("m1b")) == 0);
	REQUIRE(mkdir(P("dir"), 0755) == 0);
	REQUIRE(symlink("m1", P("sym")) == 0);
	return 0;
}

static int create_b(void *arg)
{
	(void)arg;
	int fd = open(P("n1"), O_CREAT | O_EXCL | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	close(fd);
	return 0;
}

static int create_a_again(void *arg)
{
	(void)arg;
	int fd = open(P("m5"), O_CREAT | O_EXCL | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	close(fd);
	return 0;
}

START_TEST(create_at_limit)
{
	ck_assert_int_eq(in_child(create_a, NULL, A, A, 30), 0);
	ck_assert_int_eq(in_child(create_b, NULL, B, B, 30), 0);
	ck_assert_str_eq(usage(), "user 20001 0 4\nuser 20002 0 1\n"
				  "group 20001 0 4\ngroup 20002 0 1\n");
	/* The mapping goes with its last name. */
	ck_assert_int_eq(unlink(P("m1")), 0);
	ck_assert_str_eq(usage(), "user 20001 0 4\nuser 20002 0 1\n"
				  "group 20001 0 4\ngroup 20002 0 1\n");
	ck_assert_int_eq(unlink(P("m1b")), 0);
	usage_becomes("user 20001 0 3\nuser 20002 0 1\n"
		      "group 20001 0 3\ngroup 20002 0 1\n");
	ck_assert_int_eq(in_child(create_a_again, NULL, A, A, 30), 0);
}
END_TEST

static int fill_a_big(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("big", 0, 512, &err) == 512);
	return 0;
}

/* Root is counted and never limited; the limit follows the owner, not
 * the writer: root writing into A's mapping is refused past A's limit. */
START_TEST(root_exempt)
{
	ck_assert_int_eq(in_child(fill_a_big, NULL, 0, 0, 30), 0);
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		ck_assert_int_eq(put_file(P(name), "", 0, 0644), 0);
	}
	ck_assert_int_eq(in_child(fill_a, NULL, A, A, 30), 0);
	ck_assert_str_eq(usage(), "user 0 2097152 9\nuser 20001 1048576 1\n"
				  "group 0 2097152 9\ngroup 20001 1048576 1\n");
	int fd = open(P("a"), O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "x", 1, MB), -1);
	ck_assert_int_eq(errno, EDQUOT);
	close(fd);
	ck_assert(pages_intact("a", A, 256));
}
END_TEST

/* A group's members share the group's limit; gid 0 is not limited. */
static int group_fill(void *arg)
{
	const char *name = arg;
	int err;
	REQUIRE(put_pages(name, 0, 128, &err) == 128);
	return 0;
}

static int group_full(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("g2", 128, 1, &err) == 0 && err == EDQUOT);
	REQUIRE(open(P("g6"), O_CREAT | O_RDWR, 0644) < 0 && errno == EDQUOT);
	return 0;
}

static int group_other(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("g3", 0, 256, &err) == 256);
	return 0;
}

static int group_create(void *arg)
{
	int fd = open(P(arg), O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	close(fd);
	return 0;
}

static int group_over(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("g4", 0, 512, &err) == 512);
	return 0;
}

START_TEST(group_limits)
{
	ck_assert_int_eq(in_child(group_fill, "g1", A, 20100, 30), 0);
	ck_assert_int_eq(in_child(group_fill, "g2", B, 20100, 30), 0);
	ck_assert_int_eq(in_child(group_create, "g5", A, 20100, 30), 0);
	ck_assert_int_eq(in_child(group_full, NULL, B, 20100, 30), 0);
	/* Another group, and gid 0, still write. */
	ck_assert_int_eq(in_child(group_other, NULL, 20003, 20200, 30), 0);
	ck_assert_int_eq(in_child(group_over, NULL, 20004, 0, 30), 0);
	ck_assert(pages_intact("g1", A, 128));
	ck_assert(pages_intact("g2", B, 128));
	ck_assert_str_eq(usage(), "group 0 2097152 1\n"
				  "group 20100 1048576 3\n"
				  "group 20200 1048576 1\n");
}
END_TEST

static int write_x(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("x", 0, 128, &err) == 128);
	return 0;
}

static int write_y(void *arg)
{
	(void)arg;
	int err;
	REQUIRE(put_pages("y", 0, 192, &err) == 192);
	return 0;
}

START_TEST(chown_moves_usage)
{
	ck_assert_int_eq(in_child(write_x, NULL, A, A, 30), 0);
	ck_assert_int_eq(in_child(write_y, NULL, B, B, 30), 0);
	/* B has no room for x: the chown is refused, nothing moves. */
	ck_assert_int_eq(chown(P("x"), B, (gid_t)-1), -1);
	ck_assert_int_eq(errno, EDQUOT);
	ck_assert_str_eq(usage(),
			 "user 20001 524288 1\nuser 20002 786432 1\n"
			 "group 20001 524288 1\ngroup 20002 786432 1\n");
	ck_assert_int_eq(truncate(P("y"), 0), 0);
	ck_assert_int_eq(chown(P("x"), B, (gid_t)-1), 0);
	ck_assert_str_eq(usage(), "user 20002 524288 2\n"
				  "group 20001 524288 1\ngroup 20002 0 1\n");
	ck_assert_int_eq(chown(P("x"), (uid_t)-1, B), 0);
	ck_assert_str_eq(usage(), "user 20002 524288 2\n"
				  "group 20002 524288 2\n");
	ck_assert(pages_intact("x", A, 128));
}
END_TEST

static int sparse_a(void *arg)
{
	(void)arg;
	int fd = open(P("s"), O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, "x", 1, GB) == 1);
	REQUIRE(ftruncate(fd, 10 * GB) == 0);
	close(fd);
	return 0;
}

static int sparse_a_fill(void *arg)
{
	(void)arg;
	int err;
	/* One page is taken already: 255 more fit, not 256. */
	REQUIRE(put_pages("s", 2 * GB / PAGE, 256, &err) == 255 &&
		err == EDQUOT);
	return 0;
}

START_TEST(sparse_counts_pages)
{
	ck_assert_int_eq(in_child(sparse_a, NULL, A, A, 30), 0);
	ck_assert_str_eq(usage(), "user 20001 4096 1\ngroup 20001 4096 1\n");
	ck_assert_int_eq(in_child(sparse_a_fill, NULL, A, A, 30), 0);
	ck_assert_str_eq(usage(), A_FULL);
	ck_assert_int_eq(unlink(P("s")), 0);
	usage_becomes("");
}
END_TEST

/* As on tmpfs, an unlinked mapping still open is charged until the last
 * close. */
START_TEST(unlinked_open_charged)
{
	int fd = open(P("u"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchown(fd, A, A), 0);
	char buf[2 * PAGE] = {1};
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	ck_assert_int_eq(unlink(P("u")), 0);
	ck_assert_str_eq(usage(), "user 20001 8192 1\ngroup 20001 8192 1\n");
	ck_assert_int_eq(close(fd), 0);
	usage_becomes("");
}
END_TEST

/* Through a view (the daemon serves the data, see README): stores past
 * the limit are refused when they are written back, and msync says so. */
static int view_a(void *arg)
{
	(void)arg;
	int fd = open(P("v"), O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0 && ftruncate(fd, 2 * MB) == 0);
	char *p = mmap(NULL, 2 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(p != MAP_FAILED);
	for (long long i = 0; i < 2 * MB; i += PAGE)
		p[i] = 1;
	REQUIRE(msync(p, 2 * MB, MS_SYNC) < 0 && errno == EDQUOT);
	munmap(p, 2 * MB);
	close(fd);
	return 0;
}

START_TEST(view_past_limit)
{
	ck_assert_int_eq(in_child(view_a, NULL, A, A, 30), 0);
	ck_assert_str_eq(usage(), A_FULL);
	ck_assert_int_eq(in_child(fill_b, NULL, B, B, 30), 0);
}
END_TEST

START_TEST(attribute_is_read_only)
{
	char list[1024];
	ssize_t n = listxattr(m.mnt, list, sizeof(list));
	ck_assert_int_gt(n, 0);
	ck_assert(memmem(list, (size_t)n, QUOTA, sizeof(QUOTA)) != NULL);
	ck_assert_str_eq(usage(), "");
	ck_assert_int_eq(setxattr(m.mnt, QUOTA, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(removexattr(m.mnt, QUOTA), -1);
	ck_assert_int_eq(errno, EPERM);
	/* Only the root has it. */
	ck_assert_int_eq(mkdir(P("d"), 0755), 0);
	ck_assert_int_eq(getxattr(P("d"), QUOTA, list, sizeof(list)), -1);
	ck_assert_int_eq(errno, ENODATA);
	/* Data through the daemon: quotas need it to see every write. */
	ck_assert_int_eq(m.passthrough, 0);
}
END_TEST

START_TEST(absent_without_quotas)
{
	char buf[256];
	ck_assert_int_eq(getxattr(m.mnt, QUOTA, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ENODATA);
	ssize_t n = listxattr(m.mnt, buf, sizeof(buf));
	ck_assert_int_ge(n, 0);
	ck_assert(memmem(buf, (size_t)n, QUOTA, sizeof(QUOTA)) == NULL);
	ck_assert_int_eq(setxattr(m.mnt, QUOTA, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

/* On a file-backed mount the options are refused, in one line. */
START_TEST(file_backed_refused)
{
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	const char *opts[] = {"usrquota", "grpquota_inode_hardlimit=3"};
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(tsh(20, "'%s' -o %s '%s' '%s' 2>'%s/err'",
				     tmount_daemon(), opts[i], m.backing, m.mnt,
				     m.root),
				 1);
		ck_assert_int_eq(tsh(5,
				     "test $(wc -l < '%s/err') = 1 && "
				     "grep -q memory-backed '%s/err'",
				     m.root, m.root),
				 0);
		struct statfs sf;
		ck_assert(statfs(m.mnt, &sf) == 0 &&
			  sf.f_type != FUSE_SUPER_MAGIC);
	}
	tsh(10, "rm -rf '%s'", m.root);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("quota");
	TCase *users = tcase_create("users");
	tcase_add_checked_fixture(users, mount_users, unmount);
	tcase_set_timeout(users, 60);
	tcase_add_test(users, write_at_limit);
	tcase_add_test(users, write_in_parts);
	tcase_add_test(users, truncate_at_limit);
	tcase_add_test(users, fallocate_at_limit);
	tcase_add_test(users, create_at_limit);
	tcase_add_test(users, root_exempt);
	tcase_add_test(users, chown_moves_usage);
	tcase_add_test(users, sparse_counts_pages);
	tcase_add_test(users, unlinked_open_charged);
	tcase_add_test(users, view_past_limit);
	tcase_add_test(users, attribute_is_read_only);
	suite_add_tcase(s, users);

	TCase *groups = tcase_create("groups");
	tcase_add_checked_fixture(groups, mount_groups, unmount);
	tcase_set_timeout(groups, 60);
	tcase_add_test(groups, group_limits);
	suite_add_tcase(s, groups);

	TCase *plain = tcase_create("plain");
	tcase_add_checked_fixture(plain, mount_plain, unmount);
	tcase_set_timeout(plain, 60);
	tcase_add_test(plain, absent_without_quotas);
	suite_add_tcase(s, plain);

	TCase *opts = tcase_create("options");
	tcase_set_timeout(opts, 60);
	tcase_add_test(opts, file_backed_refused);
	suite_add_tcase(s, opts);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
