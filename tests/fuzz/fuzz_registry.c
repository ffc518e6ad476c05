/*
 * libFuzzer target: the core's request handling (fs/core/registry.h) on a
 * sequence of operations decoded from the input, as the FUSE glue would
 * make them, with hostile arguments: names with '/', "." and 256 bytes,
 * offsets at INT64_MAX and UINT64_MAX, offset + size that overflows, every
 * fallocate mode bit, any setattr mask, xattrs of any name and size.
 *
 * Built twice: memory-backed (fuzz_registry), and with FUZZ_BACKED=1
 * file-backed over a temporary directory that the input first fills with
 * files, directories, hard links, fifos and symlinks pointing outside
 * (fuzz_backing); a sentinel directory beside it must stay untouched.
 *
 * The fuzzer plays the kernel: it holds lookup references in a table and
 * passes only nodes it holds (or the root), opens and releases with
 * matching flags, and at the end forgets and releases everything before
 * registry_free(). Besides ASan, UBSan and LeakSanitizer, it checks after
 * every operation (peeking at fs/core/internal.h):
 *  - the reservation equals the sum of the page-rounded sizes of the
 *    mappings and never exceeds the capacity; statfs agrees;
 *  - every node's lookup and open counts equal what the fuzzer holds, no
 *    node lingers with no name, reference or handle, nlink is right;
 *  - a model of every mapping's bytes: reads, sizes and the store itself
 *    must match what the writes, truncates and fallocates made;
 *  - no file descriptor is left open once the registry is freed.
 */
#define FUZZ_ALLOC_NO_MACROS
#include "fuzz_alloc.h"
#include "fuzz_backing_dir.h"
#include "fuzz_input.h"
#include "internal.h"
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef FUZZ_BACKED
#define FUZZ_BACKED 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Known bug (regressions/fuzz_backing/new-enomem-leaks-dirfd): when
 * registry_new() fails its first allocations it does not close the backing
 * directory's descriptor it owns. Until fixed the fuzzer closes it.
 */
#ifndef AVOID_NEW_FD_LEAK_BUG
#define AVOID_NEW_FD_LEAK_BUG 0
#endif

#define NSLOTS	   12	      /* nodes the fuzzer holds references on */
#define NHANDLES   8	      /* open handles */
#define NSNAPS	   2	      /* open directory listings */
#define NMODELS	   64	      /* mappings whose bytes are modelled */
#define MODEL_MAX  (1u << 20) /* biggest mapping modelled */
#define IO_MAX	   (1u << 20) /* biggest read or write (FUSE's max) */
#define MAX_OPS	   400
#define PAGE_UP(x) (((x) + 4095) & ~(uint64_t)4095)

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			fail(__LINE__, #c);                                    \
	} while (0)

static void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_registry.c:%d: invariant broken: %s\n", line,
		what);
	abort();
}

/* FUZZ_TRACE=1 in the environment: print every operation and its result,
 * to turn a crashing input into a reproducer a person can read. */
static int trace_enabled(void)
{
	static int on = -1;
	if (on < 0)
		on = getenv("FUZZ_TRACE") != NULL;
	return on;
}

#define TRACE(...)                                                             \
	do {                                                                   \
		if (trace_enabled())                                           \
			fprintf(stderr, __VA_ARGS__);                          \
	} while (0)

/* A registry without a backing directory keeps its data in memory. */
static int memory_backed(const struct registry *r)
{
	return r->cfg.backing_dirfd < 0;
}

static unsigned long long ino_of(struct node *n)
{
	return (unsigned long long)n->ino;
}

/* What one mapping must contain; ino is never reused, so it keys it. */
struct model {
	uint64_t ino;
	int known;
	uint8_t *data;
	uint64_t size;
};

struct slot {
	struct node *n; /* NULL: free */
	uint64_t lookups;
};

struct handle {
	int slot; /* -1: free */
	int flags;
};

struct fuzz {
	struct registry *r;
	struct input in;
	struct slot slots[NSLOTS];
	struct handle handles[NHANDLES];
	struct dir_snapshot *snaps[NSNAPS];
	struct model models[NMODELS];
	struct registry_config cfg; /* as the registry was made */
	int meddled; /* someone else changed the backing directory */
};

/* For reads and writes; reused by every input to save time, never to
 * carry state (each use fills it first). */
static uint8_t io_buf[IO_MAX];
static uint8_t splice_buf[IO_MAX];

/* ---- Models of mappings' bytes ---- */

static struct model *model_of(struct fuzz *f, uint64_t ino)
{
	for (int i = 0; i < NMODELS; i++)
		if (f->models[i].ino == ino)
			return &f->models[i];
	return NULL;
}

static void model_forget(struct model *m)
{
	if (m)
		m->known = 0;
}

static int model_resize(struct model *m, uint64_t size)
{
	if (size > MODEL_MAX) {
		m->known = 0;
		return -1;
	}
	uint8_t *d = realloc(m->data, size ? size : 1);
	CHECK(d != NULL);
	if (size > m->size)
		memset(d + m->size, 0, size - m->size);
	m->data = d;
	m->size = size;
	return 0;
}

/* Start modelling a regular file we have just come to hold, from what it
 * holds now (trusted once; every later change is checked). */
