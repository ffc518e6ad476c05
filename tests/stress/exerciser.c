/*
 * Randomized exerciser: several processes at once hammer a few shared
 * mappings under a directory (a shmapfs mount) with mmap stores and loads,
 * read, write, pwrite, fallocate (plain, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE),
 * fsync, fdatasync, msync, stores through small views at an offset,
 * remapping views and reopening descriptors, and check every step against
 * a model of what each mapping must contain. Between phases the mappings
 * are resized (ftruncate, truncate, fallocate) and, now and then, their
 * page cache is written back and dropped so that checks read the daemon.
 *
 * The model is exact under concurrency because nobody races on data: each
 * mapping is cut into page-aligned stripes and worker w owns the stripes
 * whose index is w modulo the number of workers. The expected content (the
 * shadow) lives in one MAP_SHARED anonymous region; each worker writes only
 * its own stripes there. Sizes change only at phase boundaries: the
 * coordinator (the parent) waits until every worker has reported the end of
 * its phase (pipes), truncates or extends the mappings and updates the
 * shadow, then starts the next phase. Workers re-map their views at each
 * phase, check the size, check their whole share at the start and end of a
 * phase and the touched range after every operation, through read() and
 * through their view. At the end a fresh process checks every byte of
 * every mapping through read() and through a new view.
 *
 * Everything is derived from the seed (printed first): a worker's sequence
 * of operations in a phase depends only on (seed, worker, phase), so a run
 * with the same --seed, --workers and --ops repeats the same operations.
 * On a mismatch it prints the seed, worker, phase, operation, offset,
 * expected and found bytes and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "names.h"
#include "seeded.h"

#define MAX_FILES   16
#define MAX_WORKERS 64
#define PAGE	    4096UL

struct opts {
	const char *dir;
	const char *expect_dir; /* write the expected contents here */
	uint64_t seed;
	int workers;
	int files;
	double duration; /* seconds; 0: unbounded (use ops) */
	long ops;	 /* total operations; 0: unbounded (use duration) */
	long phase_ops;	 /* operations per worker per phase */
	size_t max_size;
	size_t stripe;
	int timeout; /* seconds a phase may take before we call it a hang */
	int names;   /* name churners beside the workers (names.h) */
};

/* Shared between the coordinator and the workers (MAP_SHARED anonymous). */
struct shared {
	size_t size[MAX_FILES]; /* written by the coordinator between phases */
	unsigned char *shadow;	/* files * max_size bytes, same mapping */
};

struct report {
	int32_t phase;
	int32_t pad;
	uint64_t ops;	      /* operations done */
	uint64_t checks;      /* ranges compared with the model */
	uint64_t bytes;	      /* bytes compared */
	uint64_t unsupported; /* ZERO_RANGE answered EOPNOTSUPP */
};

enum op {
	OP_STORE,
	OP_LOAD,
	OP_PWRITE,
	OP_WRITE,
	OP_PREAD,
	OP_READ,
	OP_PUNCH,
	OP_ZERO,
	OP_ALLOC,
	OP_FSYNC,
	OP_FDATASYNC,
	OP_MSYNC,
	OP_MSYNC_ASYNC,
	OP_MSYNC_INVAL,
	OP_REMAP,  /* unmap the view and map it again */
	OP_REOPEN, /* close the descriptor and open the name again */
	OP_WINDOW, /* store through a second, small view at an offset */
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "store",	   "load",
    "pwrite",	   "write",
    "pread",	   "read",
    "punch_hole",  "zero_range",
    "fallocate",   "fsync",
    "fdatasync",   "msync",
    "msync_async", "msync_invalidate",
    "remap",	   "reopen",
};

/* Relative weights of the operations. */
static const int op_weights[OP_COUNT] = {20, 8, 14, 5, 8, 4, 5, 3, 2,
					 2,  1, 4,  1, 1, 1, 1, 4};

/* Where a worker is, for error messages and the SIGBUS handler. */
struct where {
	uint64_t seed;
	int worker;
	int phase;
	long op;
	const char *what;
	int file;
	off_t off;
};

/* Set by a worker for its fatal-signal handler (Check-style file state). */
static struct where *sig_where;

struct worker {
	const struct opts *o;
	struct shared *sh;
	int id;
	int fd[MAX_FILES];
	unsigned char *view[MAX_FILES];
	size_t vlen[MAX_FILES];
	unsigned char *buf; /* scratch: pattern or what was read */
	uint64_t rng;
	struct where at;
	struct report rep;
};

