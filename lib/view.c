/*
 * Views of a mapping: MapViewOfFile (shmap_map), MapViewOfFileEx at one
 * base address agreed among all processes (shmap_map_at, the base kept in
 * the mapping's user.shmap.base xattr), FlushViewOfFile (shmap_flush) and
 * UnmapViewOfFile (shmap_unmap).
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/*
 * Where the library picks base addresses: far from where the kernel puts
 * heaps (0x55..), libraries and stacks (0x7f..), and above the shadow
 * memory of AddressSanitizer, so that another process most likely has
 * the range free too.
 */
#define PICK_LOW   0x200000000000ULL
#define PICK_HIGH  0x500000000000ULL
#define PICK_ALIGN (2ULL << 20)
#define PICK_TRIES 16

/*
 * ThreadSanitizer allows application mappings only in its own ranges (it
 * turns a MAP_FIXED_NOREPLACE elsewhere into a mapping at 0), so under
 * it the library leaves the choice to the kernel.
 */
#if defined(__SANITIZE_THREAD__)
#define PICK_QUIET 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PICK_QUIET 0
#endif
#endif
#ifndef PICK_QUIET
#define PICK_QUIET 1
#endif

/* Where huge pages (SHMAP_HUGE) need a view to start. */
#define HUGE_ALIGN (2UL << 20)

static int view_prot(int access)
{
	return access == SHMAP_READ ? PROT_READ : PROT_READ | PROT_WRITE;
}

static int view_flags(int access)
{
	return access == SHMAP_COPY ? MAP_PRIVATE : MAP_SHARED;
}

/*
 * Check a view request against the handle and the mapping's size; on
 * success *length is the length to map (length 0: to the end).
 */
static int check_view(const shmap_t *m, uint64_t offset, size_t *length,
		      int access)
{
	if (!m || (access != SHMAP_READ && access != SHMAP_WRITE &&
		   access != SHMAP_COPY))
		return -EINVAL;
	if (offset % shmap__page_size())
		return -EINVAL;
	/* A shared writable view needs a handle opened for writing. */
	if (access == SHMAP_WRITE && m->access != SHMAP_WRITE)
		return -EACCES;
	uint64_t size;
	int err = shmap_size(m, &size);
	if (err)
		return err;
	if (offset >= size)
		return -EINVAL;
	if (*length == 0)
		*length = (size_t)(size - offset);
	if (*length > size - offset)
		return -EINVAL;
	return 0;
}

/*
 * A view at a 2 MiB boundary, so that the kernel can map it with huge
 * pages: mapped over an anonymous reservation 2 MiB longer than the view
 * (ours, so MAP_FIXED replaces nothing of anyone's), whose slack on either
 * side is then given back. MAP_FAILED and errno, as mmap.
 */