static void model_adopt(struct fuzz *f, struct node *n)
{
	struct stat st;
	if (!S_ISREG(n->type) || model_of(f, n->ino))
		return;
	struct model *m = model_of(f, 0);
	if (!m)
		return;
	m->ino = n->ino;
	m->known = 0;
	m->size = 0;
	registry_getattr(f->r, n, &st);
	if (!n->store || (uint64_t)st.st_size > MODEL_MAX ||
	    model_resize(m, (uint64_t)st.st_size) < 0)
		return;
	size_t got = 0;
	if (registry_read(f->r, n, m->data, m->size, 0, &got) == 0 &&
	    got == m->size)
		m->known = 1;
}

/* The model of n if it can be checked: a live store and known bytes. */
static struct model *model_live(struct fuzz *f, struct node *n)
{
	struct model *m = model_of(f, n->ino);
	if (m && !n->store)
		m->known = 0; /* its memory was let go */
	return m && m->known ? m : NULL;
}

static void model_write(struct model *m, const uint8_t *buf, size_t size,
			uint64_t off)
{
	if (!m || !m->known || size == 0) /* 0 bytes: not even the size */
		return;
	if (off + size > m->size && model_resize(m, off + size) < 0)
		return;
	memcpy(m->data + off, buf, size);
}

static void model_zero(struct model *m, uint64_t off, uint64_t len)
{
	if (!m || !m->known || off >= m->size)
		return;
	if (len > m->size - off)
		len = m->size - off;
	memset(m->data + off, 0, len);
}

/* ---- The table of held nodes and handles ---- */

static int slot_of(struct fuzz *f, struct node *n)
{
	for (int i = 0; i < NSLOTS; i++)
		if (f->slots[i].n == n)
			return i;
	return -1;
}

/* Take over one lookup reference on n (from lookup, create, link ...),
 * or give it back at once if the table is full. */
static void hold(struct fuzz *f, struct node *n)
{
	int i = slot_of(f, n);
	if (i < 0)
		i = slot_of(f, NULL);
	if (i < 0) {
		registry_forget(f->r, n, 1);
		return;
	}
	f->slots[i].n = n;
	f->slots[i].lookups++;
	model_adopt(f, n);
}

static void release_handle(struct fuzz *f, int h)
{
	struct handle *hd = &f->handles[h];
	TRACE("release(%llu, %#o)\n", ino_of(f->slots[hd->slot].n), hd->flags);
	registry_release(f->r, f->slots[hd->slot].n, hd->flags);
	hd->slot = -1;
}

/* Give back every reference on a slot, as the kernel does when it drops
 * an inode: its handles are closed first. */
static void drop_slot(struct fuzz *f, int i, uint64_t count)
{
	for (int h = 0; h < NHANDLES; h++)
		if (f->handles[h].slot == i)
			release_handle(f, h);
	struct slot *s = &f->slots[i];
	if (count == 0 || count > s->lookups)
		count = s->lookups;
	TRACE("forget(%llu, %llu)\n", ino_of(s->n), (unsigned long long)count);
	/* Forget in pieces sometimes, as batch forgets arrive. */
	registry_forget(f->r, s->n, count);
	s->lookups -= count;
	if (!s->lookups)
		s->n = NULL;
}

/* A node the fuzzer may pass: the root or one it holds. */
static struct node *pick_node(struct fuzz *f, int *slotp)
{
	int used[NSLOTS], count = 0;
	for (int i = 0; i < NSLOTS; i++)
		if (f->slots[i].n)
			used[count++] = i;
	int k = in_u8(&f->in) % (count + 1);
	if (slotp)
		*slotp = k ? used[k - 1] : -1;
	return k ? f->slots[used[k - 1]].n : registry_root(f->r);
}

/* ---- Names and values ---- */

static const char *const short_names[] = {"a",	     "b", "c",	"d",
					  "mapping", ".", "..", ""};

static void pick_name(struct fuzz *f, char *buf, size_t bufsize)
{
	uint8_t kind = in_u8(&f->in);
	if (kind < 200) {
		snprintf(buf, bufsize, "%s", short_names[kind % 8]);
		return;
	}
	size_t len;
	switch (kind % 4) {
	case 0: /* 254 to 257 bytes: both sides of NAME_MAX */
		len = 254 + in_u8(&f->in) % 4;
		memset(buf, 'n', len);
		buf[len] = '\0';
		return;
	case 1:
		snprintf(buf, bufsize, "a/b");
		return;
	default: /* raw bytes; a NUL inside ends the name early */
		len = in_u8(&f->in) + (kind & 1 ? 0 : 256);
		if (len >= bufsize)
			len = bufsize - 1;
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)in_u8(&f->in);
		buf[len] = '\0';
	}
}

static const char *const xattr_names[] = {
    SHMAP_XATTR_PROTECT,
    "user.shmap.base",
    "user.a",
    "user.b",
    "user.",
    "trusted.a",
    "security.x",
    "system.posix_acl_access",
};

static void pick_xattr_name(struct fuzz *f, char *buf, size_t bufsize)
{
	uint8_t kind = in_u8(&f->in);
	if (kind < 220) {
		snprintf(buf, bufsize, "%s", xattr_names[kind % 8]);
		return;
	}
	snprintf(buf, bufsize, "user.");
	pick_name(f, buf + 5, bufsize - 5);
}

static const char *const protect_values[] = {"readwrite", "readonly",
					     "writecopy", "readonly\n"};

