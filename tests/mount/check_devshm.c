/*
 * shmapfs as a drop-in for /dev/shm (issue 2, behaviour 10).
 *
 * Each test process (Check forks one per test) moves into a private mount
 * namespace of its own and mounts shmapfs over /dev/shm there, with
 * allow_other,mode=1777, the daemon in the foreground as its child; the
 * rest of the machine keeps its /dev/shm. Then unmodified programs use
 * it through glibc: the helpers in tests/mount/helpers (shmop: one
 * shm_open / sem_open operation; shmpingpong: a producer and a consumer
 * that talk through shared memory and two named semaphores; shmmutex: a
 * robust process-shared mutex in shared memory; shmchurn: processes
 * that create, use and unlink one name at once), each run as one of two
 * non-root users (shmaptest1, shmaptest2, made with useradd if
 * missing), and Python's multiprocessing. Checked:
 *
 *  - what /dev/shm held is hidden while shmapfs is mounted and back after
 *    the unmount, the mount is invisible outside the namespace, and the
 *    daemon exits 0;
 *  - a producer and a consumer, two users at once, pass data both ways
 *    through one object: 10,000 round trips through two semaphores, then
 *    100,000 records through a bounded buffer (shmpingpong);
 *  - each user owns what it creates, the sticky 1777 directory keeps
 *    others from unlinking it, 0600 keeps them from opening it;
 *  - O_CREAT|O_EXCL gives EEXIST for shm_open and sem_open;
 *  - shm_unlink removes the name but not the mapping; ftruncate sizes
 *    show in fstat, also from another process; posix_fallocate, fchmod,
 *    PROT_EXEC views, O_TRUNC and statvfs work as programs expect;
 *  - racing creators: one O_EXCL winner, one shared semaphore; racing
 *    shm_open(O_CREAT) and shm_unlink of one name all succeed (shmchurn);
 *  - a robust process-shared mutex in an object serializes two users
 *    (shmmutex) and survives its holder's death (EOWNERDEAD);
 *  - a full /dev/shm (size=) fails growth with ENOSPC, never SIGBUS;
 *  - file-backed (a backing directory), objects and semaphores outlive
 *    the mount; the loop tests (_i) run both memory- and file-backed;
 *  - a lazy unmount while an object is mapped leaves the mapping working
 *    and the daemon exits 0 when it is gone.
 *
 * The namespace dies with its last process: a test that fails half-way
 * takes its mount with it (the daemon gets SIGTERM when the test process
 * dies, Check kills what is left of the test's process group, and a
 * killed daemon's mount goes with the namespace).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"

#define DEVSHM		 "/dev/shm"
#define OPTS		 "allow_other,mode=1777"
#define U1		 "shmaptest1"
#define U2		 "shmaptest2"
#define ROUNDS		 "10000"
#define PINGPONG_SIZE	 69632 /* shmpingpong's object: 4096 + 1024 * 64 */
#define FUSE_SUPER_MAGIC 0x65735546
#define HELPER_WAIT_MS	 20000
#define MARKER_PREFIX	 DEVSHM "/shmapfs-devshm-test."

static int is_fuse(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC;
}

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);
	ck_assert_msg(pw != NULL, "no user %s", user);
	return pw->pw_uid;
}

static gid_t gid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);
	ck_assert_msg(pw != NULL, "no user %s", user);
	return pw->pw_gid;
}

static void ensure_users(void)
{
	ck_assert_int_eq(tsh(30,
			     "for u in " U1 " " U2 "; do id -u $u >/dev/null "
			     "2>&1 || useradd -M -r -s /usr/sbin/nologin $u "
			     "|| exit 1; done"),
			 0);
}

/* Undo the octal escapes (\040 for a space...) of /proc/self/mounts. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * A new namespace holds a copy of every mount there was, other tests'
 * FUSE mounts included, and a copy keeps a superblock (and so its daemon)
 * alive after its owner unmounts it. Let go of ours at once.
 */
