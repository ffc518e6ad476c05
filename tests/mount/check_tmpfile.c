/*
 * Mount tests of O_TMPFILE (issue 21), memory- and file-backed: the same
 * calls (open, write, linkat by descriptor and through /proc, O_EXCL,
 * relinking, reopening, a directory's file flags) on a tmpfs and on the mount
 * give the same answers; an unnamed mapping is shared by mmap between processes
 * that get its descriptor (fork, SCM_RIGHTS); its store is freed when the last
 * descriptor closes unnamed; linked, it survives a remount; where the
 * transport is fenced (SHMAPFS_TEST_NO_TMPFILE) O_TMPFILE gives
 * EOPNOTSUPP; several processes make, name and drop them at once; and
 * where the backing filesystem has no O_TMPFILE
 * (SHMAPFS_TEST_NO_BACKING_TMPFILE) the store sits under a hidden name.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define PAGE	   4096
#define MB	   (1 << 20)
#define WAIT_MS	   10000 /* for the kernel's forget to reach the daemon */
#define HIDDEN_PRE ".shmapfs-tmpfile."

static struct tmount m;

static void mount_memory(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, NULL), 0);
}

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/* What the calls answered (0 or -errno) and what was seen. */
struct outcome {
	int open, open_rdonly;
	int nlink0, mode0, entries0;
	int link_empty, link_proc, link_exists, relink;
	int nlink_a, size_a, data_a;
	int reopen, data_reopen;
	int excl_empty, excl_proc, excl_entries;
	int inherited, in_immutable; /* file flags of the directory */
};

static int res(int r)
{
	return r < 0 ? -errno : r;
}

/* Names in dir, "." and ".." aside. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static int link_by_proc(int fd, int dirfd, const char *name)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return res(linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW));
}

static int reads(int fd, const char *want)
{
	char buf[16] = {0};
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	return n == (ssize_t)strlen(want) && !strcmp(buf, want);
}

/* A directory's file flags, as chattr sets them: what an unnamed mapping
 * made in it inherits, and that an immutable one refuses it (EPERM). */
static void scenario_flags(int dfd, struct outcome *o)
{
	int flags = FS_NOATIME_FL | FS_NODUMP_FL;
	if (mkdirat(dfd, "sub", 0755) < 0)
		return;
	int sub = openat(dfd, "sub", O_RDONLY | O_DIRECTORY);
	if (sub >= 0 && ioctl(sub, FS_IOC_SETFLAGS, &flags) == 0) {
		int fd = openat(sub, ".", O_TMPFILE | O_RDWR, 0600);
		o->inherited = fd < 0 ? -errno : 0;
		if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &o->inherited) < 0)
			o->inherited = -errno;
		if (fd >= 0)
			close(fd);
		flags = FS_IMMUTABLE_FL;
		ioctl(sub, FS_IOC_SETFLAGS, &flags);
		fd = openat(sub, ".", O_TMPFILE | O_RDWR, 0600);
		o->in_immutable = fd < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
		flags = 0;
		ioctl(sub, FS_IOC_SETFLAGS, &flags);
	}
	if (sub >= 0)
		close(sub);
	unlinkat(dfd, "sub", AT_REMOVEDIR);
}

/* The calls of the comparison, in dir (then empty again). */
static void scenario(const char *dir, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	umask(022);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int fd = open(dir, O_TMPFILE | O_RDWR, 0666);
	o->open = fd < 0 ? -errno : 0;
	o->open_rdonly = res(open(dir, O_TMPFILE | O_RDONLY, 0666));
	if (fd < 0 || dfd < 0)
		return;
	struct stat st;
	fstat(fd, &st);
	o->nlink0 = (int)st.st_nlink;
	o->mode0 = (int)(st.st_mode & 07777);
	o->entries0 = entries(dir);
	(void)!pwrite(fd, "hello", 5, 0);
	o->link_empty = res(linkat(fd, "", dfd, "a", AT_EMPTY_PATH));
	o->link_proc = link_by_proc(fd, dfd, "b");
	o->link_exists = link_by_proc(fd, dfd, "a");
	if (fstatat(dfd, "a", &st, 0) == 0) {
		o->nlink_a = (int)st.st_nlink;
		o->size_a = (int)st.st_size;
	}
	int afd = openat(dfd, "a", O_RDONLY);
	o->data_a = afd >= 0 && reads(afd, "hello");
	if (afd >= 0)
		close(afd);
	unlinkat(dfd, "a", 0);
	unlinkat(dfd, "b", 0);
	o->relink = res(linkat(fd, "", dfd, "c", AT_EMPTY_PATH));
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int again = open(path, O_RDWR);
	o->reopen = again < 0 ? -errno : 0;
	o->data_reopen = again >= 0 && reads(again, "hello");
	if (again >= 0)
		close(again);
	close(fd);

	int xfd = open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
	if (xfd >= 0) {
		o->excl_empty = res(linkat(xfd, "", dfd, "d", AT_EMPTY_PATH));
		o->excl_proc = link_by_proc(xfd, dfd, "e");
		o->excl_entries = entries(dir);
		close(xfd);
	}
	scenario_flags(dfd, o);
	close(dfd);
}

