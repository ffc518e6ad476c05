/*
 * Test harness: start a real shmapfs for a test, wait until it answers,
 * unmount it and reap the daemon with bounded waits. See mount.h.
 */
#include "mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546
#define MOUNT_WAIT_MS	 60000
#define REAP_WAIT_MS	 60000

/* The mount to clean up if the test process exits early (one per test). */
static struct tmount *tm_pending;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

const char *test_tmpdir(void)
{
	const char *run = getenv("SHMAPFS_TEST_TMP");
	if (run && *run)
		return run;
	const char *tmp = getenv("TMPDIR");
	return tmp && *tmp ? tmp : "/tmp";
}

const char *tmount_daemon(void)
{
	static char abs[PATH_MAX];
	const char *bin = getenv("SHMAPFS_BIN");
	if (!bin || !*bin)
		bin = "fs/shmapfs";
	/* Absolute, so that tests may run it from another directory. */
	return realpath(bin, abs) ? abs : bin;
}

int tpreload(const char *shim)
{
	const char *dir = getenv("TEST_HELPERS");
	char path[PATH_MAX], asan[4096];
	snprintf(path, sizeof(path), "%s/%s",
		 dir && *dir ? dir : "build/normal/tests/mount/helpers", shim);
	if (access(path, R_OK) < 0)
		return -errno;
	/* A sanitized program finds its runtime behind the shim. */
	const char *was = getenv("ASAN_OPTIONS");
	if (!was || !strstr(was, "verify_asan_link_order=0")) {
		snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0",
			 was ? was : "", was && *was ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
	}
	setenv("LD_PRELOAD", path, 1);
	return 0;
}

void tunpreload(void)
{
	unsetenv("LD_PRELOAD");
}

static const char *join(char *buf, const char *dir, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%s%s%s", dir, rel[0] ? "/" : "", rel);
	if (n < 0 || n >= PATH_MAX) {
		fprintf(stderr, "harness: path too long: %s/%s\n", dir, rel);
		abort();
	}
	return buf;
}

const char *tmount_path(const struct tmount *m, const char *rel)
{
	static __thread char bufs[4][PATH_MAX];
	static __thread int next;
	next = (next + 1) % 4;
	return join(bufs[next], m->mnt, rel);
}

const char *tmount_bpath(const struct tmount *m, const char *rel)
{
	static __thread char bufs[4][PATH_MAX];
	static __thread int next;
	next = (next + 1) % 4;
	return join(bufs[next], m->backing, rel);
}

int twait(pid_t pid, int timeout_ms)
{
	int status;
	for (int waited = 0;; waited += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0)
			return -1;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ms(5);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char tstate(pid_t tid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char *got = fgets(line, sizeof(line), f);
	fclose(f);
	const char *p = got ? strrchr(line, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : 0;
}

long tsleeping_in(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *got = fgets(line, sizeof(line), f);
	fclose(f);
	/* "running", or "-1 ..." outside a system call */
	if (!got || line[0] < '0' || line[0] > '9')
		return -1;
	long nr = strtol(line, NULL, 10);
	char st = tstate(tid);
	return st == 'S' || st == 'D' ? nr : -1;
}

int twait_sleeping_in(pid_t tid, long nr, long nr2, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited++) {
		long now = tsleeping_in(tid);
		if (now >= 0 && (now == nr || now == nr2))
			return 0;
		sleep_ms(1);
	}
	return -ETIMEDOUT;
}

int tsh(int timeout_s, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int st = twait(pid, timeout_s * 1000);
	if (st < 0)
		kill(-pid, SIGKILL);
	return st;
}

static int is_mounted(const char *mnt)
{
	struct statfs sf;
	return statfs(mnt, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC;
}

static void dump_log(const struct tmount *m)
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", m->log);
	if (system(cmd) < 0)
		perror("system");
}

/* Whether the tests run on the fallback path ($SHMAPFS_TEST_DATA_PATH). */
static int fallback_asked(void)
{
	const char *path = getenv("SHMAPFS_TEST_DATA_PATH");
	return path && !strcmp(path, "nopassthrough");
}

const char *tmount_path_args(void)
{
	return fallback_asked() ? "-o nopassthrough " : "";
}

/* The test's options with the data path's option after them (it wins). */
static const char *with_data_path(const char *opts, char *buf, size_t size)
{
	if (!fallback_asked())
		return opts;
	int n = snprintf(buf, size, "%s%snopassthrough", opts ? opts : "",
			 opts && *opts ? "," : "");
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "harness: options too long: %s\n", opts);
		abort();
	}
	return buf;
}

