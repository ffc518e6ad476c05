/*
 * Mount tests of the write guarantees (issue 22), on both data paths and
 * with -o writeback_cache: which mounts let the kernel buffer write()
 * (only those that ask), O_APPEND from several processes, O_DIRECT beside
 * the page cache and views, a full mount reported at the write or (with
 * writeback caching) at the fsync/close after it, data that outlives the
 * page cache, and a file-backed write() in the backing file when it
 * returns.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define PAGE	  4096
#define MB	  (1LL << 20)
#define RECORD	  1000 /* not a page: appends straddle pages */
#define APPENDERS 4
#define APPENDS	  300

static struct tmount m;

static const char *P(const char *name)
{
	return tmount_path(&m, name);
}

static void mount_memory(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=8m"), 0);
}

static void mount_memory_writeback(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=8m,writeback_cache"), 0);
	ck_assert(m.writeback_cache);
}

static void mount_file(void)
{
	/* noexclusive: the tests read backing files while in use */
	ck_assert_int_eq(tmount_start(&m, 1, "noexclusive"), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/* Mount with opts, say whether the daemon asked for writeback caching,
 * unmount. */
static int writeback_with(int file_backed, const char *opts)
{
	ck_assert_int_eq(tmount_start(&m, file_backed, opts), 0);
	int wbc = m.writeback_cache;
	int passthrough = m.passthrough;
	ck_assert_int_eq(tmount_stop(&m), 0);
	/* The kernel refuses the two together. */
	ck_assert(!(wbc && passthrough));
	return wbc;
}

/* The defaults: no mount buffers write() unless it asks (its dirty
 * pages would wait for the daemon, README); asking turns passthrough off. */
START_TEST(defaults_per_mount)
{
	ck_assert_int_eq(writeback_with(0, NULL), 0);
	ck_assert_int_eq(writeback_with(0, "nopassthrough"), 0);
	ck_assert_int_eq(writeback_with(1, NULL), 0);
	ck_assert_int_eq(writeback_with(1, "nopassthrough"), 0);
	ck_assert_int_eq(writeback_with(0, "usrquota"), 0);
	ck_assert_int_eq(writeback_with(0, "writeback_cache"), 1);
	ck_assert_int_eq(writeback_with(1, "writeback_cache"), 1);
}
END_TEST

static int appender(void *arg)
{
	int id = (int)(intptr_t)arg;
	char rec[RECORD];
	memset(rec, 'A' + id, sizeof(rec));
	int fd = open(P("log"), O_WRONLY | O_APPEND);
	if (fd < 0)
		return 1;
	for (int i = 0; i < APPENDS; i++)
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			return 2;
	return close(fd) == 0 ? 0 : 3;
}

/* O_APPEND: every record lands whole at the end, none overwrites
 * another, the size counts them all, and a view sees the last one. */
START_TEST(append_from_several_processes)
{
	int fd = open(P("log"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	pid_t pids[APPENDERS];
	for (int i = 0; i < APPENDERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(appender((void *)(intptr_t)i));
	}
	for (int i = 0; i < APPENDERS; i++)
		ck_assert_int_eq(twait(pids[i], 60000), 0);
	const off_t size = (off_t)APPENDERS * APPENDS * RECORD;
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, size);
	char *buf = malloc((size_t)size);
	ck_assert_int_eq(pread(fd, buf, (size_t)size, 0), size);
	int count[APPENDERS] = {0};
	for (off_t r = 0; r < size; r += RECORD) {
		char c = buf[r];
		ck_assert_msg(c >= 'A' && c < 'A' + APPENDERS,
			      "record at %lld: 0x%02x", (long long)r, c);
		for (int i = 1; i < RECORD; i++)
			ck_assert_msg(buf[r + i] == c,
				      "record at %lld torn at %d", (long long)r,
				      i);
		count[c - 'A']++;
	}
	for (int i = 0; i < APPENDERS; i++)
		ck_assert_int_eq(count[i], APPENDS);
	char *v = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(v, MAP_FAILED);
	ck_assert_mem_eq(v + size - RECORD, buf + size - RECORD, RECORD);
	munmap(v, (size_t)size);
	free(buf);
	close(fd);
}
END_TEST

/* O_DIRECT sees what write() and a view stored before it, and they see
 * what it wrote. */
START_TEST(direct_io_beside_the_cache)
{
	int fd = open(P("d"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4 * PAGE), 0);
	char *v =
	    mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(v, MAP_FAILED);
	ck_assert_int_eq(pwrite(fd, "buffered", 8, 0), 8);
	memcpy(v + PAGE, "from-view", 9);
	int dfd = open(P("d"), O_RDWR | O_DIRECT);
	ck_assert_int_ge(dfd, 0);
	char *al = aligned_alloc(PAGE, 2 * PAGE);
	ck_assert_int_eq(pread(dfd, al, 2 * PAGE, 0), 2 * PAGE);
	ck_assert_mem_eq(al, "buffered", 8);
	ck_assert_mem_eq(al + PAGE, "from-view", 9);
	memset(al, 'D', PAGE);
	ck_assert_int_eq(pwrite(dfd, al, PAGE, 2 * PAGE), PAGE);
	ck_assert_int_eq(v[2 * PAGE], 'D');
	ck_assert_int_eq(v[3 * PAGE - 1], 'D');
	char back[4];
	ck_assert_int_eq(pread(fd, back, 4, 2 * PAGE), 4);
	ck_assert_mem_eq(back, "DDDD", 4);
	free(al);
	munmap(v, 4 * PAGE);
	close(dfd);
	close(fd);
}
END_TEST

/* Write 16 MiB to a new mapping of the 8 MiB mount; the first write()'s
 * errno, or 0 if every one returned in full. Its descriptor in *fd. */
static int write_past_capacity(int *fd)
{
	*fd = open(P("big"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(*fd, 0);
	char *buf = calloc(1, MB);
	int err = 0;
	for (int i = 0; i < 16 && !err; i++)
		if (write(*fd, buf, MB) < 0)
			err = errno;
	free(buf);
	return err;
}

/* A write() past the capacity fails: at the write, or with writeback
 * caching at the fsync after it; never silently. */
START_TEST(full_mount_at_write_or_fsync)
{
	int fd;
	int err = write_past_capacity(&fd);
	if (m.writeback_cache)
		ck_assert_int_eq(err, 0); /* the page cache took it */
	else
		ck_assert_int_eq(err, ENOSPC);
	if (!err && fsync(fd) < 0)
		err = errno;
	ck_assert_int_eq(err, ENOSPC);
	close(fd);
}
END_TEST

/* Likewise, with close() the only call that can tell. */
START_TEST(full_mount_at_write_or_close)
{
	int fd;
	int err = write_past_capacity(&fd);
	if (!err) {
		ck_assert(m.writeback_cache);
		ck_assert_int_eq(close(fd), -1);
		err = errno;
	} else {
		close(fd);
	}
	ck_assert_int_eq(err, ENOSPC);
}
END_TEST

/* What write() stored is in the store after close(): it reads back once
 * the page cache is dropped. */
START_TEST(write_outlives_the_page_cache)
{
	char *data = malloc(2 * MB), *back = malloc(2 * MB);
	fill_pattern(data, 2 * MB, 22);
	int fd = open(P("w"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	for (size_t off = 0; off < 2 * MB; off += 3 * PAGE + 17) {
		size_t len =
		    2 * MB - off < 3 * PAGE + 17 ? 2 * MB - off : 3 * PAGE + 17;
		ck_assert_int_eq(pwrite(fd, data + off, len, (off_t)off),
				 (ssize_t)len);
	}
	ck_assert_int_eq(close(fd), 0);
	fd = open(P("w"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	ck_assert_int_eq(pread(fd, back, 2 * MB, 0), 2 * MB);
	ck_assert(memcmp(back, data, 2 * MB) == 0);
	close(fd);
	free(data);
	free(back);
}
END_TEST

/* File-backed: a write() is in the backing file when it returns, no
 * fsync needed (file-backed mounts never buffer write()). */
START_TEST(file_backed_write_in_backing_file_at_return)
{
	int fd = open(P("f"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "at-return", 9, 5000), 9);
	char back[16];
	int bfd = open(tmount_bpath(&m, "f"), O_RDONLY);
	ck_assert_int_ge(bfd, 0);
	ck_assert_int_eq(pread(bfd, back, 9, 5000), 9);
	ck_assert_mem_eq(back, "at-return", 9);
	close(bfd);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("writeback");
	TCase *defaults = tcase_create("defaults");
	tcase_set_timeout(defaults, 120);
	tcase_add_test(defaults, defaults_per_mount);
	suite_add_tcase(s, defaults);

	TCase *mem = tcase_create("memory");
	tcase_add_checked_fixture(mem, mount_memory, unmount);
	tcase_set_timeout(mem, 120);
	tcase_add_test(mem, append_from_several_processes);
	tcase_add_test(mem, direct_io_beside_the_cache);
	tcase_add_test(mem, full_mount_at_write_or_fsync);
	tcase_add_test(mem, full_mount_at_write_or_close);
	tcase_add_test(mem, write_outlives_the_page_cache);
	suite_add_tcase(s, mem);

	TCase *wbc = tcase_create("memory-writeback_cache");
	tcase_add_checked_fixture(wbc, mount_memory_writeback, unmount);
	tcase_set_timeout(wbc, 120);
	tcase_add_test(wbc, append_from_several_processes);
	tcase_add_test(wbc, direct_io_beside_the_cache);
	tcase_add_test(wbc, full_mount_at_write_or_fsync);
	tcase_add_test(wbc, full_mount_at_write_or_close);
	tcase_add_test(wbc, write_outlives_the_page_cache);
	suite_add_tcase(s, wbc);

	TCase *file = tcase_create("file-backed");
	tcase_add_checked_fixture(file, mount_file, unmount);
	tcase_set_timeout(file, 120);
	tcase_add_test(file, append_from_several_processes);
	tcase_add_test(file, direct_io_beside_the_cache);
	tcase_add_test(file, write_outlives_the_page_cache);
	tcase_add_test(file, file_backed_write_in_backing_file_at_return);
	suite_add_tcase(s, file);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
