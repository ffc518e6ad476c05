/*
 * Systematic fault injection in the core, as SQLite does it: a scripted
 * sequence of operations (create, write, truncate, fallocate, commit and
 * uncommit, chmod and chown with a size, O_TRUNC, link, rename, unlink,
 * xattrs) runs against a fresh memory-backed registry whose Nth store
 * write, Nth resize or fallocate, or Nth store open fails, for every N
 * that hits the script. After every operation the capacity and the
 * per-user and per-group usage must equal a recount from what each
 * mapping holds; after every failed operation the names, the attributes,
 * the data and the counters must be exactly as before it. Also: a
 * setattr whose chown the quota refuses changes nothing, and a write,
 * truncate or fallocate the kernel cuts short (RLIMIT_FSIZE; a full ext4
 * on a loop device, the backing filesystem) leaves nothing past the size.
 * No FUSE mount: the core is driven directly.
 */
#include "mount.h"
#include "registry.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE	 4096u
#define CAP	 (256 * PAGE)
#define MAXN	 16
#define MAXOPEN	 8
#define MAXNAMES 8
#define NFAULTS	 12 /* the script does fewer of each kind of store call */

static const struct caller USER = {1000, 1000};
static const struct caller ROOT = {0, 0};

/* Check forces file-static state on fixtures: the registry under test,
 * its directory, and the handles the script keeps open. */
static struct registry *R;
static char TOP[PATH_MAX];
static int store_dirfd = -1;
static int FILE_BACKED;		    /* the registry under test is file-backed */
static char BACKING[PATH_MAX + 16]; /* its backing directory */
static struct {
	struct node *n;
	int flags;
} OPEN[MAXOPEN];
static int NOPEN;

enum hook {
	FAIL_WRITE,
	FAIL_RESIZE,
	FAIL_OPEN,
	NHOOKS
};
static const char *const HOOK_NAME[] = {"write", "resize/fallocate", "open"};

/* Limits for start(): the capacity, and each user's bytes (0: none). */
static uint64_t cap_limit = CAP, usr_bytes_limit;

enum kind {
	MEMFDS,
	STORE_FILES,
	BACKING_FILES,
	NKINDS
};
static const char *const KIND_NAME[] = {"memfds", "store files",
					"backing files"};

/* A registry: memory-backed, counting capacity and usage per user and
 * group, its stores files in a directory (the daemon's way) or memfds;
 * or file-backed, in TOP/backing. New mappings sparse or committed; the
 * Nth call of hook fails. */
