/*
 * Stores: the one mapping object behind each named mapping.
 *
 * A store is a file descriptor the daemon owns plus a table of operations.
 * Two kinds: a memfd (memory-backed mounts) and a backing file held open and
 * flock(LOCK_EX)-locked (file-backed mounts). A third, the faulty store,
 * wraps either and fails the Nth write or resize, for tests. Every
 * operation returns 0 (or a byte count) or a negative errno.
 *
 * Stores carry no lock of their own: the node that owns a store serializes
 * writes and resizes under its lock (see internal.h).
 */
#ifndef SHMAPFS_STORE_H
#define SHMAPFS_STORE_H

#include <stdint.h>
#include <sys/types.h>

struct store;

struct store_ops {
	/* Read up to n bytes at off; returns bytes read (0 at EOF). */
	ssize_t (*pread)(struct store *s, void *buf, size_t n, uint64_t off);
	/* Write all n bytes at off; returns n or -errno. */
	ssize_t (*pwrite)(struct store *s, const void *buf, size_t n,
			  uint64_t off);
	/* Set the size, growing with zeroes or shrinking. */
	int (*resize)(struct store *s, uint64_t old_size, uint64_t new_size);
	/* fallocate(2) modes FALLOC_FL_PUNCH_HOLE / ZERO_RANGE / plain. */
	int (*fallocate)(struct store *s, int mode, uint64_t off, uint64_t len);
	/* Make what was written durable (no-op for memory). */
	int (*sync)(struct store *s, int datasync);
	/* Blocks allocated, in 512-byte units, as st_blocks. */
	int (*blocks)(struct store *s, uint64_t *blocks);
	/* Release the store (and for a backing file, its lock). */
	void (*destroy)(struct store *s);
};

struct store {
	const struct store_ops *ops;
	int fd; /* the mapping object's descriptor, owned by the store */
};

/* A new empty memfd store named for debugging. */
int store_memfd_new(const char *name, struct store **out);

/*
 * A new empty memory store as an unnamed file (O_TMPFILE) in dirfd, a
 * tmpfs: as a memfd, except that the tmpfs's own size limit holds for
 * every write, the kernel's included, and that growing it takes its pages
 * at once, so that a store inside the size never finds the tmpfs full.
 */
int store_tmpfile_new(int dirfd, struct store **out);

/*
 * Adopt fd, an open backing file, as a store: lock it with
 * flock(LOCK_EX|LOCK_NB) (-EBUSY if someone else holds it). On success the
 * store owns fd; on failure the caller still does.
 */
int store_file_adopt(int fd, struct store **out);

/*
 * Wrap inner so that its nth write (counting from 1) and its nth resize
 * fail with err; 0 disables a trigger. The wrapper owns inner.
 */
int store_faulty_wrap(struct store *inner, unsigned fail_write,
		      unsigned fail_resize, int err, struct store **out);

static inline void store_destroy(struct store *s)
{
	if (s)
		s->ops->destroy(s);
}

#endif
