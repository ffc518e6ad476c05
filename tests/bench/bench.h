/*
 * shmapbench: the workloads of the shmapfs benchmark (issue 5), shared
 * declarations. Each workload runs against one directory (a tmpfs, a
 * passthrough_ll mount or a shmapfs mount), measures one rate and checks
 * that the data it stored is there afterwards, so that a backend that
 * loses writes fails the benchmark instead of winning it.
 *
 * Every function returns 0 or a negative errno unless it says otherwise.
 */
#ifndef SHMAPFS_BENCH_H
#define SHMAPFS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_PAGE  4096UL
#define BENCH_BLOCK (1024UL * 1024UL) /* read()/write() block size */

/* What one invocation of a workload works on. */
struct bench_opts {
	const char *dir;     /* the mount (or tmpfs directory) under test */
	size_t size;	     /* bytes of the file the workload uses */
	long duration_ms;    /* run time of the time-bounded workloads */
	uint64_t gen;	     /* tag of this run's stores, so runs differ */
	unsigned long count; /* mappings of the scale workloads */
};

/* What a workload measured: a rate and its unit ("MB/s", "ops/s"). */
struct bench_result {
	double value;
	const char *unit;
	char note[128]; /* extra facts for the driver, "" if none */
};

typedef int (*bench_fn)(const struct bench_opts *o, struct bench_result *r);

/* The word stored at the start of page (or block) @page, tagged @gen. */
static inline uint64_t bench_pattern(uint64_t page, uint64_t gen)
{
	return (page * 0x9E3779B97F4A7C15ULL) ^ gen ^ 0x5348u;
}

/* util.c */
double bench_now(void);
const char *bench_path(const struct bench_opts *o, const char *name, char *buf,
		       size_t len);
int bench_open(const struct bench_opts *o, const char *name, int flags,
	       int *fd);
int bench_write_all(int fd, const void *buf, size_t len, off_t off);
int bench_read_all(int fd, void *buf, size_t len, off_t off);
int bench_fill(int fd, size_t size, uint64_t gen);
int bench_drop_cache(int fd);
int bench_resident(int fd, size_t size, size_t *bytes);
int bench_check_word(int fd, size_t size, size_t word, uint64_t gen);
void bench_rate(struct bench_result *r, double amount, double secs,
		const char *unit);

/* workloads_map.c: through views (mmap) */
int bench_openmap(const struct bench_opts *o, struct bench_result *r);
int bench_cold_mmap(const struct bench_opts *o, struct bench_result *r);
int bench_warm_mmap(const struct bench_opts *o, struct bench_result *r);
int bench_mmap_write(const struct bench_opts *o, struct bench_result *r);
int bench_two_proc(const struct bench_opts *o, struct bench_result *r);

/* workloads_io.c: through read()/write() and the namespace */
int bench_prep(const struct bench_opts *o, struct bench_result *r);
int bench_warm_read(const struct bench_opts *o, struct bench_result *r);
int bench_seq_write(const struct bench_opts *o, struct bench_result *r);
int bench_seq_read(const struct bench_opts *o, struct bench_result *r);
int bench_rand_pwrite(const struct bench_opts *o, struct bench_result *r);
int bench_dd_4k(const struct bench_opts *o, struct bench_result *r);
int bench_dd_1m(const struct bench_opts *o, struct bench_result *r);
int bench_meta(const struct bench_opts *o, struct bench_result *r);
int bench_memory_cmd(const struct bench_opts *o, struct bench_result *r);

/* workloads_pages.c: faults and TLB misses (huge pages) */
int bench_fault_in(const struct bench_opts *o, struct bench_result *r);
int bench_rand_access(const struct bench_opts *o, struct bench_result *r);

/* workloads_scale.c: many mappings */
int bench_scale_fill(const struct bench_opts *o, struct bench_result *r);
int bench_scale_clear(const struct bench_opts *o, struct bench_result *r);

/* workloads_exclusive.c: opens beside and through a guarding mount */
int bench_open_close(const struct bench_opts *o, struct bench_result *r);

#endif
