/*
 * Quota exerciser: many users, several processes each, all near their
 * per-user and per-group limits at once, on one directory (a shmapfs mount
 * with usrquota/grpquota, or a tmpfs with the same options as a reference).
 *
 * Users are numeric ids (no passwd entries needed): user u is uid
 * UID_BASE + u; its process k runs with gid GID_BASE + (u + k) % groups,
 * so every group holds mappings of several users and every user's
 * mappings are spread over several groups. A process creates, writes,
 * truncates, fallocates, punches and removes mappings of its own (names
 * q<uid>.<k>.<i>), stores through views, and checks every byte it reads
 * against its model of its own mappings.
 *
 * The model of quota use is exact because every operation that may change
 * what a mapping is charged runs with two process-shared mutexes held, its
 * group's and then its user's: meanwhile nobody else changes that user's
 * or that group's charge, so the sum of the model's charges (one slot per
 * process, in shared memory) is exactly what the filesystem must count.
 * Pure data operations (reads, stores through views to pages that are
 * stored already) run without them, concurrently. Under the locks each
 * outcome is judged:
 *   - a success must leave the user and the group within their limits;
 *   - an EDQUOT (or a short write) must be due: what the mount sets aside
 *     for the whole operation (see reserve()) would have taken the user or
 *     the group past a limit;
 *   - every few operations, the usage the mount reports (the root's
 *     user.shmap.quota attribute) must equal the model's, for the user and
 *     the group (not with --no-usage, as on tmpfs).
 * A byte is charged as tmpfs charges it: a sparse mapping its stored
 * pages, a committed one (--committed, shmapfs only) its size in pages.
 *
 * Root processes (--root-procs) write past every limit meanwhile; root is
 * exempt. At the end every process checks all its mappings in full (so no
 * byte of anyone's mapping changed), removes them, and the coordinator
 * waits until the mount reports no use by any test id.
 *
 * On a wrong outcome it prints the seed, the process, the operation and
 * the figures, and exits 1. Everything follows from --seed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "seeded.h"

#define PAGE	       4096UL
#define UID_BASE       41000
#define GID_BASE       42000
#define MAX_USERS      32
#define MAX_GROUPS     16
#define MAX_PROCS      8  /* per user */
#define MAX_FILES      6  /* per process */
#define MAX_PAGES      64 /* per mapping */
#define LOCK_TIMEOUT_S 60
#define USAGE_XATTR    "user.shmap.quota"
#define COMMIT_XATTR   "user.shmap.commit"

struct opts {
	const char *dir;
	uint64_t seed;
	int users;
	int procs;
	int groups;
	int root_procs;
	double duration;
	uint64_t user_bytes; /* 0: no limit */
	uint64_t user_maps;
	uint64_t group_bytes;
	uint64_t group_maps;
	int committed; /* some mappings committed (shmapfs only) */
	int usage;     /* compare with user.shmap.quota */
};

/* What one process's mappings are charged, as its model says. */
struct slot {
	uint64_t bytes;
	uint64_t maps;
};

/* Shared by every process (MAP_SHARED anonymous). */
struct shared {
	pthread_mutex_t user_lock[MAX_USERS];
	pthread_mutex_t group_lock[MAX_GROUPS];
	/* slot[u][k]: guarded by user_lock[u] and group_lock[gid of u, k] */
	struct slot slot[MAX_USERS][MAX_PROCS];
	int failed; /* set by a process that found a wrong outcome */
	/* What each process did, added up at its end (atomically). */
	uint64_t ops, edquot, short_writes, usage_checks;
};

struct mapping {
	int used;
	int committed;
	uint64_t size;
	unsigned char stored[MAX_PAGES]; /* 1: page charged (sparse) */
	unsigned char
	    written[MAX_PAGES]; /* 1: has data (not fallocated only) */
	unsigned char data[MAX_PAGES * PAGE];
};

