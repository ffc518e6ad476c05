/*
 * libshmap internals shared by its source files: the handle structures,
 * name resolution and atomic creation, and the view registry. Nothing here
 * is exported (the library is built with -fvisibility=hidden).
 */
#ifndef SHMAP_INTERNAL_H
#define SHMAP_INTERNAL_H

#include "shmap.h"

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

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

/* The view registry: remember and forget the length of each view. */
int shmap__view_add(void *addr, size_t length);
int shmap__view_take(void *addr, size_t *length);
int shmap__view_find(void *addr, void **start, size_t *length);

/* The system page size. */
size_t shmap__page_size(void);

#endif