static void *mmap_huge_aligned(const shmap_t *m, uint64_t offset, size_t length,
			       int access)
{
	size_t page = shmap__page_size();
	size_t mapped = (length + page - 1) / page * page;
	size_t span = mapped + HUGE_ALIGN;
	char *r = mmap(NULL, span, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return MAP_FAILED;
	char *at =
	    (char *)(((uintptr_t)r + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1));
	void *p = mmap(at, length, view_prot(access),
		       view_flags(access) | MAP_FIXED, m->fd, (off_t)offset);
	if (p == MAP_FAILED) {
		int err = errno;
		munmap(r, span);
		errno = err;
		return MAP_FAILED;
	}
	if (at > r)
		munmap(r, (size_t)(at - r));
	if (r + span > at + mapped)
		munmap(at + mapped, (size_t)(r + span - (at + mapped)));
	return p;
}

/* mmap, then remember the view; 0 or -errno. huge: SHMAP_HUGE was asked. */
static int do_map(const shmap_t *m, void *addr, int fixed, uint64_t offset,
		  size_t length, int access, int huge, void **view)
{
	int flags = view_flags(access) | (fixed ? MAP_FIXED_NOREPLACE : 0);
	void *p = huge && !fixed ? mmap_huge_aligned(m, offset, length, access)
				 : mmap(addr, length, view_prot(access), flags,
					m->fd, (off_t)offset);
	if (p == MAP_FAILED)
		return fixed && errno == EEXIST ? -EADDRINUSE : -errno;
	if (fixed && p != addr) {
		/* A kernel that ignores MAP_FIXED_NOREPLACE put it elsewhere.
		 */
		munmap(p, length);
		return -EADDRINUSE;
	}
	int err = shmap__view_add(p, length);
	if (err) {
		munmap(p, length);
		return err;
	}
	/* A hint, as SEC_LARGE_PAGES is a request: a kernel without
	 * transparent huge pages, a mount with huge=never or the fallback
	 * data path (views map FUSE's page cache) give small pages. */
	if (huge)
		madvise(p, length, MADV_HUGEPAGE);
	*view = p;
	return 0;
}

int shmap_map(shmap_t *m, uint64_t offset, size_t length, int access,
	      void **view)
{
	if (!view)
		return -EINVAL;
	int huge = access & SHMAP_HUGE;
	access &= ~SHMAP_HUGE;
	int err = check_view(m, offset, &length, access);
	if (err)
		return err;
	return do_map(m, NULL, 0, offset, length, access, huge, view);
}

/* The recorded base address: 0, -ENODATA if none yet, or -errno. */
static int read_base(int fd, uintptr_t *base)
{
	char buf[32];
	ssize_t n = fgetxattr(fd, SHMAP__XATTR_BASE, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ENOTSUP ? -ENODATA : -errno;
	buf[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 0);
	if (errno || end == buf || *end || v == 0 || v % shmap__page_size())
		return -EINVAL;
	*base = (uintptr_t)v;
	return 0;
}

/* Is [addr, addr + len) free in this process? */
static int range_free(uintptr_t addr, size_t len)
{
	void *want = (void *)addr;
	void *p = mmap(want, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			   MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (p == MAP_FAILED)
		return 0;
	munmap(p, len);
	return p == want;
}

static uint64_t random_u64(void)
{
	uint64_t r;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == sizeof(r))
		return r;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
	       (uint64_t)getpid();
}

/*
 * Pick a base for a mapping of size bytes: a random free spot in the
 * quiet part of the address space, else (none free, or ThreadSanitizer)
 * wherever the kernel would put it.
 */
static int pick_base(uint64_t size, uintptr_t *base)
{
	size_t len = size ? (size_t)size : shmap__page_size();
	int quiet = PICK_QUIET && len < PICK_HIGH - PICK_LOW - PICK_ALIGN;
	uint64_t slots = quiet ? (PICK_HIGH - PICK_LOW - len) / PICK_ALIGN : 1;
	for (int i = 0; quiet && i < PICK_TRIES; i++) {
		uintptr_t a = PICK_LOW + (random_u64() % slots) * PICK_ALIGN;
		if (range_free(a, len)) {
			*base = a;
			return 0;
		}
	}
	void *p = mmap(NULL, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	*base = (uintptr_t)p;
	return 0;
}

/*
 * The mapping's base address: the recorded one, or else fix it now
 * (hint, or a pick). XATTR_CREATE makes the first process win a race;
 * the others read what it wrote.
 */
static int agree_base(const shmap_t *m, void *hint, uintptr_t *base)
{
	int err = read_base(m->fd, base);
	if (err != -ENODATA)
		return err;
	uintptr_t want = (uintptr_t)hint;
	if (!want) {
		uint64_t size;
		err = shmap_size(m, &size);
		if (!err)
			err = pick_base(size, &want);
		if (err)
			return err;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "0x%" PRIxPTR, want);
	if (fsetxattr(m->fd, SHMAP__XATTR_BASE, buf, (size_t)n, XATTR_CREATE) ==
	    0) {
		*base = want;
		return 0;
	}
	if (errno != EEXIST)
		return -errno;
	return read_base(m->fd, base);
}

int shmap_map_at(shmap_t *m, uint64_t offset, size_t length, int access,
		 void *hint, void **view)
{
	if (!view || (uintptr_t)hint % shmap__page_size())
		return -EINVAL;
	int huge = access & SHMAP_HUGE;
	access &= ~SHMAP_HUGE;
	int err = check_view(m, offset, &length, access);
	if (err)
		return err;
	/* Once agreed, a base never changes: ask the daemon only once. */
	uintptr_t base = __atomic_load_n(&m->base, __ATOMIC_RELAXED);
	if (!base) {
		err = agree_base(m, hint, &base);
		if (err)
			return err;
		__atomic_store_n(&m->base, base, __ATOMIC_RELAXED);
	}
	if (base + offset < base)
		return -EADDRINUSE;
	return do_map(m, (void *)(base + offset), 1, offset, length, access,
		      huge, view);
}

int shmap_flush(void *addr, size_t length)
{
	if (!addr)
		return -EINVAL;
	if (length == 0) {
		void *start;
		if (shmap__view_find(addr, &start, &length))
			return -EINVAL;
		length -= (size_t)((char *)addr - (char *)start);
	}
	/* msync wants a page-aligned start; MS_SYNC also fsyncs the file. */
	uintptr_t a = (uintptr_t)addr;
	uintptr_t start = a & ~(uintptr_t)(shmap__page_size() - 1);
	if (msync((void *)start, length + (a - start), MS_SYNC) < 0)
		return -errno;
	return 0;
}

int shmap_unmap(void *view)
{
	size_t length;
	int err = shmap__view_take(view, &length);
	if (err)
		return err;
	return munmap(view, length) < 0 ? -errno : 0;
}
