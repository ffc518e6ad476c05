/*
 * Fault tests against a real shmapfs mount:
 *  - a client SIGKILLed in the middle of write() (1 MiB writes), of stores
 *    through a view, and of msync(): the daemon keeps serving, every record
 *    of the mapping is whole and as old or new as the client's progress
 *    says, and (file-backed) the backing file holds exactly what the mount
 *    showed, after the daemon exited 0 at unmount;
 *  - the daemon SIGTERMed (or SIGINTed) while another process's view holds
 *    dirty pages: every page reaches the backing file while the view still
 *    holds it, the mount goes (lazily), and once the view is gone the
 *    daemon exits 0;
 *  - a backing filesystem that fills up (a 4 MiB tmpfs): the writer gets
 *    ENOSPC or EIO from write, fsync or msync, what fsync or msync said was
 *    written is in the backing file after unmount, other mappings are
 *    intact, and the daemon keeps serving once space is freed;
 *  - the daemon SIGKILLed: errors rather than hangs, fsynced data in the
 *    backing file, and a new daemon mounts the backing directory at once;
 *  - a memory-backed mount at its size= capacity: ENOSPC past it, never
 *    for stores inside a mapping's size, space back after an unlink.
 *
 * A mapping here is an array of 4 KiB records; record i of generation g
 * has a header (magic, i, g), a body derived from (i, g) and a trailer
 * written last, so that a torn record is told from a whole one.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define REC	 4096
#define NSLOTS	 2048 /* 8 MiB mappings */
#define MAPSIZE	 ((size_t)NSLOTS * REC)
#define WCHUNK	 256 /* records per write(): 1 MiB */
#define MAGIC	 0x5348415052454330ULL
#define ROUNDS	 3
#define FUSE_MAG 0x65735546