static void fill_pattern(unsigned char *p, size_t len, uint64_t *s)
{
	uint64_t st = splitmix(s);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = splitmix(&st);
		memcpy(p + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = splitmix(&st);
		memcpy(p + i, &v, len - i);
	}
}

static void map_name(char *buf, size_t n, const char *dir, int i)
{
	snprintf(buf, n, "%s/map%d", dir, i);
}

static unsigned char *shadow_of(const struct opts *o, struct shared *sh,
				int file)
{
	return sh->shadow + (size_t)file * o->max_size;
}

static void where_print(const struct where *w)
{
	fprintf(stderr,
		"exerciser: seed=%" PRIu64 " worker=%d phase=%d op=%ld (%s) "
		"file=map%d offset=%lld\n",
		w->seed, w->worker, w->phase, w->op, w->what ? w->what : "-",
		w->file, (long long)w->off);
}

/* A call failed because the mount's daemon is gone or its connection was
 * cut: a line of its own, which the chaos runner counts (must be 0). */
static void note_lost(int err)
{
	if (err == ENOTCONN || err == ECONNABORTED)
		fprintf(stderr, "exerciser: CONNECTION LOST (%s)\n",
			strerror(err));
}

static void __attribute__((noreturn))
die_sys(const struct where *w, const char *call, int err)
{
	fprintf(stderr, "exerciser: %s failed: %s\n", call, strerror(err));
	note_lost(err);
	where_print(w);
	_exit(1);
}

static void on_fatal_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "exerciser: signal %d at %p\n", sig,
			 si->si_addr);
	if (write(STDERR_FILENO, msg, n) < 0) {
		/* nothing left to do */
	}
	if (sig_where)
		where_print(sig_where);
	_exit(1);
}

static void install_fatal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/*
 * Compare got with the model; on a difference print everything needed to
 * reproduce and exit 1.
 */
static void compare(struct worker *w, const unsigned char *got, off_t off,
		    size_t len, const char *via)
{
	const unsigned char *exp = shadow_of(w->o, w->sh, w->at.file) + off;
	w->rep.checks++;
	w->rep.bytes += len;
	if (memcmp(got, exp, len) == 0)
		return;
	size_t first = 0, ndiff = 0;
	for (size_t i = len; i-- > 0;) {
		if (got[i] != exp[i]) {
			first = i;
			ndiff++;
		}
	}
	fprintf(stderr,
		"exerciser: MISMATCH via %s at offset %lld: expected 0x%02x "
		"got 0x%02x (%zu bytes differ in [%lld, %lld))\n",
		via, (long long)(off + first), exp[first], got[first], ndiff,
		(long long)off, (long long)(off + len));
	w->at.off = off + first;
	where_print(&w->at);
	_exit(1);
}

static void check_range(struct worker *w, int f, off_t off, size_t len)
{
	w->at.file = f;
	ssize_t n = pread(w->fd[f], w->buf, len, off);
	if (n < 0)
		die_sys(&w->at, "pread (check)", errno);
	if ((size_t)n != len) {
		fprintf(stderr, "exerciser: short read %zd of %zu\n", n, len);
		where_print(&w->at);
		_exit(1);
	}
	compare(w, w->buf, off, len, "read()");
	compare(w, w->view[f] + off, off, len, "view");
}

/* Number of stripes of file f that this worker owns. */
static size_t owned_stripes(const struct worker *w, int f)
{
	size_t n = (w->sh->size[f] + w->o->stripe - 1) / w->o->stripe;
	size_t id = (size_t)w->id, nw = (size_t)w->o->workers;
	return n > id ? (n - id + nw - 1) / nw : 0;
}

/* Check every byte this worker owns in every mapping. */
static void check_share(struct worker *w)
{
	w->at.what = "check share";
	for (int f = 0; f < w->o->files; f++) {
		size_t size = w->sh->size[f], st = w->o->stripe;
		for (size_t k = w->id * st; k < size; k += st * w->o->workers) {
			size_t len = size - k < st ? size - k : st;
			check_range(w, f, (off_t)k, len);
		}
	}
}

