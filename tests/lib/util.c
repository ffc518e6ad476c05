/* Helpers shared by the libshmap tests; see util.h. */
#include "util.h"

#include <check.h>
#include <sched.h>
#include <stdlib.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct tmount lt_mnt;

void lt_mount(int file_backed)
{
	/* noexclusive: some tests read a backing file behind the daemon
	 * while its mapping is in use (tests/mount/check_exclusive.c tests
	 * the default, which refuses that). */
	int err = tmount_start(&lt_mnt, file_backed,
			       file_backed ? "noexclusive" : NULL);
	ck_assert_msg(err == 0, "cannot mount %s: %d", tmount_daemon(), err);
	setenv("SHMAP_DIR", lt_mnt.mnt, 1);
}

void lt_unmount(void)
{
	ck_assert_int_eq(tmount_stop(&lt_mnt), 0);
}

void lt_setup_memory(void)
{
	lt_mount(0);
}

void lt_setup_file(void)
{
	lt_mount(1);
}

void lt_teardown(void)
{
	lt_unmount();
}

pid_t lt_fork(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int lt_wait(pid_t pid, int timeout_ms)
{
	return twait(pid, timeout_ms);
}

long long lt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

void lt_wait_asleep(pid_t pid)
{
	ck_assert_msg(
	    twait_sleeping_in(pid, SYS_futex, SYS_futex_waitv, 10000) == 0,
	    "process %d not asleep on a futex after 10 s", (int)pid);
}

int lt_barrier(volatile int *word, int n, int timeout_ms)
{
	__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
	long long end = lt_now_ms() + timeout_ms;
	while (__atomic_load_n(word, __ATOMIC_SEQ_CST) < n) {
		if (lt_now_ms() > end)
			return -1;
		sched_yield();
	}
	return 0;
}

struct timespec lt_deadline_in(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void *lt_shared(size_t length)
{
	void *p = mmap(NULL, length, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	return p;
}

#if defined(__SANITIZE_THREAD__)
#define LT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LT_TSAN 1
#endif
#endif

int lt_forbid_syscalls(void)
{
#ifdef LT_TSAN
	return 0;
#else
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
#endif
}

void lt_exit_forbidden(int status)
{
#ifdef LT_TSAN
	_exit(status);
#else
	for (;;)
		syscall(SYS_exit, status);
#endif
}
