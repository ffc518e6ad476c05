/*
 * What the unit tests of the core registry share (check_lifetime.c,
 * check_namespace.c, check_attributes.c, check_capacity.c, check_data.c,
 * check_xattr.c, check_faults.c, check_concurrency.c,
 * check_differential.c and check_flags.c, one Check program per group): the
 * registry under test (R, a memory-backed registry made afresh for each test),
 * the callers, and helpers that make, look up and read nodes with assertions.
 */
#ifndef SHMAPFS_REGISTRY_FIXTURE_H
#define SHMAPFS_REGISTRY_FIXTURE_H

#include "registry.h"

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define PAGE 4096ULL
#define CAP  (16 * PAGE)
#define MAXN 64

extern const struct caller ROOT;
extern const struct caller USER;
extern const struct caller OTHER;

/* Check forces file-level state on fixtures: the registry under test. */
extern struct registry *R;
/* The last message the core logged (each test runs in its own process). */
extern char last_log[512];

/* A memory-backed registry; its log goes to last_log. */
struct registry *reg_new_with(uint64_t cap, uint64_t max_nodes,
			      unsigned fault_write, unsigned fault_resize);

/* The root of R. */
struct node *root(void);

/* A regular file (mapping) made by USER; one lookup reference. */
struct node *mkfile(struct registry *r, struct node *dir, const char *name);

struct node *mkdir_(struct registry *r, struct node *dir, const char *name);

int lookup(struct registry *r, struct node *dir, const char *name,
	   struct node **out, struct stat *st);

struct stat getattr(struct registry *r, struct node *n);

struct statvfs statfs_(struct registry *r);

/* Entries in use, from statfs. */
uint64_t nodes_used(struct registry *r);

uint64_t bytes_free(struct registry *r);

void write_str(struct registry *r, struct node *n, const char *s, uint64_t off);

/* Read exactly len bytes at off and compare with want. */
void expect_data(struct registry *r, struct node *n, uint64_t off,
		 const void *want, size_t len);

void expect_zeroes(struct registry *r, struct node *n, uint64_t off,
		   size_t len);

int rename_(const char *a, const char *b, unsigned flags);

/* Compare the registry's directory dir with the real directory kfd. */
void diff_tree(struct registry *r, struct node *dir, int kfd, const char *path);

/* Once per test case, in Check's parent process: a directory under
 * test_tmpdir() for reference trees and backing directories, removed even
 * when a test fails (registry_tcase()). */
extern char DIFF_TOP[64];

/* A new directory under DIFF_TOP. */
void diff_mkdtemp(char *out, size_t len, const char *what);

/*
 * A test case called name, as every group of these tests has it: R made
 * before each test and freed after it, DIFF_TOP made for the case, and a
 * timeout in seconds.
 */
TCase *registry_tcase(const char *name, int timeout);

/* main() of a group's program: run tc in a suite of its own. */
int registry_run(TCase *tc);

#endif