static void map_views(struct worker *w)
{
	for (int f = 0; f < w->o->files; f++) {
		struct stat st;
		w->at.file = f;
		if (fstat(w->fd[f], &st) < 0)
			die_sys(&w->at, "fstat", errno);
		if ((size_t)st.st_size != w->sh->size[f]) {
			fprintf(stderr,
				"exerciser: size of map%d is %lld, expected "
				"%zu\n",
				f, (long long)st.st_size, w->sh->size[f]);
			where_print(&w->at);
			_exit(1);
		}
		w->vlen[f] = w->sh->size[f];
		w->view[f] = NULL;
		if (!w->vlen[f])
			continue;
		void *p = mmap(NULL, w->vlen[f], PROT_READ | PROT_WRITE,
			       MAP_SHARED, w->fd[f], 0);
		if (p == MAP_FAILED)
			die_sys(&w->at, "mmap", errno);
		w->view[f] = p;
	}
}

static void unmap_views(struct worker *w)
{
	for (int f = 0; f < w->o->files; f++) {
		if (w->view[f])
			munmap(w->view[f], w->vlen[f]);
		w->view[f] = NULL;
	}
}

static enum op pick_op(uint64_t *s)
{
	int total = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total += op_weights[i];
	int r = (int)rnd(s, total);
	for (int i = 0; i < OP_COUNT; i++) {
		if (r < op_weights[i])
			return (enum op)i;
		r -= op_weights[i];
	}
	return OP_LOAD;
}

/* Pick a random range inside one stripe this worker owns; -1 if none. */
static int pick_range(struct worker *w, int *file, off_t *off, size_t *len)
{
	int f = (int)rnd(&w->rng, w->o->files);
	for (int tries = 0; tries < w->o->files; tries++) {
		int g = (f + tries) % w->o->files;
		size_t n = owned_stripes(w, g);
		if (!n)
			continue;
		size_t k = rnd(&w->rng, n) * w->o->workers + w->id;
		size_t start = k * w->o->stripe;
		size_t end = start + w->o->stripe;
		if (end > w->sh->size[g])
			end = w->sh->size[g];
		size_t a = start + rnd(&w->rng, end - start);
		size_t maxlen = end - a;
		/* Mostly small, sometimes the whole rest of the stripe. */
		size_t l = rnd(&w->rng, 4) ? 1 + rnd(&w->rng, maxlen) : maxlen;
		*file = g;
		*off = (off_t)a;
		*len = l;
		return 0;
	}
	return -1;
}

static void do_write(struct worker *w, int f, off_t off, size_t len, int pos)
{
	unsigned char *sh = shadow_of(w->o, w->sh, f);
	fill_pattern(w->buf, len, &w->rng);
	ssize_t n;
	if (pos) {
		if (lseek(w->fd[f], off, SEEK_SET) != off)
			die_sys(&w->at, "lseek", errno);
		n = write(w->fd[f], w->buf, len);
	} else {
		n = pwrite(w->fd[f], w->buf, len, off);
	}
	if (n < 0)
		die_sys(&w->at, pos ? "write" : "pwrite", errno);
	if ((size_t)n != len) {
		fprintf(stderr, "exerciser: short write %zd of %zu\n", n, len);
		where_print(&w->at);
		_exit(1);
	}
	memcpy(sh + off, w->buf, len);
}

static void do_read(struct worker *w, int f, off_t off, size_t len, int pos)
{
	ssize_t n;
	if (pos) {
		if (lseek(w->fd[f], off, SEEK_SET) != off)
			die_sys(&w->at, "lseek", errno);
		n = read(w->fd[f], w->buf, len);
	} else {
		n = pread(w->fd[f], w->buf, len, off);
	}
	if (n < 0)
		die_sys(&w->at, pos ? "read" : "pread", errno);
	if ((size_t)n != len) {
		fprintf(stderr, "exerciser: short read %zd of %zu\n", n, len);
		where_print(&w->at);
		_exit(1);
	}
	compare(w, w->buf, off, len, pos ? "read()" : "pread()");
}

static void do_fallocate(struct worker *w, int f, off_t off, size_t len,
			 int mode)
{
	if (fallocate(w->fd[f], mode, off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP && (mode & FALLOC_FL_ZERO_RANGE)) {
			w->rep.unsupported++;
			return;
		}
		die_sys(&w->at, "fallocate", errno);
	}
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		memset(shadow_of(w->o, w->sh, f) + off, 0, len);
}

static void do_msync(struct worker *w, int f, off_t off, size_t len, int how)
{
	size_t a = (size_t)off & ~(PAGE - 1);
	size_t l = (size_t)off + len - a;
	if (msync(w->view[f] + a, l, how) < 0)
		die_sys(&w->at, "msync", errno);
}

