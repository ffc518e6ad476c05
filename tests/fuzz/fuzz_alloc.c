/*
 * The allocator the core's sources are compiled against in the fuzzers
 * (see fuzz_alloc.h): the real one, except that the Nth call can fail.
 * File-static state: the fuzzers run one input at a time on one thread.
 */
#include <stdlib.h>
#include <string.h>

void *fuzz_malloc(size_t size);
void *fuzz_calloc(size_t count, size_t size);
void *fuzz_realloc(void *p, size_t size);
char *fuzz_strdup(const char *s);
void fuzz_alloc_fail_at(unsigned long nth);

static unsigned long countdown; /* 0: never fail */

void fuzz_alloc_fail_at(unsigned long nth)
{
	countdown = nth;
}

static int should_fail(void)
{
	return countdown && --countdown == 0;
}

void *fuzz_malloc(size_t size)
{
	return should_fail() ? NULL : malloc(size);
}

void *fuzz_calloc(size_t count, size_t size)
{
	return should_fail() ? NULL : calloc(count, size);
}

void *fuzz_realloc(void *p, size_t size)
{
	return should_fail() ? NULL : realloc(p, size);
}

char *fuzz_strdup(const char *s)
{
	return should_fail() ? NULL : strdup(s);
}
