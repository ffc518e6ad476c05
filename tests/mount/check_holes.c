/*
 * Mount tests of holes (issue 21): lseek(2)'s SEEK_DATA and SEEK_HOLE on a
 * mapping answer as on tmpfs. A differential test makes the same random
 * sparse layout (writes, stores through views, punched holes, truncates)
 * in a mapping and in a memfd (a tmpfs file), then compares both answers
 * from every offset where the layout changes, and around it; the seed is
 * printed, and $HOLES_SEED replays one. cp --sparse=always copies a
 * terabyte mapping of a few pages into a copy as sparse.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define PAGE	   4096LL
#define MB	   (1LL << 20)
#define TB	   (1LL << 40)
#define LAYOUTS	   40  /* random layouts per mount */
#define OPS_MAX	   12  /* changes per layout */
#define MARKS_MAX  512 /* offsets worth asking from, per layout */
#define SPAN_PAGES 600 /* layouts stay within this many pages */

static struct tmount m;

static void mount_memory(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, NULL), 0);
}

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/* A mapping and its tmpfs twin, changed alike. */
struct pair {
	int fd;	 /* the mapping */
	int ref; /* a memfd: tmpfs */
	long long size;
	long long marks[MARKS_MAX];
	int nmarks;
};

static void mark(struct pair *p, long long off)
{
	for (long long d = -1; d <= 1; d++)
		if (p->nmarks < MARKS_MAX && off + d >= 0)
			p->marks[p->nmarks++] = off + d;
}

static void pair_open(struct pair *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->fd = open(tmount_path(&m, name), O_CREAT | O_TRUNC | O_RDWR, 0644);
	ck_assert_int_ge(p->fd, 0);
	p->ref = memfd_create("holes-ref", MFD_CLOEXEC);
	ck_assert_int_ge(p->ref, 0);
}

static void pair_close(struct pair *p, const char *name)
{
	ck_assert_int_eq(close(p->fd), 0);
	ck_assert_int_eq(close(p->ref), 0);
	ck_assert_int_eq(unlink(tmount_path(&m, name)), 0);
}

static void pair_truncate(struct pair *p, long long size)
{
	ck_assert_int_eq(ftruncate(p->fd, size), 0);
	ck_assert_int_eq(ftruncate(p->ref, size), 0);
	p->size = size;
	mark(p, size);
}

/* With writeback caching a write() reaches the daemon, and so SEEK_DATA,
 * only once the kernel writes it back, as a store through a view does
 * (README, "The two data paths"); fsync is one way to make it. */
static void written_back(int fd)
{
	if (m.writeback_cache)
		ck_assert_int_eq(fsync(fd), 0);
}

static void pair_write(struct pair *p, long long off, long long len)
{
	static char buf[3 * PAGE];
	memset(buf, 0x5a, sizeof(buf));
	ck_assert_int_eq(pwrite(p->fd, buf, len, off), len);
	ck_assert_int_eq(pwrite(p->ref, buf, len, off), len);
	written_back(p->fd);
	if (off + len > p->size)
		p->size = off + len;
	mark(p, off);
	mark(p, off + len);
}

static void pair_punch(struct pair *p, long long off, long long len)
{
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	ck_assert_int_eq(fallocate(p->fd, mode, off, len), 0);
	ck_assert_int_eq(fallocate(p->ref, mode, off, len), 0);
	mark(p, off);
	mark(p, off + len);
}

/* A byte stored through a view (written back with msync, as the fallback
 * path needs before the daemon sees it). */
static void view_store(int fd, long long off)
{
	long long base = off & ~(PAGE - 1);
	char *v = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       (off_t)base);
	ck_assert_ptr_ne(v, MAP_FAILED);
	v[off - base] = 0x7e;
	ck_assert_int_eq(msync(v, PAGE, MS_SYNC), 0);
	ck_assert_int_eq(munmap(v, PAGE), 0);
}

static void pair_view_store(struct pair *p, long long off)
{
	view_store(p->fd, off);
	view_store(p->ref, off);
	mark(p, off & ~(PAGE - 1));
	mark(p, (off & ~(PAGE - 1)) + PAGE);
}

/* lseek's answer: the offset, or -errno. */
static long long seek(int fd, long long off, int whence)
{
	off_t r = lseek(fd, (off_t)off, whence);
	return r < 0 ? -errno : (long long)r;
}

static void compare(const struct pair *p, unsigned seed, int layout)
{
	static const int whences[] = {SEEK_DATA, SEEK_HOLE};
	for (int i = 0; i < p->nmarks; i++)
		for (int w = 0; w < 2; w++) {
			long long off = p->marks[i];
			long long want = seek(p->ref, off, whences[w]);
			long long got = seek(p->fd, off, whences[w]);
			ck_assert_msg(got == want,
				      "seed %u layout %d size %lld: %s from "
				      "%lld: shmapfs %lld, tmpfs %lld",
				      seed, layout, p->size,
				      whences[w] == SEEK_DATA ? "SEEK_DATA"
							      : "SEEK_HOLE",
				      off, got, want);
		}
}

static long long pick(long long below)
{
	return below > 0 ? (long long)(random() % below) : 0;
}

/* An offset or length: page-aligned half the time, as programs do. */
static long long pick_span(long long pages)
{
	long long v = pick(pages * PAGE);
	return random() % 2 ? v & ~(PAGE - 1) : v;
}