static void do_remap(struct worker *w, int f)
{
	munmap(w->view[f], w->vlen[f]);
	void *p = mmap(NULL, w->vlen[f], PROT_READ | PROT_WRITE, MAP_SHARED,
		       w->fd[f], 0);
	if (p == MAP_FAILED)
		die_sys(&w->at, "mmap (remap)", errno);
	w->view[f] = p;
}

static void do_reopen(struct worker *w, int f)
{
	char path[PATH_MAX];
	map_name(path, sizeof(path), w->o->dir, f);
	if (close(w->fd[f]) < 0)
		die_sys(&w->at, "close", errno);
	w->fd[f] = open(path, O_RDWR);
	if (w->fd[f] < 0)
		die_sys(&w->at, "open (reopen)", errno);
}

/* A view of just the pages around [off, off + len), as MapViewOfFile
 * with an offset would make: stores through it show in the other view. */
static void do_window(struct worker *w, int f, off_t off, size_t len)
{
	off_t a = off & ~(off_t)(PAGE - 1);
	size_t l = (size_t)(off - a) + len;
	unsigned char *p =
	    mmap(NULL, l, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd[f], a);
	if (p == MAP_FAILED)
		die_sys(&w->at, "mmap (window)", errno);
	fill_pattern(w->buf, len, &w->rng);
	memcpy(p + (off - a), w->buf, len);
	memcpy(shadow_of(w->o, w->sh, f) + off, w->buf, len);
	if (munmap(p, l) < 0)
		die_sys(&w->at, "munmap (window)", errno);
}