/* A value for an xattr: a protection, input bytes or a big pattern. */
static const void *pick_value(struct fuzz *f, size_t *size)
{
	uint8_t kind = in_u8(&f->in);
	if (kind < 128) {
		const char *v = protect_values[kind % 4];
		*size = strlen(v) + (kind & 4 ? 1 : 0);
		return v;
	}
	if (kind < 250) {
		*size = in_u8(&f->in);
		for (size_t i = 0; i < *size; i++)
			io_buf[i] = in_u8(&f->in);
		return io_buf;
	}
	*size = (size_t)(in_u32(&f->in) % (XATTR_SIZE_MAX + 2));
	memset(io_buf, 'v', *size);
	return io_buf;
}

/*
 * An offset, size or length. File-backed, the backing files are real and
 * have no capacity but the filesystem's: a truncate or fallocate to 16 GiB
 * would take 16 GiB of /dev/shm (RAM) or of the disk for real. So there,
 * sizes between 4 MiB and 2^62 are brought under 4 MiB; those beyond
 * stay, and fail at once (EFBIG, or ENOSPC before any allocation).
 */
#define BACKED_SIZE_MAX ((uint64_t)4 << 20)

static uint64_t pick_off(struct fuzz *f)
{
	uint64_t v = in_off(&f->in);
	if (FUZZ_BACKED && v > BACKED_SIZE_MAX && v < (uint64_t)1 << 62)
		v %= BACKED_SIZE_MAX;
	return v;
}

static struct caller pick_caller(struct fuzz *f)
{
	uint8_t k = in_u8(&f->in);
	struct caller c = {.uid = k & 1 ? 1000 : 0, .gid = k & 2 ? 1000 : 0};
	return c;
}

static int pick_open_flags(struct fuzz *f)
{
	static const int extra[] = {0,	     O_TRUNC,	O_APPEND, O_EXCL,
				    O_CREAT, O_NOATIME, O_DIRECT, O_SYNC};
	uint8_t k = in_u8(&f->in);
	int flags = (k & 3) == 3 ? O_RDWR : (k & 3);
	if (k & 4)
		flags |= extra[(k >> 3) % 8];
	if (k == 255)
		flags = (int)in_u32(&f->in);
	return flags;
}

/* Every fallocate mode bit, mostly in the combinations that make sense. */
static int pick_falloc_mode(struct fuzz *f)
{
	static const int modes[] = {
	    0,
	    FALLOC_FL_KEEP_SIZE,
	    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    FALLOC_FL_ZERO_RANGE,
	    FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
	    FALLOC_FL_PUNCH_HOLE,
	    FALLOC_FL_COLLAPSE_RANGE,
	    FALLOC_FL_INSERT_RANGE,
	    FALLOC_FL_UNSHARE_RANGE,
	    FALLOC_FL_NO_HIDE_STALE,
	};
	uint8_t k = in_u8(&f->in);
	if (k < 200)
		return modes[k % 10];
	return (int)in_u32(&f->in);
}

/* ---- Invariants ---- */

static uint64_t handles_on(struct fuzz *f, struct node *n, int writers)
{
	uint64_t count = 0;
	for (int h = 0; h < NHANDLES; h++) {
		struct handle *hd = &f->handles[h];
		if (hd->slot >= 0 && f->slots[hd->slot].n == n &&
		    (!writers || (hd->flags & O_ACCMODE) != O_RDONLY))
			count++;
	}
	return count;
}

static void check_dir(struct registry *r, struct node *n)
{
	uint64_t children = 0, subdirs = 0;
	for (struct dentry *d = n->first_child; d; d = d->sib_next) {
		CHECK(d->dir == n);
		CHECK(dentry_find(r, n, d->name) == d);
		children++;
		subdirs += S_ISDIR(d->node->type) ? 1 : 0;
	}
	CHECK(children == n->nchildren);
	if (n == r->root || n->aliases)
		CHECK(n->nlink == 2 + subdirs);
	else
		CHECK(n->nlink == 0 && children == 0);
}

static void check_node(struct fuzz *f, struct node *n)
{
	struct registry *r = f->r;
	int i = slot_of(f, n);
	uint64_t names = 0;
	for (struct dentry *d = n->aliases; d; d = d->alias_next) {
		CHECK(d->node == n);
		names++;
	}
	CHECK(n->lookups == (i < 0 ? 0 : f->slots[i].lookups));
	CHECK(n->opens == handles_on(f, n, 0));
	CHECK(n->writers == handles_on(f, n, 1));
	if (n != r->root)
		CHECK(n->aliases || n->lookups || n->opens);
	if (S_ISDIR(n->type))
		check_dir(r, n);
	else
		CHECK(n->nlink == names);
	if (S_ISDIR(n->type) && n != r->root)
		CHECK(names <= 1);
	size_t xattr_bytes = 0;
	for (struct xattr *x = n->xattrs; x; x = x->next) {
		CHECK(xattr_name_stored(x->name));
		xattr_bytes += strlen(x->name) + x->size;
	}
	CHECK(xattr_bytes == n->xattr_bytes);
	CHECK(xattr_bytes <= SHMAP_XATTR_TOTAL);
	CHECK(n->protect <= SHMAP_PROTECT_WRITECOPY);
	if (S_ISREG(n->type) && memory_backed(r))
		CHECK(n->store != NULL); /* until the kernel forgets it */
}