struct proc {
	const struct opts *o;
	struct shared *sh;
	int user, k, group;
	uid_t uid;
	gid_t gid;
	uint64_t rng;
	long op;
	const char *what;
	struct mapping map[MAX_FILES];
	unsigned char buf[MAX_PAGES * PAGE];
	uint64_t edquot, short_writes, usage_checks, ops;
	int refused; /* the last operation got EDQUOT */
};

static void __attribute__((format(printf, 2, 3)))
fail(struct proc *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr,
		"quota_exerciser: FAIL seed %" PRIu64
		" uid %d gid %d proc %d op %ld (%s): ",
		p->o->seed, (int)p->uid, (int)p->gid, p->k, p->op,
		p->what ? p->what : "-");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	p->sh->failed = 1;
	_exit(1);
}

static void map_path(const struct proc *p, int i, char *buf, size_t n)
{
	snprintf(buf, n, "%s/q%d.%d.%d", p->o->dir, (int)p->uid, p->k, i);
}

/* ---- The model's charges ---- */

static uint64_t pages_of(uint64_t bytes)
{
	return (bytes + PAGE - 1) / PAGE;
}

static uint64_t mapping_charge(const struct mapping *m)
{
	if (!m->used)
		return 0;
	if (m->committed)
		return pages_of(m->size) * PAGE;
	uint64_t n = 0;
	for (int i = 0; i < MAX_PAGES; i++)
		n += m->stored[i];
	return n * PAGE;
}

static struct slot own_charge(const struct proc *p)
{
	struct slot s = {0, 0};
	for (int i = 0; i < MAX_FILES; i++) {
		s.bytes += mapping_charge(&p->map[i]);
		s.maps += p->map[i].used;
	}
	return s;
}

/*
 * What the mount may set aside before a sparse mapping stores [off, end),
 * to give back what it did not need once done: every page with no data yet
 * (it cannot tell a page fallocate reserved from a hole). A committed
 * mapping sets aside its growth.
 */
static uint64_t reserve(const struct mapping *m, uint64_t off, uint64_t end)
{
	if (m->committed)
		return end > m->size
			   ? (pages_of(end) - pages_of(m->size)) * PAGE
			   : 0;
	uint64_t n = 0;
	for (uint64_t pg = off / PAGE; pg < pages_of(end); pg++)
		n += !m->written[pg];
	return n * PAGE;
}

static int group_of(const struct opts *o, int user, int k)
{
	return (user + k) % o->groups;
}

/* The charge of every other process of our user, and of our group. */
static void others(const struct proc *p, struct slot *user, struct slot *grp)
{
	*user = (struct slot){0, 0};
	*grp = (struct slot){0, 0};
	for (int u = 0; u < p->o->users; u++)
		for (int k = 0; k < p->o->procs; k++) {
			if (u == p->user && k == p->k)
				continue;
			const struct slot *s = &p->sh->slot[u][k];
			if (u == p->user) {
				user->bytes += s->bytes;
				user->maps += s->maps;
			}
			if (group_of(p->o, u, k) == p->group) {
				grp->bytes += s->bytes;
				grp->maps += s->maps;
			}
		}
}

/* Would own charge `mine` take the user or the group past a limit? */
static int over(const struct proc *p, struct slot mine)
{
	const struct opts *o = p->o;
	struct slot u, g;
	others(p, &u, &g);
	return (o->user_bytes && u.bytes + mine.bytes > o->user_bytes) ||
	       (o->user_maps && u.maps + mine.maps > o->user_maps) ||
	       (o->group_bytes && g.bytes + mine.bytes > o->group_bytes) ||
	       (o->group_maps && g.maps + mine.maps > o->group_maps);
}

/* ---- Locks ---- */

static void lock_one(struct proc *p, pthread_mutex_t *m)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LOCK_TIMEOUT_S;
	int err = pthread_mutex_timedlock(m, &ts);
	if (err == EOWNERDEAD)
		fail(p, "a process died holding a quota lock");
	if (err)
		fail(p, "quota lock: %s", strerror(err));
}