/* The scenario in a child, its outcome in shared memory: in a mount
 * namespace of its own on a fresh tmpfs when tmpfs is 1 (gone with the
 * child, whatever happens), else in dir. */
static struct outcome *shared_outcome(void)
{
	void *p = mmap(NULL, sizeof(struct outcome), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

struct run {
	const char *dir;
	int tmpfs;
	struct outcome *out;
};

static int run_scenario(void *arg)
{
	struct run *r = arg;
	if (r->tmpfs &&
	    (unshare(CLONE_NEWNS) < 0 ||
	     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	     mount("tmpfs", r->dir, "tmpfs", 0, "size=4m") < 0))
		return 2;
	scenario(r->dir, r->out);
	return 0;
}

static void check_outcome(const struct outcome *o)
{
	ck_assert_int_eq(o->open, 0);
	ck_assert_int_eq(o->open_rdonly, -EINVAL);
	ck_assert_int_eq(o->nlink0, 0);
	ck_assert_int_eq(o->mode0, 0644);
	ck_assert_int_eq(o->entries0, 0);
	ck_assert_int_eq(o->link_empty, 0);
	ck_assert_int_eq(o->link_proc, 0);
	ck_assert_int_eq(o->link_exists, -EEXIST);
	ck_assert_int_eq(o->nlink_a, 2);
	ck_assert_int_eq(o->size_a, 5);
	ck_assert_int_eq(o->data_a, 1);
	ck_assert_int_eq(o->relink, -ENOENT);
	ck_assert_int_eq(o->reopen, 0);
	ck_assert_int_eq(o->data_reopen, 1);
	ck_assert_int_eq(o->excl_empty, -ENOENT);
	ck_assert_int_eq(o->excl_proc, -ENOENT);
	ck_assert_int_eq(o->excl_entries, 0);
	ck_assert_int_eq(o->inherited, FS_NOATIME_FL | FS_NODUMP_FL);
	ck_assert_int_eq(o->in_immutable, -EPERM);
}

#define SAME(f)                                                                \
	ck_assert_msg(got->f == want->f, #f ": shmapfs %d, tmpfs %d", got->f,  \
		      want->f)

static void compare(const struct outcome *got, const struct outcome *want)
{
	SAME(open);
	SAME(open_rdonly);
	SAME(nlink0);
	SAME(mode0);
	SAME(entries0);
	SAME(link_empty);
	SAME(link_proc);
	SAME(link_exists);
	SAME(relink);
	SAME(nlink_a);
	SAME(size_a);
	SAME(data_a);
	SAME(reopen);
	SAME(data_reopen);
	SAME(excl_empty);
	SAME(excl_proc);
	SAME(excl_entries);
	SAME(inherited);
	SAME(in_immutable);
	ck_assert_mem_eq(got, want, sizeof(*want)); /* a field left out */
}

/* tmpfs is the reference: the same calls, the same answers. */
START_TEST(answers_as_tmpfs)
{
	char ref[PATH_MAX];
	snprintf(ref, sizeof(ref), "%s/tmpfs-ref.XXXXXX", test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(ref));
	struct outcome *want = shared_outcome(), *got = shared_outcome();
	struct run r = {ref, 1, want};
	int status = in_child(run_scenario, &r, (uid_t)-1, (gid_t)-1, 30);
	rmdir(ref);
	ck_assert_int_eq(status, 0);
	r = (struct run){m.mnt, 0, got};
	ck_assert_int_eq(in_child(run_scenario, &r, (uid_t)-1, (gid_t)-1, 30),
			 0);
	check_outcome(want); /* the reference is what the test expects */
	compare(got, want);
	ck_assert_int_eq(entries(m.mnt), 0);
}
END_TEST

static int open_tmpfile(size_t size)
{
	int fd = open(m.mnt, O_TMPFILE | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static volatile int *view(int fd)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* Wait for *v to become want, at most WAIT_MS: 1 if it did. */
static int wait_value(volatile int *v, int want)
{
	for (int waited = 0; waited < WAIT_MS; waited++) {
		if (*v == want)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* Wait for count() to say want, at most WAIT_MS: 1 if it did. */
static int wait_count(int (*count)(void), int want)
{
	for (int waited = 0; waited < WAIT_MS; waited += 5) {
		if (count() == want)
			return 1;
		usleep(5000);
	}
	return 0;
}

/* A child forked with the descriptor maps it, writes through its own
 * view, and sees the parent's write in its view. */
START_TEST(shared_across_fork)
{
	int fd = open_tmpfile(PAGE);
	volatile int *v = view(fd);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		volatile int *w =
		    mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (w == MAP_FAILED)
			_exit(2);
		w[0] = 0x1234;
		_exit(wait_value(&w[1], 0x5678) ? 0 : 3);
	}
	ck_assert(wait_value(&v[0], 0x1234));
	v[1] = 0x5678;
	ck_assert_int_eq(twait(pid, WAIT_MS), 0);
	ck_assert_int_eq(munmap((void *)v, PAGE), 0); /* else the mount stays */
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

static void send_fd(int sock, int fd)
{
	char byte = 'f';
	struct iovec iov = {&byte, 1};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ck_assert_int_eq(sendmsg(sock, &msg, 0), 1);
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {&byte, 1};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct pollfd p = {.fd = sock, .events = POLLIN};
	if (poll(&p, 1, WAIT_MS) != 1 || recvmsg(sock, &msg, 0) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* A process that existed before the mapping gets its descriptor over a
 * socket, maps it, and both see each other's writes. */
START_TEST(shared_by_scm_rights)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		int fd = recv_fd(sv[1]);
		if (fd < 0)
			_exit(2);
		volatile int *w =
		    mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (w == MAP_FAILED)
			_exit(3);
		w[0] = 0xabcd;
		_exit(wait_value(&w[1], 0xef01) ? 0 : 4);
	}
	close(sv[1]);
	int fd = open_tmpfile(PAGE);
	volatile int *v = view(fd);
	send_fd(sv[0], fd);
	ck_assert(wait_value(&v[0], 0xabcd));
	v[1] = 0xef01;
	ck_assert_int_eq(twait(pid, WAIT_MS), 0);
	ck_assert_int_eq(munmap((void *)v, PAGE), 0);
	close(sv[0]);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

static struct statvfs mount_statfs(void)
{
	struct statvfs sv;
	ck_assert_int_eq(statvfs(m.mnt, &sv), 0);
	return sv;
}

/* Memory-backed: what an unnamed mapping took (pages, an entry) comes
 * back once its last descriptor closes. */
START_TEST(freed_after_close_memory)
{
	struct statvfs before = mount_statfs();
	int fd = open_tmpfile(0);
	static char buf[8 * MB];
	memset(buf, 0x5a, sizeof(buf));
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(fsync(fd), 0);
	struct statvfs during = mount_statfs();
	ck_assert_uint_le(during.f_bfree * during.f_frsize,
			  before.f_bfree * before.f_frsize - sizeof(buf));
	ck_assert_uint_eq(during.f_ffree, before.f_ffree - 1);
	ck_assert_int_eq(close(fd), 0);
	struct statvfs after = mount_statfs();
	for (int waited = 0;
	     waited < WAIT_MS &&
	     (after.f_bfree < before.f_bfree || after.f_ffree < before.f_ffree);
	     waited += 5) {
		usleep(5000);
		after = mount_statfs();
	}
	ck_assert_uint_eq(after.f_bfree, before.f_bfree);
	ck_assert_uint_eq(after.f_ffree, before.f_ffree);
}
END_TEST

/* How many unnamed files of the backing filesystem the daemon holds open
 * (its paths are its own: it sees the backing directory as its root; and
 * it holds Check's unlinked log file of the test too, so compare with
 * the count before). */
static int daemon_unnamed_fds(void)
{
	struct stat bst;
	ck_assert_int_eq(stat(m.backing, &bst), 0);
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)m.pid);
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_dev == bst.st_dev && st.st_nlink == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* File-backed: the store is an unnamed file of the backing directory
 * (no name there), and the daemon lets it go with the last close. */
START_TEST(freed_after_close_file)
{
	int before = daemon_unnamed_fds();
	int fd = open_tmpfile(0);
	static char buf[MB];
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(daemon_unnamed_fds(), before + 1);
	ck_assert_int_eq(entries(m.backing), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(wait_count(daemon_unnamed_fds, before));
	ck_assert_int_eq(entries(m.backing), 0);
}
END_TEST

static int link_tmpfile(int fd, const char *name)
{
	return linkat(fd, "", AT_FDCWD, tmount_path(&m, name), AT_EMPTY_PATH);
}

/* File-backed: a name given by linkat is a backing file like any other,
 * there after a remount with what was written. */
START_TEST(linked_survives_remount)
{
	int fd = open_tmpfile(0);
	ck_assert_int_eq(pwrite(fd, "persist", 7, 0), 7);
	ck_assert_int_eq(link_tmpfile(fd, "kept"), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	char buf[16] = {0};
	ck_assert_int_eq(get_file(tmount_bpath(&m, "kept"), buf, 15), 7);
	ck_assert_str_eq(buf, "persist");
	ck_assert_int_eq(tmount_restart(&m, NULL), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(get_file(tmount_path(&m, "kept"), buf, 15), 7);
	ck_assert_str_eq(buf, "persist");
}
END_TEST

static int hidden_entries(void)
{
	DIR *d = opendir(m.backing);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, HIDDEN_PRE, strlen(HIDDEN_PRE));
	closedir(d);
	return n;
}

/* A backing filesystem without O_TMPFILE: the store sits under a hidden
 * name that the mount never shows; link moves it to its name, the last
 * close of one never named removes it, and so does the next mount for
 * one a dead daemon left. */
START_TEST(hidden_store_without_backing_tmpfile)
{
	ck_assert_int_eq(tmount_unmount(&m), 0);
	char left[PATH_MAX];
	snprintf(left, sizeof(left), "%s", tmount_bpath(&m, HIDDEN_PRE "ff"));
	ck_assert_int_eq(put_file(left, "old", 3, 0600), 0);
	setenv("SHMAPFS_TEST_NO_BACKING_TMPFILE", "1", 1);
	int started = tmount_restart(&m, NULL);
	unsetenv("SHMAPFS_TEST_NO_BACKING_TMPFILE");
	ck_assert_int_eq(started, 0);
	ck_assert_int_eq(hidden_entries(), 0); /* the leftover went */

	int fd = open_tmpfile(0);
	ck_assert_int_eq(pwrite(fd, "hidden", 6, 0), 6);
	ck_assert_int_eq(hidden_entries(), 1);
	ck_assert_int_eq(entries(m.mnt), 0);
	ck_assert_int_eq(link_tmpfile(fd, "named"), 0);
	ck_assert_int_eq(hidden_entries(), 0);
	ck_assert_int_eq(close(fd), 0);
	struct stat st;
	ck_assert_int_eq(stat(tmount_bpath(&m, "named"), &st), 0);
	ck_assert_int_eq(st.st_size, 6);
	char buf[16] = {0};
	ck_assert_int_eq(get_file(tmount_path(&m, "named"), buf, 15), 6);
	ck_assert_str_eq(buf, "hidden");

	fd = open_tmpfile(PAGE);
	ck_assert_int_eq(hidden_entries(), 1);
	ck_assert_int_eq(close(fd), 0);
	ck_assert(wait_count(hidden_entries, 0));
	ck_assert_int_eq(entries(m.mnt), 1);
}
END_TEST

/* Fenced (as on a kernel without FUSE_TMPFILE): EOPNOTSUPP, as before,
 * and the daemon says so. */
START_TEST(fenced_gives_eopnotsupp)
{
	ck_assert_int_eq(tmount_unmount(&m), 0);
	setenv("SHMAPFS_TEST_NO_TMPFILE", "1", 1);
	int started = tmount_restart(&m, NULL);
	unsetenv("SHMAPFS_TEST_NO_TMPFILE");
	ck_assert_int_eq(started, 0);
	for (int i = 0; i < 2; i++) { /* the daemon's answer, the kernel's */
		errno = 0;
		ck_assert_int_eq(open(m.mnt, O_TMPFILE | O_RDWR, 0600), -1);
		ck_assert_int_eq(errno, EOPNOTSUPP);
	}
	char log[8192] = {0};
	ck_assert_int_gt(get_file(m.log, log, sizeof(log) - 1), 0);
	ck_assert_ptr_nonnull(strstr(log, "O_TMPFILE: off"));
	ck_assert_int_eq(entries(m.mnt), 0);
}
END_TEST

#define CHURNERS 4
#define CHURN	 150 /* unnamed mappings each */

/* Whether path holds want at off. */
static int path_reads(const char *path, off_t off, const char *want)
{
	char got[32] = {0};
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, got, sizeof(got) - 1, off);
	close(fd);
	return n > 0 && !strcmp(got, want);
}

/* One churner: unnamed mappings made, stored into through a view, some
 * named (and read back by name), some made with O_EXCL, all closed.
 * Keeps the names of every sixth. */
static int churn(void *arg)
{
	int p = *(int *)arg;
	for (int i = 0; i < CHURN; i++) {
		int excl = i % 5 == 0, named = i % 3 == 0 && !excl;
		int fd =
		    open(m.mnt, O_TMPFILE | O_RDWR | (excl ? O_EXCL : 0), 0600);
		if (fd < 0 || ftruncate(fd, 2 * PAGE) < 0)
			return 2;
		char *v = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);
		if (v == MAP_FAILED)
			return 3;
		char want[32], name[32];
		snprintf(want, sizeof(want), "p%d i%d", p, i);
		snprintf(name, sizeof(name), "n%d-%d", p, i);
		strcpy(v + PAGE, want);
		munmap(v, 2 * PAGE);
		if (named && (link_tmpfile(fd, name) < 0 ||
			      !path_reads(tmount_path(&m, name), PAGE, want)))
			return 4;
		if (named && i % 2 && unlink(tmount_path(&m, name)) < 0)
			return 7;
		close(fd);
	}
	return 0;
}

/* Unnamed mappings made, named and dropped by several processes at
 * once: the names kept are there, and nothing else is held. */
START_TEST(many_at_once)
{
	struct statvfs before = mount_statfs();
	int fds = m.backing[0] ? daemon_unnamed_fds() : 0;
	pid_t pids[CHURNERS];
	for (int p = 0; p < CHURNERS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0)
			_exit(churn(&p));
	}
	for (int p = 0; p < CHURNERS; p++)
		ck_assert_int_eq(twait(pids[p], 60000), 0);
	int kept = 0;
	for (int i = 0; i < CHURN; i++)
		kept += i % 3 == 0 && i % 5 != 0 && i % 2 == 0;
	ck_assert_int_eq(entries(m.mnt), CHURNERS * kept);
	if (m.backing[0]) {
		ck_assert(wait_count(daemon_unnamed_fds, fds));
		return;
	}
	/* Memory-backed, the mount counts its entries itself. */
	struct statvfs after = mount_statfs();
	for (int waited = 0; waited < WAIT_MS &&
			     after.f_ffree != before.f_ffree - CHURNERS * kept;
	     waited += 5) {
		usleep(5000);
		after = mount_statfs();
	}
	ck_assert_uint_eq(after.f_ffree, before.f_ffree - CHURNERS * kept);
}
END_TEST

static TCase *mount_case(const char *name, void (*setup)(void), int file)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, unmount);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, answers_as_tmpfs);
	tcase_add_test(tc, shared_across_fork);
	tcase_add_test(tc, shared_by_scm_rights);
	tcase_add_test(tc, fenced_gives_eopnotsupp);
	tcase_add_test(tc, many_at_once);
	if (file) {
		tcase_add_test(tc, freed_after_close_file);
		tcase_add_test(tc, linked_survives_remount);
		tcase_add_test(tc, hidden_store_without_backing_tmpfile);
	} else {
		tcase_add_test(tc, freed_after_close_memory);
	}
	return tc;
}

static Suite *suite(void)
{
	Suite *s = suite_create("tmpfile");
	suite_add_tcase(s, mount_case("memory", mount_memory, 0));
	suite_add_tcase(s, mount_case("file", mount_file, 1));
	return s;
}

int main(void)
{
	return run_suite(suite());
}
