/*
 * shmapbench: the page workloads (issue 12), for huge pages. fault-in
 * sizes a new mapping "pages" and stores a byte into every page through a
 * view (each fault takes a page: 4 KiB, or 2 MiB with huge pages);
 * rand-access then loads and stores words at random places of a view of
 * it for the time given (TLB misses dominate: huge pages have fewer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

int bench_fault_in(const struct bench_opts *o, struct bench_result *r)
{
	int fd, ret = bench_open(o, "pages", O_CREAT | O_RDWR | O_TRUNC, &fd);
	if (ret)
		return ret;
	if (ftruncate(fd, (off_t)o->size) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	double t0 = bench_now();
	char *p =
	    mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	for (size_t off = 0; off < o->size; off += BENCH_PAGE)
		p[off] = (char)(off / BENCH_PAGE);
	double t = bench_now() - t0;
	for (size_t off = 0; off < o->size && !ret; off += BENCH_PAGE)
		ret = p[off] == (char)(off / BENCH_PAGE) ? 0 : -EIO;
	munmap(p, o->size);
	close(fd);
	bench_rate(r, (double)o->size / 1e6, t, "MB/s");
	return ret;
}

/* xorshift64: cheap, and no two runs of it the same with another gen. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int bench_rand_access(const struct bench_opts *o, struct bench_result *r)
{
	int fd, ret = bench_open(o, "pages", O_RDWR, &fd);
	if (ret)
		return ret;
	uint64_t *p =
	    mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	size_t words = o->size / sizeof(uint64_t);
	uint64_t s = o->gen | 1, sum = 0, n = 0;
	double t0 = bench_now(), t;
	do {
		for (int i = 0; i < 4096; i++, n++) {
			uint64_t *w = &p[next(&s) % words];
			sum += *w;
			*w = sum;
		}
		t = bench_now() - t0;
	} while (t * 1000 < (double)o->duration_ms);
	munmap(p, o->size);
	close(fd);
	bench_rate(r, (double)n / 1e6, t, "Mops/s");
	return 0;
}
