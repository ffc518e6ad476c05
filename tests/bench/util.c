/*
 * shmapbench helpers: the clock, paths under the directory under test,
 * whole-buffer I/O, the data pattern (fill and check), and the page cache
 * of one file (drop it, count what is resident).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *bench_path(const struct bench_opts *o, const char *name, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s/%s", o->dir, name);
	return buf;
}

int bench_open(const struct bench_opts *o, const char *name, int flags, int *fd)
{
	char path[4096];

	*fd = open(bench_path(o, name, path, sizeof(path)), flags, 0600);
	if (*fd < 0) {
		int err = errno;

		fprintf(stderr, "shmapbench: open %s: %s\n", path,
			strerror(err));
		return -err;
	}
	return 0;
}

int bench_write_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int bench_read_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA; /* shorter than it should be */
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Put the pattern word of each page of @buf (starting at page @first). */
static void stamp_pages(char *buf, size_t len, uint64_t first, uint64_t gen)
{
	for (size_t i = 0; i < len / BENCH_PAGE; i++) {
		uint64_t w = bench_pattern(first + i, gen);

		memcpy(buf + i * BENCH_PAGE, &w, sizeof(w));
	}
}

/* Write @size bytes of pattern (word 0 of each page) with write(). */
int bench_fill(int fd, size_t size, uint64_t gen)
{
	char *buf = calloc(1, BENCH_BLOCK);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t off = 0; off < size && ret == 0; off += BENCH_BLOCK) {
		size_t len =
		    size - off < BENCH_BLOCK ? size - off : BENCH_BLOCK;

		stamp_pages(buf, len, off / BENCH_PAGE, gen);
		ret = bench_write_all(fd, buf, len, (off_t)off);
	}
	free(buf);
	return ret;
}

/*
 * Make the file's pages leave the page cache: write back what is dirty,
 * then drop the clean pages of this one inode (what drop_caches does to
 * it). A tmpfs keeps its pages: they are its data.
 */
int bench_drop_cache(int fd)
{
	int err;

	if (fsync(fd) < 0)
		return -errno;
	err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return -err;
}

/* How many bytes of the file's first @size bytes are in the page cache. */
/* cachestat(2) (Linux 6.5), which glibc 2.36 does not wrap. */
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
struct cachestat_range {
	uint64_t off, len;
};
struct cachestat_info {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
	    nr_recently_evicted;
};

/*
 * Bytes of fd's file in its page cache: the page cache of the inode fd
 * names (the FUSE inode, for a FUSE file). cachestat() asks that inode
 * itself; mincore() on a view, the fallback, would count a passthrough
 * store's pages as the FUSE file's (a passthrough view maps the store).
 */
int bench_resident(int fd, size_t size, size_t *bytes)
{
	struct cachestat_range range = {0, size};
	struct cachestat_info cs;
	size_t pages = (size + BENCH_PAGE - 1) / BENCH_PAGE;
	unsigned char *vec;
	void *p;
	int ret = 0;

	*bytes = 0;
	if (size == 0)
		return 0;
	if (syscall(SYS_cachestat, fd, &range, &cs, 0) == 0) {
		*bytes = (size_t)cs.nr_cache * BENCH_PAGE;
		return 0;
	}
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	vec = malloc(pages);
	if (!vec)
		ret = -ENOMEM;
	else if (mincore(p, size, vec) < 0)
		ret = -errno;
	for (size_t i = 0; ret == 0 && i < pages; i++)
		*bytes += (vec[i] & 1) ? BENCH_PAGE : 0;
	free(vec);
	munmap(p, size);
	return ret;
}

/* Check that word @word of every page holds the pattern tagged @gen. */
int bench_check_word(int fd, size_t size, size_t word, uint64_t gen)
{
	char *buf = malloc(BENCH_BLOCK);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t off = 0; off < size && ret == 0; off += BENCH_BLOCK) {
		size_t len =
		    size - off < BENCH_BLOCK ? size - off : BENCH_BLOCK;

		ret = bench_read_all(fd, buf, len, (off_t)off);
		for (size_t i = 0; ret == 0 && i < len / BENCH_PAGE; i++) {
			uint64_t page = off / BENCH_PAGE + i, w;

			memcpy(&w, buf + i * BENCH_PAGE + word * 8, sizeof(w));
			if (w == bench_pattern(page, gen))
				continue;
			fprintf(stderr,
				"shmapbench: page %llu word %zu holds %#llx, "
				"not %#llx\n",
				(unsigned long long)page, word,
				(unsigned long long)w,
				(unsigned long long)bench_pattern(page, gen));
			ret = -EIO;
		}
	}
	free(buf);
	return ret;
}

void bench_rate(struct bench_result *r, double amount, double secs,
		const char *unit)
{
	r->value = secs > 0 ? amount / secs : 0;
	r->unit = unit;
}