static void do_op(struct worker *w, enum op op)
{
	int f;
	off_t off;
	size_t len;
	w->at.what = op_names[op];
	if (pick_range(w, &f, &off, &len) < 0)
		return; /* nothing owned anywhere in this phase */
	w->at.file = f;
	w->at.off = off;
	unsigned char *sh = shadow_of(w->o, w->sh, f);
	switch (op) {
	case OP_STORE:
		fill_pattern(w->buf, len, &w->rng);
		memcpy(w->view[f] + off, w->buf, len);
		memcpy(sh + off, w->buf, len);
		break;
	case OP_LOAD:
		compare(w, w->view[f] + off, off, len, "view load");
		break;
	case OP_PWRITE:
	case OP_WRITE:
		do_write(w, f, off, len, op == OP_WRITE);
		break;
	case OP_PREAD:
	case OP_READ:
		do_read(w, f, off, len, op == OP_READ);
		break;
	case OP_PUNCH:
		do_fallocate(w, f, off, len,
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		break;
	case OP_ZERO:
		do_fallocate(w, f, off, len,
			     FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
		break;
	case OP_ALLOC:
		do_fallocate(w, f, off, len, 0);
		break;
	case OP_FSYNC:
		if (fsync(w->fd[f]) < 0)
			die_sys(&w->at, "fsync", errno);
		break;
	case OP_FDATASYNC:
		if (fdatasync(w->fd[f]) < 0)
			die_sys(&w->at, "fdatasync", errno);
		break;
	case OP_MSYNC:
		do_msync(w, f, off, len, MS_SYNC);
		break;
	case OP_MSYNC_ASYNC:
		do_msync(w, f, off, len, MS_ASYNC);
		break;
	case OP_MSYNC_INVAL:
		do_msync(w, f, off, len, MS_SYNC | MS_INVALIDATE);
		break;
	case OP_REMAP:
		do_remap(w, f);
		break;
	case OP_REOPEN:
		do_reopen(w, f);
		break;
	case OP_WINDOW:
		do_window(w, f, off, len);
		break;
	case OP_COUNT:
		break;
	}
	w->rep.ops++;
	/* Every step: the touched range, through read() and the view. */
	check_range(w, f, off, len);
}

static void run_phase(struct worker *w, int phase)
{
	w->at.phase = phase;
	w->rng = w->o->seed ^ (0x1000193ULL * (uint64_t)(w->id + 1)) ^
		 ((uint64_t)phase << 32);
	splitmix(&w->rng);
	map_views(w);
	check_share(w);
	for (long i = 0; i < w->o->phase_ops; i++) {
		w->at.op = i;
		do_op(w, pick_op(&w->rng));
	}
	w->at.op = w->o->phase_ops;
	check_share(w);
	unmap_views(w);
}

static int read_full(int fd, void *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = read(fd, (char *)p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = write(fd, (const char *)p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* A worker: wait for a phase number, run it, report; -1 means stop. */
static void __attribute__((noreturn))
worker_main(const struct opts *o, struct shared *sh, int id, int cmd_fd,
	    int rep_fd)
{
	struct worker w;
	memset(&w, 0, sizeof(w));
	w.o = o;
	w.sh = sh;
	w.id = id;
	w.at.seed = o->seed;
	w.at.worker = id;
	sig_where = &w.at;
	install_fatal_handlers();
	w.buf = malloc(o->max_size > o->stripe ? o->max_size : o->stripe);
	if (!w.buf)
		die_sys(&w.at, "malloc", ENOMEM);
	for (int f = 0; f < o->files; f++) {
		char path[PATH_MAX];
		map_name(path, sizeof(path), o->dir, f);
		w.fd[f] = open(path, O_RDWR);
		if (w.fd[f] < 0)
			die_sys(&w.at, path, errno);
	}
	for (;;) {
		int32_t phase;
		if (read_full(cmd_fd, &phase, sizeof(phase)) < 0 || phase < 0)
			break;
		run_phase(&w, phase);
		w.rep.phase = phase;
		if (write_full(rep_fd, &w.rep, sizeof(w.rep)) < 0)
			break;
	}
	for (int f = 0; f < o->files; f++)
		close(w.fd[f]);
	free(w.buf);
	_exit(0);
}

struct coord {
	const struct opts *o;
	struct shared *sh;
	int fd[MAX_FILES];
	pid_t pid[MAX_WORKERS];
	int cmd[MAX_WORKERS];
	int rep[MAX_WORKERS];
	struct report last[MAX_WORKERS];
	uint64_t rng;
	uint64_t resizes;
	uint64_t drops; /* page-cache drops between phases */
};

static void kill_workers(struct coord *c)
{
	for (int i = 0; i < c->o->workers; i++) {
		if (c->pid[i] > 0) {
			kill(c->pid[i], SIGKILL);
			waitpid(c->pid[i], NULL, 0);
			c->pid[i] = -1;
		}
	}
}

static int start_workers(struct coord *c)
{
	for (int i = 0; i < c->o->workers; i++) {
		int a[2], b[2];
		if (pipe(a) < 0 || pipe(b) < 0)
			return -errno;
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			close(a[1]);
			close(b[0]);
			for (int j = 0; j < i; j++) {
				close(c->cmd[j]);
				close(c->rep[j]);
			}
			worker_main(c->o, c->sh, i, a[0], b[1]);
		}
		close(a[0]);
		close(b[1]);
		c->pid[i] = pid;
		c->cmd[i] = a[1];
		c->rep[i] = b[0];
	}
	return 0;
}

/* Pick the next size of a mapping: keep, anything, or page-aligned. */
static size_t next_size(struct coord *c, size_t cur)
{
	size_t max = c->o->max_size;
	switch (rnd(&c->rng, 10)) {
	case 0:
	case 1:
	case 2:
		return cur;
	case 3:
		return rnd(&c->rng, 8) ? cur : 0;
	case 4:
	case 5:
		return rnd(&c->rng, max / PAGE + 1) * PAGE;
	default:
		return rnd(&c->rng, max + 1);
	}
}

/* Between phases: resize the mappings and the model. */
static int resize_all(struct coord *c)
{
	for (int f = 0; f < c->o->files; f++) {
		size_t cur = c->sh->size[f], nsz = next_size(c, cur);
		unsigned char *sh = shadow_of(c->o, c->sh, f);
		const char *how = "ftruncate";
		int r;
		if (nsz == cur)
			continue;
		if (nsz > cur && rnd(&c->rng, 3) == 0) {
			how = "fallocate";
			r = fallocate(c->fd[f], 0, 0, (off_t)nsz);
		} else if (rnd(&c->rng, 3) == 0) {
			char path[PATH_MAX];
			map_name(path, sizeof(path), c->o->dir, f);
			how = "truncate";
			r = truncate(path, (off_t)nsz);
		} else {
			r = ftruncate(c->fd[f], (off_t)nsz);
		}
		if (r < 0) {
			fprintf(stderr,
				"exerciser: seed=%" PRIu64 " resizing map%d "
				"from %zu to %zu with %s: %s\n",
				c->o->seed, f, cur, nsz, how, strerror(errno));
			note_lost(errno);
			return -1;
		}
		if (nsz < cur)
			memset(sh + nsz, 0, cur - nsz);
		c->sh->size[f] = nsz;
		c->resizes++;
	}
	return 0;
}

/*
 * Between phases, now and then: write everything back and drop the page
 * cache of every mapping (no view is mapped then), so that the next checks
 * read what the daemon holds rather than what the kernel kept.
 */
static int drop_caches(struct coord *c, int always)
{
	if (!always && rnd(&c->rng, 2))
		return 0;
	for (int f = 0; f < c->o->files; f++) {
		int r = fsync(c->fd[f]);
		if (!r)
			r = posix_fadvise(c->fd[f], 0, 0, POSIX_FADV_DONTNEED);
		if (r) {
			fprintf(stderr,
				"exerciser: seed=%" PRIu64 " dropping the "
				"cache of map%d: %s\n",
				c->o->seed, f, strerror(r < 0 ? errno : r));
			note_lost(r < 0 ? errno : r);
			return -1;
		}
	}
	c->drops++;
	return 0;
}

/* Wait for every worker's report of this phase, within the timeout. */
static int collect(struct coord *c, int phase)
{
	int left = c->o->workers;
	char got[MAX_WORKERS] = {0};
	double deadline = now_s() + c->o->timeout;
	while (left > 0) {
		struct pollfd p[MAX_WORKERS];
		for (int i = 0; i < c->o->workers; i++) {
			p[i].fd = got[i] ? -1 : c->rep[i];
			p[i].events = POLLIN;
		}
		int ms = (int)((deadline - now_s()) * 1000);
		int n = ms > 0 ? poll(p, c->o->workers, ms) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr,
				"exerciser: seed=%" PRIu64 " phase %d: workers "
				"still busy after %d s (hang)\n",
				c->o->seed, phase, c->o->timeout);
			return -1;
		}
		for (int i = 0; i < c->o->workers; i++) {
			if (got[i] || !p[i].revents)
				continue;
			struct report r;
			if (read_full(c->rep[i], &r, sizeof(r)) < 0 ||
			    r.phase != phase) {
				int st = 0;
				waitpid(c->pid[i], &st, 0);
				c->pid[i] = -1;
				fprintf(stderr,
					"exerciser: seed=%" PRIu64 " worker %d "
					"failed in phase %d (status 0x%x)\n",
					c->o->seed, i, phase, st);
				return -1;
			}
			c->last[i] = r;
			got[i] = 1;
			left--;
		}
	}
	return 0;
}

static int send_all(struct coord *c, int32_t phase)
{
	for (int i = 0; i < c->o->workers; i++)
		if (write_full(c->cmd[i], &phase, sizeof(phase)) < 0)
			return -1;
	return 0;
}

static int stop_workers(struct coord *c)
{
	int bad = 0;
	send_all(c, -1);
	for (int i = 0; i < c->o->workers; i++) {
		int st;
		if (waitpid(c->pid[i], &st, 0) != c->pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			bad = 1;
		c->pid[i] = -1;
		close(c->cmd[i]);
		close(c->rep[i]);
	}
	return bad ? -1 : 0;
}

/* A fresh process checks every byte of every mapping, read() and mmap. */
static int final_check(const struct opts *o, struct shared *sh, uint64_t *bytes)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct where at = {.seed = o->seed,
				   .worker = -1,
				   .phase = -1,
				   .what = "final check"};
		sig_where = &at;
		install_fatal_handlers();
		unsigned char *buf = malloc(o->max_size + 1);
		for (int f = 0; f < o->files && buf; f++) {
			char path[PATH_MAX];
			size_t size = sh->size[f];
			const unsigned char *exp = shadow_of(o, sh, f);
			at.file = f;
			map_name(path, sizeof(path), o->dir, f);
			int fd = open(path, O_RDONLY);
			if (fd < 0)
				die_sys(&at, path, errno);
			ssize_t n = pread(fd, buf, o->max_size + 1, 0);
			if (n < 0)
				die_sys(&at, "pread", errno);
			if ((size_t)n != size) {
				fprintf(stderr,
					"exerciser: final check: map%d has "
					"%zd bytes, expected %zu\n",
					f, n, size);
				where_print(&at);
				_exit(1);
			}
			const unsigned char *v = NULL;
			if (size) {
				v = mmap(NULL, size, PROT_READ, MAP_SHARED, fd,
					 0);
				if (v == MAP_FAILED)
					die_sys(&at, "mmap", errno);
			}
			for (size_t i = 0; i < size; i++) {
				if (buf[i] == exp[i] && v[i] == exp[i])
					continue;
				fprintf(stderr,
					"exerciser: MISMATCH in final check at "
					"offset %zu (owner: worker %zu): "
					"expected 0x%02x, read() 0x%02x, view "
					"0x%02x\n",
					i, (i / o->stripe) % o->workers, exp[i],
					buf[i], v[i]);
				at.off = (off_t)i;
				where_print(&at);
				_exit(1);
			}
			if (v)
				munmap((void *)v, size);
			close(fd);
		}
		_exit(buf ? 0 : 1);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	for (int f = 0; f < o->files; f++)
		*bytes += sh->size[f] * 2;
	return 0;
}

/* Write what each mapping must contain to DIR/mapN (for a later cmp). */
static int write_expected(const struct opts *o, struct shared *sh)
{
	for (int f = 0; f < o->files; f++) {
		char path[PATH_MAX];
		map_name(path, sizeof(path), o->expect_dir, f);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return -1;
		int r = write_full(fd, shadow_of(o, sh, f), sh->size[f]);
		close(fd);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int create_maps(struct coord *c)
{
	for (int f = 0; f < c->o->files; f++) {
		char path[PATH_MAX];
		map_name(path, sizeof(path), c->o->dir, f);
		c->fd[f] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (c->fd[f] < 0) {
			fprintf(stderr, "exerciser: %s: %s\n", path,
				strerror(errno));
			note_lost(errno);
			return -1;
		}
		struct stat st;
		if (fstat(c->fd[f], &st) < 0 || st.st_size != 0) {
			fprintf(stderr,
				"exerciser: %s: open(O_TRUNC) left %lld "
				"bytes\n",
				path, (long long)st.st_size);
			return -1;
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: exerciser --dir DIR [--seed N] [--workers N] "
		"[--files N]\n"
		"                 [--duration SEC] [--ops N] [--phase-ops N]\n"
		"                 [--max-size BYTES] [--stripe BYTES] "
		"[--timeout SEC]\n"
		"                 [--expect DIR] [--names N]\n");
	exit(2);
}

static void parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"seed", required_argument, NULL, 's'},
	    {"workers", required_argument, NULL, 'w'},
	    {"files", required_argument, NULL, 'f'},
	    {"duration", required_argument, NULL, 't'},
	    {"ops", required_argument, NULL, 'n'},
	    {"phase-ops", required_argument, NULL, 'p'},
	    {"max-size", required_argument, NULL, 'm'},
	    {"stripe", required_argument, NULL, 'S'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"expect", required_argument, NULL, 'e'},
	    {"names", required_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0},
	};
	*o = (struct opts){.workers = 4,
			   .files = 3,
			   .phase_ops = 400,
			   .max_size = 2 << 20,
			   .stripe = 4 * PAGE,
			   .timeout = 120};
	int seeded = 0, ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->dir = optarg;
			break;
		case 's':
			o->seed = strtoull(optarg, NULL, 0);
			seeded = 1;
			break;
		case 'w':
			o->workers = atoi(optarg);
			break;
		case 'f':
			o->files = atoi(optarg);
			break;
		case 't':
			o->duration = atof(optarg);
			break;
		case 'n':
			o->ops = atol(optarg);
			break;
		case 'p':
			o->phase_ops = atol(optarg);
			break;
		case 'm':
			o->max_size = strtoull(optarg, NULL, 0);
			break;
		case 'S':
			o->stripe = strtoull(optarg, NULL, 0);
			break;
		case 'T':
			o->timeout = atoi(optarg);
			break;
		case 'e':
			o->expect_dir = optarg;
			break;
		case 'N':
			o->names = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!o->dir || optind != argc || o->workers < 1 ||
	    o->workers > MAX_WORKERS || o->files < 1 || o->files > MAX_FILES ||
	    o->phase_ops < 1 || o->timeout < 1 || !o->stripe ||
	    o->stripe % PAGE || o->max_size < o->stripe || o->names < 0 ||
	    o->names > NAMES_MAX_CHURNERS)
		usage();
	if (!seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t s = (uint64_t)ts.tv_nsec ^
			     ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
		o->seed = splitmix(&s) & 0xffffffffffffULL;
	}
	if (!o->duration && !o->ops)
		o->duration = 10;
}

/* A line a minute on long runs, so that a log shows how far it got. */
static void progress(const struct coord *c, int phases, double t)
{
	uint64_t ops = 0, checks = 0;
	for (int i = 0; i < c->o->workers; i++) {
		ops += c->last[i].ops;
		checks += c->last[i].checks;
	}
	printf("exerciser: seed=%" PRIu64 " %.0f s: %d phases, %" PRIu64
	       " operations, %" PRIu64 " checks so far\n",
	       c->o->seed, t, phases, ops, checks);
	fflush(stdout);
}

static int run(struct coord *c, double *elapsed, uint64_t tot[4], int *phases)
{
	const struct opts *o = c->o;
	double t0 = now_s();
	long per_phase = o->phase_ops * o->workers;
	int phase = 0;
	double last_note = t0;
	for (;; phase++) {
		if (resize_all(c) < 0 || drop_caches(c, 0) < 0 ||
		    send_all(c, phase) < 0 || collect(c, phase) < 0)
			return -1;
		if (now_s() - last_note >= 60) {
			last_note = now_s();
			progress(c, phase + 1, last_note - t0);
		}
		long done = (phase + 1) * per_phase;
		if ((o->ops && done >= o->ops) ||
		    (o->duration && now_s() - t0 >= o->duration))
			break;
	}
	*phases = phase + 1;
	*elapsed = now_s() - t0;
	for (int i = 0; i < o->workers; i++) {
		tot[0] += c->last[i].ops;
		tot[1] += c->last[i].checks;
		tot[2] += c->last[i].bytes;
		tot[3] += c->last[i].unsupported;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_opts(&o, argc, argv);
	printf("exerciser: seed=%" PRIu64 " dir=%s workers=%d files=%d "
	       "max-size=%zu stripe=%zu phase-ops=%ld\n",
	       o.seed, o.dir, o.workers, o.files, o.max_size, o.stripe,
	       o.phase_ops);
	fflush(stdout);

	struct coord c;
	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.rng = o.seed ^ 0xc00d1a7e5ULL;
	c.sh = mmap(NULL, sizeof(*c.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *shadow =
	    mmap(NULL, (size_t)o.files * o.max_size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c.sh == MAP_FAILED || shadow == MAP_FAILED) {
		perror("exerciser: mmap");
		return 1;
	}
	c.sh->shadow = shadow;
	if (create_maps(&c) < 0)
		return 1;
	struct names_counts *nc =
	    mmap(NULL, sizeof(*nc), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t namers[NAMES_MAX_CHURNERS];
	if (nc == MAP_FAILED ||
	    names_start(o.dir, o.names, o.seed, nc, namers) < 0) {
		perror("exerciser: starting name churners");
		return 1;
	}
	if (start_workers(&c) < 0) {
		perror("exerciser: starting workers");
		kill_workers(&c);
		names_stop(o.names, nc, namers, o.timeout);
		return 1;
	}

	double elapsed = 0;
	uint64_t tot[4] = {0};
	int phases = 0;
	int ran = run(&c, &elapsed, tot, &phases);
	if (ran < 0)
		kill_workers(&c);
	int named = o.names ? names_stop(o.names, nc, namers, o.timeout) : 0;
	if (ran < 0 || named < 0) {
		fprintf(stderr, "exerciser: FAILED, seed=%" PRIu64 "\n",
			o.seed);
		return 1;
	}
	if (stop_workers(&c) < 0) {
		fprintf(stderr, "exerciser: a worker did not exit cleanly\n");
		return 1;
	}
	/* The final check reads what the daemon holds, not the cache. */
	if (drop_caches(&c, 1) < 0)
		return 1;
	for (int f = 0; f < o.files; f++)
		close(c.fd[f]);
	uint64_t fbytes = 0;
	if (final_check(&o, c.sh, &fbytes) < 0) {
		fprintf(stderr,
			"exerciser: FAILED final check, seed=%" PRIu64 "\n",
			o.seed);
		return 1;
	}
	if (o.expect_dir && write_expected(&o, c.sh) < 0) {
		perror("exerciser: writing expected contents");
		return 1;
	}
	printf("exerciser: ok seed=%" PRIu64 " %.1f s, %d phases, %" PRIu64
	       " resizes, %" PRIu64 " cache drops, %" PRIu64
	       " operations, %" PRIu64
	       " checks (%.1f MiB compared), final check %.1f MiB, %" PRIu64
	       " ZERO_RANGE refused (EOPNOTSUPP)\n",
	       o.seed, elapsed, phases, c.resizes, c.drops, tot[0], tot[1],
	       tot[2] / 1048576.0, fbytes / 1048576.0, tot[3]);
	return 0;
}