static void random_change(struct pair *p)
{
	switch (random() % 5) {
	case 0:
	case 1:
		pair_write(p, pick_span(SPAN_PAGES), 1 + pick(3 * PAGE - 1));
		break;
	case 2:
		if (p->size > 0)
			pair_view_store(p, pick(p->size));
		break;
	case 3:
		pair_punch(p, pick_span(SPAN_PAGES), 1 + pick_span(64));
		break;
	default:
		pair_truncate(p, pick_span(SPAN_PAGES));
		break;
	}
}

static unsigned take_seed(void)
{
	const char *s = getenv("HOLES_SEED");
	unsigned seed = s ? (unsigned)strtoul(s, NULL, 0)
			  : (unsigned)time(NULL) ^ (unsigned)getpid();
	fprintf(stderr, "check_holes: seed %u (HOLES_SEED=%u replays it)\n",
		seed, seed);
	srandom(seed);
	return seed;
}

/* The case: one byte at 1 MiB. */
START_TEST(one_byte_at_one_mib)
{
	int fd = open(tmount_path(&m, "one"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "x", 1, MB), 1);
	written_back(fd);
	ck_assert_int_eq(seek(fd, 0, SEEK_DATA), MB);
	ck_assert_int_eq(seek(fd, 0, SEEK_HOLE), 0);
	ck_assert_int_eq(seek(fd, MB, SEEK_HOLE), MB + 1);
	ck_assert_int_eq(seek(fd, MB + 1, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(seek(fd, MB + 1, SEEK_HOLE), -ENXIO);
	/* The file offset moved to the answer, as lseek says. */
	ck_assert_int_eq(seek(fd, 0, SEEK_DATA), MB);
	ck_assert_int_eq(seek(fd, 0, SEEK_CUR), MB);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* A punch with KEEP_SIZE from below the last, partial page to past the
 * end of the file but not past the end of that page zeroes the page and
 * keeps it (it is data), as tmpfs does; one past the end of the page
 * frees it. Seed 1796685985 found the first: a file-backed store on ext4
 * freed the page (ext4 stretches a punch past its end to the page end). */
START_TEST(punch_past_the_end_in_the_last_page)
{
	static const struct {
		long long off, len, data_from_0, hole_from_data;
	} cases[] = {
	    {0, 10000, 2 * PAGE, 8374},	       /* ends inside the last page */
	    {PAGE, 8374 - PAGE + 1, 0, PAGE},  /* ends one past the end */
	    {2 * PAGE + 8, 1000, 0, 8374},     /* starts in the last page */
	    {0, 3 * PAGE, -ENXIO, -ENXIO},     /* covers it to its end */
	    {2 * PAGE, 2 * PAGE, 0, 2 * PAGE}, /* the last page only */
	};
	for (int i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		struct pair p;
		pair_open(&p, "last-page");
		pair_write(&p, 0, 8374);
		pair_punch(&p, cases[i].off, cases[i].len);
		mark(&p, 2 * PAGE);
		compare(&p, 0, i); /* reported as seed 0, layout i */
		long long data = seek(p.fd, 0, SEEK_DATA);
		ck_assert_int_eq(data, cases[i].data_from_0);
		if (data >= 0)
			ck_assert_int_eq(seek(p.fd, data, SEEK_HOLE),
					 cases[i].hole_from_data);
		pair_close(&p, "last-page");
	}
}
END_TEST

START_TEST(random_layouts_as_tmpfs)
{
	unsigned seed = take_seed();
	for (int layout = 0; layout < LAYOUTS; layout++) {
		struct pair p;
		pair_open(&p, "layout");
		int ops = 1 + (int)pick(OPS_MAX);
		for (int i = 0; i < ops; i++)
			random_change(&p);
		mark(&p, 0);
		mark(&p, p.size);
		compare(&p, seed, layout);
		pair_close(&p, "layout");
	}
}
END_TEST

static long long blocks_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return (long long)st.st_blocks;
}

/* cp --sparse=always of a terabyte with three pages stored copies three
 * pages, not a terabyte of zeroes. */
START_TEST(cp_sparse_terabyte)
{
	const char *src = tmount_path(&m, "tb");
	int fd = open(src, O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, TB), 0);
	static const long long at[] = {0, TB / 2 + 3 * PAGE, TB - PAGE};
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pwrite(fd, "data", 4, at[i]), 4);
	ck_assert_int_eq(close(fd), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(tsh(60, "cp --sparse=always '%s' '%s'", src,
			     tmount_path(&m, "tb.copy")),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "check_holes: cp --sparse=always of 1 TiB: %.3f s\n",
		(double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	const char *dst = tmount_path(&m, "tb.copy");
	ck_assert_int_eq(blocks_of(src), 3 * PAGE / 512);
	ck_assert_int_eq(blocks_of(dst), blocks_of(src));
	fd = open(dst, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, TB);
	for (int i = 0; i < 3; i++) {
		char buf[5] = {0};
		ck_assert_int_eq(pread(fd, buf, 4, at[i]), 4);
		ck_assert_str_eq(buf, "data");
		ck_assert_int_eq(seek(fd, i ? at[i - 1] + PAGE : 0, SEEK_DATA),
				 at[i]);
	}
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

static TCase *mount_case(const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, unmount);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, one_byte_at_one_mib);
	tcase_add_test(tc, punch_past_the_end_in_the_last_page);
	tcase_add_test(tc, random_layouts_as_tmpfs);
	tcase_add_test(tc, cp_sparse_terabyte);
	return tc;
}

static Suite *suite(void)
{
	Suite *s = suite_create("holes");
	suite_add_tcase(s, mount_case("memory", mount_memory));
	suite_add_tcase(s, mount_case("file", mount_file));
	return s;
}

int main(void)
{
	return run_suite(suite());
}
