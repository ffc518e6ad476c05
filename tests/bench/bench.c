/*
 * shmapbench: run one benchmark workload against one directory and print
 * its rate on one line ("VALUE UNIT [NOTE]"). tests/bench/run-bench.py
 * calls it for every workload, backend and run, interleaved.
 *
 *   shmapbench [-m MIB] [-t MS] [-g GEN] [-n COUNT] WORKLOAD DIR
 *
 * Exit status: 0 measured and checked, 1 the workload failed (an error,
 * or data that did not read back as stored), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const struct {
	const char *name;
	bench_fn fn;
	const char *what;
} workloads[] = {
    {"prep", bench_prep, "write the data file (MIB) with write()"},
    {"openmap", bench_openmap, "open, mmap 4 KiB, store, munmap, close"},
    {"cold-mmap", bench_cold_mmap, "drop cache, read a word per page"},
    {"warm-mmap", bench_warm_mmap, "new view of cached data, a word/page"},
    {"warm-read", bench_warm_read, "read() of cached data, 1 MiB blocks"},
    {"mmap-write", bench_mmap_write, "store into every page, msync"},
    {"two-proc", bench_two_proc, "two processes, disjoint halves, msync"},
    {"seq-write", bench_seq_write, "write() 1 MiB blocks, fsync"},
    {"seq-read", bench_seq_read, "cold read() of seq-write's file"},
    {"rand-pwrite", bench_rand_pwrite, "random 4 KiB pwrite, fsync"},
    {"dd-4k", bench_dd_4k, "dd to a new file: 4 KiB write()s, fsync"},
    {"dd-1m", bench_dd_1m, "dd to a new file: 1 MiB write()s, fsync"},
    {"meta", bench_meta, "create, ftruncate 64 KiB, close, unlink"},
    {"memory", bench_memory_cmd, "data's bytes cached: read, then dropped"},
    {"fault-in", bench_fault_in, "new mapping, store a byte per page"},
    {"rand-access", bench_rand_access, "random word loads+stores (view)"},
    {"scale-fill", bench_scale_fill, "create COUNT mappings, stat, list"},
    {"scale-clear", bench_scale_clear, "check and unlink scale-fill's"},
    {"open-close", bench_open_close, "open the file DIR, close (EPERM ok)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shmapbench [-m MIB] [-t MS] [-g GEN] [-n COUNT] "
		   "WORKLOAD DIR\nworkloads:\n");
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		fprintf(f, "  %-12s %s\n", workloads[i].name,
			workloads[i].what);
}

static bench_fn find_workload(const char *name)
{
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (strcmp(workloads[i].name, name) == 0)
			return workloads[i].fn;
	return NULL;
}

static int parse_args(int argc, char **argv, struct bench_opts *o, bench_fn *fn)
{
	int c;

	while ((c = getopt(argc, argv, "m:t:g:n:h")) != -1) {
		if (c == 'm')
			o->size = strtoull(optarg, NULL, 0) * 1024 * 1024;
		else if (c == 't')
			o->duration_ms = strtol(optarg, NULL, 0);
		else if (c == 'g')
			o->gen = strtoull(optarg, NULL, 0);
		else if (c == 'n')
			o->count = strtoul(optarg, NULL, 0);
		else
			return -1;
	}
	if (argc - optind != 2 || o->size == 0 || o->duration_ms <= 0)
		return -1;
	*fn = find_workload(argv[optind]);
	o->dir = argv[optind + 1];
	return *fn ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	    .size = 512UL << 20, .duration_ms = 1000, .count = 1000};
	struct bench_result r = {0};
	bench_fn fn = NULL;
	int ret;

	if (parse_args(argc, argv, &o, &fn)) {
		usage(stderr);
		return 2;
	}
	ret = fn(&o, &r);
	if (ret) {
		fprintf(stderr, "shmapbench: %s on %s: %s\n", argv[optind],
			o.dir, strerror(-ret));
		return 1;
	}
	printf("%.6g %s%s%s\n", r.value, r.unit, r.note[0] ? " " : "", r.note);
	return 0;
}
