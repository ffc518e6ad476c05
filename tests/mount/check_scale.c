/*
 * Mount tests of scale (issues 12 and 21): an idle mapping holds no
 * descriptor in the daemon, so a mount holds far more mappings than the
 * daemon's RLIMIT_NOFILE; nor do mappings open at the same moment count
 * against it: past half of it the daemon parks their stores (no
 * descriptor; opened again at each use), so client processes hold 5,000
 * mappings open and mapped at once, coherent, with the daemon at 256. A
 * parked backing file stays locked while in use. The same where the pins
 * cannot be opened again (an unprivileged daemon, played by
 * SHMAPFS_TEST_NO_MAP_FILES): each use opens the file by name, follows a
 * rename, and never touches an impostor put under its name. An idle
 * mapping keeps its data, also what was stored through a view that
 * outlived the last descriptor. The limit is lowered here (prlimit on the
 * daemon) so that a few thousand mappings pass it; make bench runs the
 * million.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define NMAPPINGS      3000 /* well past FD_LIMIT */
#define FD_LIMIT       256
#define NHELD	       5000 /* open and mapped at once */
#define NCLIENTS       4
#define CLIENT_WAIT_MS 120000

static struct tmount m;

static void set_daemon_fd_limit(rlim_t n)
{
	struct rlimit rl = {n, n};
	ck_assert_int_eq(prlimit(m.pid, RLIMIT_NOFILE, &rl, NULL), 0);
}

static void mount_memory(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=64m"), 0);
	set_daemon_fd_limit(FD_LIMIT);
}

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	set_daemon_fd_limit(FD_LIMIT);
}

/* File-backed without the exclusive guard, so that the test may open a
 * backing file in use and see its lock itself. */
static void mount_file_unguarded(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, "noexclusive"), 0);
	set_daemon_fd_limit(FD_LIMIT);
}

/* File-backed as an unprivileged daemon runs it: its pins not reachable
 * through /proc/self/map_files, no exclusive guard (both need
 * CAP_SYS_ADMIN), so that a parked store is opened again by name; and no
 * watcher, so that a backing file replaced is not seen again before the
 * test uses it. */