static void lock_ids(struct proc *p)
{
	lock_one(p, &p->sh->group_lock[p->group]);
	lock_one(p, &p->sh->user_lock[p->user]);
}

/* Publish our charge, then let the others go. */
static void unlock_ids(struct proc *p)
{
	p->sh->slot[p->user][p->k] = own_charge(p);
	pthread_mutex_unlock(&p->sh->user_lock[p->user]);
	pthread_mutex_unlock(&p->sh->group_lock[p->group]);
}

/* ---- What the mount reports ---- */

/* The bytes and mappings of one "user ID" or "group ID" line; 0 if none. */
static int usage_line(const char *text, const char *kind, unsigned id,
		      struct slot *out)
{
	*out = (struct slot){0, 0};
	for (const char *l = text; l && *l;) {
		char k[16];
		unsigned lid;
		unsigned long long b, m;
		if (sscanf(l, "%15s %u %llu %llu", k, &lid, &b, &m) == 4 &&
		    !strcmp(k, kind) && lid == id) {
			*out = (struct slot){b, m};
			return 1;
		}
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return 0;
}

static int read_usage(const char *dir, char *buf, size_t n)
{
	ssize_t len = getxattr(dir, USAGE_XATTR, buf, n - 1);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	return 0;
}

/* The use of our user and our group: as the model has it (locks held),
 * and as the mount reports it. */
struct usage {
	struct slot user, group;
};

static struct usage model_usage(struct proc *p)
{
	struct usage m;
	struct slot mine = own_charge(p);
	others(p, &m.user, &m.group);
	m.user.bytes += mine.bytes, m.user.maps += mine.maps;
	m.group.bytes += mine.bytes, m.group.maps += mine.maps;
	return m;
}

static struct usage mount_usage(struct proc *p, char *text, size_t n)
{
	struct usage r;
	int res = read_usage(p->o->dir, text, n);
	if (res < 0)
		fail(p, "getxattr %s: %s", USAGE_XATTR, strerror(-res));
	usage_line(text, "user", p->uid, &r.user);
	usage_line(text, "group", p->gid, &r.group);
	return r;
}

static int usage_equal(struct usage a, struct usage b)
{
	return a.user.bytes == b.user.bytes && a.user.maps == b.user.maps &&
	       a.group.bytes == b.group.bytes && a.group.maps == b.group.maps;
}

/*
 * With the locks held: the mount must report exactly the model's use.
 * settle_s > 0 allows that long for it (a mapping's last release reaches
 * the daemon a moment after close(), and only then is an unlinked
 * mapping's charge given back).
 */
static void check_usage_within(struct proc *p, double settle_s)
{
	if (!p->o->usage)
		return;
	char text[16384];
	struct usage m = model_usage(p), r = mount_usage(p, text, sizeof(text));
	for (double end = now_s() + settle_s;
	     !usage_equal(m, r) && now_s() < end;) {
		usleep(10 * 1000);
		r = mount_usage(p, text, sizeof(text));
	}
	if (!usage_equal(m, r))
		fail(p,
		     "usage reported: user %" PRIu64 " bytes %" PRIu64
		     " mappings, group %" PRIu64 " bytes %" PRIu64
		     " mappings; model: user %" PRIu64 " / %" PRIu64
		     ", group %" PRIu64 " / %" PRIu64 "\n%s",
		     r.user.bytes, r.user.maps, r.group.bytes, r.group.maps,
		     m.user.bytes, m.user.maps, m.group.bytes, m.group.maps,
		     text);
	p->usage_checks++;
}

static void check_usage(struct proc *p)
{
	check_usage_within(p, 0);
}

/* ---- Judging an outcome (locks held) ---- */

/* A success must leave everybody within the limits. */
static void judge_done(struct proc *p)
{
	if (over(p, own_charge(p)))
		fail(p,
		     "succeeded past a limit: own charge %" PRIu64
		     " bytes %" PRIu64 " mappings",
		     own_charge(p).bytes, own_charge(p).maps);
}

/* EDQUOT must be due: `whole` is our charge had it all been done. */
static void judge_refused(struct proc *p, struct slot whole)
{
	if (!over(p, whole))
		fail(p,
		     "EDQUOT with room: own charge would be %" PRIu64
		     " bytes %" PRIu64 " mappings",
		     whole.bytes, whole.maps);
	p->edquot++;
	p->refused = 1;
}

/* ---- Operations ---- */

static void fill(struct proc *p, unsigned char *b, size_t len)
{
	uint64_t v = splitmix(&p->rng);
	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = splitmix(&p->rng);
		b[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

/* Apply a write of len bytes at off to the model m. */
static void model_write(struct mapping *m, const unsigned char *b, uint64_t off,
			size_t len)
{
	if (!len)
		return;
	memcpy(m->data + off, b, len);
	for (uint64_t pg = off / PAGE; pg <= (off + len - 1) / PAGE; pg++)
		m->stored[pg] = m->written[pg] = 1;
	if (off + len > m->size)
		m->size = off + len;
}

static void model_truncate(struct mapping *m, uint64_t size)
{
	if (size < m->size) {
		memset(m->data + size, 0, m->size - size);
		for (uint64_t pg = pages_of(size); pg < MAX_PAGES; pg++)
			m->stored[pg] = m->written[pg] = 0;
	}
	m->size = size;
}

static int open_map(struct proc *p, int i, int flags)
{
	char path[PATH_MAX];
	map_path(p, i, path, sizeof(path));
	return open(path, flags | O_RDWR | O_CLOEXEC, 0600);
}

/* Read mapping i in full (through read() and through a view) and compare. */
static void verify(struct proc *p, int i)
{
	struct mapping *m = &p->map[i];
	p->what = "verify";
	int fd = open_map(p, i, 0);
	if (fd < 0)
		fail(p, "open mapping %d: %s", i, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != m->size)
		fail(p, "mapping %d: size %lld, model %" PRIu64, i,
		     (long long)st.st_size, m->size);
	ssize_t got = pread(fd, p->buf, m->size, 0);
	if (got != (ssize_t)m->size)
		fail(p, "mapping %d: read %zd of %" PRIu64 ": %s", i, got,
		     m->size, strerror(errno));
	for (uint64_t b = 0; b < m->size; b++)
		if (p->buf[b] != m->data[b])
			fail(p,
			     "mapping %d byte %" PRIu64
			     ": 0x%02x, model 0x%02x",
			     i, b, p->buf[b], m->data[b]);
	if (m->size) {
		unsigned char *v =
		    mmap(NULL, m->size, PROT_READ, MAP_SHARED, fd, 0);
		if (v == MAP_FAILED)
			fail(p, "mmap mapping %d: %s", i, strerror(errno));
		if (memcmp(v, m->data, m->size))
			fail(p, "mapping %d: a view differs from the model", i);
		munmap(v, m->size);
	}
	close(fd);
}

static void op_create(struct proc *p, int i)
{
	struct mapping *m = &p->map[i];
	int committed = p->o->committed && rnd(&p->rng, 3) == 0;
	p->what = committed ? "create committed" : "create";
	lock_ids(p);
	int fd = open_map(p, i, O_CREAT | O_EXCL);
	if (fd < 0 && errno == EDQUOT) {
		struct slot whole = own_charge(p);
		whole.maps++;
		judge_refused(p, whole);
	} else if (fd < 0) {
		fail(p, "create mapping %d: %s", i, strerror(errno));
	} else {
		memset(m, 0, sizeof(*m));
		m->used = 1;
		judge_done(p);
		if (committed) {
			if (fsetxattr(fd, COMMIT_XATTR, "committed", 9, 0) < 0)
				fail(p, "commit mapping %d: %s", i,
				     strerror(errno));
			m->committed = 1;
		}
		close(fd);
	}
	check_usage(p);
	unlock_ids(p);
}

static void op_remove(struct proc *p, int i)
{
	char path[PATH_MAX];
	verify(p, i);
	p->what = "unlink";
	map_path(p, i, path, sizeof(path));
	lock_ids(p);
	if (unlink(path) < 0)
		fail(p, "unlink mapping %d: %s", i, strerror(errno));
	memset(&p->map[i], 0, sizeof(p->map[i]));
	check_usage_within(p, 5);
	unlock_ids(p);
}

static void op_write(struct proc *p, int i, int fd)
{
	struct mapping *m = &p->map[i];
	uint64_t off = rnd(&p->rng, MAX_PAGES * PAGE - 1);
	size_t len = 1 + rnd(&p->rng, 8 * PAGE);
	if (off + len > MAX_PAGES * PAGE)
		len = MAX_PAGES * PAGE - off;
	fill(p, p->buf, len);
	p->what = "pwrite";
	lock_ids(p);
	ssize_t n = pwrite(fd, p->buf, len, off);
	if (n < 0 && errno != EDQUOT)
		fail(p, "pwrite %zu at %" PRIu64 ": %s", len, off,
		     strerror(errno));
	if (n > 0)
		model_write(m, p->buf, off, n);
	if (n == (ssize_t)len) {
		judge_done(p);
	} else {
		/* What was written must fit; the rest must not have. */
		uint64_t done = n > 0 ? (uint64_t)n : 0;
		struct slot whole = own_charge(p);
		whole.bytes += reserve(m, off + done, off + len);
		p->short_writes += n >= 0;
		judge_done(p);
		judge_refused(p, whole);
	}
	check_usage(p);
	unlock_ids(p);
}

static void op_truncate(struct proc *p, int i, int fd)
{
	struct mapping *m = &p->map[i];
	uint64_t size = rnd(&p->rng, MAX_PAGES * PAGE + 1);
	p->what = "ftruncate";
	lock_ids(p);
	struct mapping whole_m = *m;
	model_truncate(&whole_m, size);
	struct slot whole = own_charge(p);
	whole.bytes += mapping_charge(&whole_m) - mapping_charge(m);
	if (ftruncate(fd, size) == 0) {
		model_truncate(m, size);
		judge_done(p);
	} else if (errno == EDQUOT) {
		judge_refused(p, whole);
	} else {
		fail(p, "ftruncate to %" PRIu64 ": %s", size, strerror(errno));
	}
	check_usage(p);
	unlock_ids(p);
}

/* fallocate stores (zeroed) pages; all or nothing. */
static void op_allocate(struct proc *p, int i, int fd)
{
	struct mapping *m = &p->map[i];
	uint64_t off = rnd(&p->rng, MAX_PAGES * PAGE - 1);
	uint64_t len = 1 + rnd(&p->rng, 8 * PAGE);
	if (off + len > MAX_PAGES * PAGE)
		len = MAX_PAGES * PAGE - off;
	p->what = "fallocate";
	lock_ids(p);
	struct mapping whole_m = *m;
	for (uint64_t pg = off / PAGE; pg <= (off + len - 1) / PAGE; pg++)
		whole_m.stored[pg] = 1;
	if (off + len > whole_m.size)
		whole_m.size = off + len;
	struct slot whole = own_charge(p);
	whole.bytes += reserve(m, off, off + len);
	if (fallocate(fd, 0, off, len) == 0) {
		memcpy(m, &whole_m, offsetof(struct mapping, data));
		judge_done(p);
	} else if (errno == EDQUOT) {
		judge_refused(p, whole);
	} else {
		fail(p, "fallocate %" PRIu64 " at %" PRIu64 ": %s", len, off,
		     strerror(errno));
	}
	check_usage(p);
	unlock_ids(p);
}

/* Punching gives whole pages back and zeroes partial ones; never EDQUOT. */
static void op_punch(struct proc *p, int i, int fd)
{
	struct mapping *m = &p->map[i];
	if (!m->size)
		return;
	uint64_t off = rnd(&p->rng, m->size);
	uint64_t len = 1 + rnd(&p->rng, m->size - off);
	p->what = "punch hole";
	lock_ids(p);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
		      len) < 0)
		fail(p, "punch %" PRIu64 " at %" PRIu64 ": %s", len, off,
		     strerror(errno));
	memset(m->data + off, 0, len);
	uint64_t first = pages_of(off), end = (off + len) / PAGE;
	for (uint64_t pg = first; pg < end; pg++)
		m->stored[pg] = m->written[pg] = 0;
	judge_done(p);
	check_usage(p);
	unlock_ids(p);
}

/* Stores through a view, only to pages the mapping has data in already:
 * they change no charge, so they need no lock. (A page that fallocate
 * reserved but nothing wrote would be reserved again at the write-back,
 * as a write to it is: see reserve().) */
static void op_store(struct proc *p, int i, int fd)
{
	struct mapping *m = &p->map[i];
	if (!m->size)
		return;
	p->what = "store through a view";
	unsigned char *v =
	    mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (v == MAP_FAILED)
		fail(p, "mmap: %s", strerror(errno));
	for (int n = 0; n < 16; n++) {
		uint64_t b = rnd(&p->rng, m->size);
		if (!m->written[b / PAGE] && !m->committed)
			continue;
		unsigned char c = (unsigned char)splitmix(&p->rng);
		v[b] = c;
		m->data[b] = c;
		if (v[b] != c)
			fail(p, "view byte %" PRIu64 " did not keep a store",
			     b);
	}
	if (msync(v, m->size, MS_SYNC) < 0)
		fail(p, "msync: %s", strerror(errno));
	munmap(v, m->size);
}

static void op_check_range(struct proc *p, int i, int fd)
{
	struct mapping *m = &p->map[i];
	if (!m->size)
		return;
	p->what = "pread";
	uint64_t off = rnd(&p->rng, m->size);
	size_t len = 1 + rnd(&p->rng, m->size - off);
	ssize_t n = pread(fd, p->buf, len, off);
	if (n != (ssize_t)len)
		fail(p, "pread %zu at %" PRIu64 ": %zd (%s)", len, off, n,
		     strerror(errno));
	if (memcmp(p->buf, m->data + off, len))
		fail(p, "pread %zu at %" PRIu64 " differs from the model", len,
		     off);
}

/* A mapping in use other than i, or i. */
static int other_used(struct proc *p, int i)
{
	int start = (int)rnd(&p->rng, MAX_FILES);
	for (int j = 0; j < MAX_FILES; j++) {
		int c = (start + j) % MAX_FILES;
		if (c != i && p->map[c].used)
			return c;
	}
	return i;
}

/*
 * Mostly operations on mappings in use; a refused one makes room now and
 * then (so that every user stays near its limits without being stuck at
 * them), and a refused create is not simply tried again.
 */
static void one_op(struct proc *p)
{
	int i = (int)rnd(&p->rng, MAX_FILES);
	int refused = p->refused;
	p->refused = 0;
	p->op++;
	p->ops++;
	if (refused && !p->map[i].used)
		i = other_used(p, i);
	if (!p->map[i].used) {
		op_create(p, i);
		return;
	}
	unsigned r = (unsigned)rnd(&p->rng, 100);
	if (r < 3 || (refused && r < 20)) {
		op_remove(p, i);
		return;
	}
	int fd = open_map(p, i, 0);
	if (fd < 0)
		fail(p, "open mapping %d: %s", i, strerror(errno));
	if (r < 50)
		op_write(p, i, fd);
	else if (r < 62)
		op_truncate(p, i, fd);
	else if (r < 72)
		op_allocate(p, i, fd);
	else if (r < 80)
		op_punch(p, i, fd);
	else if (r < 90)
		op_store(p, i, fd);
	else
		op_check_range(p, i, fd);
	close(fd);
}

/* ---- Processes ---- */

static int become(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

static void __attribute__((noreturn))
proc_main(const struct opts *o, struct shared *sh, int user, int k)
{
	static struct proc p; /* large: not on the stack */
	p.o = o;
	p.sh = sh;
	p.user = user;
	p.k = k;
	p.group = group_of(o, user, k);
	p.uid = UID_BASE + user;
	p.gid = GID_BASE + p.group;
	p.rng = o->seed ^ ((uint64_t)(user + 1) << 32) ^ (uint64_t)(k + 1);
	if (become(p.uid, p.gid) < 0)
		fail(&p, "cannot become uid %d: %s", (int)p.uid,
		     strerror(errno));
	double end = now_s() + o->duration;
	while (now_s() < end && !sh->failed)
		one_op(&p);
	p.what = "final check";
	for (int i = 0; i < MAX_FILES; i++)
		if (p.map[i].used)
			op_remove(&p, i);
	__atomic_add_fetch(&sh->ops, p.ops, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->edquot, p.edquot, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->short_writes, p.short_writes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->usage_checks, p.usage_checks, __ATOMIC_RELAXED);
	_exit(0);
}

/* Root writes past every limit meanwhile: root is exempt. */
static void __attribute__((noreturn))
root_main(const struct opts *o, struct shared *sh, int k)
{
	char path[PATH_MAX];
	size_t len = 4 * MAX_PAGES * PAGE;
	uint64_t total = o->user_bytes + o->group_bytes + len;
	unsigned char *b = malloc(len);
	snprintf(path, sizeof(path), "%s/root.%d", o->dir, k);
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (!b || fd < 0) {
		perror("quota_exerciser: root mapping");
		sh->failed = 1;
		_exit(1);
	}
	memset(b, 'r' + k, len);
	double end = now_s() + o->duration;
	uint64_t off = 0;
	while (now_s() < end && !sh->failed) {
		if (pwrite(fd, b, len, off) != (ssize_t)len) {
			fprintf(stderr,
				"quota_exerciser: FAIL root write at %" PRIu64
				": %s\n",
				off, strerror(errno));
			sh->failed = 1;
			_exit(1);
		}
		off = (off + len) % (total + len);
		if (ftruncate(fd, off / 2) < 0)
			_exit(1);
	}
	close(fd);
	unlink(path);
	_exit(0);
}

static void init_locks(struct shared *sh)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (int i = 0; i < MAX_USERS; i++)
		pthread_mutex_init(&sh->user_lock[i], &a);
	for (int i = 0; i < MAX_GROUPS; i++)
		pthread_mutex_init(&sh->group_lock[i], &a);
	pthread_mutexattr_destroy(&a);
}

/* After every removal the mount must report no use by a test id (the
 * last release of a mapping may reach the daemon a moment after close:
 * wait for it, boundedly). */
static int check_zero(const struct opts *o)
{
	char text[16384];
	for (int tries = 0; tries < 100; tries++) {
		if (read_usage(o->dir, text, sizeof(text)) < 0) {
			perror("quota_exerciser: getxattr " USAGE_XATTR);
			return -1;
		}
		int left = 0;
		for (const char *l = text; l && *l;) {
			unsigned id;
			char kind[16];
			if (sscanf(l, "%15s %u", kind, &id) == 2 &&
			    id >= UID_BASE && id < GID_BASE + MAX_GROUPS)
				left = 1;
			l = strchr(l, '\n');
			l = l ? l + 1 : NULL;
		}
		if (!left)
			return 0;
		usleep(50 * 1000);
	}
	fprintf(stderr,
		"quota_exerciser: FAIL use left after every mapping was "
		"removed:\n%s",
		text);
	return -1;
}

static int run(const struct opts *o)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return perror("mmap"), 1;
	memset(sh, 0, sizeof(*sh));
	init_locks(sh);
	int nprocs = o->users * o->procs + o->root_procs;
	pid_t pids[MAX_USERS * MAX_PROCS + 8];
	int n = 0;
	fflush(stdout);
	for (int u = 0; u < o->users; u++)
		for (int k = 0; k < o->procs; k++, n++)
			if ((pids[n] = fork()) == 0)
				proc_main(o, sh, u, k);
	for (int k = 0; k < o->root_procs; k++, n++)
		if ((pids[n] = fork()) == 0)
			root_main(o, sh, k);
	int bad = 0;
	for (int i = 0; i < nprocs; i++) {
		int st;
		if (pids[i] < 0 || waitpid(pids[i], &st, 0) < 0 ||
		    !WIFEXITED(st) || WEXITSTATUS(st)) {
			if (!bad)
				for (int j = 0; j < nprocs; j++)
					if (pids[j] > 0)
						kill(pids[j], SIGKILL);
			bad = 1;
		}
	}
	if (!bad && o->usage && check_zero(o) < 0)
		bad = 1;
	printf("quota_exerciser: seed %" PRIu64 ": %" PRIu64
	       " operations, %" PRIu64 " refused with EDQUOT (%" PRIu64
	       " short writes), %" PRIu64 " usage checks: %s\n",
	       o->seed, sh->ops, sh->edquot, sh->short_writes, sh->usage_checks,
	       bad ? "FAILED" : "model and mount agree");
	return bad;
}