static void start(enum kind kind, int sparse, enum hook hook, unsigned nth)
{
	snprintf(TOP, sizeof(TOP), "%s/faults-undo.XXXXXX", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(TOP));
	struct registry_config cfg = {
	    .capacity = cap_limit,
	    .max_nodes = MAXN,
	    .root_mode = 01777,
	    .backing_dirfd = -1,
	    .sparse = sparse,
	    .fault_write = hook == FAIL_WRITE ? nth : 0,
	    .fault_resize = hook == FAIL_RESIZE ? nth : 0,
	    .fault_open = hook == FAIL_OPEN ? nth : 0,
	    .fault_open_err = -ENOSPC,
	    .quota = {.usr = 1, .grp = 1, .usr_limit = {usr_bytes_limit, 0}},
	};
	if (kind == STORE_FILES) {
		store_dirfd = open(TOP, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(store_dirfd, 0);
		cfg.store_dirfd = store_dirfd;
	}
	FILE_BACKED = kind == BACKING_FILES;
	if (FILE_BACKED) {
		snprintf(BACKING, sizeof(BACKING), "%s/backing", TOP);
		ck_assert_int_eq(mkdir(BACKING, 0755), 0);
		cfg.backing_dirfd = open(BACKING, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(cfg.backing_dirfd, 0);
	}
	ck_assert_int_eq(registry_new(&cfg, &R), 0);
}

static void teardown_registry(void)
{
	for (int i = 0; i < NOPEN; i++) {
		registry_release(R, OPEN[i].n, OPEN[i].flags);
		registry_forget(R, OPEN[i].n, 1);
	}
	NOPEN = 0;
	cap_limit = CAP;
	usr_bytes_limit = 0;
	registry_free(R);
	R = NULL;
	if (store_dirfd >= 0)
		close(store_dirfd);
	store_dirfd = -1;
}

static void teardown(void)
{
	teardown_registry();
	tsh(30, "rm -rf '%s'", TOP);
}

static struct node *root(void)
{
	return registry_root(R);
}

/* The node called name in the root, or NULL; an open handle or a name
 * keeps it alive, so the lookup's reference is given back at once. */
static struct node *node_of(const char *name)
{
	struct node *n;
	struct stat st;
	if (registry_lookup(R, root(), name, &n, &st) < 0)
		return NULL;
	registry_forget(R, n, 1);
	return n;
}

/* ---- the script: each step returns 0 or -errno ---- */

static int create_kept(const char *name)
{
	struct node *n;
	struct stat st;
	int res = registry_create(R, root(), name, 0644, O_RDWR | O_CREAT,
				  &USER, &n, &st);
	if (res == 0) {
		ck_assert_int_lt(NOPEN, MAXOPEN);
		OPEN[NOPEN].n = n;
		OPEN[NOPEN++].flags = O_RDWR;
	}
	return res;
}

static int write_pattern(const char *name, uint64_t off, size_t len, char c)
{
	static char buf[4 * PAGE];
	struct node *n = node_of(name);
	if (!n)
		return -ENOENT;
	memset(buf, c, len);
	return registry_write(R, n, buf, len, off);
}

static int set_attrs(const char *name, struct setattr_req q)
{
	struct node *n = node_of(name);
	struct stat st;
	return n ? registry_setattr(R, n, &q, &st) : -ENOENT;
}

static int falloc(const char *name, int mode, uint64_t off, uint64_t len)
{
	struct node *n = node_of(name);
	return n ? registry_fallocate(R, n, mode, off, len) : -ENOENT;
}

static int set_xattr(const char *name, const char *attr, const char *value)
{
	struct node *n = node_of(name);
	return n ? registry_setxattr(R, n, &ROOT, attr, value, strlen(value), 0)
		 : -ENOENT;
}

/* Make the mapping committed if sparse and sparse if committed. */
static int flip_commit(const char *name)
{
	struct node *n = node_of(name);
	char v[32] = "";
	size_t len;
	if (!n)
		return -ENOENT;
	ck_assert_int_eq(
	    registry_getxattr(R, n, SHMAP_XATTR_COMMIT, v, sizeof(v) - 1, &len),
	    0);
	v[len] = '\0';
	return set_xattr(name, SHMAP_XATTR_COMMIT,
			 strcmp(v, "sparse") ? "sparse" : "committed");
}

static int open_trunc(const char *name)
{
	struct node *n = node_of(name);
	if (!n)
		return -ENOENT;
	int res = registry_open(R, n, O_RDWR | O_TRUNC);
	if (res == 0)
		registry_release(R, n, O_RDWR | O_TRUNC);
	return res;
}

static int link_(const char *name, const char *newname)
{
	struct node *n = node_of(name), *out;
	struct stat st;
	if (!n)
		return -ENOENT;
	int res = registry_link(R, n, root(), newname, &st);
	if (res == 0) {
		ck_assert_int_eq(registry_lookup(R, root(), newname, &out, &st),
				 0);
		registry_forget(R, out, 2); /* link's reference and ours */
	}
	return res;
}

static int mknod_idle(const char *name)
{
	struct node *n;
	struct stat st;
	int res =
	    registry_mknod(R, root(), name, S_IFREG | 0644, 0, &USER, &n, &st);
	if (res == 0)
		registry_forget(R, n, 1);
	return res;
}

static int step(int i)
{
	switch (i) {
	case 0:
		return create_kept("a");
	case 1:
		return write_pattern("a", 0, 5000, 'a');
	case 2:
		return write_pattern("a", 2 * PAGE, 3 * PAGE, 'b');
	case 3:
		return set_attrs("a", (struct setattr_req){.valid = SET_SIZE,
							   .size = 10 * PAGE});
	case 4:
		return set_attrs("a", (struct setattr_req){.valid = SET_SIZE,
							   .size = PAGE + 100});
	case 5:
		return falloc("a", 0, 0, 6 * PAGE);
	case 6:
		return falloc("a", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      PAGE, PAGE);
	case 7:
		return flip_commit("a");
	case 8:
		return write_pattern("a", 7 * PAGE, PAGE, 'c');
	case 9:
		return create_kept("b");
	case 10:
		return write_pattern("b", 0, 2 * PAGE, 'd');
	case 11:
		return set_attrs(
		    "b", (struct setattr_req){.valid = SET_SIZE | SET_MODE,
					      .size = 8 * PAGE,
					      .mode = 0600});
	case 12:
		return set_attrs("b", (struct setattr_req){
					  .valid = SET_SIZE | SET_UID | SET_GID,
					  .size = 3 * PAGE,
					  .uid = 2000,
					  .gid = 2000});
	case 13:
		return falloc("b", FALLOC_FL_ZERO_RANGE, 0, 5 * PAGE);
	case 14:
		return flip_commit("b");
	case 15:
		return open_trunc("a");
	case 16:
		return write_pattern("a", 0, 2 * PAGE, 'e');
	case 17:
		return link_("a", "c");
	case 18:
		return registry_rename(R, root(), "b", root(), "a", 0);
	case 19:
		return set_xattr("c", "user.x", "value");
	case 20:
		return flip_commit("c");
	case 21:
		return registry_unlink(R, root(), "c");
	case 22:
		return set_attrs(
		    "a", (struct setattr_req){.valid = SET_SIZE, .size = 0});
	/* A mapping nobody holds open: each step opens its store. */
	case 23:
		return mknod_idle("d");
	case 24:
		return write_pattern("d", PAGE, 2 * PAGE, 'f');
	case 25:
		return set_attrs("d", (struct setattr_req){.valid = SET_SIZE,
							   .size = 6 * PAGE});
	case 26:
		return flip_commit("d");
	case 27:
		return falloc("d", FALLOC_FL_ZERO_RANGE, 0, 2 * PAGE);
	case 28:
		return open_trunc("d");
	case 29:
		return registry_unlink(R, root(), "d");
	default:
		return 1; /* the end */
	}
}

/* ---- what the registry shows, and what it should count ---- */

struct entry {
	char name[16];
	struct stat st;
	char commit[16];
	char x[16];
	uint32_t sum; /* of the data */
};

struct state {
	uint64_t used;	  /* capacity, as statfs shows it */
	uint64_t entries; /* statfs' files - ffree */
	char quota[512];  /* user.shmap.quota */
	int count;
	struct entry e[MAXNAMES];
};

static void get_str(struct node *n, const char *attr, char *buf, size_t size)
{
	size_t len = 0;
	if (registry_getxattr(R, n, attr, buf, size - 1, &len) < 0)
		len = 0;
	buf[len] = '\0';
}

static uint32_t data_sum(struct node *n, uint64_t size)
{
	static char buf[16 * PAGE];
	size_t got = 0;
	ck_assert_uint_le(size, sizeof(buf));
	/* Reading an idle mapping opens its store: the one open that fails
	 * may be this one. */
	int res = registry_read(R, n, buf, sizeof(buf), 0, &got);
	if (res == -ENOSPC)
		res = registry_read(R, n, buf, sizeof(buf), 0, &got);
	ck_assert_int_eq(res, 0);
	ck_assert_uint_eq(got, size);
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < got; i++)
		h = (h ^ (unsigned char)buf[i]) * 16777619u;
	return h;
}

static void observe(struct state *s)
{
	memset(s, 0, sizeof(*s));
	struct statvfs sv;
	ck_assert_int_eq(registry_statfs(R, &sv), 0);
	if (!FILE_BACKED) { /* else the backing filesystem's, anyone's */
		s->used = (sv.f_blocks - sv.f_bfree) * PAGE;
		s->entries = sv.f_files - sv.f_ffree;
	}
	get_str(root(), "user.shmap.quota", s->quota, sizeof(s->quota));
	struct dir_snapshot *d = NULL;
	ck_assert_int_eq(registry_opendir(R, root(), &d), 0);
	for (size_t i = 2; i < d->count; i++) {
		ck_assert_int_lt(s->count, MAXNAMES);
		struct entry *e = &s->e[s->count++];
		snprintf(e->name, sizeof(e->name), "%s", d->entries[i].name);
		struct node *n = node_of(e->name);
		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(registry_getattr(R, n, &e->st), 0);
		get_str(n, SHMAP_XATTR_COMMIT, e->commit, sizeof(e->commit));
		get_str(n, "user.x", e->x, sizeof(e->x));
		e->sum = data_sum(n, (uint64_t)e->st.st_size);
	}
	registry_closedir(d);
	/* Mappings open but no longer named hold what they held. */
	for (int i = 0; i < NOPEN; i++) {
		struct entry *e = &s->e[s->count];
		ck_assert_int_eq(registry_getattr(R, OPEN[i].n, &e->st), 0);
		int seen = 0;
		for (int j = 0; j < s->count; j++)
			seen |= s->e[j].st.st_ino == e->st.st_ino;
		if (seen)
			continue;
		ck_assert_int_lt(s->count, MAXNAMES);
		snprintf(e->name, sizeof(e->name), "(open %d)", i % MAXOPEN);
		get_str(OPEN[i].n, SHMAP_XATTR_COMMIT, e->commit,
			sizeof(e->commit));
		get_str(OPEN[i].n, "user.x", e->x, sizeof(e->x));
		e->sum = data_sum(OPEN[i].n, (uint64_t)e->st.st_size);
		s->count++;
	}
}

/* What a mapping holds of the capacity: a committed one its size in
 * whole pages, a sparse one the pages it has stored. */
static uint64_t charge_of(const struct entry *e)
{
	uint64_t size = (uint64_t)e->st.st_size;
	if (!strcmp(e->commit, "committed"))
		return (size + PAGE - 1) / PAGE * PAGE;
	return (uint64_t)e->st.st_blocks * 512;
}

struct owner_use {
	unsigned id;
	uint64_t bytes, maps;
};

static void add_use(struct owner_use *u, int *n, unsigned id, uint64_t bytes)
{
	int i = 0;
	while (i < *n && u[i].id != id)
		i++;
	if (i == *n)
		u[(*n)++] = (struct owner_use){.id = id};
	u[i].bytes += bytes;
	u[i].maps++;
}

static int by_id(const void *a, const void *b)
{
	const struct owner_use *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static size_t print_uses(char *p, const char *kind, struct owner_use *u, int n)
{
	size_t len = 0;
	qsort(u, (size_t)n, sizeof(*u), by_id);
	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(p + len, "%s %u %llu %llu\n", kind,
				       u[i].id, (unsigned long long)u[i].bytes,
				       (unsigned long long)u[i].maps);
	return len;
}

/* A file-backed registry's names are its backing files, of its sizes. */
static void expect_backing_agrees(const struct state *s, const char *when)
{
	for (int i = 0; i < s->count; i++) {
		const struct entry *e = &s->e[i];
		char path[PATH_MAX + 40];
		struct stat st;
		if (e->name[0] == '(') /* open, no name */
			continue;
		snprintf(path, sizeof(path), "%s/%s", BACKING, e->name);
		ck_assert_msg(stat(path, &st) == 0, "%s: no backing file %s",
			      when, e->name);
		ck_assert_msg(st.st_size == e->st.st_size,
			      "%s: backing file %s of %lld bytes, size %lld",
			      when, e->name, (long long)st.st_size,
			      (long long)e->st.st_size);
	}
}

/* The capacity and the usage the registry counts equal a recount of
 * what its mappings hold (each node once, whatever its names). */
static void expect_counted(const struct state *s, const char *when)
{
	if (FILE_BACKED) {
		expect_backing_agrees(s, when);
		return;
	}
	struct owner_use users[MAXNAMES], groups[MAXNAMES];
	int nu = 0, ng = 0;
	uint64_t used = 0;
	for (int i = 0; i < s->count; i++) {
		const struct entry *e = &s->e[i];
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= s->e[j].st.st_ino == e->st.st_ino;
		if (seen || !S_ISREG(e->st.st_mode))
			continue;
		used += charge_of(e);
		add_use(users, &nu, e->st.st_uid, charge_of(e));
		add_use(groups, &ng, e->st.st_gid, charge_of(e));
	}
	char quota[512] = "";
	size_t len = print_uses(quota, "user", users, nu);
	print_uses(quota + len, "group", groups, ng);
	ck_assert_msg(s->used == used, "%s: capacity used %llu, held %llu",
		      when, (unsigned long long)s->used,
		      (unsigned long long)used);
	ck_assert_msg(!strcmp(s->quota, quota),
		      "%s: usage counted\n%sbut held\n%s", when, s->quota,
		      quota);
}

/* Nothing a person or a counter can see changed (times aside). */
static void expect_same(const struct state *a, const struct state *b,
			const char *when)
{
	ck_assert_msg(a->used == b->used, "%s: capacity used %llu, was %llu",
		      when, (unsigned long long)b->used,
		      (unsigned long long)a->used);
	ck_assert_msg(a->entries == b->entries, "%s: entries %llu, were %llu",
		      when, (unsigned long long)b->entries,
		      (unsigned long long)a->entries);
	ck_assert_msg(!strcmp(a->quota, b->quota), "%s: usage\n%swas\n%s", when,
		      b->quota, a->quota);
	ck_assert_msg(a->count == b->count, "%s: %d names, were %d", when,
		      b->count, a->count);
	for (int i = 0; i < a->count; i++) {
		const struct entry *x = &a->e[i], *y = &b->e[i];
		ck_assert_msg(!strcmp(x->name, y->name), "%s: %s became %s",
			      when, x->name, y->name);
		ck_assert_msg(x->st.st_ino == y->st.st_ino &&
				  x->st.st_mode == y->st.st_mode &&
				  x->st.st_uid == y->st.st_uid &&
				  x->st.st_gid == y->st.st_gid &&
				  x->st.st_nlink == y->st.st_nlink,
			      "%s: %s's inode, mode, owner or links changed",
			      when, x->name);
		ck_assert_msg(x->st.st_size == y->st.st_size,
			      "%s: %s's size %lld, was %lld", when, x->name,
			      (long long)y->st.st_size,
			      (long long)x->st.st_size);
		ck_assert_msg(x->st.st_blocks == y->st.st_blocks,
			      "%s: %s's blocks %lld, were %lld", when, x->name,
			      (long long)y->st.st_blocks,
			      (long long)x->st.st_blocks);
		ck_assert_msg(!strcmp(x->commit, y->commit) &&
				  !strcmp(x->x, y->x),
			      "%s: %s's attributes changed", when, x->name);
		ck_assert_msg(x->sum == y->sum, "%s: %s's data changed", when,
			      x->name);
	}
}

/* Run the script, checking after each step; returns how many failed. */
static int run_script(const char *what)
{
	int failures = 0;
	for (int i = 0;; i++) {
		char when[160];
		struct state before, after;
		observe(&before);
		int res = step(i);
		if (res == 1)
			break;
		observe(&after);
		snprintf(when, sizeof(when), "%s, step %d: %s", what, i,
			 res ? strerror(-res) : "done");
		expect_counted(&after, when);
		if (res < 0) {
			failures++;
			expect_same(&before, &after, when);
		}
	}
	return failures;
}

/*
 * _i: the store kind (files or memfds), sparse or committed, the hook,
 * and N. Each step must succeed, or fail and change nothing; after each,
 * the counters agree with a recount.
 */
START_TEST(nth_store_call_fails)
{
	int nth = _i % NFAULTS + 1;
	enum hook hook = (enum hook)(_i / NFAULTS % NHOOKS);
	int sparse = _i / NFAULTS / NHOOKS % 2;
	enum kind kind = (enum kind)(_i / NFAULTS / NHOOKS / 2);
	start(kind, sparse, hook, (unsigned)nth);
	char what[96];
	snprintf(what, sizeof(what), "%s %s, %s #%d fails", KIND_NAME[kind],
		 sparse ? "sparse" : "committed", HOOK_NAME[hook], nth);
	int failures = run_script(what);
	/* A fault that hits nothing is no test: the first few must hit
	 * (a memfd is never opened again: nothing for an open to fail). */
	if (nth <= 2 && (kind != MEMFDS || hook != FAIL_OPEN))
		ck_assert_int_gt(failures, 0);
}
END_TEST

/*
 * The same script with no fault but a limit that each step in turn runs
 * into: the capacity (ENOSPC) or user 1000's bytes (EDQUOT), of _i / 8 + 1
 * pages; stores in files or memfds, sparse or committed.
 */
START_TEST(every_limit_point)
{
	uint64_t pages = (uint64_t)_i / 8 + 1;
	int quota = _i / 4 % 2;
	if (quota)
		usr_bytes_limit = pages * PAGE;
	else
		cap_limit = pages * PAGE;
	start(_i % 2, _i / 2 % 2, FAIL_WRITE, 0);
	char what[96];
	snprintf(what, sizeof(what), "%s %s, %s of %llu pages",
		 _i % 2 ? "store files" : "memfds",
		 _i / 2 % 2 ? "sparse" : "committed",
		 quota ? "user bytes limit" : "capacity",
		 (unsigned long long)pages);
	int failures = run_script(what);
	if (pages < 4) /* the script needs more */
		ck_assert_int_gt(failures, 0);
}
END_TEST

/* Registry of stores in files, committed, each user at most 2 mappings
 * (groups counted, not limited); user 2000 already has its 2. */
static struct node *committed_with_full_owner(void)
{
	snprintf(TOP, sizeof(TOP), "%s/faults-undo.XXXXXX", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(TOP));
	store_dirfd = open(TOP, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(store_dirfd, 0);
	struct registry_config cfg = {
	    .capacity = CAP,
	    .max_nodes = MAXN,
	    .root_mode = 01777,
	    .backing_dirfd = -1,
	    .store_dirfd = store_dirfd,
	    .quota = {.usr = 1, .usr_limit = {CAP, 2}, .grp = 1},
	};
	ck_assert_int_eq(registry_new(&cfg, &R), 0);
	static const struct caller OTHER = {2000, 2000};
	for (int i = 0; i < 2; i++) {
		struct node *n;
		struct stat st;
		char name[8];
		snprintf(name, sizeof(name), "o%d", i);
		ck_assert_int_eq(registry_mknod(R, root(), name, S_IFREG | 0644,
						0, &OTHER, &n, &st),
				 0);
		registry_forget(R, n, 1);
	}
	ck_assert_int_eq(create_kept("a"), 0);
	ck_assert_int_eq(write_pattern("a", 0, 100, 'a'), 0);
	return node_of("a");
}

/* A truncate with a chown the new owner's quota refuses: the whole
 * setattr fails, so the size and the capacity stay as they were (the
 * size used to change before the chown failed). */
START_TEST(setattr_size_and_chown_all_or_nothing)
{
	struct node *a = committed_with_full_owner();
	struct state before, after;
	observe(&before);
	struct setattr_req q = {
	    .valid = SET_SIZE | SET_UID, .size = 8 * PAGE, .uid = 2000};
	struct stat st;
	ck_assert_int_eq(registry_setattr(R, a, &q, &st), -EDQUOT);
	ck_assert_int_eq(st.st_size, 100);
	ck_assert_int_eq(st.st_uid, USER.uid);
	observe(&after);
	expect_same(&before, &after, "size+chown refused");
	expect_counted(&after, "size+chown refused");
	/* Shrinking too: nothing is lost to a refused chown. */
	q.size = 0;
	ck_assert_int_eq(registry_setattr(R, a, &q, &st), -EDQUOT);
	observe(&after);
	expect_same(&before, &after, "shrink+chown refused");
	/* The same chown with room for it does both. */
	ck_assert_int_eq(registry_unlink(R, root(), "o0"), 0);
	q.size = 8 * PAGE;
	ck_assert_int_eq(registry_setattr(R, a, &q, &st), 0);
	ck_assert_int_eq(st.st_size, 8 * PAGE);
	ck_assert_int_eq(st.st_uid, 2000);
	observe(&after);
	expect_counted(&after, "size+chown done");
}
END_TEST

/* A write the kernel cuts short (here at RLIMIT_FSIZE, as a full disk
 * would) fails as a whole: the store does not keep the part written
 * past the mapping's size, nor the capacity count its pages. */
START_TEST(short_write_past_size_leaves_nothing)
{
	int sparse = _i;
	start(1, sparse, FAIL_WRITE, 0);
	ck_assert_int_eq(create_kept("a"), 0);
	ck_assert_int_eq(write_pattern("a", 0, 100, 'a'), 0);
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	struct rlimit old_rl, rl = {3 * PAGE, 3 * PAGE};
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old_rl), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	struct state before, after;
	observe(&before);
	int res = write_pattern("a", PAGE, 4 * PAGE, 'b');
	setrlimit(RLIMIT_FSIZE, &old_rl); /* as root: raised again */
	signal(SIGXFSZ, old_handler);
	ck_assert_int_eq(res, -EFBIG);
	observe(&after);
	expect_same(&before, &after, "short write");
	expect_counted(&after, "short write");
	struct stat st;
	ck_assert_int_eq(fstat(registry_store_fd(R, node_of("a")), &st), 0);
	ck_assert_int_eq(st.st_size, 100);
}
END_TEST

/* ---- concurrent changes near the limits ---- */

#define THREADS 4
#define OPS	800

/* One thread's share of random changes to the mappings OPEN holds,
 * refused often by the capacity and the byte limits: the results do not
 * matter, only what the counters say afterwards. */
static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	char buf[3 * PAGE];
	memset(buf, 'z', sizeof(buf));
	for (int i = 0; i < OPS; i++) {
		struct node *n = OPEN[rand_r(&seed) % NOPEN].n;
		uint64_t off = (uint64_t)(rand_r(&seed) % 12) * PAGE / 2;
		uint64_t len = (uint64_t)(rand_r(&seed) % 3 + 1) * PAGE;
		struct stat st;
		struct setattr_req q = {.size = off};
		switch (rand_r(&seed) % 7) {
		case 0:
			registry_write(R, n, buf, len, off);
			break;
		case 1:
			q.valid = SET_SIZE;
			registry_setattr(R, n, &q, &st);
			break;
		case 2:
			registry_fallocate(R, n,
					   rand_r(&seed) % 2
					       ? 0
					       : FALLOC_FL_PUNCH_HOLE |
						     FALLOC_FL_KEEP_SIZE,
					   off, len);
			break;
		case 3:
			registry_setxattr(R, n, &ROOT, SHMAP_XATTR_COMMIT,
					  i % 2 ? "sparse" : "committed",
					  i % 2 ? 6 : 9, 0);
			break;
		case 4:
			q.valid = SET_UID | SET_GID | SET_SIZE;
			q.uid = q.gid = rand_r(&seed) % 2 ? 1000 : 2000;
			registry_setattr(R, n, &q, &st);
			break;
		case 5:
			registry_fallocate(R, n, FALLOC_FL_ZERO_RANGE, off,
					   len);
			break;
		default:
			if (registry_open(R, n, O_RDWR | O_TRUNC) == 0)
				registry_release(R, n, O_RDWR | O_TRUNC);
		}
	}
	return NULL;
}

/*
 * Threads change three shared mappings at once, near a capacity of 24
 * pages and a per-user limit of 16: afterwards the capacity and the
 * usage equal a recount (no charge lost or doubled on any path, failed
 * or not, however the threads interleave). _i: store files or memfds.
 */
START_TEST(concurrent_changes_keep_counts)
{
	cap_limit = 24 * PAGE;
	usr_bytes_limit = 16 * PAGE;
	start(_i ? STORE_FILES : MEMFDS, 1, FAIL_WRITE, 0);
	ck_assert_int_eq(create_kept("a"), 0);
	ck_assert_int_eq(create_kept("b"), 0);
	ck_assert_int_eq(create_kept("c"), 0);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn,
						(void *)(uintptr_t)(i + 1)),
				 0);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	struct state after;
	observe(&after);
	expect_counted(&after, "after the threads");
}
END_TEST