static void check_registry(struct fuzz *f)
{
	struct registry *r = f->r;
	uint64_t nodes = 0, reserved = 0;
	for (struct node *n = r->all_nodes; n; n = n->all_next) {
		check_node(f, n);
		nodes++;
		/* A committed mapping holds its size, a sparse one (made so
		 * through user.shmap.commit) the pages its store has. */
		if (S_ISREG(n->type) && n->store)
			reserved += n->sparse ? n->charged : PAGE_UP(n->size);
	}
	CHECK(nodes == r->nnodes + 1);
	uint64_t used = atomic_load(&r->used);
	if (memory_backed(r)) {
		CHECK(used == reserved);
		CHECK(used <= r->cfg.capacity);
	} else {
		CHECK(used == 0);
	}
	for (int i = 0; i < NSLOTS; i++)
		CHECK(!f->slots[i].n || f->slots[i].n->lookups);
}

/* The store itself: as long as the node says, and as the model says. */
static void check_stores(struct fuzz *f)
{
	for (struct node *n = f->r->all_nodes; n; n = n->all_next) {
		struct stat st;
		if (!S_ISREG(n->type) || !n->store)
			continue;
		CHECK(fstat(n->store->fd, &st) == 0);
		CHECK((uint64_t)st.st_size == n->size);
		struct model *m = model_live(f, n);
		if (!m)
			continue;
		CHECK(m->size == n->size);
		size_t got = 0;
		CHECK(registry_read(f->r, n, io_buf, m->size, 0, &got) == 0);
		CHECK(got == m->size && !memcmp(io_buf, m->data, got));
	}
}

/* ---- Operations ---- */

static void op_lookup(struct fuzz *f)
{
	char name[600];
	struct node *dir = pick_node(f, NULL), *n;
	struct stat st;
	pick_name(f, name, sizeof(name));
	int res = registry_lookup(f->r, dir, name, &n, &st);
	TRACE("lookup(%llu, \"%.40s\") = %d\n", ino_of(dir), name, res);
	if (res == 0) {
		CHECK(st.st_ino == n->ino && n != registry_root(f->r));
		hold(f, n);
	}
}

static void op_forget(struct fuzz *f)
{
	int i;
	pick_node(f, &i);
	uint64_t count = in_u8(&f->in) % 3;
	if (i >= 0)
		drop_slot(f, i, count);
}

static const char *const short_targets[] = {"", "../x", "/etc", "."};

static void op_mknod(struct fuzz *f, int kind)
{
	static const mode_t types[] = {S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR,
				       S_IFBLK, 0,	 S_IFDIR,  S_IFLNK};
	char name[600], target[5000];
	struct node *dir = pick_node(f, NULL), *n = NULL;
	struct caller c = pick_caller(f);
	struct stat st;
	uint16_t m = in_u16(&f->in);
	mode_t mode = types[(m >> 12) % 8] | (m & 07777);
	dev_t rdev = FUZZ_BACKED ? 0 : in_u32(&f->in);
	pick_name(f, name, sizeof(name));
	int res;
	if (kind == 0) {
		res = registry_mknod(f->r, dir, name, mode, rdev, &c, &n, &st);
	} else if (kind == 1) {
		res = registry_mkdir(f->r, dir, name, mode, &c, &n, &st);
	} else {
		size_t len = in_u8(&f->in) % 4 == 0 ? 4094 + in_u8(&f->in) % 4
						    : in_u8(&f->in);
		memset(target, 't', len);
		target[len] = '\0';
		if (len < 8)
			snprintf(target, sizeof(target), "%s",
				 short_targets[len % 4]);
		res = registry_symlink(f->r, dir, name, target, &c, &n, &st);
	}
	TRACE("%s(%llu, \"%.40s\", 0%o, uid %u) = %d (ino %llu)\n",
	      (const char *[]){"mknod", "mkdir", "symlink"}[kind], ino_of(dir),
	      name, (unsigned)mode, (unsigned)c.uid, res,
	      res ? 0ULL : ino_of(n));
	if (res == 0) {
		CHECK(st.st_ino == n->ino && dentry_find(f->r, dir, name));
		hold(f, n);
	}
}

static void op_link(struct fuzz *f)
{
	char name[600];
	struct node *n = pick_node(f, NULL), *dir = pick_node(f, NULL);
	struct stat st;
	pick_name(f, name, sizeof(name));
	int res = registry_link(f->r, n, dir, name, &st);
	TRACE("link(%llu, %llu, \"%.40s\") = %d\n", ino_of(n), ino_of(dir),
	      name, res);
	if (res == 0) {
		CHECK(st.st_ino == n->ino);
		hold(f, n); /* a link hands out a reference */
	}
}

static void op_remove(struct fuzz *f, int is_dir)
{
	char name[600];
	struct node *dir = pick_node(f, NULL);
	pick_name(f, name, sizeof(name));
	int res = is_dir ? registry_rmdir(f->r, dir, name)
			 : registry_unlink(f->r, dir, name);
	TRACE("%s(%llu, \"%.40s\") = %d\n", is_dir ? "rmdir" : "unlink",
	      ino_of(dir), name, res);
	if (res == 0)
		CHECK(!dentry_find(f->r, dir, name));
}