static uint64_t parse_num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k':
		return v << 10;
	case 'm':
		return v << 20;
	case 'g':
		return v << 30;
	}
	return v;
}

static void usage_exit(void)
{
	fprintf(stderr,
		"usage: quota_exerciser --dir DIR [--seed N] [--users N] "
		"[--procs N] [--groups N] [--root-procs N] [--duration S]\n"
		"  [--user-bytes N] [--user-maps N] [--group-bytes N] "
		"[--group-maps N] [--committed] [--no-usage]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.users = 8,
			 .procs = 3,
			 .groups = 4,
			 .root_procs = 1,
			 .duration = 10,
			 .usage = 1};
	o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	static const struct option lo[] = {
	    {"dir", 1, 0, 'd'},	       {"seed", 1, 0, 's'},
	    {"users", 1, 0, 'u'},      {"procs", 1, 0, 'p'},
	    {"groups", 1, 0, 'g'},     {"root-procs", 1, 0, 'r'},
	    {"duration", 1, 0, 't'},   {"user-bytes", 1, 0, 'B'},
	    {"user-maps", 1, 0, 'M'},  {"group-bytes", 1, 0, 'b'},
	    {"group-maps", 1, 0, 'm'}, {"committed", 0, 0, 'c'},
	    {"no-usage", 0, 0, 'n'},   {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.dir = optarg;
			break;
		case 's':
			o.seed = strtoull(optarg, NULL, 0);
			break;
		case 'u':
			o.users = atoi(optarg);
			break;
		case 'p':
			o.procs = atoi(optarg);
			break;
		case 'g':
			o.groups = atoi(optarg);
			break;
		case 'r':
			o.root_procs = atoi(optarg);
			break;
		case 't':
			o.duration = atof(optarg);
			break;
		case 'B':
			o.user_bytes = parse_num(optarg);
			break;
		case 'M':
			o.user_maps = parse_num(optarg);
			break;
		case 'b':
			o.group_bytes = parse_num(optarg);
			break;
		case 'm':
			o.group_maps = parse_num(optarg);
			break;
		case 'c':
			o.committed = 1;
			break;
		case 'n':
			o.usage = 0;
			break;
		default:
			usage_exit();
		}
	}
	if (!o.dir || o.users < 1 || o.users > MAX_USERS || o.procs < 1 ||
	    o.procs > MAX_PROCS || o.groups < 1 || o.groups > MAX_GROUPS ||
	    o.root_procs < 0 || o.root_procs > 8)
		usage_exit();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("quota_exerciser: seed %" PRIu64 ", %d users x %d processes, "
	       "%d groups, %d root, %.0f s, limits user %" PRIu64
	       " B / %" PRIu64 " mappings, group %" PRIu64 " B / %" PRIu64
	       " mappings\n",
	       o.seed, o.users, o.procs, o.groups, o.root_procs, o.duration,
	       o.user_bytes, o.user_maps, o.group_bytes, o.group_maps);
	return run(&o);
}