enum mode {
	BY_WRITE,
	BY_STORE,
	BY_MSYNC
};

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Record slot of generation gen; generation 0 is all zeros. */
static void make_record(unsigned char *r, uint64_t slot, uint64_t gen)
{
	if (!gen) {
		memset(r, 0, REC);
		return;
	}
	uint64_t s = slot * 0x100000001b3ULL ^ (gen << 40);
	for (size_t i = 0; i < REC; i += 8) {
		uint64_t v = mix(&s);
		memcpy(r + i, &v, 8);
	}
	uint64_t h[3] = {MAGIC, slot, gen}, t = MAGIC ^ slot ^ gen;
	memcpy(r, h, sizeof(h));
	memcpy(r + REC - 8, &t, 8);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * The client: fill the mapping record by record, generation after
 * generation, publishing in *done how many record stores are complete.
 */
static void __attribute__((noreturn))
client(const char *path, enum mode mode, volatile uint64_t *done)
{
	int fd = open(path, O_RDWR);
	unsigned char *buf = malloc((size_t)WCHUNK * REC);
	if (fd < 0 || !buf)
		_exit(2);
	unsigned char *v = NULL;
	if (mode != BY_WRITE) {
		v = mmap(NULL, MAPSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 0);
		if (v == MAP_FAILED)
			_exit(3);
	}
	time_t end = time(NULL) + 60;
	for (uint64_t n = 0; time(NULL) < end;) {
		uint64_t slot = n % NSLOTS, gen = n / NSLOTS + 1;
		if (mode == BY_WRITE) {
			for (int k = 0; k < WCHUNK; k++)
				make_record(buf + (size_t)k * REC, slot + k,
					    gen);
			size_t len = (size_t)WCHUNK * REC;
			if (pwrite(fd, buf, len, slot * REC) != (ssize_t)len)
				_exit(4);
			n += WCHUNK;
		} else {
			make_record(buf, slot, gen);
			memcpy(v + slot * REC, buf, REC);
			if (mode == BY_MSYNC &&
			    msync(v + slot * REC, REC, MS_SYNC) < 0)
				_exit(5);
			n++;
		}
		__atomic_store_n(done, n, __ATOMIC_RELEASE);
	}
	_exit(0);
}

/*
 * Check every record against the client's progress: record i must be of
 * the generation the completed stores give it, except in the window of
 * the one operation in flight, where it may be one generation newer (and,
 * for a store through a view, torn between the two, byte by byte).
 */
static void check_records(const unsigned char *data, uint64_t done, int window,
			  int torn_ok, const char *via)
{
	static unsigned char a[REC], b[REC];
	uint64_t pos = done % NSLOTS;
	for (uint64_t i = 0; i < NSLOTS; i++) {
		uint64_t g = done / NSLOTS + (i < pos ? 1 : 0);
		int in_window = i >= pos && i < pos + (uint64_t)window;
		const unsigned char *r = data + i * REC;
		make_record(a, i, g);
		if (memcmp(r, a, REC) == 0)
			continue;
		ck_assert_msg(in_window,
			      "%s: record %llu is not whole generation %llu "
			      "(progress %llu)",
			      via, (unsigned long long)i, (unsigned long long)g,
			      (unsigned long long)done);
		make_record(b, i, g + 1);
		if (memcmp(r, b, REC) == 0)
			continue;
		ck_assert_msg(torn_ok, "%s: record %llu in flight is torn", via,
			      (unsigned long long)i);
		for (size_t k = 0; k < REC; k++)
			ck_assert_msg(r[k] == a[k] || r[k] == b[k],
				      "%s: record %llu byte %zu is garbage",
				      via, (unsigned long long)i, k);
	}
}

/* Whether every record is whole generation g (no assertion). */
static int records_whole(const unsigned char *data, uint64_t g_done)
{
	static unsigned char a[REC];
	for (uint64_t i = 0; i < NSLOTS; i++) {
		make_record(a, i, g_done / NSLOTS);
		if (memcmp(data + i * REC, a, REC))
			return 0;
	}
	return 1;
}

static unsigned char *read_all(const char *path, size_t len)
{
	unsigned char *p = malloc(len);
	ck_assert_ptr_nonnull(p);
	int fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(pread(fd, p, len, 0), (ssize_t)len);
	close(fd);
	return p;
}

/* The daemon still answers: create, write, read back and remove a file. */
static void check_serving(struct tmount *m)
{
	char buf[8192], back[8192];
	const char *p = tmount_path(m, "alive");
	memset(buf, 0xa5, sizeof(buf));
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_msg(fd >= 0, "daemon stopped serving: %s", strerror(errno));
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert_int_eq(pread(fd, back, sizeof(back), 0), sizeof(back));
	ck_assert_int_eq(memcmp(buf, back, sizeof(buf)), 0);
	close(fd);
	ck_assert_int_eq(unlink(p), 0);
}

/* One round: start a client on a fresh mapping, kill it, check. */
static unsigned char *kill_round(struct tmount *m, const char *name,
				 enum mode mode, volatile uint64_t *done,
				 unsigned seed)
{
	const char *p = tmount_path(m, name);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, MAPSIZE), 0);
	close(fd);
	*done = 0;
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		client(p, mode, done);
	/* Let it run into its second generation, then kill it mid-flight. */
	for (int i = 0; i < 40000 && *done < NSLOTS + NSLOTS / 2; i++)
		sleep_ms(1);
	sleep_ms((int)(seed % 40));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		      "client ended before the kill (status 0x%x)", st);
	uint64_t n = __atomic_load_n(done, __ATOMIC_ACQUIRE);
	ck_assert_msg(n >= NSLOTS, "client made too little progress");
	int window = mode == BY_WRITE ? WCHUNK : 1;
	int torn = mode != BY_WRITE;

	check_serving(m);
	unsigned char *data = read_all(p, MAPSIZE);
	check_records(data, n, window, torn, "read()");
	fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	unsigned char *v = mmap(NULL, MAPSIZE, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(v, MAP_FAILED);
	ck_assert_msg(memcmp(v, data, MAPSIZE) == 0,
		      "a view and read() disagree after the kill");
	munmap(v, MAPSIZE);
	close(fd);
	printf("faults: %s killed after %llu records\n", name,
	       (unsigned long long)n);
	return data;
}