/* Move this process into the cgroup directory cg. */
static int join_cgroup(const char *cg)
{
	char path[PATH_MAX + 16], pid[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	int res = write(fd, pid, len) == len ? 0 : -errno;
	close(fd);
	return res;
}

static pid_t spawn_daemon(const struct tmount *m, const char *opts)
{
	const char *argv[8];
	char all_opts[4096];
	int argc = 0;
	argv[argc++] = tmount_daemon();
	argv[argc++] = "-f";
	opts = with_data_path(opts, all_opts, sizeof(all_opts));
	if (opts && *opts) {
		argv[argc++] = "-o";
		argv[argc++] = opts;
	}
	if (m->backing[0])
		argv[argc++] = m->backing;
	argv[argc++] = m->mnt;
	argv[argc] = NULL;

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* The daemon unmounts itself on SIGTERM: a test that dies early
	 * leaves no mount behind. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(126);
	if (m->cgroup[0] && join_cgroup(m->cgroup) < 0)
		_exit(125);
	int fd = open(m->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	execv(argv[0], (char *const *)argv);
	perror("exec shmapfs");
	_exit(127);
}

static void cleanup_at_exit(void)
{
	if (tm_pending && tm_pending->pid > 0)
		tmount_stop(tm_pending);
}

static int wait_mounted(struct tmount *m)
{
	for (int waited = 0; waited < MOUNT_WAIT_MS; waited += 5) {
		if (is_mounted(m->mnt))
			return 0;
		int status;
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			fprintf(stderr, "harness: shmapfs exited early (%d)\n",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			dump_log(m);
			m->pid = -1;
			return -ECHILD;
		}
		sleep_ms(5);
	}
	fprintf(stderr, "harness: %s not mounted after %d ms\n", m->mnt,
		MOUNT_WAIT_MS);
	dump_log(m);
	tmount_unmount(m);
	return -ETIMEDOUT;
}

/* Note a data path taken in $SHMAPFS_TEST_TMP/data-paths, for the report
 * of tests/run-tests.sh. */
static void note_data_path(const char *path)
{
	const char *tmp = getenv("SHMAPFS_TEST_TMP");
	char file[PATH_MAX];
	if (!tmp || !*tmp ||
	    snprintf(file, sizeof(file), "%s/data-paths", tmp) >=
		(int)sizeof(file))
		return;
	FILE *f = fopen(file, "a");
	if (f) {
		fprintf(f, "%s\n", path);
		fclose(f);
	}
}

/*
 * Which data path the daemon took, from the line it logs when it answers
 * INIT ("shmapfs: data path: passthrough" or "... fallback (why)"), which
 * comes before the mount answers anything.
 */
static int read_data_path(struct tmount *m)
{
	static const char key[] = "shmapfs: data path: ";
	char line[512];
	FILE *f = fopen(m->log, "r");
	if (!f)
		return -errno;
	int found = -ENOENT;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, sizeof(key) - 1)) {
			m->passthrough =
			    !strncmp(line + sizeof(key) - 1, "passthrough", 11);
			found = 0;
		}
	fclose(f);
	if (found == 0)
		note_data_path(m->passthrough ? "passthrough" : "fallback");
	return found;
}

int tmount_restart(struct tmount *m, const char *opts)
{
	m->pid = spawn_daemon(m, opts);
	if (m->pid < 0)
		return -errno;
	static int registered;
	if (!registered) {
		atexit(cleanup_at_exit);
		registered = 1;
	}
	tm_pending = m;
	int res = wait_mounted(m);
	if (res == 0 && read_data_path(m) < 0) {
		fprintf(stderr, "harness: %s does not say its data path\n",
			m->log);
		dump_log(m);
		tmount_unmount(m);
		return -EPROTO;
	}
	return res;
}

int tmount_start(struct tmount *m, int file_backed, const char *opts)
{
	return tmount_start_in(m, file_backed, opts, NULL);
}

/* A fresh temporary directory for m, with its mountpoint and log. */
static int make_root(struct tmount *m)
{
	m->pid = -1;
	snprintf(m->root, sizeof(m->root), "%s/shmapfs-test.XXXXXX",
		 test_tmpdir());
	/* Readable by all: tests run some steps as other users. */
	if (!mkdtemp(m->root) || chmod(m->root, 0755) < 0)
		return -errno;
	join(m->mnt, m->root, "mnt");
	join(m->log, m->root, "daemon.log");
	return mkdir(m->mnt, 0755) < 0 ? -errno : 0;
}

int tmount_start_in(struct tmount *m, int file_backed, const char *opts,
		    const char *cg)
{
	memset(m, 0, sizeof(*m));
	if (cg)
		snprintf(m->cgroup, sizeof(m->cgroup), "%s", cg);
	int res = make_root(m);
	if (res < 0)
		return res;
	if (file_backed) {
		join(m->backing, m->root, "backing");
		if (mkdir(m->backing, 0755) < 0)
			return -errno;
	}
	return tmount_restart(m, opts);
}

int tmount_start_over(struct tmount *m, const char *backing, const char *opts)
{
	memset(m, 0, sizeof(*m));
	int res = make_root(m);
	if (res < 0)
		return res;
	join(m->backing, backing, "");
	return tmount_restart(m, opts);
}

static void unmount_mnt(const char *mnt)
{
	for (int i = 0; i < 200 && is_mounted(mnt); i++) {
		if (umount2(mnt, 0) == 0 || errno != EBUSY)
			break;
		sleep_ms(25);
	}
	if (is_mounted(mnt))
		umount2(mnt, MNT_DETACH);
}

