/*
 * The faulty store: wraps a real store and fails its Nth write, or its Nth
 * resize or fallocate, with a chosen error, so that tests can prove that a
 * failing store corrupts nothing and leaks nothing (fault injection, as
 * SQLite does). Selected at mount with the hidden option fault_write=N /
 * fault_resize=N.
 *
 * Calls nothing else in the core.
 */
#include "store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

struct faulty {
	struct store base;    /* fd mirrors inner's, for st_blocks etc. */
	struct store *inner;  /* owned */
	unsigned fail_write;  /* 0: never */
	unsigned fail_resize; /* 0: never */
	int err;	      /* negative errno to fail with */
	atomic_uint writes;   /* writes seen so far */
	atomic_uint resizes;  /* resizes seen so far */
};

static struct faulty *faulty_of(struct store *s)
{
	return (struct faulty *)s;
}

static ssize_t faulty_pread(struct store *s, void *buf, size_t n, uint64_t off)
{
	struct store *in = faulty_of(s)->inner;
	return in->ops->pread(in, buf, n, off);
}

static ssize_t faulty_pwrite(struct store *s, const void *buf, size_t n,
			     uint64_t off)
{
	struct faulty *f = faulty_of(s);
	if (f->fail_write &&
	    atomic_fetch_add(&f->writes, 1) + 1 == f->fail_write)
		return f->err;
	return f->inner->ops->pwrite(f->inner, buf, n, off);
}

static int faulty_resize(struct store *s, uint64_t old_size, uint64_t size,
			 int reserve)
{
	struct faulty *f = faulty_of(s);
	if (f->fail_resize &&
	    atomic_fetch_add(&f->resizes, 1) + 1 == f->fail_resize)
		return f->err;
	return f->inner->ops->resize(f->inner, old_size, size, reserve);
}

/* An fallocate changes what the store holds as a resize does: it counts
 * as one, so that one trigger covers every change of allocation. */
static int faulty_fallocate(struct store *s, int mode, uint64_t off,
			    uint64_t len)
{
	struct faulty *f = faulty_of(s);
	if (f->fail_resize &&
	    atomic_fetch_add(&f->resizes, 1) + 1 == f->fail_resize)
		return f->err;
	return f->inner->ops->fallocate(f->inner, mode, off, len);
}

static int faulty_sync(struct store *s, int datasync)
{
	struct store *in = faulty_of(s)->inner;
	return in->ops->sync(in, datasync);
}

static int faulty_blocks(struct store *s, uint64_t *blocks)
{
	struct store *in = faulty_of(s)->inner;
	return in->ops->blocks(in, blocks);
}

static void faulty_destroy(struct store *s)
{
	struct faulty *f = faulty_of(s);
	store_destroy(f->inner);
	free(f);
}

static const struct store_ops faulty_ops = {
    .pread = faulty_pread,
    .pwrite = faulty_pwrite,
    .resize = faulty_resize,
    .fallocate = faulty_fallocate,
    .sync = faulty_sync,
    .blocks = faulty_blocks,
    .destroy = faulty_destroy,
};

int store_faulty_wrap(struct store *inner, unsigned fail_write,
		      unsigned fail_resize, int err, struct store **out)
{
	struct faulty *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->base.ops = &faulty_ops;
	f->base.fd = inner->fd; /* never parked (residency.c) */
	f->base.dirfd = -1;
	f->inner = inner;
	f->fail_write = fail_write;
	f->fail_resize = fail_resize;
	f->err = err < 0 ? err : -EIO;
	*out = &f->base;
	return 0;
}

int store_wrap_faults(unsigned fail_write, unsigned fail_resize,
		      struct store **s)
{
	if (!fail_write && !fail_resize)
		return 0;
	struct store *w;
	int res = store_faulty_wrap(*s, fail_write, fail_resize, -EIO, &w);
	if (res < 0)
		return res;
	*s = w;
	return 0;
}
