/*
 * libshmap internals shared by its source files: the handle structures,
 * name resolution and atomic creation, and the table of views. Nothing here
 * is exported (the library is built with -fvisibility=hidden).
 */
#ifndef SHMAP_INTERNAL_H
#define SHMAP_INTERNAL_H

#include "shmap.h"

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The extended attributes the daemon and the library agree on. */
#define SHMAP__XATTR_PROTECT "user.shmap.protect"
#define SHMAP__XATTR_BASE    "user.shmap.base"

struct shmap {
	int fd;		/* owned; O_RDWR for SHMAP_WRITE, else O_RDONLY */
	int access;	/* SHMAP_READ, SHMAP_WRITE or SHMAP_COPY */
	int existed;	/* 1 if shmap_create found it there already */
	uintptr_t base; /* the agreed base once known, else 0; atomic */
};

/*
 * Resolve a name to a path: under $SHMAP_DIR (or SHMAP_DEFAULT_DIR), or
 * as given when it begins with '/'. -EINVAL for an empty name or one that
 * ends in '/', -ENAMETOOLONG past PATH_MAX. *root (if not NULL) is the
 * length of the part that must exist already: the directory names
 * resolve under, so that a missing mount is -ENOENT, not a new directory.
 */
int shmap__path(const char *name, char path[PATH_MAX], size_t *root);

/* Create the missing parents of path below its first root bytes. */
int shmap__mkparents(const char *path, size_t root);

/*
 * Make a file at path atomically: init(fd, arg) runs on a fresh temporary
 * file in the same directory (opened O_RDWR), which is then linked into
 * place only if nothing is there (renameat2 RENAME_NOREPLACE, else
 * link()). A concurrent opener sees either nothing or the finished file.
 * Missing directories below root (see shmap__path) are created.
 * -EEXIST if path exists. init returns 0 or -errno and may replace *fd
 * (closing the old one) to reopen the file with other access.
 */
typedef int (*shmap__init_fn)(int *fd, const char *tmp_path, void *arg);
int shmap__create_file(const char *path, size_t root, shmap__init_fn init,
		       void *arg, int *fd_out);

/* Protection of an open mapping, from its xattr (SHMAP_READWRITE if unset). */
int shmap__protection(int fd, int *prot);

/* The table of views (view_table.c): remember and forget the length of
 * each view. */
int shmap__view_add(void *addr, size_t length);
int shmap__view_take(void *addr, size_t *length);
int shmap__view_find(void *addr, void **start, size_t *length);

/* The system page size. */
size_t shmap__page_size(void);

/*
 * Synchronization objects (semaphores, mutexes, events; sync.c holds what
 * they share, wait.c waits on several). Each is a one-page file under the
 * mount; its page begins with this header. The futex word `state` means
 * what the object's kind says, plus one bit of it (the kind's `mark`)
 * that shmap_wait_all sets on each object it is about to take, so that
 * it can take them all or none: an operation that meets the mark waits
 * until it goes (a few instructions later).
 */
struct shmap__core {
	uint32_t state;	  /* the futex word; atomic */
	uint32_t waiters; /* threads asleep on this object alone; atomic */
	uint32_t multi;	  /* threads asleep in wait_any/wait_all; atomic */
	int32_t locker;	  /* pid of the wait_all that may set the mark, or
			     0; taken by compare-and-swap; atomic */
};

struct shmap__head {
	uint32_t magic;
	uint32_t version;
	struct shmap__core core; /* at offset 8 */
};

struct shmap__obj;

/* What differs between the kinds of objects. */
struct shmap__kind {
	uint32_t magic;
	uint32_t version;
	uint32_t mark; /* the state bit wait_all sets */
	/* Take it now if it can be had: 0 (or -EOWNERDEAD) taken, -EAGAIN. */
	int (*try_take)(struct shmap__obj *o);
	/*
	 * Whether state s (unmarked) lets this thread take it: 1 yes, 2 yes
	 * without marking (a mutex the thread owns), -EAGAIN no, or -errno.
	 */
	int (*available)(struct shmap__obj *o, uint32_t s);
	/* Take it, marked in state s (or unmarked for 2): 0 or -EOWNERDEAD. */
	int (*take_marked)(struct shmap__obj *o, uint32_t s);
	/*
	 * The value to sleep on: 0 if it cannot be taken now, 1 if it can,
	 * -EAGAIN if it is about to change (marked). A mutex sets
	 * FUTEX_WAITERS here, so that the kernel wakes us if its owner dies.
	 */
	int (*sleep_value)(struct shmap__obj *o, uint32_t *value);
};

/* The part of every handle (shmap_sem_t, shmap_mutex_t, shmap_event_t). */
struct shmap__obj {
	uint32_t handle_magic; /* SHMAP__HANDLE_MAGIC while open */
	const struct shmap__kind *kind;
	struct shmap__head *page; /* a MAP_SHARED view of the file */
	size_t length;		  /* of that view */
	dev_t dev;		  /* the file's identity: the order in */
	ino_t ino;		  /* which wait_all marks objects */
};

#define SHMAP__HANDLE_MAGIC 0x4f50414du

extern const struct shmap__kind shmap__sem_kind;
extern const struct shmap__kind shmap__mutex_kind;
extern const struct shmap__kind shmap__event_kind;

/*
 * Handles: shmap_sem_t, shmap_mutex_t and shmap_event_t are each a
 * struct shmap__obj. Open (creating if flags allow, with the first
 * init_len bytes of init) the object file of a kind and map it; the
 * handle of a kind (any kind if NULL), or NULL if it is not one; close.
 */
int shmap__handle_open(const char *name, unsigned flags,
		       const struct shmap__kind *kind, const void *init,
		       size_t init_len, struct shmap__obj **out);
struct shmap__obj *shmap__handle(const void *handle,
				 const struct shmap__kind *kind);
int shmap__handle_close(struct shmap__obj *o);

/* Take o, sleeping until the deadline (NULL: none) if need be. */
int shmap__acquire(struct shmap__obj *o, const struct timespec *abs);

/* The state, once no wait_all holds the kind's mark on it. */
uint32_t shmap__unmarked(struct shmap__core *c, uint32_t mark);

/*
 * Become the one wait_all that may mark c (waiting for another to finish,
 * or taking over from a dead one, whose mark is cleared), and give it up
 * once the mark is cleared.
 */
void shmap__lock_marker(struct shmap__core *c, uint32_t mark, pid_t me);
void shmap__unlock_marker(struct shmap__core *c);

/* Wake those asleep on c: all, or one if one will do and none waits on
 * several objects. */
void shmap__wake(struct shmap__core *c, int all);

/* Sleep while *word == val: 0 (woken, or it differs), -ETIMEDOUT, -errno. */
int shmap__futex_wait(uint32_t *word, uint32_t val,
		      const struct timespec *abs_realtime);

/* Sleep on o alone until it is taken (0, -EOWNERDEAD) or -ETIMEDOUT. */
int shmap__wait_one(struct shmap__obj *o, const struct timespec *abs);

/* 1 if a deadline is valid (NULL is not). */
int shmap__valid_deadline(const struct timespec *abs);

/*
 * The calling thread: its tid and pid (kept per thread, reset in a fork
 * child) and the kernel's robust futex list head glibc registered for it
 * (NULL if none).
 */
struct robust_list_head;
struct shmap__self {
	pid_t tid;
	pid_t pid;
	struct robust_list_head *robust;
};
const struct shmap__self *shmap__self(void);

#endif