static void kill_test(int file_backed, enum mode mode)
{
	static const char *const names[] = {"write", "store", "msync"};
	struct tmount m;
	unsigned char *seen[ROUNDS];
	volatile uint64_t *done = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne((void *)done, MAP_FAILED);
	ck_assert_int_eq(tmount_start(&m, file_backed, NULL), 0);
	for (int r = 0; r < ROUNDS; r++) {
		char name[32];
		snprintf(name, sizeof(name), "%s%d", names[mode], r);
		seen[r] = kill_round(&m, name, mode, done,
				     (unsigned)(r * 13 + getpid()));
	}
	ck_assert_int_eq(tmount_unmount(&m), 0);
	for (int r = 0; file_backed && r < ROUNDS; r++) {
		char name[32];
		snprintf(name, sizeof(name), "%s%d", names[mode], r);
		unsigned char *b = read_all(tmount_bpath(&m, name), MAPSIZE);
		ck_assert_msg(memcmp(b, seen[r], MAPSIZE) == 0,
			      "backing file %s differs from what the mount "
			      "showed",
			      name);
		free(b);
	}
	for (int r = 0; r < ROUNDS; r++)
		free(seen[r]);
	tsh(30, "rm -rf '%s'", m.root);
}

START_TEST(kill_in_write)
{
	kill_test(_i, BY_WRITE);
}
END_TEST

START_TEST(kill_in_store)
{
	kill_test(_i, BY_STORE);
}
END_TEST

START_TEST(kill_in_msync)
{
	kill_test(_i, BY_MSYNC);
}
END_TEST

static int fuse_mounted(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == FUSE_MAG;
}

