/*
 * Allocation failures for the fuzzers: fuzz.mk compiles the core's sources
 * with -include of this file, so that their malloc, calloc, realloc and
 * strdup go through fuzz_alloc.c, which can make the Nth one fail (as
 * SQLite's tests do), to prove that every -ENOMEM path frees what it took
 * and leaves the registry whole. Nothing else is affected.
 */
#ifndef SHMAPFS_FUZZ_ALLOC_H
#define SHMAPFS_FUZZ_ALLOC_H

#include <stddef.h>

void *fuzz_malloc(size_t size);
void *fuzz_calloc(size_t count, size_t size);
void *fuzz_realloc(void *p, size_t size);
char *fuzz_strdup(const char *s);

/* Make the nth allocation from now fail (counting from 1); 0: none. */
void fuzz_alloc_fail_at(unsigned long nth);

/* The fuzzers themselves define this, to allocate for real. */
#ifndef FUZZ_ALLOC_NO_MACROS
#define malloc(n)     fuzz_malloc(n)
#define calloc(n, m)  fuzz_calloc(n, m)
#define realloc(p, n) fuzz_realloc(p, n)
#define strdup(s)     fuzz_strdup(s)
#endif

#endif