static int is_fuse_type(const char *type)
{
	return !strcmp(type, "fuse") || !strcmp(type, "fuseblk") ||
	       !strncmp(type, "fuse.", 5);
}

/* Detach every FUSE mount in this namespace that its path reaches; how
 * many it detached. A mount whose path now leads elsewhere (covered by a
 * later mount, as when a tmpfs is mounted over /tmp) cannot be named and
 * stays, unreachable. */
static int detach_fuse_mounts(void)
{
	char line[2 * PATH_MAX], mnt[PATH_MAX], type[64];
	int detached = 0;
	FILE *f = fopen("/proc/self/mounts", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %4095s %63s", mnt, type) != 2 ||
		    !is_fuse_type(type))
			continue;
		unescape(mnt);
		if (umount2(mnt, MNT_DETACH) == 0)
			detached++;
	}
	fclose(f);
	return detached;
}

/* Until a pass finds nothing more (a mount under another one goes with
 * its parent, or is listed again). */
static void release_foreign_fuse_mounts(void)
{
	for (int pass = 0; pass < 10 && detach_fuse_mounts() > 0; pass++)
		;
}

/* This test process, and whatever it starts, gets a mount namespace of
 * its own whose mounts propagate nowhere and hold no one else's. */
static void enter_private_namespace(void)
{
	ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare: %s",
		      strerror(errno));
	ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		      "make / private: %s", strerror(errno));
	release_foreign_fuse_mounts();
}

/* /dev/shm as the Check runner (outside the namespace) sees it. */
static const char *outside(const char *rel)
{
	static char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "/proc/%d/root" DEVSHM "%s%s",
		 (int)getppid(), *rel ? "/" : "", rel);
	return buf;
}

static const char *in_devshm(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int next;
	next = (next + 1) % 4;
	snprintf(bufs[next], PATH_MAX, DEVSHM "/%s", rel);
	return bufs[next];
}

/*
 * Where the daemons' logs go: made by the runner before the tests and
 * removed after them, because Check ends a failed test with _exit(), so
 * no test can be relied on to clean up after itself (its mount goes with
 * its namespace, but a directory in the temporary directory would stay).
 */
static char log_base[PATH_MAX];

/* Mount shmapfs over /dev/shm in a private namespace, as a container's
 * init would: memory-backed, or file-backed by m->root/backing; m->root
 * holds the daemon's log. */
static void mount_devshm_opts(struct tmount *m, int file_backed,
			      const char *opts)
{
	struct stat st;
	ensure_users();
	ck_assert_msg(stat(DEVSHM, &st) == 0 && S_ISDIR(st.st_mode),
		      DEVSHM " is missing");
	enter_private_namespace();
	memset(m, 0, sizeof(*m));
	m->pid = -1;
	int n = snprintf(m->root, sizeof(m->root), "%s/t.XXXXXX", log_base);
	ck_assert(n > 0 && (size_t)n < sizeof(m->root));
	ck_assert_ptr_nonnull(mkdtemp(m->root));
	snprintf(m->mnt, sizeof(m->mnt), DEVSHM);
	n = snprintf(m->log, sizeof(m->log), "%s/daemon.log", m->root);
	ck_assert(n > 0 && (size_t)n < sizeof(m->log));
	if (file_backed) {
		n = snprintf(m->backing, sizeof(m->backing), "%s/backing",
			     m->root);
		ck_assert(n > 0 && (size_t)n < sizeof(m->backing));
		ck_assert_int_eq(mkdir(m->backing, 0755), 0);
	}
	ck_assert_int_eq(tmount_restart(m, opts), 0);

	ck_assert(is_fuse(DEVSHM));
	ck_assert_int_eq(stat(DEVSHM, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 01777);
	ck_assert_int_eq(st.st_uid, 0);
	/* The rest of the machine keeps its own /dev/shm. */
	ck_assert_msg(!is_fuse(outside("")), "mount leaked out of namespace");
}

static void mount_devshm(struct tmount *m, int file_backed)
{
	mount_devshm_opts(m, file_backed, OPTS);
}

static const char *helper(const char *name)
{
	static char buf[4][PATH_MAX];
	static int next;
	const char *dir = getenv("TEST_HELPERS");
	next = (next + 1) % 4;
	snprintf(buf[next], PATH_MAX, "%s/%s",
		 dir && *dir ? dir : "build/normal/tests/mount/helpers", name);
	return buf[next];
}

/* Start a program (a helper's name in $TEST_HELPERS, or a path) with
 * the given stdin and stdout (-1: ours); it dies with us. */
static pid_t spawn_with_pipes(const char **argv, int in, int out)
{
	const char *path = strchr(argv[0], '/') ? argv[0] : helper(argv[0]);
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		if ((in >= 0 && dup2(in, STDIN_FILENO) < 0) ||
		    (out >= 0 && dup2(out, STDOUT_FILENO) < 0))
			_exit(126);
		execv(path, (char *const *)argv);
		perror(path);
		_exit(127);
	}
	return pid;
}

