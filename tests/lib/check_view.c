/*
 * libshmap views on a real mount: shmap_map / shmap_map_at / shmap_flush /
 * shmap_unmap, their error cases, coherence between a parent and forked
 * children, private copy-on-write views, durability in the backing file,
 * and one agreed base address in several processes (-EADDRINUSE, the
 * caller untouched, where the range is taken); huge-page views.
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PAGE	 4096
#define CHILDREN 3

static shmap_t *make(const char *name, uint64_t size)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_create(name, size, SHMAP_READWRITE, 0, &m), 0);
	return m;
}

START_TEST(map_rejects_bad_requests)
{
	shmap_t *m = make("a", 4 * PAGE);
	void *v;
	ck_assert_int_eq(shmap_map(m, 100, PAGE, SHMAP_READ, &v), -EINVAL);
	ck_assert_int_eq(shmap_map(m, 4 * PAGE, 0, SHMAP_READ, &v), -EINVAL);
	ck_assert_int_eq(shmap_map(m, 8 * PAGE, PAGE, SHMAP_READ, &v), -EINVAL);
	ck_assert_int_eq(shmap_map(m, 3 * PAGE, 2 * PAGE, SHMAP_READ, &v),
			 -EINVAL);
	ck_assert_int_eq(shmap_map(m, 0, 5 * PAGE, SHMAP_READ, &v), -EINVAL);
	ck_assert_int_eq(shmap_map(m, 0, PAGE, 0, &v), -EINVAL);
	ck_assert_int_eq(shmap_map(m, 0, PAGE, 3, &v), -EINVAL);
	ck_assert_int_eq(shmap_map(m, 0, PAGE, SHMAP_READ, NULL), -EINVAL);
	ck_assert_int_eq(shmap_map(NULL, 0, PAGE, SHMAP_READ, &v), -EINVAL);
	ck_assert_int_eq(shmap_unmap(NULL), -EINVAL);
	ck_assert_int_eq(shmap_unmap(&v), -EINVAL);
	ck_assert_int_eq(shmap_flush(NULL, 0), -EINVAL);
	ck_assert_int_eq(shmap_flush(&v, 0), -EINVAL);
	ck_assert_int_eq(shmap_close(m), 0);
	/* A read handle cannot give a shared writable view. */
	ck_assert_int_eq(shmap_open("a", SHMAP_READ, &m), 0);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_WRITE, &v), -EACCES);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_READ, &v), 0);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_unmap(v), -EINVAL);
	ck_assert_int_eq(shmap_close(m), 0);
	/* An empty mapping has no view. */
	m = make("empty", 0);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_READ, &v), -EINVAL);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

START_TEST(views_of_parts_and_read_write_agree)
{
	shmap_t *m = make("a", 8 * PAGE);
	char *whole, *part;
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&whole), 0);
	ck_assert_int_eq(
	    shmap_map(m, 2 * PAGE, PAGE, SHMAP_WRITE, (void **)&part), 0);
	strcpy(part + 10, "through the part");
	ck_assert_str_eq(whole + 2 * PAGE + 10, "through the part");
	char buf[32] = "";
	ck_assert_int_eq(pread(shmap_fd(m), buf, 16, 2 * PAGE + 10), 16);
	ck_assert_int_eq(memcmp(buf, "through the part", 16), 0);
	ck_assert_int_eq(pwrite(shmap_fd(m), "by write", 9, 7 * PAGE), 9);
	ck_assert_str_eq(whole + 7 * PAGE, "by write");
	/* Length 0: to the end, from an offset. */
	char *tail;
	ck_assert_int_eq(shmap_map(m, 7 * PAGE, 0, SHMAP_READ, (void **)&tail),
			 0);
	ck_assert_str_eq(tail, "by write");
	ck_assert_int_eq(shmap_flush(part + 10, 5), 0);
	ck_assert_int_eq(shmap_flush(tail, 0), 0);
	ck_assert_int_eq(shmap_unmap(tail), 0);
	ck_assert_int_eq(shmap_unmap(part), 0);
	/* Views stay valid after the handle is closed. */
	ck_assert_int_eq(shmap_close(m), 0);
	whole[PAGE] = 'x';
	ck_assert_int_eq(whole[PAGE], 'x');
	ck_assert_int_eq(shmap_unmap(whole), 0);
	ck_assert_int_eq(shmap_open("a", SHMAP_READ, &m), 0);
	ck_assert_int_eq(pread(shmap_fd(m), buf, 1, PAGE), 1);
	ck_assert_int_eq(buf[0], 'x');
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