/*
 * A file-backed registry on a small ext4 of its own (a loop mount), its
 * free space taken but for about 3 MiB, in TOP/mnt/backing; committed
 * mappings, so that growing one allocates its blocks. ext4 grows a file
 * block run by block run while fallocate allocates, and keeps what it
 * reached when the disk fills.
 */
static int MOUNTED;	  /* set and read in the runner's process */
static const char *READY; /* NULL once the disk is ready; else what failed */

/* Unchecked fixture, in the runner's process: its teardown runs even when
 * the test (in a child) fails, so that the loop mount goes with it. It
 * asserts nothing itself (an assertion here would skip the teardown): the
 * test fails with what went wrong. */
static void mount_small_ext4(void)
{
	READY = "mkdtemp";
	snprintf(TOP, sizeof(TOP), "%s/faults-undo.XXXXXX", test_tmpdir());
	if (!mkdtemp(TOP))
		return;
	READY = "mkfs.ext4 of a 16 MiB image";
	if (tsh(60,
		"cd '%s' && truncate -s 16M img && mkfs.ext4 -q -F img && "
		"mkdir mnt",
		TOP) != 0)
		return;
	READY = "mount -o loop";
	if (tsh(60, "mount -o loop '%s/img' '%s/mnt'", TOP, TOP) != 0)
		return;
	MOUNTED = 1;
	READY = "filling the disk";
	if (tsh(60, "cd '%s/mnt' && mkdir backing && fallocate -l 9M fill",
		TOP) != 0)
		return;
	READY = NULL;
}