/* SIGTERM while a view holds dirty pages: all of them reach the disk. */
START_TEST(sigterm_with_dirty_view)
{
	struct tmount m;
	int pipefd[2];
	/* noexclusive: the backing file is read while the view lives. */
	ck_assert_int_eq(tmount_start(&m, 1, "noexclusive"), 0);
	const char *p = tmount_path(&m, "dirty");
	int fd = open(p, O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, MAPSIZE), 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned char *v = mmap(NULL, MAPSIZE, PROT_READ | PROT_WRITE,
					MAP_SHARED, fd, 0);
		if (v == MAP_FAILED)
			_exit(3);
		for (uint64_t i = 0; i < NSLOTS; i++)
			make_record(v + i * REC, i, 1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(4);
		sleep(60); /* holds the view, pages dirty, until killed */
		_exit(0);
	}
	close(fd);
	char c;
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	int sig = _i ? SIGINT : SIGTERM;
	ck_assert_int_eq(kill(m.pid, sig), 0);
	/* The daemon syncs the mount first (so the view's dirty pages reach
	 * the backing file while the view still holds them), then unmounts
	 * itself, lazily since the view keeps the mount busy. */
	int i;
	for (i = 0; i < 1000 && fuse_mounted(m.mnt); i++)
		sleep_ms(10);
	ck_assert_msg(!fuse_mounted(m.mnt), "still mounted after %s",
		      strsignal(sig));
	unsigned char *b = NULL;
	for (i = 0; i < 100; i++) {
		free(b);
		b = read_all(tmount_bpath(&m, "dirty"), MAPSIZE);
		if (records_whole(b, NSLOTS))
			break;
		sleep_ms(50);
	}
	check_records(b, NSLOTS, 0, 0, "backing file after SIGTERM");
	free(b);
	/* Once the last view goes, the daemon exits 0. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	int st = twait(m.pid, 30000);
	m.pid = -1;
	ck_assert_msg(st == 0, "daemon exit status %d after SIGTERM", st);
	b = read_all(tmount_bpath(&m, "dirty"), MAPSIZE);
	check_records(b, NSLOTS, 0, 0, "backing file after the daemon exited");
	free(b);
	umount2(m.mnt, MNT_DETACH);
	tsh(30, "rm -rf '%s'", m.root);
}
END_TEST

/* A file-backed mount over a fresh tmpfs of the given size. */
static void start_on_tmpfs(struct tmount *m, const char *size)
{
	memset(m, 0, sizeof(*m));
	m->pid = -1;
	snprintf(m->root, sizeof(m->root), "%.4000s/shmapfs-test.XXXXXX",
		 test_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(m->root));
	snprintf(m->mnt, sizeof(m->mnt), "%.4000s/mnt", m->root);
	snprintf(m->backing, sizeof(m->backing), "%.4000s/backing", m->root);
	snprintf(m->log, sizeof(m->log), "%.4000s/daemon.log", m->root);
	ck_assert_int_eq(mkdir(m->mnt, 0755), 0);
	ck_assert_int_eq(mkdir(m->backing, 0755), 0);
	ck_assert_int_eq(tsh(10, "mount -t tmpfs -o size=%s shmapfs-full '%s'",
			     size, m->backing),
			 0);
	/* Committed mappings: a full disk shows at the truncate, never
	 * under a view (a sparse one would take SIGBUS there, as on tmpfs). */
	ck_assert_int_eq(tmount_restart(m, "commit=committed"), 0);
}

static void pattern(unsigned char *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = mix(&seed);
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* Write len bytes of pattern seed to name and fsync; 0 or -errno. */
static int write_synced(struct tmount *m, const char *name, size_t len,
			uint64_t seed)
{
	unsigned char *p = malloc(len);
	pattern(p, len, seed);
	int fd = open(tmount_path(m, name), O_RDWR | O_CREAT | O_TRUNC, 0644);
	int r = fd < 0 ? -errno : 0;
	if (!r && pwrite(fd, p, len, 0) != (ssize_t)len)
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(p);
	return r;
}

static void assert_pattern(const char *path, size_t len, uint64_t seed)
{
	unsigned char *want = malloc(len);
	pattern(want, len, seed);
	unsigned char *got = read_all(path, len);
	ck_assert_msg(memcmp(got, want, len) == 0, "%s: content changed", path);
	free(want);
	free(got);
}

static int is_space_error(int e)
{
	return e == ENOSPC || e == EIO || e == EDQUOT;
}

/* Fill the mapping "b" 64 KiB at a time until an error; bytes fsynced. */
static size_t fill_until_error(struct tmount *m, int *err)
{
	const size_t chunk = 64 << 10, max = 16 << 20;
	unsigned char *all = malloc(max);
	pattern(all, max, 2);
	int fd = open(tmount_path(m, "b"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	size_t good = 0;
	*err = 0;
	while (good < max) {
		ssize_t n = pwrite(fd, all + good, chunk, (off_t)good);
		if (n < 0) {
			*err = errno;
			break;
		}
		if (fsync(fd) < 0) {
			*err = errno;
			break;
		}
		good += (size_t)n;
	}
	close(fd);
	free(all);
	return good;
}

/* Stores through a view on a full disk; returns 1 if msync succeeded. */
static int store_on_full_disk(struct tmount *m, int *err)
{
	const size_t len = 256 << 10;
	int fd = open(tmount_path(m, "c"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	*err = 0;
	if (ftruncate(fd, len) < 0) {
		*err = errno;
		close(fd);
		return 0;
	}
	unsigned char *v =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(v, MAP_FAILED);
	pattern(v, len, 3);
	int ok = msync(v, len, MS_SYNC) == 0;
	if (!ok)
		*err = errno;
	munmap(v, len);
	close(fd);
	return ok;
}

START_TEST(backing_fs_full)
{
	struct tmount m;
	int err;
	start_on_tmpfs(&m, "4m");
	ck_assert_int_eq(write_synced(&m, "a", 256 << 10, 1), 0);
	ck_assert_int_eq(write_synced(&m, "filler", 1 << 20, 4), 0);

	size_t good = fill_until_error(&m, &err);
	ck_assert_msg(err, "16 MiB written to a 4 MiB filesystem, no error");
	ck_assert_msg(is_space_error(err), "writer got %s, not ENOSPC/EIO",
		      strerror(err));
	printf("faults: full backing fs: write/fsync said %s after %zu "
	       "bytes\n",
	       strerror(err), good);

	int c_ok = store_on_full_disk(&m, &err);
	ck_assert_msg(c_ok || is_space_error(err),
		      "stores on a full disk: %s, not ENOSPC/EIO",
		      strerror(err));
	printf("faults: full backing fs: view stores + msync: %s\n",
	       c_ok ? "succeeded" : strerror(err));

	/* Still serving, other mappings intact, data that fsync took kept. */
	assert_pattern(tmount_path(&m, "a"), 256 << 10, 1);
	unsigned char *want = malloc(16 << 20);
	pattern(want, 16 << 20, 2);
	unsigned char *got = read_all(tmount_path(&m, "b"), good);
	ck_assert_msg(memcmp(got, want, good) == 0, "fsynced data changed");
	free(got);

	/* Free space: the daemon serves writes again. */
	ck_assert_int_eq(unlink(tmount_path(&m, "filler")), 0);
	int r = -ENOSPC;
	for (int i = 0; i < 100 && r; i++) {
		r = write_synced(&m, "d", 256 << 10, 5);
		if (r)
			sleep_ms(20);
	}
	ck_assert_msg(r == 0, "no write after space was freed: %s",
		      strerror(-r));
	check_serving(&m);

	ck_assert_int_eq(tmount_unmount(&m), 0);
	assert_pattern(tmount_bpath(&m, "a"), 256 << 10, 1);
	assert_pattern(tmount_bpath(&m, "d"), 256 << 10, 5);
	if (c_ok)
		assert_pattern(tmount_bpath(&m, "c"), 256 << 10, 3);
	got = read_all(tmount_bpath(&m, "b"), good);
	ck_assert_msg(memcmp(got, want, good) == 0,
		      "fsynced data missing from the backing file");
	free(got);
	free(want);
	ck_assert_int_ne(access(tmount_bpath(&m, "filler"), F_OK), 0);
	umount2(m.backing, MNT_DETACH);
	tsh(30, "rm -rf '%s'", m.root);
}
END_TEST

/*
 * The daemon itself SIGKILLed: clients get errors rather than hanging,
 * what fsync said was written is in the backing file, and a new daemon
 * can mount the same backing directory at once (the dead one's locks went
 * with it). With passthrough, a descriptor opened before the crash was
 * handed to the kernel: it keeps reading and writing the backing file
 * itself, so nothing written through it is lost. Without, its write()
 * fails with ENOTCONN (the daemon served it) and its read() answers from
 * the page cache or fails the same way.
 */
START_TEST(daemon_killed)
{
	struct tmount m;
	char buf[16];
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	ck_assert_int_eq(write_synced(&m, "a", 512 << 10, 6), 0);
	int fd = open(tmount_path(&m, "a"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(kill(m.pid, SIGKILL), 0);
	ck_assert_int_eq(twait(m.pid, 10000), -1);
	m.pid = -1;
	/* A dead connection: errors, no hang (run-tests.sh bounds us). */
	ssize_t got = pread(fd, buf, 1, 0);
	if (m.passthrough) {
		ck_assert_int_eq(got, 1);
		ck_assert_int_eq(pwrite(fd, buf, 1, 0), 1); /* same byte */
	} else {
		ck_assert(got == 1 || (got == -1 && errno == ENOTCONN));
		ck_assert_int_eq(pwrite(fd, "x", 1, 0), -1);
		ck_assert_int_eq(errno, ENOTCONN);
	}
	ck_assert_int_eq(fsync(fd), -1); /* the daemon's request */
	close(fd);
	ck_assert_int_lt(open(tmount_path(&m, "b"), O_RDWR | O_CREAT, 0644), 0);
	ck_assert_int_eq(umount2(m.mnt, MNT_DETACH), 0);
	assert_pattern(tmount_bpath(&m, "a"), 512 << 10, 6);

	ck_assert_int_eq(tmount_restart(&m, NULL), 0);
	assert_pattern(tmount_path(&m, "a"), 512 << 10, 6);
	fd = open(tmount_path(&m, "a"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "after", 5, 0), 5);
	ck_assert_int_eq(pread(fd, buf, 5, 0), 5);
	ck_assert_int_eq(memcmp(buf, "after", 5), 0);
	close(fd);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* Write "1" to the mount's abort file under the FUSE control filesystem. */
static void abort_connection(const char *mnt)
{
	struct stat st;
	ck_assert_int_eq(stat(mnt, &st), 0);
	/* Our own mount namespace (run-tests.sh): mounting fusectl here is
	 * seen by no one else. */
	ck_assert_int_eq(tsh(10,
			     "mountpoint -q /sys/fs/fuse/connections || "
			     "mount -t fusectl none /sys/fs/fuse/connections"),
			 0);
	char path[128];
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort",
		 minor(st.st_dev));
	ck_assert_int_eq(put_file(path, "1", 1, 0), 0);
}

/*
 * The connection aborted through the FUSE control filesystem (what an
 * administrator does to a hung mount): callers get ENOTCONN, the daemon
 * takes it as the end of the mount, writes out and exits 0, and what was
 * synced is in the backing file for the next daemon.
 */
START_TEST(connection_aborted)
{
	struct tmount m;
	ck_assert_int_eq(tmount_start(&m, 1, NULL), 0);
	ck_assert_int_eq(write_synced(&m, "a", 256 << 10, 8), 0);
	abort_connection(m.mnt);
	ck_assert_int_eq(twait(m.pid, 10000), 0);
	m.pid = -1;
	ck_assert_int_lt(open(tmount_path(&m, "a"), O_RDONLY), 0);
	ck_assert_int_eq(errno, ENOTCONN);
	ck_assert_int_eq(umount2(m.mnt, MNT_DETACH), 0);
	assert_pattern(tmount_bpath(&m, "a"), 256 << 10, 8);

	ck_assert_int_eq(tmount_restart(&m, NULL), 0);
	assert_pattern(tmount_path(&m, "a"), 256 << 10, 8);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/*
 * A memory-backed mount of committed mappings at its size= capacity:
 * ENOSPC for whoever grows a mapping past it, never for stores inside a
 * mapping's size (capacity is reserved by size), and space comes back when
 * a mapping goes. (Sparse mappings: tests/mount/check_sparse.c.)
 */
START_TEST(memory_capacity_full)
{
	struct tmount m;
	int err;
	const size_t clen = 256 << 10;
	ck_assert_int_eq(tmount_start(&m, 0, "size=2m,commit=committed"), 0);
	ck_assert_int_eq(write_synced(&m, "a", 256 << 10, 1), 0);
	int cfd = open(tmount_path(&m, "c"), O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(ftruncate(cfd, clen), 0);

	size_t good = fill_until_error(&m, &err);
	ck_assert_msg(err == ENOSPC, "writer past size=2m got %s",
		      err ? strerror(err) : "no error");
	ck_assert_msg(good <= (2 << 20), "%zu bytes stored in 2 MiB", good);
	ck_assert_int_eq(ftruncate(cfd, 4 << 20), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(fallocate(cfd, 0, 0, 4 << 20), -1);
	ck_assert_int_eq(errno, ENOSPC);

	/* Stores inside the size reserved before the mount filled up. */
	unsigned char *v =
	    mmap(NULL, clen, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
	ck_assert_ptr_ne(v, MAP_FAILED);
	pattern(v, clen, 3);
	ck_assert_int_eq(msync(v, clen, MS_SYNC), 0);
	munmap(v, clen);
	ck_assert_int_eq(fsync(cfd), 0);
	close(cfd);
	assert_pattern(tmount_path(&m, "c"), clen, 3);
	assert_pattern(tmount_path(&m, "a"), 256 << 10, 1);
	unsigned char *want = malloc(16 << 20);
	pattern(want, 16 << 20, 2);
	unsigned char *got = read_all(tmount_path(&m, "b"), good);
	ck_assert_msg(memcmp(got, want, good) == 0, "written data changed");
	free(got);
	free(want);

	/* Space comes back with the mapping. */
	ck_assert_int_eq(unlink(tmount_path(&m, "b")), 0);
	ck_assert_int_eq(write_synced(&m, "d", 512 << 10, 5), 0);
	assert_pattern(tmount_path(&m, "d"), 512 << 10, 5);
	check_serving(&m);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults");
	TCase *k = tcase_create("kill");
	tcase_set_timeout(k, 300); /* rounds wait up to 40 s on a busy host */
	/* _i: 0 memory-backed, 1 file-backed */
	tcase_add_loop_test(k, kill_in_write, 0, 2);
	tcase_add_loop_test(k, kill_in_store, 0, 2);
	tcase_add_loop_test(k, kill_in_msync, 0, 2);
	suite_add_tcase(s, k);
	TCase *t = tcase_create("sigterm");
	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, sigterm_with_dirty_view, 0, 2); /* and SIGINT */
	tcase_add_test(t, daemon_killed);
	tcase_add_test(t, connection_aborted);
	suite_add_tcase(s, t);
	TCase *f = tcase_create("full");
	tcase_set_timeout(f, 120);
	tcase_add_test(f, backing_fs_full);
	tcase_add_test(f, memory_capacity_full);
	suite_add_tcase(s, f);
	return run_suite(s);
}