/* Children meet in the view: slot i of each page written by child i. */
struct meet {
	int arrived;
	int done;
	int values[CHILDREN];
};

static int coherent_child(void *arg)
{
	int me = (int)(long)arg;
	shmap_t *m;
	if (shmap_open("shared", SHMAP_WRITE, &m))
		return 10;
	struct meet *v;
	if (shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&v))
		return 11;
	shmap_close(m);
	v->values[me] = 1000 + me;
	if (lt_barrier(&v->arrived, CHILDREN, 10000))
		return 12;
	/* Every other child's store is visible here, at once. */
	for (int i = 0; i < CHILDREN; i++)
		if (__atomic_load_n(&v->values[i], __ATOMIC_SEQ_CST) !=
		    1000 + i)
			return 13;
	__atomic_add_fetch(&v->done, 1, __ATOMIC_SEQ_CST);
	return shmap_unmap(v) ? 14 : 0;
}

START_TEST(views_are_coherent_across_processes)
{
	shmap_t *m = make("shared", PAGE);
	struct meet *v;
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&v), 0);
	pid_t pids[CHILDREN];
	for (long i = 0; i < CHILDREN; i++)
		pids[i] = lt_fork(coherent_child, (void *)i);
	for (int i = 0; i < CHILDREN; i++)
		ck_assert_int_eq(lt_wait(pids[i], 20000), 0);
	ck_assert_int_eq(v->done, CHILDREN);
	for (int i = 0; i < CHILDREN; i++)
		ck_assert_int_eq(v->values[i], 1000 + i);
	struct meet copy;
	ck_assert_int_eq(pread(shmap_fd(m), &copy, sizeof(copy), 0),
			 sizeof(copy));
	ck_assert_int_eq(memcmp(&copy, v, sizeof(copy)), 0);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

static int copy_child(void *arg)
{
	(void)arg;
	shmap_t *m;
	if (shmap_open("cow", SHMAP_READ, &m))
		return 10;
	char *v;
	if (shmap_map(m, 0, 0, SHMAP_READ, (void **)&v))
		return 11;
	int ok = strcmp(v, "original") == 0;
	shmap_unmap(v);
	shmap_close(m);
	return ok ? 0 : 12;
}