static void mount_file_by_name(void)
{
	setenv("SHMAPFS_TEST_NO_MAP_FILES", "1", 1);
	setenv("SHMAPFS_TEST_NO_WATCH", "1", 1);
	int res = tmount_start(&m, 1, "noexclusive");
	unsetenv("SHMAPFS_TEST_NO_MAP_FILES");
	unsetenv("SHMAPFS_TEST_NO_WATCH");
	ck_assert_int_eq(res, 0);
	set_daemon_fd_limit(FD_LIMIT);
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

static const char *P(const char *name)
{
	static char buf[2][PATH_MAX + 64];
	static int i;
	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", m.mnt, name);
	return buf[i];
}

static const char *nth(int i)
{
	static char name[32];
	snprintf(name, sizeof(name), "map%05d", i);
	return P(name);
}

/* Create mapping i as a program would: a page, tagged with i. */
static void create_nth(int i)
{
	int fd = open(nth(i), O_CREAT | O_EXCL | O_RDWR, 0644);
	ck_assert_msg(fd >= 0, "create %d: %s", i, strerror(errno));
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	ck_assert_int_eq(pwrite(fd, &i, sizeof(i), 100), sizeof(i));
	ck_assert_int_eq(close(fd), 0);
}

static void expect_tag(int fd, int i)
{
	int tag = -1;
	ck_assert_int_eq(pread(fd, &tag, sizeof(tag), 100), sizeof(tag));
	ck_assert_int_eq(tag, i);
}

static int count_entries(void)
{
	return count_entries_in(m.mnt);
}

static unsigned long files_used(void)
{
	struct statvfs sv;
	ck_assert_int_eq(statvfs(m.mnt, &sv), 0);
	return sv.f_files - sv.f_ffree;
}

/*
 * The entries in use once they come back to want, or after 10 s: an
 * unlinked entry is freed when the kernel forgets its inode, which it
 * does promptly but asynchronously, so a statvfs right after the last
 * unlink may still count it.
 */
static unsigned long files_used_settled(unsigned long want)
{
	unsigned long used = files_used();
	for (int i = 0; i < 1000 && used != want; i++) {
		usleep(10000);
		used = files_used();
	}
	return used;
}

/* Create, list, stat, read and remove NMAPPINGS mappings. */
START_TEST(many_mappings)
{
	unsigned long used0 = files_used();
	for (int i = 0; i < NMAPPINGS; i++)
		create_nth(i);
	ck_assert_int_eq(count_entries(), NMAPPINGS);
	if (!m.backing[0]) /* else df -i is the backing filesystem's */
		ck_assert_uint_eq(files_used() - used0, NMAPPINGS);
	for (int i = 0; i < NMAPPINGS; i++) {
		struct stat st;
		ck_assert_int_eq(stat(nth(i), &st), 0);
		ck_assert_int_eq(st.st_size, 4096);
		ck_assert(S_ISREG(st.st_mode));
	}
	for (int i = 0; i < NMAPPINGS; i += 97) {
		int fd = open(nth(i), O_RDONLY);
		ck_assert_int_ge(fd, 0);
		expect_tag(fd, i);
		close(fd);
	}
	for (int i = 0; i < NMAPPINGS; i++)
		ck_assert_int_eq(unlink(nth(i)), 0);
	ck_assert_int_eq(count_entries(), 0);
	if (!m.backing[0])
		ck_assert_uint_eq(files_used_settled(used0), used0);
}
END_TEST

static int log_says(const char *what)
{
	char buf[65536];
	ssize_t n = get_file(m.log, buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

/* The descriptors the daemon holds now. */
static int daemon_fds(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)m.pid);
	return count_entries_in(path);
}

/* Mappings open at the same moment are not limited by the daemon's
 * descriptors: twice its limit open at once, each with its own data. */
START_TEST(open_past_daemon_limit)
{
	enum {
		N = 2 * FD_LIMIT
	};
	static int fds[N];
	for (int i = 0; i < N; i++)
		create_nth(i);
	for (int i = 0; i < N; i++) {
		fds[i] = open(nth(i), O_RDWR);
		ck_assert_msg(fds[i] >= 0, "open %d: %s", i, strerror(errno));
	}
	ck_assert_int_lt(daemon_fds(), FD_LIMIT);
	ck_assert(!log_says("RLIMIT_NOFILE"));
	for (int i = 0; i < N; i++) {
		expect_tag(fds[i], i);
		int tag = i + N;
		ck_assert_int_eq(pwrite(fds[i], &tag, sizeof(tag), 100),
				 sizeof(tag));
	}
	for (int i = 0; i < N; i++) {
		expect_tag(fds[i], i + N);
		ck_assert_int_eq(close(fds[i]), 0);
	}
}
END_TEST

/* What a client stores in its view of mapping i, and what the test
 * writes back with write(). */
#define VIEW_MARK(i)  ((i)*7 + 1)
#define WRITE_MARK(i) ((i)*13 + 5)

/* Report err (0: all well) to the test. */
static void tell(int pipe_fd, int err)
{
	ck_assert_int_eq(write(pipe_fd, &err, sizeof(err)), sizeof(err));
}

/* Wait (bounded) for a client's report. */
static int hear(int pipe_fd)
{
	struct pollfd p = {.fd = pipe_fd, .events = POLLIN};
	int err = -ETIMEDOUT;
	if (poll(&p, 1, CLIENT_WAIT_MS) == 1 &&
	    read(pipe_fd, &err, sizeof(err)) != sizeof(err))
		err = -EPIPE; /* it died */
	return err;
}

/* A client: open and map mappings [first, first + count), store a mark
 * in each view, report, and wait for the test; then report whether each
 * view shows what the test wrote with write(). Its own descriptor limit
 * is raised to fit. */
static void client(int first, int count, int report, int go)
{
	struct rlimit rl = {count + 64, count + 64};
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	static int *views[NHELD];
	int err = 0;
	for (int i = first; i < first + count && !err; i++) {
		int fd = open(nth(i), O_RDWR);
		err = fd < 0 ? errno : 0;
		views[i] = err ? MAP_FAILED
			       : mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_SHARED, fd, 0);
		if (!err && views[i] == MAP_FAILED)
			err = errno;
		if (!err)
			views[i][50] = VIEW_MARK(i); /* at byte 200 */
	}
	tell(report, err);
	char byte;
	ck_assert_int_eq(read(go, &byte, 1), 1);
	for (int i = first; i < first + count && !err; i++)
		if (views[i][75] != WRITE_MARK(i)) /* at byte 300 */
			err = EILSEQ;
	tell(report, err);
	_exit(0);
}