int tmount_unmount(struct tmount *m)
{
	if (m->pid <= 0)
		return -1;
	unmount_mnt(m->mnt);
	int st = twait(m->pid, REAP_WAIT_MS);
	if (st != 0) {
		fprintf(stderr, "harness: shmapfs exit status %d\n", st);
		dump_log(m);
	}
	/* A killed daemon leaves a dead connection mounted. */
	if (st < 0)
		umount2(m->mnt, MNT_DETACH);
	m->pid = -1;
	if (tm_pending == m)
		tm_pending = NULL;
	return st;
}

int tmount_stop(struct tmount *m)
{
	int st = tmount_unmount(m);
	tsh(30, "rm -rf '%s'", m->root);
	return st;
}

/* The first line of a file, or "" */
static void read_line(const char *path, char *buf, size_t size)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
}

/* Our own cgroup's directory in the v1 memory hierarchy or in v2. */
static int own_memory_cgroup(struct tcgroup *cg)
{
	char line[PATH_MAX], v1[PATH_MAX] = "", v2[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *p = strstr(line, ":memory:");
		if (p)
			snprintf(v1, sizeof(v1), "%s", p + 8);
		else if (!strncmp(line, "0::", 3))
			snprintf(v2, sizeof(v2), "%s", line + 3);
	}
	fclose(f);
	struct stat st;
	if (v1[0] &&
	    stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0) {
		snprintf(cg->dir, sizeof(cg->dir), "/sys/fs/cgroup/memory%s",
			 strcmp(v1, "/") ? v1 : "");
		cg->v2 = 0;
		return 0;
	}
	if (v2[0]) {
		snprintf(cg->dir, sizeof(cg->dir), "/sys/fs/cgroup%s",
			 strcmp(v2, "/") ? v2 : "");
		cg->v2 = 1;
		return 0;
	}
	return -ENOENT;
}

static int write_text(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t len = (ssize_t)strlen(text);
	int res = write(fd, text, len) == len ? 0 : -errno;
	close(fd);
	return res;
}

int tcgroup_make(struct tcgroup *cg, const char *name, unsigned long long limit)
{
	memset(cg, 0, sizeof(*cg));
	struct tcgroup parent;
	int res = own_memory_cgroup(&parent);
	if (res < 0)
		return res;
	if (snprintf(cg->dir, sizeof(cg->dir), "%s/%s", parent.dir, name) >=
	    (int)sizeof(cg->dir)) {
		cg->dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	cg->v2 = parent.v2;
	if (mkdir(cg->dir, 0755) < 0) {
		res = -errno;
		cg->dir[0] = '\0';
		return res;
	}
	char text[32];
	snprintf(text, sizeof(text), "%llu", limit);
	res = write_text(cg->dir,
			 cg->v2 ? "memory.max" : "memory.limit_in_bytes", text);
	if (res < 0)
		tcgroup_remove(cg);
	return res;
}

unsigned long long tcgroup_read(const struct tcgroup *cg, const char *v1file,
				const char *v2file, const char *key)
{
	char path[PATH_MAX + 64], line[256];
	const char *file = cg->v2 ? v2file : v1file;
	if (!file || !cg->dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/%s", cg->dir, file);
	if (!key) {
		read_line(path, line, sizeof(line));
		return strtoull(line, NULL, 10);
	}
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");
	size_t klen = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			v = strtoull(line + klen + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* SIGKILL every process in the cgroup; how many there were. */
static int kill_members(const struct tcgroup *cg)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dir);
	FILE *f = fopen(path, "re");
	int n = 0, pid;
	while (f && fscanf(f, "%d", &pid) == 1) {
		kill(pid, SIGKILL);
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

int tcgroup_remove(struct tcgroup *cg)
{
	if (!cg->dir[0])
		return 0;
	for (int waited = 0; waited < REAP_WAIT_MS; waited += 10) {
		if (rmdir(cg->dir) == 0 || errno == ENOENT) {
			cg->dir[0] = '\0';
			return 0;
		}
		if (errno != EBUSY)
			break;
		kill_members(cg);
		sleep_ms(10); /* the killed die; polled, within the bound */
	}
	fprintf(stderr, "harness: cannot remove cgroup %s: %s\n", cg->dir,
		strerror(errno));
	return -errno;
}

void tcgroup_remove_stale(const char *prefix)
{
	struct tcgroup parent;
	if (own_memory_cgroup(&parent) < 0)
		return;
	DIR *d = opendir(parent.dir);
	struct dirent *e;
	size_t plen = strlen(prefix);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, prefix, plen))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name + plen);
		if (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH)
			continue; /* its test still runs */
		struct tcgroup stale = {.v2 = parent.v2};
		if (snprintf(stale.dir, sizeof(stale.dir), "%s/%s", parent.dir,
			     e->d_name) < (int)sizeof(stale.dir))
			tcgroup_remove(&stale);
	}
	if (d)
		closedir(d);
}