START_TEST(copy_views_leave_the_mapping_alone)
{
	shmap_t *m = make("cow", 2 * PAGE);
	ck_assert_int_eq(pwrite(shmap_fd(m), "original", 9, 0), 9);
	char *shared, *priv;
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_READ, (void **)&shared), 0);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_COPY, (void **)&priv), 0);
	ck_assert_str_eq(priv, "original");
	strcpy(priv, "modified");
	priv[PAGE] = 'p';
	ck_assert_str_eq(priv, "modified");
	ck_assert_int_eq(shmap_flush(priv, 0), 0);
	ck_assert_str_eq(shared, "original");
	ck_assert_int_eq(shared[PAGE], 0);
	char buf[16];
	ck_assert_int_eq(pread(shmap_fd(m), buf, 9, 0), 9);
	ck_assert_str_eq(buf, "original");
	ck_assert_int_eq(lt_wait(lt_fork(copy_child, NULL), 10000), 0);
	ck_assert_int_eq(shmap_unmap(priv), 0);
	ck_assert_int_eq(shmap_unmap(shared), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	/* A write-copy mapping: COPY views from a read handle. */
	ck_assert_int_eq(shmap_create("wc", PAGE, SHMAP_WRITECOPY, 0, &m), 0);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&priv),
			 -EACCES);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_COPY, (void **)&priv), 0);
	strcpy(priv, "mine");
	ck_assert_int_eq(pread(shmap_fd(m), buf, 4, 0), 4);
	ck_assert_int_eq(memcmp(buf, "\0\0\0\0", 4), 0);
	ck_assert_int_eq(shmap_unmap(priv), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

/* Flushed stores are in the backing file, read behind the daemon. */
START_TEST(flush_reaches_the_backing_file)
{
	shmap_t *m = make("durable", 4 * PAGE);
	char *v;
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&v), 0);
	strcpy(v + 3 * PAGE + 5, "flushed to disk");
	ck_assert_int_eq(shmap_flush(v + 3 * PAGE + 5, 15), 0);
	int fd = open(tmount_bpath(&lt_mnt, "durable"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	char buf[16] = "";
	ck_assert_int_eq(pread(fd, buf, 15, 3 * PAGE + 5), 15);
	ck_assert_str_eq(buf, "flushed to disk");
	strcpy(v, "whole view");
	ck_assert_int_eq(shmap_flush(v, 0), 0);
	ck_assert_int_eq(pread(fd, buf, 11, 0), 11);
	ck_assert_str_eq(buf, "whole view");
	close(fd);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

/* Where each child saw its view: an anonymous shared page. */
static uintptr_t *seen;
static volatile int *arrived;

static int map_at_child(void *arg)
{
	int me = (int)(long)arg;
	shmap_t *m;
	if (shmap_open("fixed", SHMAP_WRITE, &m))
		return 10;
	/* Meet first, so that several ask for the base at once. */
	if (lt_barrier(arrived, CHILDREN, 10000))
		return 11;
	char *v;
	int err = shmap_map_at(m, PAGE, 0, SHMAP_WRITE, NULL, (void **)&v);
	shmap_close(m);
	if (err)
		return 12;
	seen[me] = (uintptr_t)v;
	/* A pointer stored by one process is good in every other. */
	char **slot = (char **)v;
	__atomic_store_n(&slot[1 + me], v + 512 + me * 64, __ATOMIC_SEQ_CST);
	snprintf(v + 512 + me * 64, 64, "child %d", me);
	if (lt_barrier(arrived, 2 * CHILDREN, 10000))
		return 13;
	for (int i = 0; i < CHILDREN; i++) {
		char want[16];
		snprintf(want, sizeof(want), "child %d", i);
		if (strcmp(slot[1 + i], want))
			return 14;
	}
	return shmap_unmap(v) ? 15 : 0;
}

static uintptr_t recorded_base(const char *name)
{
	char buf[32];
	ssize_t n = getxattr(tmount_path(&lt_mnt, name), "user.shmap.base", buf,
			     sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (uintptr_t)strtoull(buf, NULL, 0);
}

START_TEST(map_at_agrees_in_three_processes)
{
	shmap_t *m = make("fixed", 64 * PAGE);
	ck_assert_int_eq(shmap_close(m), 0);
	seen = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(seen, MAP_FAILED);
	arrived = (volatile int *)(seen + 16);
	pid_t pids[CHILDREN];
	for (long i = 0; i < CHILDREN; i++)
		pids[i] = lt_fork(map_at_child, (void *)i);
	for (int i = 0; i < CHILDREN; i++)
		ck_assert_int_eq(lt_wait(pids[i], 20000), 0);
	uintptr_t base = recorded_base("fixed");
	ck_assert_uint_ne(base, 0);
	for (int i = 0; i < CHILDREN; i++)
		ck_assert_uint_eq(seen[i], base + PAGE);
	/* And here too, later, whatever hint we give. */
	ck_assert_int_eq(shmap_open("fixed", SHMAP_READ, &m), 0);
	char *v;
	ck_assert_int_eq(shmap_map_at(m, 0, 0, SHMAP_READ, (void *)0x7000000000,
				      (void **)&v),
			 0);
	ck_assert_ptr_eq(v, (void *)base);
	ck_assert_str_eq(((char **)(v + PAGE))[2], "child 1");
	/* Already mapped there in this process: never over it. */
	void *again;
	ck_assert_int_eq(shmap_map_at(m, 0, PAGE, SHMAP_READ, NULL, &again),
			 -EADDRINUSE);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	munmap(seen, PAGE);
}
END_TEST

START_TEST(map_at_takes_the_hint_first)
{
	void *hint = (void *)0x3a0000000000ULL;
	shmap_t *m = make("hinted", 4 * PAGE);
	void *v;
	ck_assert_int_eq(shmap_map_at(m, 0, 0, SHMAP_READ, (void *)0x1001, &v),
			 -EINVAL);
	ck_assert_int_eq(shmap_map_at(m, 0, 0, 0, hint, &v), -EINVAL);
	ck_assert_int_eq(shmap_map_at(m, 100, 0, SHMAP_READ, hint, &v),
			 -EINVAL);
	ck_assert_int_eq(shmap_map_at(m, 0, 8 * PAGE, SHMAP_READ, hint, &v),
			 -EINVAL);
	ck_assert_int_eq(shmap_map_at(m, 0, 0, SHMAP_READ, hint, NULL),
			 -EINVAL);
	ck_assert_int_eq(shmap_map_at(m, 2 * PAGE, PAGE, SHMAP_WRITE, hint, &v),
			 0);
	ck_assert_ptr_eq(v, (char *)hint + 2 * PAGE);
	ck_assert_uint_eq(recorded_base("hinted"), (uintptr_t)hint);
	ck_assert_int_eq(shmap_unmap(v), 0);
	/* Copy views go to the agreed place too. */
	ck_assert_int_eq(shmap_map_at(m, 0, PAGE, SHMAP_COPY, NULL, &v), 0);
	ck_assert_ptr_eq(v, hint);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

/* The base outlives the process that fixed it, and the mount. */
START_TEST(map_at_base_survives_remount)
{
	void *hint = (void *)0x3b0000000000ULL;
	shmap_t *m = make("kept", 4 * PAGE);
	void *v;
	ck_assert_int_eq(shmap_map_at(m, 0, 0, SHMAP_WRITE, hint, &v), 0);
	*(char **)v = (char *)v + 100;
	strcpy((char *)v + 100, "still here");
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(tmount_unmount(&lt_mnt), 0);
	ck_assert_int_eq(tmount_restart(&lt_mnt, NULL), 0);
	ck_assert_int_eq(shmap_open("kept", SHMAP_WRITE, &m), 0);
	ck_assert_int_eq(shmap_map_at(m, 0, 0, SHMAP_WRITE, NULL, &v), 0);
	ck_assert_ptr_eq(v, hint);
	/* So do the contents, and pointers into them. */
	ck_assert_ptr_eq(*(char **)v, (char *)hint + 100);
	ck_assert_str_eq((char *)hint + 100, "still here");
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

static int read_maps(char *buf, size_t len)
{
	int fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return -1;
	size_t got = 0;
	ssize_t n;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return 0;
}

static char maps_before[1 << 16], maps_after[1 << 16];

/* The agreed range is taken here: -EADDRINUSE, nothing changed. */
static int taken_child(void *arg)
{
	uintptr_t base = (uintptr_t)arg;
	shmap_t *m;
	/* Drop the view fork() gave us, then take part of its range. */
	if (shmap_unmap((void *)base) || shmap_open("fixed", SHMAP_WRITE, &m))
		return 10;
	char *mine =
	    mmap((void *)(base + 2 * PAGE), PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mine != (void *)(base + 2 * PAGE))
		return 11;
	strcpy(mine, "my own data");
	void *v = NULL;
	if (read_maps(maps_before, sizeof(maps_before)))
		return 12;
	int err = shmap_map_at(m, 0, 0, SHMAP_WRITE, NULL, &v);
	if (read_maps(maps_after, sizeof(maps_after)))
		return 12;
	if (err != -EADDRINUSE)
		return 13;
	if (v != NULL)
		return 14;
	if (strcmp(mine, "my own data"))
		return 15;
	if (strcmp(maps_before, maps_after))
		return 16;
	/* A view that avoids the taken page still works. */
	if (shmap_map_at(m, 3 * PAGE, PAGE, SHMAP_WRITE, NULL, &v) ||
	    v != (void *)(base + 3 * PAGE))
		return 17;
	shmap_unmap(v);
	shmap_close(m);
	return 0;
}

START_TEST(map_at_refuses_a_taken_range)
{
	shmap_t *m = make("fixed", 8 * PAGE);
	void *v;
	ck_assert_int_eq(shmap_map_at(m, 0, 0, SHMAP_WRITE, NULL, &v), 0);
	uintptr_t base = (uintptr_t)v;
	ck_assert_uint_eq(recorded_base("fixed"), base);
	ck_assert_int_eq(lt_wait(lt_fork(taken_child, (void *)base), 10000), 0);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

/* Kilobytes of the view at v mapped with huge pages (PMDs), from smaps. */
static long pmd_mapped_kb(const void *v)
{
	char line[256];
	unsigned long start;
	long kb, total = 0;
	int in_view = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		/* A view's line starts with its address (lower-case hex);
		 * its fields' names with a capital. */
		if (!isupper((unsigned char)line[0]) &&
		    sscanf(line, "%lx-", &start) == 1)
			in_view = start == (uintptr_t)v;
		else if (in_view && strstr(line, "PmdMapped:") &&
			 sscanf(strchr(line, ':') + 1, "%ld", &kb) == 1)
			total += kb;
	}
	fclose(f);
	return total;
}

/*
 * SHMAP_HUGE (SEC_LARGE_PAGES): the view starts at a 2 MiB boundary and
 * works as any other; on a huge=advise mount whose views map the stores
 * (passthrough) the kernel maps it with huge pages. Alone, it is no
 * access: -EINVAL.
 */
START_TEST(huge_views)
{
	const size_t size = 8 << 20;
	ck_assert_int_eq(tmount_start(&lt_mnt, 0, "huge=advise"), 0);
	setenv("SHMAP_DIR", lt_mnt.mnt, 1);
	shmap_t *m = make("big", size);
	void *v;
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_HUGE, &v), -EINVAL);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_WRITE | SHMAP_HUGE, &v), 0);
	ck_assert_uint_eq((uintptr_t)v % (2 << 20), 0);
	memset(v, 'h', size);
	if (lt_mnt.passthrough)
		ck_assert_int_gt(pmd_mapped_kb(v), 0);
	char b[4];
	ck_assert_int_eq(pread(shmap_fd(m), b, 4, size - 4), 4);
	ck_assert_mem_eq(b, "hhhh", 4);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	lt_unmount();
}
END_TEST

static Suite *view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, map_rejects_bad_requests);
	tcase_add_test(tc, views_of_parts_and_read_write_agree);
	tcase_add_test(tc, views_are_coherent_across_processes);
	tcase_add_test(tc, copy_views_leave_the_mapping_alone);
	tcase_add_test(tc, map_at_agrees_in_three_processes);
	tcase_add_test(tc, map_at_takes_the_hint_first);
	tcase_add_test(tc, map_at_refuses_a_taken_range);
	suite_add_tcase(s, tc);

	TCase *fb = tcase_create("file-backed");
	tcase_set_timeout(fb, 60);
	tcase_add_checked_fixture(fb, lt_setup_file, lt_teardown);
	tcase_add_test(fb, flush_reaches_the_backing_file);
	tcase_add_test(fb, views_are_coherent_across_processes);
	tcase_add_test(fb, map_at_base_survives_remount);
	suite_add_tcase(s, fb);

	TCase *huge = tcase_create("huge");
	tcase_set_timeout(huge, 60);
	tcase_add_test(huge, huge_views);
	suite_add_tcase(s, huge);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(view_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
