/*
 * shmapbench: the scale workloads (issue 12). scale-fill makes COUNT
 * mappings in DIR/scale as a program would (create, size one page, store
 * a tag, close), then stats each and lists the directory; scale-clear
 * checks a sample of tags and unlinks them all. The driver
 * (run-scale.py) reads the daemon's memory in between.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static const char *nth(const struct bench_opts *o, unsigned long i, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s/scale/m%lu", o->dir, i);
	return buf;
}

static int create_one(const char *path, uint64_t tag)
{
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int ret = ftruncate(fd, BENCH_PAGE) < 0 ? -errno : 0;
	if (ret == 0)
		ret = bench_write_all(fd, &tag, sizeof(tag), 0);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

static int stat_all(const struct bench_opts *o)
{
	char path[4096];
	struct stat st;
	for (unsigned long i = 0; i < o->count; i++) {
		if (stat(nth(o, i, path, sizeof(path)), &st) < 0)
			return -errno;
		if (st.st_size != (off_t)BENCH_PAGE)
			return -EIO;
	}
	return 0;
}

static int list_all(const struct bench_opts *o)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/scale", o->dir);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	unsigned long n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n == o->count ? 0 : -EIO;
}

int bench_scale_fill(const struct bench_opts *o, struct bench_result *r)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/scale", o->dir);
	if (mkdir(path, 0755) < 0)
		return -errno;
	double t0 = bench_now();
	int ret = 0;
	for (unsigned long i = 0; i < o->count && ret == 0; i++)
		ret = create_one(nth(o, i, path, sizeof(path)),
				 bench_pattern(i, o->gen));
	double t1 = bench_now();
	if (ret == 0)
		ret = stat_all(o);
	double t2 = bench_now();
	if (ret == 0)
		ret = list_all(o);
	double t3 = bench_now();
	double n = (double)o->count;
	r->value = (t1 - t0) * 1e6 / n;
	r->unit = "us/create";
	snprintf(r->note, sizeof(r->note), "stat=%.2f readdir=%.3f",
		 (t2 - t1) * 1e6 / n, (t3 - t2) * 1e6 / n);
	return ret;
}

static int check_tag(const char *path, uint64_t want)
{
	uint64_t tag = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int ret = bench_read_all(fd, &tag, sizeof(tag), 0);
	close(fd);
	return ret ? ret : tag == want ? 0 : -EIO;
}

int bench_scale_clear(const struct bench_opts *o, struct bench_result *r)
{
	char path[4096];
	int ret = 0;
	unsigned long step = o->count / 100 ? o->count / 100 : 1;
	for (unsigned long i = 0; i < o->count && ret == 0; i += step)
		ret = check_tag(nth(o, i, path, sizeof(path)),
				bench_pattern(i, o->gen));
	double t0 = bench_now();
	for (unsigned long i = 0; i < o->count && ret == 0; i++)
		if (unlink(nth(o, i, path, sizeof(path))) < 0)
			ret = -errno;
	double t1 = bench_now();
	snprintf(path, sizeof(path), "%s/scale", o->dir);
	if (ret == 0 && rmdir(path) < 0)
		ret = -errno;
	r->value = (t1 - t0) * 1e6 / (double)o->count;
	r->unit = "us/unlink";
	return ret;
}