/* Start NCLIENTS clients holding NHELD mappings between them; reports[c]
 * and go (write a byte per client) talk to them. */
static void start_clients(pid_t *pids, int *reports, int go_read)
{
	for (int c = 0; c < NCLIENTS; c++) {
		int p[2];
		ck_assert_int_eq(pipe(p), 0);
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			close(p[0]);
			client(c * (NHELD / NCLIENTS), NHELD / NCLIENTS, p[1],
			       go_read);
		}
		close(p[1]);
		reports[c] = p[0];
	}
}

/* 5,000 mappings open and mapped at once by several processes, with the
 * daemon at a limit of 256 descriptors: every view is coherent with
 * read() and write() of another process. */
START_TEST(many_open_and_mapped)
{
	for (int i = 0; i < NHELD; i++)
		create_nth(i);
	pid_t pids[NCLIENTS];
	int reports[NCLIENTS], go[2];
	ck_assert_int_eq(pipe(go), 0);
	start_clients(pids, reports, go[0]);
	for (int c = 0; c < NCLIENTS; c++) {
		int err = hear(reports[c]);
		ck_assert_msg(err == 0, "client %d: %s", c, strerror(abs(err)));
	}
	ck_assert_int_lt(daemon_fds(), FD_LIMIT);
	/* All held: another process reads each view's mark and writes. */
	for (int i = 0; i < NHELD; i++) {
		int fd = open(nth(i), O_RDWR);
		ck_assert_msg(fd >= 0, "open %d: %s", i, strerror(errno));
		int mark = -1, back = WRITE_MARK(i);
		ck_assert_int_eq(pread(fd, &mark, sizeof(mark), 200),
				 sizeof(mark));
		ck_assert_int_eq(mark, VIEW_MARK(i));
		ck_assert_int_eq(pwrite(fd, &back, sizeof(back), 300),
				 sizeof(back));
		ck_assert_int_eq(close(fd), 0);
	}
	char bytes[NCLIENTS] = {0};
	ck_assert_int_eq(write(go[1], bytes, NCLIENTS), NCLIENTS);
	for (int c = 0; c < NCLIENTS; c++) {
		int err = hear(reports[c]);
		ck_assert_msg(err == 0, "client %d: %s", c, strerror(abs(err)));
		int status;
		ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}
END_TEST

/* An idle mapping keeps its data, and a view that outlives the last
 * descriptor keeps storing into the mapping everyone else opens. */
START_TEST(idle_keeps_data_and_views)
{
	int fd = open(P("v"), O_CREAT | O_RDWR, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(close(fd), 0);
	memcpy(p + 4096, "after close", 11);
	/* A new descriptor sees the view's stores... */
	char buf[16] = {0};
	fd = open(P("v"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 11, 4096), 11);
	ck_assert_str_eq(buf, "after close");
	/* ... and the view sees its writes. */
	ck_assert_int_eq(pwrite(fd, "written", 7, 0), 7);
	ck_assert_int_eq(memcmp(p, "written", 7), 0);
	ck_assert_int_eq(close(fd), 0);
	memcpy(p + 100, "last", 4);
	ck_assert_int_eq(munmap(p, 8192), 0);
	/* Idle now: all of it is there at the next open. */
	fd = open(P("v"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(pread(fd, buf, 4, 100), 4);
	ck_assert_str_eq(buf, "last");
	ck_assert_int_eq(pread(fd, buf, 11, 4096), 11);
	ck_assert_str_eq(buf, "after close");
	close(fd);
	struct stat st;
	ck_assert_int_eq(stat(P("v"), &st), 0);
	ck_assert_int_eq(st.st_size, 8192);
	ck_assert_int_eq(st.st_blocks, 16);
}
END_TEST

/* Truncates and attributes by name reach an idle mapping. */
START_TEST(idle_by_name)
{
	ck_assert_int_eq(put_file(P("t"), "0123456789", 10, 0644), 0);
	ck_assert_int_eq(truncate(P("t"), 4), 0);
	ck_assert_int_eq(truncate(P("t"), 8), 0);
	char buf[16];
	ck_assert_int_eq(get_file(P("t"), buf, sizeof(buf)), 8);
	ck_assert_int_eq(memcmp(buf, "0123\0\0\0\0", 8), 0);
	ck_assert_int_eq(chmod(P("t"), 0600), 0);
	struct stat st;
	ck_assert_int_eq(stat(P("t"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

/* A name in the backing directory; two may be used at once. */
static const char *backing(const char *name)
{
	static char buf[2][PATH_MAX + 64];
	static int i;
	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", m.backing, name);
	return buf[i];
}

/* A backing file is locked while its mapping is open, and only then: an
 * idle mapping leaves it to others, and is refused while they hold it. */
static void expect_locked_while_open(void)
{
	ck_assert_int_eq(put_file(P("b"), "data", 4, 0644), 0);
	int fd = open(P("b"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert(!flock_free(backing("b")));
	/* A view holds it as an open descriptor does. */
	char *p = mmap(NULL, 4, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(close(fd), 0);
	usleep(100000);
	ck_assert(!flock_free(backing("b")));
	ck_assert_int_eq(munmap(p, 4), 0);
	int free_now = 0;
	for (int t = 0; t < 500 && !(free_now = flock_free(backing("b"))); t++)
		usleep(10000); /* the release comes a moment after close */
	ck_assert(free_now);
	int other = open(backing("b"), O_RDONLY);
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(flock(other, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(open(P("b"), O_RDONLY), -1);
	ck_assert_int_eq(errno, EBUSY);
	close(other);
	fd = open(P("b"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

START_TEST(backing_locked_while_open)
{
	expect_locked_while_open();
}
END_TEST

static int past_half[FD_LIMIT];

/* Hold FD_LIMIT mappings open, so that the daemon parks what opens next
 * (past half its limit); let them go. */
static void open_past_half(void)
{
	for (int i = 0; i < FD_LIMIT; i++) {
		create_nth(i);
		past_half[i] = open(nth(i), O_RDWR);
		ck_assert_int_ge(past_half[i], 0);
	}
}

static void close_past_half(void)
{
	for (int i = 0; i < FD_LIMIT; i++)
		close(past_half[i]);
}

/* The same for a parked store (past half the daemon's limit): its pin
 * holds the lock, through a view that outlives the close, until the
 * view goes. */
START_TEST(parked_backing_locked_while_open)
{
	open_past_half();
	expect_locked_while_open();
	close_past_half();
}
END_TEST

/* The impostor put under a backing file's name is as it was put. */
static void expect_impostor(const char *name)
{
	char buf[16] = {0};
	ck_assert_int_eq(get_file(backing(name), buf, sizeof(buf) - 1), 8);
	ck_assert_str_eq(buf, "impostor");
}

/* The size of a backing file, by name. */
static off_t backing_size(const char *name)
{
	struct stat st;
	ck_assert_int_eq(stat(backing(name), &st), 0);
	return st.st_size;
}

/*
 * Parked and opened again by name: a rename through the mount is followed.
 * A backing file renamed behind the daemon's back is followed if the
 * registry has seen the rename, else the use fails with ESTALE; once it
 * is unlinked there, the use fails. An impostor put under its old name is
 * never touched.
 */
START_TEST(parked_by_name_renamed_and_replaced)
{
	open_past_half();
	ck_assert_int_eq(put_file(P("r"), "data", 4, 0644), 0);
	int fd = open(P("r"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(daemon_fds(), FD_LIMIT);
	ck_assert_int_eq(rename(P("r"), P("s")), 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	ck_assert_int_eq(pwrite(fd, "DATA", 4, 0), 4);
	ck_assert_int_eq(backing_size("s"), 8192);
	ck_assert(!flock_free(backing("s")));
	/* Renamed and replaced behind the daemon's back. */
	ck_assert_int_eq(rename(backing("s"), backing("t")), 0);
	ck_assert_int_eq(put_file(backing("s"), "impostor", 8, 0644), 0);
	int res = ftruncate(fd, 4096);
	ck_assert_msg(res == 0 || errno == ESTALE, "ftruncate: %s",
		      strerror(errno));
	expect_impostor("s");
	ck_assert_int_eq(backing_size("t"), res == 0 ? 4096 : 8192);
	char buf[4];
	ck_assert_int_eq(get_file(backing("t"), buf, 4), 4);
	ck_assert_int_eq(memcmp(buf, "DATA", 4), 0);
	ck_assert(!flock_free(backing("t")));
	/* Unlinked there, and replaced: nothing to follow. */
	ck_assert_int_eq(unlink(backing("t")), 0);
	ck_assert_int_eq(put_file(backing("t"), "impostor", 8, 0644), 0);
	ck_assert_int_eq(ftruncate(fd, 12288), -1);
	ck_assert_int_eq(errno, ESTALE);
	expect_impostor("s");
	expect_impostor("t");
	ck_assert_int_eq(close(fd), 0);
	close_past_half();
}
END_TEST

/* Parked and opened again by name, a mapping still in use when its last
 * name goes (unlinked, or renamed over) is still reached: the daemon kept
 * a descriptor of its file as the name went. */
START_TEST(parked_by_name_unlinked)
{
	open_past_half();
	const char *names[2] = {"u", "v"};
	int fds[2];
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(put_file(P(names[i]), "data", 4, 0644), 0);
		fds[i] = open(P(names[i]), O_RDWR);
		ck_assert_int_ge(fds[i], 0);
	}
	ck_assert_int_lt(daemon_fds(), FD_LIMIT);
	ck_assert_int_eq(unlink(P("u")), 0);
	ck_assert_int_eq(put_file(P("w"), "other", 5, 0644), 0);
	ck_assert_int_eq(rename(P("w"), P("v")), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(ftruncate(fds[i], 8192), 0);
		ck_assert_int_eq(pwrite(fds[i], "DATA", 4, 4096), 4);
		ck_assert_int_eq(fsync(fds[i]), 0);
		char buf[4];
		ck_assert_int_eq(pread(fds[i], buf, 4, 0), 4);
		ck_assert_int_eq(memcmp(buf, "data", 4), 0);
		struct stat st;
		ck_assert_int_eq(fstat(fds[i], &st), 0);
		ck_assert_int_eq(st.st_size, 8192);
		ck_assert_int_eq(close(fds[i]), 0);
	}
	ck_assert_int_eq(backing_size("v"), 5);
	close_past_half();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scale");
	TCase *mem = tcase_create("memory");
	tcase_add_checked_fixture(mem, mount_memory, unmount);
	tcase_set_timeout(mem, 180);
	tcase_add_test(mem, many_mappings);
	tcase_add_test(mem, open_past_daemon_limit);
	tcase_add_test(mem, many_open_and_mapped);
	tcase_add_test(mem, idle_keeps_data_and_views);
	tcase_add_test(mem, idle_by_name);
	suite_add_tcase(s, mem);

	TCase *file = tcase_create("file-backed");
	tcase_add_checked_fixture(file, mount_file, unmount);
	tcase_set_timeout(file, 180);
	tcase_add_test(file, many_mappings);
	tcase_add_test(file, open_past_daemon_limit);
	tcase_add_test(file, many_open_and_mapped);
	tcase_add_test(file, idle_keeps_data_and_views);
	tcase_add_test(file, idle_by_name);
	tcase_add_test(file, backing_locked_while_open);
	tcase_add_test(file, parked_backing_locked_while_open);
	suite_add_tcase(s, file);

	TCase *unguarded = tcase_create("file-backed, noexclusive");
	tcase_add_checked_fixture(unguarded, mount_file_unguarded, unmount);
	tcase_set_timeout(unguarded, 180);
	tcase_add_test(unguarded, backing_locked_while_open);
	tcase_add_test(unguarded, parked_backing_locked_while_open);
	suite_add_tcase(s, unguarded);

	TCase *by_name = tcase_create("file-backed, parked opened by name");
	tcase_add_checked_fixture(by_name, mount_file_by_name, unmount);
	tcase_set_timeout(by_name, 180);
	tcase_add_test(by_name, open_past_daemon_limit);
	tcase_add_test(by_name, many_open_and_mapped);
	tcase_add_test(by_name, parked_backing_locked_while_open);
	tcase_add_test(by_name, parked_by_name_renamed_and_replaced);
	tcase_add_test(by_name, parked_by_name_unlinked);
	suite_add_tcase(s, by_name);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
