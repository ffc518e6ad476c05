/*
 * Stores: the one mapping object behind each named mapping.
 *
 * A store is a file descriptor the daemon owns plus a table of operations.
 * Three kinds: a file in a tmpfs the daemon owns (memory-backed mounts), a
 * memfd (a memory-backed registry given no such tmpfs: tests), and a
 * backing file held open and flock(LOCK_EX)-locked (file-backed mounts).
 * Only a memfd lives as long as its descriptor; the other two are opened
 * while a mapping is in use and closed when it is idle. A third, the faulty
 * store, wraps either and fails the Nth write or resize, for tests. Every
 * operation returns 0 (or a byte count) or a negative errno.
 *
 * Stores carry no lock of their own: the node that owns a store serializes
 * writes and resizes under its lock (see internal.h).
 *
 * A store may be parked: made without a descriptor of the daemon's, so
 * that mappings in use at once are not bounded by the daemon's
 * RLIMIT_NOFILE (residency.c decides). Each use then opens it again for
 * as long as it lasts (store_fd_get / store_fd_put), by a way that cannot
 * reach another file: a tmpfs store by its private name, which nothing
 * renames; a backing file through a one-page PROT_NONE mapping of it, the
 * pin, which keeps the file open (and its flock held) without taking a
 * descriptor, and which /proc/self/map_files opens again, renamed or
 * unlinked (that takes CAP_SYS_ADMIN: store_pins_reachable()). Without
 * it, the pin still holds the file and its lock, and each use opens the
 * file by its name in the registry, checked to be the file pinned (or,
 * once its last name went through the registry, a descriptor kept then).
 */
#ifndef SHMAPFS_STORE_H
#define SHMAPFS_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

struct store_ops {
	/* Read up to n bytes at off; returns bytes read (0 at EOF). */
	ssize_t (*pread)(struct store *s, void *buf, size_t n, uint64_t off);
	/* Write all n bytes at off; returns n or -errno. */
	ssize_t (*pwrite)(struct store *s, const void *buf, size_t n,
			  uint64_t off);
	/* Set the size, growing with zeroes or shrinking; reserve: take the
	 * new pages now (a committed mapping), so that a full filesystem
	 * shows here rather than under a view. */
	int (*resize)(struct store *s, uint64_t old_size, uint64_t new_size,
		      int reserve);
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
	/* The mapping object's descriptor, owned by the store, or -1 if the
	 * store is parked. This and the ways below are immutable once the
	 * store is made. */
	int fd;
	/* How a parked store is opened again: by name in dirfd (-1: not so),
	 * or through pin (NULL: none; PIN_LEN bytes, owned), with flags. */
	int dirfd;
	char name[24];
	void *pin;
	int flags;
	/* A pinned store this process cannot open through its pin
	 * (unprivileged: store_pins_reachable() is 0) is opened by the name
	 * the registry gives its file now, and used only if that is still
	 * the file pinned (pin_dev, pin_ino; immutable): else the use fails
	 * with ESTALE, and stale counts it. by_name is immutable; link_dirfd
	 * (-1: no name, unlinked) and link_name are guarded by link_lock,
	 * a leaf lock, set under registry.lock (store_set_name()). */
	int by_name;
	dev_t pin_dev;
	ino_t pin_ino;
	pthread_mutex_t link_lock;
	int link_dirfd;
	char link_name[256];
	/* The file's descriptor kept when its last name went (-1: none),
	 * owned; guarded by link_lock. */
	int keep_fd;
	atomic_uint stale;
	/* fd holds a flock (an adopted backing file): unlocked before it is
	 * closed. */
	int locked;
};

/* The descriptor of s to use now, or -errno: its own, or, if parked, one
 * opened for the caller, who gives it back with store_fd_put(). */
int store_fd_get(struct store *s);
void store_fd_put(const struct store *s, int fd);

static inline int store_parked(const struct store *s)
{
	return s->fd < 0;
}

/* A new empty memfd store named for debugging. */
int store_memfd_new(const char *name, struct store **out);

/*
 * A memory store as a named file in dirfd, a tmpfs the daemon owns: made
 * empty (-EEXIST if the name is taken), or opened again. Its data lives in
 * the tmpfs while no descriptor is open, so a mapping nobody uses holds no
 * descriptor. Growing it takes its pages at once, so that a store inside
 * the size never finds the tmpfs full.
 */
int store_named_create(int dirfd, const char *name, struct store **out);
int store_named_open(int dirfd, const char *name, struct store **out);
/* The same store parked: no descriptor, opened by name at each use
 * (-ENOENT if it is not there). */
int store_named_park(int dirfd, const char *name, struct store **out);

/*
 * Adopt fd, an open backing file, as a store: lock it with
 * flock(LOCK_EX|LOCK_NB) (-EBUSY if someone else holds it). On success the
 * store owns fd; on failure the caller still does.
 */
int store_file_adopt(int fd, struct store **out);
/*
 * The same, parked: fd is locked, pinned and closed (on success only), and
 * each use opens the file again with flags (O_RDWR, or O_RDONLY): through
 * the pin, or by_name, by the name store_set_name() gave last. fd should
 * be open read-only, so that it counts as nobody's write. -ENOMEM if the
 * pin cannot be made (vm.max_map_count).
 */
int store_file_adopt_parked(int fd, int flags, int by_name, struct store **out);
/* A pinned store opened by name (by_name): its file's name is now name in
 * dirfd (dirfd -1: it has none). dirfd must stay open until the next call
 * or the store's end. registry.lock held. */
void store_set_name(struct store *s, int dirfd, const char *name);
/* The same store, whose file's last name is about to go: keep a
 * descriptor of it from now on, so that uses still reach it; 0 or
 * -errno (0 also for any other store). registry.lock held. */
int store_keep_open(struct store *s);
/* 1 if this process may open a file again through its pin (0 also if
 * SHMAPFS_TEST_NO_MAP_FILES is set: tests). */
int store_pins_reachable(void);

/*
 * Wrap inner so that its nth write (counting from 1) and its nth resize or
 * fallocate (one count) fail with err; 0 disables a trigger. The wrapper owns
 * inner.
 */
int store_faulty_wrap(struct store *inner, unsigned fail_write,
		      unsigned fail_resize, int err, struct store **out);

/* Wrap *s in a faulty store failing with EIO if either trigger is set
 * (the mount's fault_write=, fault_resize=); on failure *s is unchanged
 * and still the caller's. */
int store_wrap_faults(unsigned fail_write, unsigned fail_resize,
		      struct store **s);

/*
 * 1 if another open file (a view the kernel made for passthrough, say) has
 * the store's file open for writing; probed with a write lease, which the
 * kernel grants only to the one writer. 0 if nobody else writes it, and
 * -errno where the probe cannot tell (leases off, fs.leases-enable=0, or a
 * filesystem without them, or a pinned store: its pin is an open of the
 * file the kernel counts, which no lease can tell from another's): never
 * take that for 0. Read-only opens are invisible to it (without IMA's
 * i_readcount).
 */
int store_written_elsewhere(struct store *s);

static inline void store_destroy(struct store *s)
{
	if (s)
		s->ops->destroy(s);
}

#endif