static void op_rename(struct fuzz *f)
{
	static const unsigned flags_tab[] = {0, RENAME_NOREPLACE,
					     RENAME_EXCHANGE, RENAME_WHITEOUT};
	char name[600], newname[600];
	struct node *dir = pick_node(f, NULL), *newdir = pick_node(f, NULL);
	pick_name(f, name, sizeof(name));
	pick_name(f, newname, sizeof(newname));
	uint8_t k = in_u8(&f->in);
	unsigned flags = k < 250 ? flags_tab[k % 4] : in_u32(&f->in);
	struct dentry *d = dentry_find(f->r, dir, name);
	struct dentry *nd = dentry_find(f->r, newdir, newname);
	struct node *moved = d ? d->node : NULL;
	struct node *victim = nd ? nd->node : NULL;
	int same = dir == newdir && !strcmp(name, newname);
	int res = registry_rename(f->r, dir, name, newdir, newname, flags);
	TRACE("rename(%llu, \"%.40s\", %llu, \"%.40s\", %#x) = %d\n",
	      ino_of(dir), name, ino_of(newdir), newname, flags, res);
	d = dentry_find(f->r, dir, name);
	nd = dentry_find(f->r, newdir, newname);
	if (res != 0) { /* a failed rename changes no name */
		CHECK(moved ? d && d->node == moved : !d);
		CHECK(victim ? nd && nd->node == victim : !nd);
	} else if (moved && !same) {
		CHECK(nd && nd->node == moved);
		if (flags & RENAME_EXCHANGE)
			CHECK(d && d->node == victim);
	}
}

static void after_open(struct fuzz *f, int slot, int flags)
{
	struct node *n = f->slots[slot].n;
	struct model *m = S_ISREG(n->type) ? model_live(f, n) : NULL;
	/* O_TRUNC arrives with the open (atomic_o_trunc), not as a setattr:
	 * a successful open for writing has truncated. */
	if (S_ISREG(n->type) && (flags & O_TRUNC) &&
	    (flags & O_ACCMODE) != O_RDONLY) {
		CHECK(n->size == 0);
		if (m)
			model_resize(m, 0);
	}
	for (int h = 0; h < NHANDLES; h++) {
		if (f->handles[h].slot < 0) {
			f->handles[h].slot = slot;
			f->handles[h].flags = flags;
			return;
		}
	}
	registry_release(f->r, n, flags); /* no room: close at once */
}

static void op_open(struct fuzz *f)
{
	int slot;
	struct node *n = pick_node(f, &slot);
	int flags = pick_open_flags(f);
	int res = registry_open(f->r, n, flags);
	TRACE("open(%llu, %#o) = %d\n", ino_of(n), flags, res);
	if (slot < 0) /* the root is a directory: open must refuse it */
		CHECK(res == -EISDIR);
	else if (res == 0)
		after_open(f, slot, flags);
}

static void op_release(struct fuzz *f)
{
	int h = in_u8(&f->in) % NHANDLES;
	if (f->handles[h].slot >= 0)
		release_handle(f, h);
}

static void op_create(struct fuzz *f)
{
	char name[600];
	struct node *dir = pick_node(f, NULL), *n;
	struct caller c = pick_caller(f);
	struct stat st;
	mode_t mode = in_u16(&f->in);
	int flags = pick_open_flags(f) | O_CREAT;
	pick_name(f, name, sizeof(name));
	int res = registry_create(f->r, dir, name, mode, flags, &c, &n, &st);
	TRACE("create(%llu, \"%.40s\", 0%o, %#o) = %d (ino %llu)\n",
	      ino_of(dir), name, (unsigned)mode, flags, res,
	      res ? 0ULL : ino_of(n));
	if (res != 0)
		return;
	CHECK(S_ISREG(n->type));
	hold(f, n);
	int slot = slot_of(f, n);
	if (slot >= 0)
		after_open(f, slot, flags);
	else
		registry_release(f->r, n, flags);
}

static void check_size(struct fuzz *f, struct node *n, const struct stat *st)
{
	struct model *m = S_ISREG(n->type) ? model_live(f, n) : NULL;
	if (m)
		CHECK((uint64_t)st->st_size == m->size);
}

static void op_setattr(struct fuzz *f)
{
	struct node *n = pick_node(f, NULL);
	struct setattr_req q = {0};
	struct stat st;
	q.valid = in_u16(&f->in); /* unknown bits too */
	q.mode = in_u16(&f->in);
	q.uid = in_u8(&f->in) % 2 ? 1000 : 0;
	q.gid = q.uid;
	q.size = pick_off(f);
	q.atime.tv_sec = (time_t)in_u32(&f->in);
	q.mtime.tv_sec = (time_t)in_u64(&f->in) >> 20;
	q.atime.tv_nsec = in_u32(&f->in) % 1000000000;
	q.ctime = q.atime;
	struct model *m = model_live(f, n);
	int res = registry_setattr(f->r, n, &q, &st);
	TRACE("setattr(%llu, valid %#x, mode 0%o, uid %u, size %llu) = %d\n",
	      ino_of(n), q.valid, (unsigned)q.mode, (unsigned)q.uid,
	      (unsigned long long)q.size, res);
	if (res == 0 && (q.valid & SET_KILL_SUIDGID) && !(q.valid & SET_MODE))
		CHECK(S_ISDIR(n->type) || !(n->mode & S_ISUID) || f->meddled);
	if (res == 0 && (q.valid & SET_SIZE)) {
		CHECK((uint64_t)st.st_size == q.size);
		if (m)
			model_resize(m, q.size);
	}
	/* File-backed, a later part (chmod, utimens) may fail after the
	 * size changed; memory-backed, a failure changes nothing. */
	if (res != 0 && !memory_backed(f->r))
		model_forget(m);
	registry_getattr(f->r, n, &st);
	check_size(f, n, &st);
}

