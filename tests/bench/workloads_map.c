/*
 * shmapbench workloads through views: the open-map cycle, cold and warm
 * fault-in, stores plus msync, and two processes storing into disjoint
 * halves of one mapping. Each checks afterwards, through read() of a
 * dropped cache, that what it stored reached the backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* One cycle: OpenFileMapping, MapViewOfFile, a store, Unmap, Close. */
static int open_map_once(const char *path, unsigned char val)
{
	int fd = open(path, O_RDWR);
	unsigned char *p;

	if (fd < 0)
		return -errno;
	p = mmap(NULL, BENCH_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int err = errno;

		close(fd);
		return -err;
	}
	p[0] = val;
	munmap(p, BENCH_PAGE);
	return close(fd) < 0 ? -errno : 0;
}

static int create_sized(const struct bench_opts *o, const char *name,
			size_t size)
{
	int fd, ret = bench_open(o, name, O_RDWR | O_CREAT, &fd);

	if (ret)
		return ret;
	if (ftruncate(fd, (off_t)size) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int check_byte(const struct bench_opts *o, const char *name,
		      unsigned char want)
{
	unsigned char got;
	int fd, ret = bench_open(o, name, O_RDONLY, &fd);

	if (ret)
		return ret;
	ret = bench_read_all(fd, &got, 1, 0);
	close(fd);
	if (ret == 0 && got != want) {
		fprintf(stderr, "shmapbench: %s holds %u, not %u\n", name, got,
			want);
		ret = -EIO;
	}
	return ret;
}

int bench_openmap(const struct bench_opts *o, struct bench_result *r)
{
	char path[4096];
	unsigned long n = 0;
	double t0, t;
	int ret = create_sized(o, "openmap", BENCH_PAGE);

	bench_path(o, "openmap", path, sizeof(path));
	t0 = bench_now();
	do {
		if (ret == 0)
			ret = open_map_once(path, (unsigned char)(n + o->gen));
		n++;
		t = bench_now() - t0;
	} while (ret == 0 && t * 1000 < (double)o->duration_ms);
	if (ret)
		return ret;
	bench_rate(r, (double)n, t, "ops/s");
	return check_byte(o, "openmap", (unsigned char)(n - 1 + o->gen));
}

/* Open the data file, which must hold at least the size asked for. */
static int open_data(const struct bench_opts *o, int flags, int *fd)
{
	struct stat st;
	int ret = bench_open(o, "data", flags, fd);

	if (ret)
		return ret;
	if (fstat(*fd, &st) < 0 || (size_t)st.st_size < o->size) {
		fprintf(stderr, "shmapbench: data is shorter than %zu bytes\n",
			o->size);
		close(*fd);
		return -ENODATA;
	}
	return 0;
}

/* Map the file and read word 0 of every page, checking the pattern. */
static int map_read_pass(int fd, size_t size)
{
	const char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	size_t bad = 0;

	if (p == MAP_FAILED)
		return -errno;
	for (size_t i = 0; i < size / BENCH_PAGE; i++) {
		uint64_t w;

		memcpy(&w, p + i * BENCH_PAGE, sizeof(w));
		bad += w != bench_pattern(i, 0);
	}
	munmap((void *)p, size);
	if (bad)
		fprintf(stderr, "shmapbench: %zu pages hold the wrong data\n",
			bad);
	return bad ? -EIO : 0;
}

static int timed_read_pass(int fd, const struct bench_opts *o,
			   struct bench_result *r)
{
	double t0 = bench_now();
	int ret = map_read_pass(fd, o->size);

	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	return ret;
}

int bench_cold_mmap(const struct bench_opts *o, struct bench_result *r)
{
	size_t left = 0;
	int fd, ret = open_data(o, O_RDONLY, &fd);

	if (ret)
		return ret;
	ret = bench_drop_cache(fd);
	if (ret == 0)
		ret = bench_resident(fd, o->size, &left);
	snprintf(r->note, sizeof(r->note), "resident_before=%.0f%%",
		 100.0 * (double)left / (double)o->size);
	if (ret == 0)
		ret = timed_read_pass(fd, o, r);
	close(fd);
	return ret;
}

int bench_warm_mmap(const struct bench_opts *o, struct bench_result *r)
{
	int fd, ret = open_data(o, O_RDONLY, &fd);

	if (ret)
		return ret;
	ret = map_read_pass(fd, o->size); /* warm up, untimed */
	if (ret == 0)
		ret = timed_read_pass(fd, o, r);
	close(fd);
	return ret;
}

/* Drop the file's cache, then check word @word of every page. */
static int check_through_read(const struct bench_opts *o, size_t word)
{
	int fd, ret = open_data(o, O_RDONLY, &fd);

	if (ret)
		return ret;
	ret = bench_drop_cache(fd);
	if (ret == 0)
		ret = bench_check_word(fd, o->size, word, o->gen);
	close(fd);
	return ret;
}

/* Store the pattern into word @word of pages [from, to) of a view. */
static void store_pages(char *p, size_t from, size_t to, size_t word,
			uint64_t gen)
{
	for (size_t i = from; i < to; i++) {
		uint64_t w = bench_pattern(i, gen);

		memcpy(p + i * BENCH_PAGE + word * 8, &w, sizeof(w));
	}
}

/* Map, store into pages [from, to), msync that range, unmap. */
static int map_store_sync(int fd, size_t size, size_t from, size_t to,
			  size_t word, uint64_t gen)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int ret = 0;

	if (p == MAP_FAILED)
		return -errno;
	store_pages(p, from, to, word, gen);
	if (msync(p + from * BENCH_PAGE, (to - from) * BENCH_PAGE, MS_SYNC))
		ret = -errno;
	munmap(p, size);
	return ret;
}

int bench_mmap_write(const struct bench_opts *o, struct bench_result *r)
{
	double t0;
	int fd, ret = open_data(o, O_RDWR, &fd);

	if (ret)
		return ret;
	t0 = bench_now();
	ret = map_store_sync(fd, o->size, 0, o->size / BENCH_PAGE, 1, o->gen);
	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	close(fd);
	return ret ? ret : check_through_read(o, 1);
}

/* A child of bench_two_proc: wait for the start, store into one half. */
static int half_writer(const struct bench_opts *o, int go, int half)
{
	size_t pages = o->size / BENCH_PAGE, mid = pages / 2;
	char c;
	int fd, ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(go, &c, 1) < 0) /* returns 0 when the parent says go */
		return -errno;
	ret = bench_open(o, "data", O_RDWR, &fd);
	if (ret)
		return ret;
	ret = map_store_sync(fd, o->size, half ? mid : 0, half ? pages : mid, 2,
			     o->gen);
	close(fd);
	return ret;
}

static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int bench_two_proc(const struct bench_opts *o, struct bench_result *r)
{
	pid_t pid[2];
	int go[2], ret = 0;
	double t0;

	if (pipe(go) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			close(go[1]);
			_exit(half_writer(o, go[0], i) ? 1 : 0);
		}
	}
	close(go[0]);
	t0 = bench_now();
	close(go[1]); /* both children start now */
	for (int i = 0; i < 2; i++)
		if (pid[i] < 0 || reap(pid[i]))
			ret = -EIO;
	bench_rate(r, (double)o->size / 1e6, bench_now() - t0, "MB/s");
	return ret ? ret : check_through_read(o, 2);
}
