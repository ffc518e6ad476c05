/*
 * shmapbench workloads through read()/write() and the namespace: making
 * the data file, warm read(), sequential write() plus fsync and cold
 * read(), random 4 KiB pwrite() plus fsync, the create-truncate-close-
 * unlink cycle, and the page-cache helpers the driver's memory phase uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* The file every view workload uses: word 0 of each page tagged 0. */
int bench_prep(const struct bench_opts *o, struct bench_result *r)
{
	double t0 = bench_now();
	int fd, ret = bench_open(o, "data", O_RDWR | O_CREAT | O_TRUNC, &fd);

	if (ret)
		return ret;
	ret = bench_fill(fd, o->size, 0);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	return ret;
}

int bench_warm_read(const struct bench_opts *o, struct bench_result *r)
{
	double t0;
	int fd, ret = bench_open(o, "data", O_RDONLY, &fd);

	if (ret)
		return ret;
	ret = bench_check_word(fd, o->size, 0, 0); /* warm up, untimed */
	t0 = bench_now();
	if (ret == 0)
		ret = bench_check_word(fd, o->size, 0, 0);
	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	close(fd);
	return ret;
}

int bench_seq_write(const struct bench_opts *o, struct bench_result *r)
{
	double t0 = bench_now();
	int fd, ret = bench_open(o, "seq", O_WRONLY | O_CREAT | O_TRUNC, &fd);

	if (ret)
		return ret;
	ret = bench_fill(fd, o->size, o->gen);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	return ret;
}

/*
 * dd to a new file: write() of bs-byte blocks, fsync, close (the quota
 * case of issue 22 measures 4 KiB and 1 MiB); then check a word per page
 * and unlink it.
 */
static int dd_blocks(const struct bench_opts *o, struct bench_result *r,
		     size_t bs)
{
	char *buf = calloc(1, bs), path[4096];
	double t0 = bench_now();
	int fd = -1,
	    ret = buf ? bench_open(o, "dd", O_WRONLY | O_CREAT | O_TRUNC, &fd)
		      : -ENOMEM;

	for (size_t off = 0; off < o->size && ret == 0; off += bs) {
		for (size_t p = 0; p < bs; p += BENCH_PAGE) {
			uint64_t w =
			    bench_pattern((off + p) / BENCH_PAGE, o->gen);
			memcpy(buf + p, &w, sizeof(w));
		}
		ret = bench_write_all(fd, buf, bs, (off_t)off);
	}
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (fd >= 0 && close(fd) < 0 && ret == 0)
		ret = -errno;
	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	if (ret == 0)
		ret = bench_open(o, "dd", O_RDONLY, &fd);
	if (ret == 0) {
		ret = bench_check_word(fd, o->size, 0, o->gen);
		close(fd);
	}
	if (unlink(bench_path(o, "dd", path, sizeof(path))) < 0 && ret == 0)
		ret = -errno;
	free(buf);
	return ret;
}

int bench_dd_4k(const struct bench_opts *o, struct bench_result *r)
{
	return dd_blocks(o, r, BENCH_PAGE);
}

int bench_dd_1m(const struct bench_opts *o, struct bench_result *r)
{
	return dd_blocks(o, r, BENCH_BLOCK);
}