static void op_read(struct fuzz *f)
{
	struct node *n = pick_node(f, NULL);
	uint64_t off = pick_off(f);
	size_t size = (size_t)(in_off(&f->in) % (IO_MAX + 1));
	size_t got = 12345;
	/* The splice path needs an open file: an idle store is closed. */
	int idle = S_ISREG(n->type) && !n->store;
	int res = registry_read(f->r, n, io_buf, size, off, &got);
	TRACE("read(%llu, size %zu, off %llu) = %d, got %zu\n", ino_of(n), size,
	      (unsigned long long)off, res, got);
	CHECK(res != 0 ? got == 0 : got <= size);
	/* The splice path must agree with the copying one. */
	int fd = -1;
	size_t len = 12345;
	int res_fd = registry_read_fd(f->r, n, size, off, &fd, &len);
	CHECK(res_fd == res || (res_fd == 0 && !S_ISREG(n->type)) ||
	      (res_fd == -EBUSY && idle));
	if (res_fd == 0 && res == 0) {
		CHECK(len == got);
		CHECK(!len ||
		      pread(fd, splice_buf, len, (off_t)off) == (ssize_t)len);
		CHECK(!len || !memcmp(splice_buf, io_buf, len));
	}
	struct model *m = S_ISREG(n->type) ? model_live(f, n) : NULL;
	if (res != 0 || !m)
		return;
	size_t want = off >= m->size	     ? 0
		      : size > m->size - off ? (size_t)(m->size - off)
					     : size;
	CHECK(got == want);
	CHECK(!got || !memcmp(io_buf, m->data + off, got));
}

static void op_write(struct fuzz *f)
{
	struct node *n = pick_node(f, NULL);
	uint64_t off = pick_off(f);
	size_t size = (size_t)(in_off(&f->in) % (IO_MAX + 1));
	uint8_t fill = in_u8(&f->in);
	if (fill & 1) { /* an unprivileged writer: the kernel asks first */
		int changed = registry_kill_suid_sgid(f->r, n);
		/* (Unless the backing name went behind the daemon's back:
		 * then its chmod may fail, and so does the write.) */
		CHECK(changed == 0 || changed == 1 || f->meddled);
		if (changed < 0)
			return;
		CHECK(S_ISDIR(n->type) || !(n->mode & S_ISUID) || f->meddled);
	}
	/* Bytes that say where they are, so that a misplaced one shows. */
	for (size_t i = 0; i < size; i++)
		io_buf[i] = (uint8_t)(fill + (off + i) / 7);
	struct model *m = S_ISREG(n->type) ? model_live(f, n) : NULL;
	int res = registry_write(f->r, n, io_buf, size, off);
	TRACE("write(%llu, size %zu, off %llu) = %d\n", ino_of(n), size,
	      (unsigned long long)off, res);
	if (res == 0 && S_ISREG(n->type) && size)
		CHECK(n->size >= off + size);
	if (res == 0)
		model_write(m, io_buf, size, off);
	if (res == 0 && m && m->known && size) {
		/* A read right after a write returns what was written. */
		size_t got = 0;
		CHECK(registry_read(f->r, n, io_buf, size, off, &got) == 0);
		CHECK(got == size && !memcmp(io_buf, m->data + off, size));
	}
	if (res == -ENOSPC)
		CHECK(memory_backed(f->r));
}

static void op_fallocate(struct fuzz *f)
{
	struct node *n = pick_node(f, NULL);
	int mode = pick_falloc_mode(f);
	uint64_t off = pick_off(f), len = pick_off(f);
	struct model *m = S_ISREG(n->type) ? model_live(f, n) : NULL;
	uint64_t before = n->size;
	int res = registry_fallocate(f->r, n, mode, off, len);
	TRACE("fallocate(%llu, mode %#x, off %llu, len %llu) = %d\n", ino_of(n),
	      mode, (unsigned long long)off, (unsigned long long)len, res);
	if (res == 0 && !(mode & FALLOC_FL_KEEP_SIZE) && S_ISREG(n->type))
		CHECK(n->size >= off + len);
	if (res == 0 && (mode & FALLOC_FL_KEEP_SIZE))
		CHECK(n->size == before);
	if (!m)
		return;
	if (res != 0 && (mode & (FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE)))
		model_forget(m); /* zeroing may have begun */
	if (res != 0)
		return;
	if (mode & (FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE))
		model_zero(m, off, len);
	if (n->size != m->size)
		model_resize(m, n->size);
}

static void op_setxattr(struct fuzz *f)
{
	char name[600];
	struct node *n = pick_node(f, NULL);
	struct caller c = pick_caller(f);
	int flags = in_u8(&f->in) % 4;
	size_t size;
	pick_xattr_name(f, name, sizeof(name));
	const void *value = pick_value(f, &size);
	int res = registry_setxattr(f->r, n, &c, name, value, size, flags);
	TRACE("setxattr(%llu, \"%.40s\", size %zu, %d) = %d\n", ino_of(n), name,
	      size, flags, res);
	if (res != 0 || !strcmp(name, SHMAP_XATTR_PROTECT))
		return;
	/* What was set reads back. */
	size_t len = 0;
	static uint8_t back[XATTR_SIZE_MAX + 1];
	CHECK(registry_getxattr(f->r, n, name, back, sizeof(back), &len) == 0);
	CHECK(len == size && (!size || !memcmp(back, value, size)));
}

static void op_getxattr(struct fuzz *f)
{
	char name[600];
	struct node *n = pick_node(f, NULL);
	size_t size = in_u8(&f->in) < 128 ? 0 : in_u16(&f->in);
	size_t len = 0;
	pick_xattr_name(f, name, sizeof(name));
	if (size > sizeof(io_buf))
		size = sizeof(io_buf);
	int res = registry_getxattr(f->r, n, name, io_buf, size, &len);
	if (res == 0 && size)
		CHECK(len <= size);
}