static void unmount_small_ext4(void)
{
	if (MOUNTED)
		tsh(60, "umount '%s/mnt' || umount -l '%s/mnt'", TOP, TOP);
	MOUNTED = 0;
	tsh(30, "rm -rf '%s'", TOP);
}

static void start_on_small_ext4(void)
{
	ck_assert_msg(READY == NULL, "small ext4: %s failed", READY);
	snprintf(BACKING, sizeof(BACKING), "%s/mnt/backing", TOP);
	struct registry_config cfg = {
	    .capacity = CAP,
	    .max_nodes = MAXN,
	    .root_mode = 01777,
	    .backing_dirfd = open(BACKING, O_RDONLY | O_DIRECTORY),
	};
	ck_assert_int_ge(cfg.backing_dirfd, 0);
	FILE_BACKED = 1;
	ck_assert_int_eq(registry_new(&cfg, &R), 0);
}

/* A truncate or fallocate that fills the disk part-way fails as a whole:
 * the backing file keeps the mapping's size (it used to keep the part of
 * the growth allocated before the disk was full). */
START_TEST(full_disk_growth_leaves_size)
{
	start_on_small_ext4();
	ck_assert_int_eq(create_kept("a"), 0);
	ck_assert_int_eq(write_pattern("a", 0, 100, 'a'), 0);
	struct state before, after;
	observe(&before);
	ck_assert_int_eq(set_attrs("a", (struct setattr_req){.valid = SET_SIZE,
							     .size = 8 << 20}),
			 -ENOSPC);
	observe(&after);
	expect_same(&before, &after, "truncate on a full disk");
	expect_counted(&after, "truncate on a full disk");
	ck_assert_int_eq(falloc("a", 0, 0, 8 << 20), -ENOSPC);
	observe(&after);
	expect_same(&before, &after, "fallocate on a full disk");
	expect_counted(&after, "fallocate on a full disk");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("faults_undo");
	TCase *tc = tcase_create("nth_call");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, nth_store_call_fails, 0,
			    NFAULTS * NHOOKS * 2 * NKINDS);
	tcase_add_loop_test(tc, every_limit_point, 0, 8 * 24);
	tcase_add_loop_test(tc, concurrent_changes_keep_counts, 0, 2);
	tcase_add_test(tc, setattr_size_and_chown_all_or_nothing);
	tcase_add_loop_test(tc, short_write_past_size_leaves_nothing, 0, 2);
	suite_add_tcase(s, tc);
	TCase *disk = tcase_create("full_disk");
	tcase_add_unchecked_fixture(disk, mount_small_ext4, unmount_small_ext4);
	tcase_add_checked_fixture(disk, NULL, teardown_registry);
	tcase_set_timeout(disk, 120);
	tcase_add_test(disk, full_disk_growth_leaves_size);
	suite_add_tcase(s, disk);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
