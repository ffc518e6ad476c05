/*
 * Helpers shared by the libshmap tests: a mount per test (SHMAP_DIR set
 * to its mountpoint), children that report through their exit status,
 * and a clock.
 */
#ifndef SHMAP_TEST_UTIL_H
#define SHMAP_TEST_UTIL_H

#include "mount.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The mount of the current test (one per test process, as Check forks). */
extern struct tmount lt_mnt;

/* Mount a memory-backed (0) or file-backed (1) shmapfs; SHMAP_DIR=mnt. */
void lt_mount(int file_backed);
/* Unmount, insisting that the daemon exits 0. */
void lt_unmount(void);
/* Check fixtures for the two. */
void lt_setup_memory(void);
void lt_setup_file(void);
void lt_teardown(void);

/*
 * Run fn(arg) in a child process; its return value (0 for success, a
 * small number saying what failed) becomes the exit status.
 */
pid_t lt_fork(int (*fn)(void *), void *arg);
/* Wait for a child at most timeout_ms: its exit status, or -1. */
int lt_wait(pid_t pid, int timeout_ms);

/* Milliseconds on the monotonic clock. */
long long lt_now_ms(void);

/* A CLOCK_REALTIME deadline ms milliseconds from now. */
struct timespec lt_deadline_in(long ms);

/* Zeroed memory shared with the children forked after (never freed). */
void *lt_shared(size_t length);

/*
 * Allow only read, write, exit and sigreturn from here on (seccomp strict
 * mode: any other system call kills with SIGKILL), to show that a path
 * makes none. Not under ThreadSanitizer, whose runtime makes its own
 * (mapping shadow memory): there the caller runs unchecked. 0 or -1.
 */
int lt_forbid_syscalls(void);
/*
 * Exit after lt_forbid_syscalls (strict mode allows exit, not exit_group;
 * ThreadSanitizer's own thread needs the latter). Not declared noreturn:
 * AddressSanitizer calls sigaltstack before a noreturn call.
 */
void lt_exit_forbidden(int status);

/*
 * Wait until child pid sleeps in the kernel on a futex (futex or
 * futex_waitv): a waiter that has got to its wait. A Check assertion
 * fails after 10 s.
 */
void lt_wait_asleep(pid_t pid);

/* A rendezvous for children: wait until *word reaches n (bounded). */
int lt_barrier(volatile int *word, int n, int timeout_ms);

#endif
