/*
 * Small helpers for mount tests: whole-file I/O, running a function in a
 * child process (optionally as another user) with a time limit, and
 * reading a mount's statfs. Each returns 0 or a negative errno unless it
 * says otherwise.
 */
#ifndef SHMAPFS_TEST_UTIL_H
#define SHMAPFS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Create or replace path with len bytes of buf. */
int put_file(const char *path, const void *buf, size_t len, mode_t mode);

/* Read up to size bytes of path; returns the length or -errno. */
ssize_t get_file(const char *path, void *buf, size_t size);

/* Whether this process could take path's flock (LOCK_EX) right now: 1 or
 * 0 (also when the open is refused: an exclusive backing file in use).
 * The file must exist (a Check assertion). */
int flock_free(const char *path);

/* The entries of directory path whose names do not begin with '.' (a
 * Check assertion that it opens): with /proc/PID/fd, the descriptors a
 * process holds. */
int count_entries_in(const char *path);

/* Fill buf with a pattern derived from seed (so corruption shows). */
void fill_pattern(void *buf, size_t len, uint32_t seed);

/*
 * Run fn(arg) in a forked child, as uid/gid if uid is not -1, and return
 * fn's return value as the child's exit status (0-255), or -1 if it died
 * of a signal or ran past timeout_s (then it is killed).
 */
int in_child(int (*fn)(void *arg), void *arg, uid_t uid, gid_t gid,
	     int timeout_s);

/* The signal that killed a child running fn, or 0 if it exited. */
int child_signal(int (*fn)(void *arg), void *arg, int timeout_s);

/*
 * The whole main() of a Check program: run every test of s, each in a
 * process of its own, and return the exit status (0: all passed).
 */
struct Suite;
int run_suite(struct Suite *s);

#endif