static void op_listxattr(struct fuzz *f)
{
	struct node *n = pick_node(f, NULL);
	size_t size = in_u8(&f->in) < 64 ? 0 : in_u16(&f->in);
	size_t len = 0, need = 0;
	CHECK(registry_listxattr(f->r, n, NULL, 0, &need) == 0);
	int res = registry_listxattr(f->r, n, (char *)io_buf, size, &len);
	CHECK(len == need);
	CHECK(res == (size && size < need ? -ERANGE : 0));
	if (res == 0 && size && len) /* a list of NUL-terminated names */
		CHECK(io_buf[len - 1] == '\0');
}

static void op_removexattr(struct fuzz *f)
{
	char name[600];
	struct node *n = pick_node(f, NULL);
	struct caller c = pick_caller(f);
	pick_xattr_name(f, name, sizeof(name));
	if (registry_removexattr(f->r, n, &c, name) == 0 &&
	    strcmp(name, SHMAP_XATTR_PROTECT) != 0) {
		size_t len;
		CHECK(registry_getxattr(f->r, n, name, NULL, 0, &len) ==
		      -ENODATA);
	}
}

static void op_opendir(struct fuzz *f)
{
	int k = in_u8(&f->in) % NSNAPS;
	registry_closedir(f->snaps[k]);
	f->snaps[k] = NULL;
	struct node *dir = pick_node(f, NULL);
	struct dir_snapshot *s;
	if (registry_opendir(f->r, dir, &s) != 0)
		return;
	CHECK(s->count == dir->nchildren + 2);
	for (size_t i = 2; i < s->count; i++)
		CHECK(name_check(s->entries[i].name) == 0);
	f->snaps[k] = s;
}

static void op_getattr(struct fuzz *f)
{
	struct node *n = pick_node(f, NULL);
	struct stat st;
	const char *target;
	CHECK(registry_getattr(f->r, n, &st) == 0);
	CHECK(st.st_ino == n->ino && (st.st_mode & S_IFMT) == n->type);
	check_size(f, n, &st);
	int res = registry_readlink(f->r, n, &target);
	CHECK(res == (S_ISLNK(n->type) ? 0 : -EINVAL));
	if (res == 0)
		CHECK(strlen(target) == (size_t)st.st_size);
	CHECK(registry_node(f->r, registry_node_id(f->r, n)) == n);
}

static void op_statfs(struct fuzz *f)
{
	struct statvfs st;
	CHECK(registry_statfs(f->r, &st) == 0);
	if (!memory_backed(f->r))
		return;
	uint64_t used = atomic_load(&f->r->used);
	CHECK(st.f_bfree <= st.f_blocks);
	CHECK((st.f_blocks - st.f_bfree) * 4096 == used);
	CHECK(st.f_files - st.f_ffree == f->r->nnodes);
}

static void op_sync(struct fuzz *f)
{
	struct node *n = pick_node(f, NULL);
	if (in_u8(&f->in) & 1)
		CHECK(registry_sync_all(f->r) == 0);
	else
		registry_fsync(f->r, n, in_u8(&f->in) & 1);
}

#if FUZZ_BACKED
static void op_meddle(struct fuzz *f);
#endif

static void run_op(struct fuzz *f)
{
	uint8_t op = in_u8(&f->in);
#if FUZZ_BACKED
	if (op % 27 == 26) {
		f->meddled = 1;
		op_meddle(f);
		return;
	}
#endif
	switch (op % 26) {
	case 0:
	case 1:
		op_lookup(f);
		break;
	case 2:
		op_forget(f);
		break;
	case 3:
		op_mknod(f, 0);
		break;
	case 4:
		op_mknod(f, 1);
		break;
	case 5:
		op_mknod(f, 2);
		break;
	case 6:
		op_link(f);
		break;
	case 7:
		op_remove(f, 0);
		break;
	case 8:
		op_remove(f, 1);
		break;
	case 9:
		op_rename(f);
		break;
	case 10:
		op_open(f);
		break;
	case 11:
		op_release(f);
		break;
	case 12:
	case 13:
		op_create(f);
		break;
	case 14:
		op_setattr(f);
		break;
	case 15:
	case 16:
		op_read(f);
		break;
	case 17:
	case 18:
		op_write(f);
		break;
	case 19:
		op_fallocate(f);
		break;
	case 20:
		op_setxattr(f);
		break;
	case 21:
		op_getxattr(f);
		op_listxattr(f);
		break;
	case 22:
		op_removexattr(f);
		break;
	case 23:
		op_opendir(f);
		break;
	case 24:
		op_getattr(f);
		op_statfs(f);
		break;
	default:
		op_sync(f);
	}
}

/* ---- File-backed: someone else at work in the backing directory ---- */

#if FUZZ_BACKED
static void op_meddle(struct fuzz *f)
{
	const char *what = backing_dir_meddle(f->r->cfg.backing_dirfd, &f->in);
	TRACE("meddle(%s)\n", what);
}
#endif

/* ---- One input ---- */

static int lowest_free_fd(void)
{
	int fd = dup(2);
	CHECK(fd >= 0);
	close(fd);
	return fd;
}