static pid_t spawn(const char **argv)
{
	return spawn_with_pipes(argv, -1, -1);
}

/* shmop USER OP NAME [A1 [A2]]: the errno of the operation, 0 if it
 * worked, 250 if it worked wrongly (see shmop.c). */
static int shmop(const char *user, const char *op, const char *name,
		 const char *a1, const char *a2)
{
	const char *argv[] = {"shmop", user, op, name, a1, a2, NULL};
	int st = twait(spawn(argv), HELPER_WAIT_MS);
	ck_assert_msg(st >= 0, "shmop %s %s %s hung or crashed", user, op,
		      name);
	return st;
}

/* shmop with its complaint on stderr hidden: for a failure expected. */
static int shmop_quietly(const char *user, const char *op, const char *name,
			 const char *a1, const char *a2)
{
	int saved = dup(STDERR_FILENO);
	int null = open("/dev/null", O_WRONLY);
	ck_assert(saved >= 0 && null >= 0);
	fflush(stderr);
	dup2(null, STDERR_FILENO);
	close(null);
	int st = shmop(user, op, name, a1, a2);
	dup2(saved, STDERR_FILENO);
	close(saved);
	return st;
}

/* Run NRACERS shmop OP NAME at once, alternately as U1 and U2; their
 * exit statuses go to st[]. */
#define NRACERS 16
static void race(const char *op, const char *name, int st[NRACERS])
{
	pid_t pids[NRACERS];
	struct timespec now;
	char at[32];
	clock_gettime(CLOCK_REALTIME, &now);
	/* Late enough for every racer to have started. */
	snprintf(at, sizeof(at), "%lld",
		 (long long)now.tv_sec * 1000000000 + now.tv_nsec + 300000000);
	ck_assert_int_eq(setenv("SHMOP_START_AT", at, 1), 0);
	for (int i = 0; i < NRACERS; i++) {
		const char *argv[] = {"shmop", i % 2 ? U2 : U1, op, name, NULL};
		pids[i] = spawn(argv);
	}
	unsetenv("SHMOP_START_AT");
	for (int i = 0; i < NRACERS; i++)
		st[i] = twait(pids[i], HELPER_WAIT_MS);
}

static void assert_owner(const char *rel, const char *user, mode_t mode)
{
	struct stat st;
	ck_assert_msg(stat(in_devshm(rel), &st) == 0, "%s: %s", rel,
		      strerror(errno));
	ck_assert_int_eq(st.st_uid, uid_of(user));
	ck_assert_int_eq(st.st_gid, gid_of(user));
	ck_assert_int_eq(st.st_mode, S_IFREG | mode);
}

static int exists(const char *rel)
{
	struct stat st;
	return stat(in_devshm(rel), &st) == 0;
}

/* The names in /dev/shm, sorted and joined by spaces ("" if empty). */
static const char *listing(void)
{
	static char buf[4096];
	struct dirent **names;
	int n = scandir(DEVSHM, &names, NULL, alphasort);
	ck_assert_int_ge(n, 0);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *d = names[i]->d_name;
		if (strcmp(d, ".") && strcmp(d, "..")) {
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof(buf) - len, "%s%s",
				 len ? " " : "", d);
		}
		free(names[i]);
	}
	free(names);
	return buf;
}

