/*
 * Test harness: mount a real shmapfs for one test and take it down again.
 *
 * tmount_start() makes a temporary directory (shmapfs-test.XXXXXX under
 * test_tmpdir(): $SHMAPFS_TEST_TMP, else $TMPDIR, else /tmp)
 * holding the mountpoint "mnt" and, for a file-backed mount, the backing
 * directory "backing"; it starts the daemon in the foreground as a child
 * (the binary named by $SHMAPFS_BIN, else fs/shmapfs) and waits, at most
 * ten seconds, until the mount answers. tmount_stop() unmounts, reaps the
 * daemon (bounded wait, SIGKILL past it) and returns its exit status, so a
 * test can insist that the daemon exited 0. A test process that ends
 * without calling tmount_stop() still leaves no mount: the daemon gets
 * SIGTERM when its parent dies (and unmounts itself), an atexit handler
 * covers a plain exit(), and tests/run-tests.sh clears whatever a killed
 * test left (Check's failed assertion ends a test with _exit()).
 *
 * The data path: with $SHMAPFS_TEST_DATA_PATH=nopassthrough every mount
 * gets -o nopassthrough (after the test's own options), so that a whole
 * suite runs on the fallback path; otherwise the daemon takes its default
 * (passthrough, for a root daemon on Linux 6.9 and later). Either way the
 * harness reads which path the daemon took from its log (tmount.passthrough)
 * and adds it to $SHMAPFS_TEST_TMP/data-paths, which tests/run-tests.sh
 * reports.
 *
 * Every function returns 0 or a negative errno unless it says otherwise.
 */
#ifndef SHMAPFS_TEST_MOUNT_H
#define SHMAPFS_TEST_MOUNT_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct tmount {
	char root[PATH_MAX];	/* temporary directory holding the rest */
	char mnt[PATH_MAX];	/* the mountpoint */
	char backing[PATH_MAX]; /* backing directory; "" if memory-backed */
	char log[PATH_MAX];	/* the daemon's stderr */
	pid_t pid;		/* the daemon, or -1 when not running */
	int passthrough;	/* the daemon said: data path passthrough */
	char cgroup[PATH_MAX];	/* the daemon starts in it; "" if none */
};

/*
 * Where tests make temporary directories: $SHMAPFS_TEST_TMP (the runner's
 * directory for this run, which every user can reach), else $TMPDIR, else
 * /tmp.
 */
const char *test_tmpdir(void);

/* Daemon arguments that select the data path asked for ("-o nopassthrough "
 * or ""), for tests that start the daemon themselves. */
const char *tmount_path_args(void);

/* The daemon binary the tests run, as an absolute path: $SHMAPFS_BIN,
 * else "fs/shmapfs". */
const char *tmount_daemon(void);

/*
 * Start the programs this process runs from now on (the daemon,
 * shmapctl) with the LD_PRELOAD shim named shim (tests/shims, built into
 * $TEST_HELPERS, else build/normal/tests/mount/helpers), until
 * tunpreload(). -ENOENT if it was not built.
 */
int tpreload(const char *shim);
void tunpreload(void);

/*
 * Mount a fresh shmapfs. file_backed: 0 for memory-backed, 1 for a new
 * empty backing directory. opts: extra "-o" options, or NULL.
 */
int tmount_start(struct tmount *m, int file_backed, const char *opts);

/*
 * A second mount over the backing directory of another (backing: its
 * path), in a temporary directory of its own; tmount_stop() leaves the
 * backing directory to its owner.
 */
int tmount_start_over(struct tmount *m, const char *backing, const char *opts);

/* tmount_start() with the daemon started in the cgroup directory cg. */
int tmount_start_in(struct tmount *m, int file_backed, const char *opts,
		    const char *cg);

/*
 * Mount again over the same backing directory (after tmount_unmount()),
 * with other options if opts is not NULL.
 */
int tmount_restart(struct tmount *m, const char *opts);

/*
 * Unmount and reap the daemon, keeping the temporary directory (so that a
 * file-backed mount can be started again with tmount_restart()). Returns
 * the daemon's exit status (0-255), or -1 if it had to be killed or died
 * of a signal.
 */
int tmount_unmount(struct tmount *m);

/* tmount_unmount(), then remove the temporary directory. Same return. */
int tmount_stop(struct tmount *m);

/* Join the mountpoint (or backing directory) and a relative name. */
const char *tmount_path(const struct tmount *m, const char *rel);
const char *tmount_bpath(const struct tmount *m, const char *rel);

/*
 * Run a shell command with a time limit (seconds). Returns its exit status
 * (0-255), or -1 if it timed out or died of a signal.
 */
int tsh(int timeout_s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Wait for a child, at most timeout_ms; its exit status or -1. */
int twait(pid_t pid, int timeout_ms);

/* The state letter of process or thread tid (/proc/TID/stat: R, S, D,
 * Z, T...), or 0 if it is gone. */
char tstate(pid_t tid);

/*
 * The system call that process or thread tid sleeps in (its number, from
 * /proc/TID/syscall and its state S or D), or -1 if it runs or is gone:
 * the signal that another process has got to its wait.
 */
long tsleeping_in(pid_t tid);

/* Wait, at most timeout_ms, until tid sleeps in system call nr (or in
 * nr2; -1 for none). 0 or -ETIMEDOUT. */
int twait_sleeping_in(pid_t tid, long nr, long nr2, int timeout_ms);

/*
 * A memory cgroup of the test's own, below the one the test runs in: the
 * cgroup v1 memory controller where it is mounted, else cgroup v2 (which
 * needs the memory controller enabled for children).
 */
struct tcgroup {
	char dir[PATH_MAX]; /* "" when none was made */
	int v2;
};

/* Make the cgroup name with a memory limit of limit bytes. */
int tcgroup_make(struct tcgroup *cg, const char *name,
		 unsigned long long limit);

/* A number from one of its files, the v1 name or the v2 name (v2file
 * NULL: none there); 0 if it cannot be read. For v1's memory.oom_control
 * and v2's memory.events, "key" picks the line "key N". */
unsigned long long tcgroup_read(const struct tcgroup *cg, const char *v1file,
				const char *v2file, const char *key);

/* SIGKILL whatever still runs in it and remove it (bounded wait). */
int tcgroup_remove(struct tcgroup *cg);

/* Remove the cgroups named PREFIXpid beside ours whose test process pid
 * is gone (a test killed before its teardown). */
void tcgroup_remove_stale(const char *prefix);

#endif