#if FUZZ_BACKED
/* A mapping as the first mount left it, to find again after a remount. */
struct saved {
	char name[SHMAP_NAME_MAX + 1];
	uint8_t *data;
	uint64_t size;
	enum shmap_protect protect;
};

#define NSAVED 16

/* The root's mappings whose bytes are known. */
static int save_mappings(struct fuzz *f, struct saved *sv)
{
	int count = 0;
	struct node *root = registry_root(f->r);
	for (struct dentry *d = root->first_child; d && count < NSAVED;
	     d = d->sib_next) {
		struct model *m =
		    S_ISREG(d->node->type) ? model_live(f, d->node) : NULL;
		if (!m)
			continue;
		struct saved *s = &sv[count++];
		snprintf(s->name, sizeof(s->name), "%s", d->name);
		s->size = m->size;
		s->data = malloc(m->size ? m->size : 1);
		CHECK(s->data != NULL);
		memcpy(s->data, m->data, m->size);
		s->protect = d->node->protect;
	}
	return count;
}

/* Mount the backing directory again: every mapping's bytes and protection
 * must be in its backing file. */
static void check_remount(struct fuzz *f, struct saved *sv, int count)
{
	struct registry_config cfg = f->cfg;
	cfg.fault_write = cfg.fault_resize = 0;
	cfg.backing_dirfd =
	    open(backing_dir_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(cfg.backing_dirfd >= 0);
	struct registry *r;
	CHECK(registry_new(&cfg, &r) == 0);
	TRACE("remount: %d mappings to find again\n", count);
	for (int i = 0; i < count; i++) {
		struct node *n;
		struct stat st;
		size_t got = 0;
		CHECK(registry_lookup(r, registry_root(r), sv[i].name, &n,
				      &st) == 0);
		if (n->store) { /* not locked by someone else */
			CHECK(n->size == sv[i].size &&
			      n->protect == sv[i].protect);
			CHECK(registry_read(r, n, io_buf, n->size, 0, &got) ==
			      0);
			CHECK(got == n->size &&
			      !memcmp(io_buf, sv[i].data, got));
		}
		registry_forget(r, n, 1);
		free(sv[i].data);
	}
	registry_free(r);
}
#endif

static void teardown(struct fuzz *f)
{
	for (int k = 0; k < NSNAPS; k++)
		registry_closedir(f->snaps[k]);
	for (int i = 0; i < NSLOTS; i++)
		if (f->slots[i].n)
			drop_slot(f, i, 0);
	/* All let go: what is left is what has a name. */
	check_registry(f);
	for (struct node *n = f->r->all_nodes; n; n = n->all_next)
		CHECK(n == f->r->root || n->aliases);
	check_stores(f);
#if FUZZ_BACKED
	struct saved sv[NSAVED];
	int saved = f->meddled ? 0 : save_mappings(f, sv);
#endif
	registry_free(f->r);
	for (int i = 0; i < NMODELS; i++)
		free(f->models[i].data);
#if FUZZ_BACKED
	if (!f->meddled)
		check_remount(f, sv, saved);
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz f = {.in = {data, size}};
	int fd_before = lowest_free_fd();
	/* One read per statement: the order of reads is the format. */
	uint8_t cfg_byte = in_u8(&f.in);
	struct registry_config cfg = {.root_mode = 01777, .backing_dirfd = -1};
	cfg.capacity = (uint64_t)(in_u8(&f.in) % 65) * 4096;
	cfg.max_nodes = 1 + in_u8(&f.in) % 32;
	cfg.read_only = (cfg_byte & 7) == 7;
	if (cfg_byte & 8)
		cfg.fault_write = 1 + in_u8(&f.in) % 8;
	if (cfg_byte & 16)
		cfg.fault_resize = 1 + in_u8(&f.in) % 8;
	unsigned long alloc_fail = 0;
	if (cfg_byte & 32)
		alloc_fail = 1 + in_u8(&f.in) % 128;
#if FUZZ_BACKED
	cfg.backing_dirfd = backing_dir_make(&f.in);
#endif
	TRACE("registry: capacity %llu, max_nodes %llu, ro %d, fault_write "
	      "%u, fault_resize %u, allocation %lu fails\n",
	      (unsigned long long)cfg.capacity,
	      (unsigned long long)cfg.max_nodes, cfg.read_only, cfg.fault_write,
	      cfg.fault_resize, alloc_fail);
	for (int h = 0; h < NHANDLES; h++)
		f.handles[h].slot = -1;
	f.cfg = cfg;
	fuzz_alloc_fail_at(alloc_fail);
	int res = registry_new(&cfg, &f.r);
	if (res != 0) {
		fuzz_alloc_fail_at(0);
		if (AVOID_NEW_FD_LEAK_BUG && res == -ENOMEM &&
		    cfg.backing_dirfd >= 0 &&
		    fcntl(cfg.backing_dirfd, F_GETFD) >= 0)
			close(cfg.backing_dirfd);
#if FUZZ_BACKED
		backing_dir_unlock_all();
#endif
		CHECK(lowest_free_fd() == fd_before);
		return 0;
	}
	check_registry(&f);
	for (int i = 0; i < MAX_OPS && f.in.n; i++) {
		run_op(&f);
		check_registry(&f);
	}
	fuzz_alloc_fail_at(0);
	teardown(&f);
#if FUZZ_BACKED
	backing_dir_unlock_all();
#endif
	CHECK(lowest_free_fd() == fd_before);
#if FUZZ_BACKED
	backing_dir_check_outside();
#endif
	return 0;
}
