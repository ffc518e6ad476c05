/*
 * libshmap: named shared-memory mappings on a shmapfs mount, in the spirit
 * of the Windows file-mapping API (CreateFileMapping, OpenFileMapping,
 * MapViewOfFile(Ex), FlushViewOfFile, UnmapViewOfFile, LockFileEx,
 * semaphores, mutexes, events, WaitForMultipleObjects). See shmap(3).
 *
 * Names resolve under the directory named by $SHMAP_DIR (default
 * /run/shmap); a name that begins with '/' is used as a path.
 *
 * Every function returns 0 or a negative errno (shmap_fd() and
 * shmap_existed() return a value); results come back through
 * out-parameters. All functions are thread-safe.
 */
#ifndef SHMAP_H
#define SHMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMAP_EXPORT __attribute__((visibility("default")))

/* The directory names resolve under when $SHMAP_DIR is not set. */
#define SHMAP_DEFAULT_DIR "/run/shmap"

/* Protection of a mapping (shmap_create). */
#define SHMAP_READONLY	1 /* nobody may open it for writing */
#define SHMAP_READWRITE 2 /* the default for files made otherwise */
#define SHMAP_WRITECOPY 3 /* read, or private copy-on-write views */

/* Access to a mapping (shmap_open) or a view (shmap_map). */
#define SHMAP_READ  1 /* read-only shared */
#define SHMAP_WRITE 2 /* read and write, shared */
#define SHMAP_COPY  4 /* private copy-on-write */
/* Or'ed into a view's access (SEC_LARGE_PAGES): ask for huge pages. The
 * view starts at a 2 MiB boundary and is advised MADV_HUGEPAGE; the mount
 * decides (huge=, and passthrough), as tmpfs's huge= does. */
#define SHMAP_HUGE 8

/* Flags of shmap_create and of the _open of semaphores, mutexes, events. */
#define SHMAP_EXCL     1u /* -EEXIST if it exists already */
#define SHMAP_NOCREATE 2u /* not shmap_create: -ENOENT if missing */
/* shmap_create only: the kind of a new mapping (default: the mount's). */
#define SHMAP_COMMIT 4u /* reserve the whole size now (SEC_COMMIT) */
#define SHMAP_SPARSE 8u /* take memory as pages are stored (SEC_RESERVE) */

/* The most objects shmap_wait_any and shmap_wait_all take (as Windows). */
#define SHMAP_WAIT_MAX 64

/* Flags of shmap_lock. */
#define SHMAP_LOCK_SHARED    0
#define SHMAP_LOCK_EXCLUSIVE 1
#define SHMAP_LOCK_NONBLOCK  2 /* -EAGAIN instead of waiting */

typedef struct shmap shmap_t;
typedef struct shmap_sem shmap_sem_t;
typedef struct shmap_mutex shmap_mutex_t;
typedef struct shmap_event shmap_event_t;

/* Mappings: create or open by name, size, duplicate, close. */
SHMAP_EXPORT int shmap_create(const char *name, uint64_t size, int prot,
			      unsigned flags, shmap_t **out);
SHMAP_EXPORT int shmap_open(const char *name, int access, shmap_t **out);
SHMAP_EXPORT int shmap_close(shmap_t *m);
SHMAP_EXPORT int shmap_unlink(const char *name);
SHMAP_EXPORT int shmap_size(const shmap_t *m, uint64_t *size);
SHMAP_EXPORT int shmap_existed(const shmap_t *m);
SHMAP_EXPORT int shmap_fd(const shmap_t *m);
SHMAP_EXPORT int shmap_from_fd(int fd, shmap_t **out);

/* Views. */
SHMAP_EXPORT int shmap_map(shmap_t *m, uint64_t offset, size_t length,
			   int access, void **view);
SHMAP_EXPORT int shmap_map_at(shmap_t *m, uint64_t offset, size_t length,
			      int access, void *hint, void **view);
SHMAP_EXPORT int shmap_flush(void *addr, size_t length);
SHMAP_EXPORT int shmap_unmap(void *view);

/* Byte-range locks (open file description locks). */
SHMAP_EXPORT int shmap_lock(shmap_t *m, uint64_t offset, uint64_t length,
			    int flags);
SHMAP_EXPORT int shmap_unlock(shmap_t *m, uint64_t offset, uint64_t length);

/* Counting semaphores shared by name. */
SHMAP_EXPORT int shmap_sem_open(const char *name, unsigned initial,
				unsigned flags, shmap_sem_t **out);
SHMAP_EXPORT int shmap_sem_wait(shmap_sem_t *s);
SHMAP_EXPORT int shmap_sem_trywait(shmap_sem_t *s);
SHMAP_EXPORT int shmap_sem_timedwait(shmap_sem_t *s,
				     const struct timespec *abs_realtime);
SHMAP_EXPORT int shmap_sem_post(shmap_sem_t *s);
SHMAP_EXPORT int shmap_sem_value(shmap_sem_t *s, unsigned *value);
SHMAP_EXPORT int shmap_sem_close(shmap_sem_t *s);

/*
 * Mutexes shared by name: owned by a thread, recursive. When the owner
 * dies holding it, the next lock takes it and returns -EOWNERDEAD, as
 * does every lock after until the owner calls shmap_mutex_consistent.
 */
SHMAP_EXPORT int shmap_mutex_open(const char *name, unsigned flags,
				  shmap_mutex_t **out);
SHMAP_EXPORT int shmap_mutex_lock(shmap_mutex_t *m);
SHMAP_EXPORT int shmap_mutex_trylock(shmap_mutex_t *m);
SHMAP_EXPORT int shmap_mutex_timedlock(shmap_mutex_t *m,
				       const struct timespec *abs_realtime);
SHMAP_EXPORT int shmap_mutex_unlock(shmap_mutex_t *m);
SHMAP_EXPORT int shmap_mutex_consistent(shmap_mutex_t *m);
SHMAP_EXPORT int shmap_mutex_close(shmap_mutex_t *m);

/* Events shared by name: auto-reset (one waiter per set) or manual. */
SHMAP_EXPORT int shmap_event_open(const char *name, int manual_reset,
				  int initial, unsigned flags,
				  shmap_event_t **out);
SHMAP_EXPORT int shmap_event_set(shmap_event_t *e);
SHMAP_EXPORT int shmap_event_reset(shmap_event_t *e);
SHMAP_EXPORT int shmap_event_wait(shmap_event_t *e);
SHMAP_EXPORT int shmap_event_timedwait(shmap_event_t *e,
				       const struct timespec *abs_realtime);
SHMAP_EXPORT int shmap_event_close(shmap_event_t *e);

/*
 * Wait on up to SHMAP_WAIT_MAX semaphores, mutexes and events (their
 * handles, mixed): for any one (the lowest index that can be taken is
 * taken, *index says which) or for all (taken together or not at all).
 * abs_realtime NULL waits for ever. -EOWNERDEAD: taken, and *index is an
 * abandoned mutex among them.
 */
SHMAP_EXPORT int shmap_wait_any(void *const objects[], unsigned n,
				const struct timespec *abs_realtime,
				unsigned *index);
SHMAP_EXPORT int shmap_wait_all(void *const objects[], unsigned n,
				const struct timespec *abs_realtime,
				unsigned *index);

/* A message for a (negative or positive) errno. */
SHMAP_EXPORT const char *shmap_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