/* Cold read() of what bench_seq_write wrote (same gen); then unlink it. */
int bench_seq_read(const struct bench_opts *o, struct bench_result *r)
{
	char path[4096];
	double t0;
	int fd, ret = bench_open(o, "seq", O_RDONLY, &fd);

	if (ret)
		return ret;
	ret = bench_drop_cache(fd);
	t0 = bench_now();
	if (ret == 0)
		ret = bench_check_word(fd, o->size, 0, o->gen);
	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	close(fd);
	if (unlink(bench_path(o, "seq", path, sizeof(path))) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The timed part: one 4 KiB pwrite per block's worth, then fsync. */
static int rand_writes(int fd, const struct bench_opts *o, uint64_t *want,
		       char *buf)
{
	size_t blocks = o->size / BENCH_PAGE;
	uint64_t seed = o->gen | 1;

	for (size_t op = 0; op < blocks; op++) {
		size_t b = xorshift(&seed) % blocks;
		uint64_t w = bench_pattern(b, o->gen + op + 1);
		int ret;

		memcpy(buf, &w, sizeof(w));
		ret = bench_write_all(fd, buf, BENCH_PAGE,
				      (off_t)(b * BENCH_PAGE));
		if (ret)
			return ret;
		want[b] = w;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

/* After the cache is dropped, each block must hold its last write. */
static int rand_check(int fd, size_t size, const uint64_t *want, char *buf)
{
	int ret = bench_drop_cache(fd);

	for (size_t b = 0; ret == 0 && b < size / BENCH_PAGE; b++) {
		uint64_t w;

		ret = bench_read_all(fd, buf, BENCH_PAGE,
				     (off_t)(b * BENCH_PAGE));
		memcpy(&w, buf, sizeof(w));
		if (ret == 0 && w != want[b]) {
			fprintf(stderr, "shmapbench: rand block %zu lost\n", b);
			ret = -EIO;
		}
	}
	return ret;
}

int bench_rand_pwrite(const struct bench_opts *o, struct bench_result *r)
{
	size_t blocks = o->size / BENCH_PAGE;
	uint64_t *want = calloc(blocks ? blocks : 1, sizeof(*want));
	char *buf = calloc(1, BENCH_PAGE), path[4096];
	double t0;
	int fd = -1, ret = want && buf ? 0 : -ENOMEM;

	if (ret == 0)
		ret = bench_open(o, "rand", O_RDWR | O_CREAT | O_TRUNC, &fd);
	if (ret == 0)
		ret = bench_fill(fd, o->size, 0);
	/* The fill is not timed: with writeback caching its pages would
	 * otherwise be written back inside the timed fsync. */
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	for (size_t b = 0; b < blocks && want; b++)
		want[b] = bench_pattern(b, 0);
	t0 = bench_now();
	if (ret == 0)
		ret = rand_writes(fd, o, want, buf);
	bench_rate(r, (double)blocks, bench_now() - t0, "ops/s");
	if (ret == 0)
		ret = rand_check(fd, o->size, want, buf);
	if (fd >= 0)
		close(fd);
	if (fd >= 0 && unlink(bench_path(o, "rand", path, sizeof(path))))
		ret = ret ? ret : -errno;
	free(want);
	free(buf);
	return ret;
}

/* create, ftruncate to 64 KiB, close, unlink: one operation. */
static int meta_once(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, 64 * 1024) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (unlink(path) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int bench_meta(const struct bench_opts *o, struct bench_result *r)
{
	char path[4096];
	unsigned long n = 0;
	double t0 = bench_now(), t;
	int ret;

	do {
		snprintf(path, sizeof(path), "%s/meta.%lu", o->dir, n++);
		ret = meta_once(path);
		t = bench_now() - t0;
	} while (ret == 0 && t * 1000 < (double)o->duration_ms);
	if (ret)
		fprintf(stderr, "shmapbench: %s: %s\n", path, strerror(-ret));
	bench_rate(r, (double)n, t, "ops/s");
	return ret;
}

/*
 * The memory phase's probe: read "data" whole, count its bytes in the page
 * cache (of the FUSE inode, if FUSE), drop them and count again. One
 * process does it all because an open() without FOPEN_KEEP_CACHE (plain
 * passthrough_ll) empties the cache it would count.
 */
int bench_memory_cmd(const struct bench_opts *o, struct bench_result *r)
{
	size_t cached = 0, left = 0;
	int fd, ret = bench_open(o, "data", O_RDONLY, &fd);

	if (ret)
		return ret;
	ret = bench_check_word(fd, o->size, 0, 0);
	if (ret == 0)
		ret = bench_resident(fd, o->size, &cached);
	if (ret == 0)
		ret = bench_drop_cache(fd);
	if (ret == 0)
		ret = bench_resident(fd, o->size, &left);
	close(fd);
	r->value = (double)cached;
	r->unit = "bytes";
	snprintf(r->note, sizeof(r->note), "%zu", left);
	return ret;
}
