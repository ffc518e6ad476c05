/*
 * Holes: lseek(2)'s SEEK_DATA and SEEK_HOLE, answered from the store's own
 * (a file in the daemon's tmpfs, a memfd or the backing file), as tmpfs
 * answers them: data is what the store holds, the end of the file is a
 * hole, and an offset at or past the end has neither (ENXIO).
 *
 * With passthrough every store through a view or write() lands in the
 * store at once, so the answer is exact. On the fallback path a store
 * through a view waits in the FUSE page cache until it is written back
 * (msync, fsync, munmap, memory pressure): the kernel sends FUSE_LSEEK
 * without writing it back first, so until then its page reads as a hole
 * here (README, "The two data paths").
 *
 * Calls: node.c (a use), residency.c (catching up with a shared store).
 */
#include "internal.h"

#include <errno.h>
#include <unistd.h>

#ifndef SEEK_DATA
#define SEEK_DATA 3
#define SEEK_HOLE 4
#endif

/* The store's answer from off, within size (n->lock held). */
static int seek_in_store(struct store *s, uint64_t size, uint64_t off,
			 int whence, uint64_t *out)
{
	if (off >= size)
		return -ENXIO;
	int fd = store_fd_get(s);
	if (fd < 0)
		return fd;
	off_t pos = lseek(fd, (off_t)off, whence);
	int err = errno;
	store_fd_put(s, fd);
	errno = err;
	if (pos < 0) {
		/* ENXIO: no data from off to the store's end. A store
		 * shorter than the file (never, but cheap to say) has a
		 * hole from its end. */
		if (errno == ENXIO && whence == SEEK_HOLE)
			pos = (off_t)off;
		else
			return -errno;
	}
	if ((uint64_t)pos >= size) {
		if (whence == SEEK_DATA)
			return -ENXIO;
		pos = (off_t)size;
	}
	*out = (uint64_t)pos;
	return 0;
}

int registry_seek_data(struct registry *r, struct node *n, uint64_t off,
		       int whence, uint64_t *out)
{
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (!S_ISREG(n->type))
		return -EINVAL;
	/* A request comes with an open file, whose use keeps the store
	 * open; a tool calling the core takes a use of its own. */
	int res = node_hold(r, n);
	if (res < 0)
		return res;
	node_catch_up(r, n); /* the size a direct write() made */
	pthread_rwlock_rdlock(&n->lock);
	res = n->store ? seek_in_store(n->store, n->size, off, whence, out)
		       : -EBUSY;
	pthread_rwlock_unlock(&n->lock);
	node_drop(r, n);
	return res;
}