static void unmount_devshm(struct tmount *m)
{
	ck_assert_int_eq(tmount_stop(m), 0);
	ck_assert(!is_fuse(DEVSHM));
}

/* The runner's pid names the marker, so that its teardown can find it. */
static const char *marker(pid_t runner)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), MARKER_PREFIX "%d", (int)runner);
	return buf;
}

/* Runs in the Check runner: the marker is on the real /dev/shm. */
static void remove_marker(void)
{
	unlink(marker(getpid()));
}

/* What /dev/shm held is hidden while mounted, and back afterwards. */
START_TEST(hides_and_restores)
{
	struct tmount m;
	char buf[16] = "";
	const char *mark = marker(getppid());
	const char *mark_name = mark + strlen(DEVSHM "/");
	int fd = open(mark, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "before", 6), 6);
	close(fd);

	mount_devshm(&m, 0);
	ck_assert_int_eq(access(mark, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(listing(), "");
	ck_assert_int_eq(shmop(U1, "create", "/inside", "0644", "4096"), 0);
	ck_assert_str_eq(listing(), "inside");
	/* Outside the namespace: the old /dev/shm, untouched. */
	ck_assert_int_eq(access(outside(mark_name), F_OK), 0);
	ck_assert_int_eq(access(outside("inside"), F_OK), -1);
	unmount_devshm(&m);

	/* Back to the old contents; the memory-backed object is gone. */
	fd = open(mark, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 6);
	ck_assert_str_eq(buf, "before");
	close(fd);
	ck_assert(!exists("inside"));
	ck_assert_int_eq(unlink(mark), 0);
}
END_TEST

/* Two users at once: data both ways, 10,000 semaphore round trips. */
START_TEST(producer_consumer)
{
	struct tmount m;
	uint64_t ack = 0;
	mount_devshm(&m, _i);
	const char *prod[] = {"shmpingpong", U1,     "producer",
			      "/pc",	     ROUNDS, NULL};
	const char *cons[] = {"shmpingpong", U2,     "consumer",
			      "/pc",	     ROUNDS, NULL};
	pid_t p = spawn(prod), c = spawn(cons);
	ck_assert_int_eq(twait(c, HELPER_WAIT_MS), 0);
	ck_assert_int_eq(twait(p, HELPER_WAIT_MS), 0);

	/* Each owns what it created; glibc left no temporary names. */
	ck_assert_str_eq(listing(), "pc sem.pc.ping sem.pc.pong");
	assert_owner("pc", U1, 0666);
	assert_owner("sem.pc.ping", U1, 0666);
	assert_owner("sem.pc.pong", U2, 0666);
	struct stat st;
	ck_assert_int_eq(stat(in_devshm("pc"), &st), 0);
	ck_assert_int_eq(st.st_size, PINGPONG_SIZE);
	/* read() sees the consumer's last store through its view. */
	int fd = open(in_devshm("pc"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &ack, sizeof(ack), 0), sizeof(ack));
	ck_assert_int_eq(ack, atoi(ROUNDS));
	close(fd);

	/* Sticky /dev/shm: not each other's to remove (glibc turns the
	 * kernel's EPERM into EACCES); each removes its own. */
	ck_assert_int_eq(shmop(U2, "unlink", "/pc", NULL, NULL), EACCES);
	ck_assert_int_eq(shmop(U2, "sem-unlink", "/pc.ping", NULL, NULL),
			 EACCES);
	ck_assert_int_eq(shmop(U1, "sem-unlink", "/pc.pong", NULL, NULL),
			 EACCES);
	ck_assert_str_eq(listing(), "pc sem.pc.ping sem.pc.pong");
	ck_assert_int_eq(shmop(U1, "unlink", "/pc", NULL, NULL), 0);
	ck_assert_int_eq(shmop(U1, "sem-unlink", "/pc.ping", NULL, NULL), 0);
	ck_assert_int_eq(shmop(U2, "sem-unlink", "/pc.pong", NULL, NULL), 0);
	ck_assert_str_eq(listing(), "");
	unmount_devshm(&m);
}
END_TEST

/* 0600 keeps others out, 0644 lets them read, never write or unlink. */
START_TEST(permissions)
{
	struct tmount m;
	mount_devshm(&m, _i);
	ck_assert_int_eq(shmop(U1, "create", "/priv", "0600", "4096"), 0);
	ck_assert_int_eq(shmop(U1, "create", "/pub", "0644", "8192"), 0);
	assert_owner("priv", U1, 0600);
	assert_owner("pub", U1, 0644);

	ck_assert_int_eq(shmop(U1, "check", "/priv", "4096", NULL), 0);
	ck_assert_int_eq(shmop(U2, "open-ro", "/priv", NULL, NULL), EACCES);
	ck_assert_int_eq(shmop(U2, "open-rw", "/priv", NULL, NULL), EACCES);
	ck_assert_int_eq(shmop(U2, "check", "/pub", "8192", NULL), 0);
	ck_assert_int_eq(shmop(U2, "open-rw", "/pub", NULL, NULL), EACCES);
	ck_assert_int_eq(shmop(U2, "unlink", "/priv", NULL, NULL), EACCES);
	ck_assert_int_eq(shmop(U2, "unlink", "/pub", NULL, NULL), EACCES);
	/* Root is root, as on tmpfs. */
	ck_assert_int_eq(shmop("-", "check", "/priv", "4096", NULL), 0);
	ck_assert_str_eq(listing(), "priv pub");

	ck_assert_int_eq(shmop(U1, "unlink", "/priv", NULL, NULL), 0);
	ck_assert_int_eq(shmop(U1, "unlink", "/pub", NULL, NULL), 0);
	ck_assert_int_eq(shmop(U1, "open-ro", "/pub", NULL, NULL), ENOENT);
	ck_assert_str_eq(listing(), "");
	unmount_devshm(&m);
}
END_TEST

/* O_CREAT|O_EXCL on an existing name fails EEXIST, for either call. */
START_TEST(exclusive_create)
{
	struct tmount m;
	mount_devshm(&m, _i);
	ck_assert_int_eq(shmop(U1, "create", "/x", "0644", "4096"), 0);
	ck_assert_int_eq(shmop(U1, "excl", "/x", NULL, NULL), EEXIST);
	ck_assert_int_eq(shmop(U2, "excl", "/x", NULL, NULL), EEXIST);
	ck_assert_int_eq(shmop(U2, "check", "/x", "4096", NULL), 0);

	ck_assert_int_eq(shmop(U1, "sem-create", "/s", "3", NULL), 0);
	ck_assert_int_eq(shmop(U1, "sem-create", "/s", "0", NULL), EEXIST);
	ck_assert_int_eq(shmop(U2, "sem-create", "/s", "0", NULL), EEXIST);
	/* Without O_EXCL, O_CREAT attaches: the value stays 3. */
	ck_assert_int_eq(shmop(U2, "sem-attach", "/s", "3", NULL), 0);
	ck_assert_int_eq(shmop(U2, "sem-value", "/s", "3", NULL), 0);
	assert_owner("sem.s", U1, 0666);

	/* Once unlinked, the name is free for anyone. */
	ck_assert_int_eq(shmop(U1, "sem-unlink", "/s", NULL, NULL), 0);
	ck_assert_int_eq(shmop(U2, "sem-value", "/s", "3", NULL), ENOENT);
	ck_assert_int_eq(shmop(U2, "sem-create", "/s", "5", NULL), 0);
	ck_assert_int_eq(shmop(U1, "sem-value", "/s", "5", NULL), 0);
	assert_owner("sem.s", U2, 0666);
	ck_assert_str_eq(listing(), "sem.s x");
	unmount_devshm(&m);
}
END_TEST

/* A full /dev/shm (containers give it 64 MiB): growth past size= fails
 * ENOSPC at ftruncate, where tmpfs would SIGBUS at the first store, and
 * the space comes back with the unlink. */
START_TEST(full_devshm)
{
	struct tmount m;
	/* Committed, as programs that size a segment expect of a full
	 * mount: ENOSPC at the truncate. (Sparse, the default, behaves as
	 * tmpfs: a store into a page that does not fit is SIGBUS.) */
	mount_devshm_opts(&m, 0, OPTS ",size=64k,commit=committed");
	ck_assert_int_eq(shmop(U1, "create", "/big", "0644", "131072"), ENOSPC);
	ck_assert_int_eq(shmop(U1, "create", "/fits", "0644", "61440"), 0);
	ck_assert_int_eq(shmop(U1, "sem-create", "/s", "1", NULL), 0);
	ck_assert_int_eq(shmop(U2, "create", "/more", "0644", "8192"), ENOSPC);
	ck_assert_int_eq(shmop(U1, "check", "/fits", "61440", NULL), 0);
	ck_assert_int_eq(shmop(U1, "unlink", "/fits", NULL, NULL), 0);
	ck_assert_int_eq(shmop(U2, "create", "/more2", "0644", "8192"), 0);
	ck_assert_int_eq(shmop(U2, "sem-value", "/s", "1", NULL), 0);
	/* The failed creations left their names, empty, as on tmpfs. */
	ck_assert_str_eq(listing(), "big more more2 sem.s");
	unmount_devshm(&m);
}
END_TEST

/* File-backed, /dev/shm outlives the mount: objects and semaphores come
 * back, with their owners, data and counts, when it is mounted again. */
START_TEST(file_backed_persists)
{
	struct tmount m;
	struct stat st;
	mount_devshm(&m, 1);
	ck_assert_int_eq(shmop(U1, "create", "/keep", "0644", "8192"), 0);
	ck_assert_int_eq(shmop(U1, "sem-create", "/ks", "3", NULL), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert(!is_fuse(DEVSHM));
	ck_assert_int_eq(stat(tmount_bpath(&m, "keep"), &st), 0);
	ck_assert_int_eq(st.st_uid, uid_of(U1));
	ck_assert_int_eq(st.st_size, 8192);
	ck_assert_int_eq(stat(tmount_bpath(&m, "sem.ks"), &st), 0);

	ck_assert_int_eq(tmount_restart(&m, OPTS), 0);
	ck_assert(is_fuse(DEVSHM));
	ck_assert_str_eq(listing(), "keep sem.ks");
	assert_owner("keep", U1, 0644);
	assert_owner("sem.ks", U1, 0666);
	ck_assert_int_eq(shmop(U2, "check", "/keep", "8192", NULL), 0);
	ck_assert_int_eq(shmop(U2, "sem-value", "/ks", "3", NULL), 0);
	unmount_devshm(&m);
}
END_TEST

/* shm_unlink takes the name, not the mapping; sizes follow ftruncate. */
START_TEST(unlinked_and_sizes)
{
	struct tmount m;
	struct stat st;
	mount_devshm(&m, 0);
	ck_assert_int_eq(shmop(U1, "unlinked", "/gone", NULL, NULL), 0);
	ck_assert(!exists("gone"));

	ck_assert_int_eq(shmop(U1, "sizes", "/sz", NULL, NULL), 0);
	ck_assert_int_eq(stat(in_devshm("sz"), &st), 0);
	ck_assert_int_eq(st.st_size, 1048579);
	ck_assert_int_eq(shmop(U1, "create", "/odd", "0644", "12345"), 0);
	ck_assert_int_eq(shmop(U2, "check", "/odd", "12345", NULL), 0);
	/* The helper's checks do check. */
	ck_assert_int_eq(shmop_quietly(U2, "check", "/odd", "12346", NULL),
			 250);
	/* fallocate, fchmod, an executable view, O_TRUNC, statvfs. */
	ck_assert_int_eq(shmop(U1, "extras", "/extras", NULL, NULL), 0);
	assert_owner("extras", U1, 0640);
	ck_assert_str_eq(listing(), "extras odd sz");
	unmount_devshm(&m);
}
END_TEST

/* Racing creators: one wins O_EXCL; sem_open(O_CREAT) joins one. */
START_TEST(creation_races)
{
	struct tmount m;
	int st[NRACERS], winners = 0, winner = -1;
	mount_devshm(&m, _i);
	race("excl", "/r", st);
	for (int i = 0; i < NRACERS; i++) {
		ck_assert_msg(st[i] == 0 || st[i] == EEXIST,
			      "racer %d: status %d", i, st[i]);
		if (st[i] == 0) {
			winners++;
			winner = i;
		}
	}
	ck_assert_int_eq(winners, 1);
	assert_owner("r", winner % 2 ? U2 : U1, 0600);

	/* glibc creates a temporary file and link()s it into place: all
	 * racers must share the one semaphore, and no temporary remain. */
	race("sem-join", "/j", st);
	for (int i = 0; i < NRACERS; i++)
		ck_assert_msg(st[i] == 0, "racer %d: status %d", i, st[i]);
	char n[16];
	snprintf(n, sizeof(n), "%d", NRACERS);
	ck_assert_int_eq(shmop(U1, "sem-value", "/j", n, NULL), 0);
	ck_assert_str_eq(listing(), "r sem.j");
	unmount_devshm(&m);
}
END_TEST

/* Eight processes create-or-open, use and unlink one name at once: an
 * object that loses its name keeps working for whoever opened it. */
START_TEST(name_churn)
{
	struct tmount m;
	mount_devshm(&m, _i);
	const char *argv[] = {"shmchurn", U1, "/churn", "8", "1000", NULL};
	ck_assert_int_eq(twait(spawn(argv), HELPER_WAIT_MS), 0);
	ck_assert_str_eq(listing(), "");
	unmount_devshm(&m);
}
END_TEST

/* A robust process-shared mutex in an object: two users count under it
 * at once and none is lost; its holder dies and the next one recovers. */
START_TEST(shared_mutexes)
{
	struct tmount m;
	mount_devshm(&m, 0);
	const char *init[] = {"shmmutex", U1, "init", "/mx", NULL};
	const char *c1[] = {"shmmutex", U1, "count", "/mx", "200000", NULL};
	const char *c2[] = {"shmmutex", U2, "count", "/mx", "200000", NULL};
	const char *die[] = {"shmmutex", U2, "die", "/mx", NULL};
	const char *rec[] = {"shmmutex", U1, "recover", "/mx", "400001", NULL};
	ck_assert_int_eq(twait(spawn(init), HELPER_WAIT_MS), 0);
	pid_t p1 = spawn(c1), p2 = spawn(c2);
	ck_assert_int_eq(twait(p1, HELPER_WAIT_MS), 0);
	ck_assert_int_eq(twait(p2, HELPER_WAIT_MS), 0);
	ck_assert_int_eq(twait(spawn(die), HELPER_WAIT_MS), 0);
	ck_assert_int_eq(twait(spawn(rec), HELPER_WAIT_MS), 0);
	unmount_devshm(&m);
}
END_TEST

/* Unmount while a process still maps an object (a container stopping):
 * umount is refused, a lazy one detaches /dev/shm at once, the process
 * keeps a working mapping, and the daemon exits 0 once it is gone. */
START_TEST(lazy_unmount_while_mapped)
{
	struct tmount m;
	int to[2], from[2];
	char c;
	mount_devshm(&m, 0);
	/* Close-on-exec: the holder must not keep its own stdin open. */
	ck_assert(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0);
	const char *argv[] = {"shmop", U1, "hold", "/held", NULL};
	pid_t holder = spawn_with_pipes(argv, to[0], from[1]);
	close(to[0]);
	close(from[1]);
	/* "r": the holder has the object open and a view with a store. */
	struct pollfd pfd = {.fd = from[0], .events = POLLIN};
	ck_assert_int_eq(poll(&pfd, 1, HELPER_WAIT_MS), 1);
	ck_assert_int_eq(read(from[0], &c, 1), 1);
	ck_assert_int_eq(umount2(DEVSHM, 0), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(umount2(DEVSHM, MNT_DETACH), 0);
	ck_assert(!is_fuse(DEVSHM));
	close(to[1]); /* go on: store to a new page, check, exit */
	ck_assert_int_eq(twait(holder, HELPER_WAIT_MS), 0);
	close(from[0]);
	/* The harness finds nothing left to unmount and reaps the daemon. */
	unmount_devshm(&m);
}
END_TEST

/*
 * Python's multiprocessing, unmodified, as a non-root user: a
 * SharedMemory block (shm_open) and a Semaphore (sem_open) shared with a
 * forked child.
 */
#define PY_MP                                                                  \
	"import os\n"                                                          \
	"from multiprocessing import Process, Semaphore, shared_memory\n"      \
	"def child(name, sem):\n"                                              \
	"    s = shared_memory.SharedMemory(name=name)\n"                      \
	"    s.buf[:5] = bytes(b\"child\")\n"                                  \
	"    s.close()\n"                                                      \
	"    sem.release()\n"                                                  \
	"shm = shared_memory.SharedMemory(create=True, size=8192)\n"           \
	"assert shm.name in os.listdir(\"/dev/shm\"), \"not in /dev/shm\"\n"   \
	"st = os.stat(\"/dev/shm/\" + shm.name)\n"                             \
	"assert st.st_uid == os.getuid() and st.st_size == 8192\n"             \
	"sem = Semaphore(0)\n"                                                 \
	"p = Process(target=child, args=(shm.name, sem))\n"                    \
	"p.start()\n"                                                          \
	"assert sem.acquire(timeout=10), \"semaphore never posted\"\n"         \
	"assert bytes(shm.buf[:5]) == b\"child\", \"store lost\"\n"            \
	"p.join(10)\n"                                                         \
	"assert p.exitcode == 0\n"                                             \
	"shm.close()\n"                                                        \
	"shm.unlink()\n"                                                       \
	"assert shm.name not in os.listdir(\"/dev/shm\")\n"

START_TEST(python_multiprocessing)
{
	struct tmount m;
	mount_devshm(&m, 0);
	/* Debian's python3, not whatever PATH finds first. */
	const char *argv[] = {
	    "/usr/bin/setpriv", "--reuid=" U1, "--regid=" U1, "--clear-groups",
	    "/usr/bin/python3", "-c",	       PY_MP,	      NULL,
	};
	int st = twait(spawn(argv), HELPER_WAIT_MS);
	ck_assert_int_eq(st, 0);
	ck_assert_str_eq(listing(), "");
	unmount_devshm(&m);
}
END_TEST

int main(void)
{
	snprintf(log_base, sizeof(log_base), "%.200s/shmapfs-devshm.XXXXXX",
		 test_tmpdir());
	if (!mkdtemp(log_base)) {
		perror("mkdtemp");
		return 1;
	}
	Suite *s = suite_create("devshm");
	TCase *tc = tcase_create("devshm");
	/* Each test unshares its own mount namespace: never in the runner. */
	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, NULL, remove_marker);
	/* Loop tests: _i 0 memory-backed, 1 file-backed. */
	tcase_add_test(tc, hides_and_restores);
	tcase_add_loop_test(tc, producer_consumer, 0, 2);
	tcase_add_loop_test(tc, permissions, 0, 2);
	tcase_add_loop_test(tc, exclusive_create, 0, 2);
	tcase_add_test(tc, unlinked_and_sizes);
	tcase_add_test(tc, file_backed_persists);
	tcase_add_test(tc, full_devshm);
	tcase_add_loop_test(tc, creation_races, 0, 2);
	tcase_add_loop_test(tc, name_churn, 0, 2);
	tcase_add_test(tc, shared_mutexes);
	tcase_add_test(tc, lazy_unmount_while_mapped);
	tcase_add_test(tc, python_multiprocessing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tsh(30, "rm -rf '%s'", log_base);
	return failed ? 1 : 0;
}
