/*
 * Mount tests of mappings (issue 2, behaviours 2-9): one locked mapping
 * object per name, coherent views across processes and open/close cycles,
 * serialized writes, durability, protection, unlinked-but-open mappings,
 * capacity, and hostile requests.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define MB (1 << 20)

static struct tmount m;
/* Whether the kernel serves data straight from the stores: the daemon
 * says so (the harness reads it), unless a store is refused later on. */
static int passthrough;

static void mount_memory(void)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=32m,allow_other"), 0);
	passthrough = m.passthrough;
}

static void mount_memory_nopassthrough(void)
{
	ck_assert_int_eq(
	    tmount_start(&m, 0, "size=32m,allow_other,nopassthrough"), 0);
	passthrough = 0;
}

/* These tests look into backing files while their mappings are in use,
 * as an administrator may with noexclusive; check_exclusive.c tests the
 * default, where others' opens of them are refused. */
#define FILE_OPTS "allow_other,noexclusive"

static void mount_file(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, FILE_OPTS), 0);
	passthrough = m.passthrough;
}

static void unmount(void)
{
	ck_assert_int_eq(tmount_stop(&m), 0);
}

/*
 * A backing directory on overlayfs (a container's root, say): the kernel
 * refuses such stores for passthrough (overlayfs is stacked already), so
 * the daemon serves their data itself.
 */
static void mount_file_on_overlayfs(void)
{
	ck_assert_int_eq(tmount_start(&m, 1, FILE_OPTS), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	char opts[4 * PATH_MAX];
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s/ovl-lower,upperdir=%s/ovl-upper,"
		 "workdir=%s/ovl-work",
		 m.root, m.root, m.root);
	ck_assert_int_eq(tsh(10,
			     "mkdir '%s/ovl-lower' '%s/ovl-upper' "
			     "'%s/ovl-work'",
			     m.root, m.root, m.root),
			 0);
	ck_assert_int_eq(mount("overlay", m.backing, "overlay", 0, opts), 0);
	ck_assert_int_eq(tmount_restart(&m, FILE_OPTS), 0);
	passthrough = 0;
}

static void unmount_file_on_overlayfs(void)
{
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(umount2(m.backing, 0), 0);
	tmount_stop(&m);
}

static const char *P(const char *rel)
{
	return tmount_path(&m, rel);
}

static int new_mapping(const char *rel, off_t size)
{
	int fd = open(P(rel), O_RDWR | O_CREAT, 0666);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	return fd;
}

static char *map_shared(int fd, size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* Behaviour 3: stores through one view are seen at once by the others,
 * by read() in a third process, and writes are seen by the views. */
static int child_store(void *arg)
{
	int fd = open(arg, O_RDWR);
	if (fd < 0)
		return 1;
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 2;
	memcpy(p + 4096, "from-child", 10);
	/* Wait (bounded) for the parent's answer through the view. */
	for (int i = 0; i < 5000 && memcmp(p + 100, "answer", 6); i++)
		usleep(1000);
	return memcmp(p + 100, "answer", 6) ? 3 : 0;
}

static int child_open_close(void *arg)
{
	for (int i = 0; i < 50; i++) {
		int fd = open(arg, O_RDWR);
		if (fd < 0)
			return 1;
		char c;
		if (pread(fd, &c, 1, 0) != 1)
			return 2;
		close(fd);
	}
	return 0;
}

START_TEST(coherent_views)
{
	int fd = new_mapping("m", 8192);
	char *p = map_shared(fd, 8192);
	strcpy(p, "parent");
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_store((void *)P("m")));
	for (int i = 0; i < 5000 && memcmp(p + 4096, "from-child", 10); i++)
		usleep(1000);
	ck_assert_mem_eq(p + 4096, "from-child", 10);
	memcpy(p + 100, "answer", 6);
	ck_assert_int_eq(twait(pid, 10000), 0);
	/* read() by another process sees the stores, no msync needed. */
	char back[16];
	int rd = open(P("m"), O_RDONLY);
	ck_assert_int_eq(pread(rd, back, 10, 4096), 10);
	ck_assert_mem_eq(back, "from-child", 10);
	/* write() is seen by the view at once. */
	ck_assert_int_eq(tsh(10, "printf written > '%s'", P("w")), 0);
	ck_assert_int_eq(tsh(10,
			     "dd if='%s' of='%s' bs=7 count=1 seek=2 "
			     "oflag=seek_bytes conv=notrunc status=none",
			     P("w"), P("m")),
			 0);
	ck_assert_mem_eq(p + 2, "written", 7);
	/* Other processes opening and closing it drop nothing. */
	memcpy(p + 5000, "kept", 4);
	ck_assert_int_eq(in_child(child_open_close, (void *)P("m"), -1, -1, 20),
			 0);
	ck_assert_mem_eq(p + 5000, "kept", 4);
	ck_assert_int_eq(pread(rd, back, 4, 5000), 4);
	ck_assert_mem_eq(back, "kept", 4);
	/* cat sees the same bytes. */
	ck_assert_int_eq(tsh(10, "cat '%s' | grep -q from-child", P("m")), 0);
	munmap(p, 8192);
	close(rd);
	close(fd);
}
END_TEST

/* Behaviour 4: whole records, never mixed, from concurrent writers. */
#define RECORD	(1536 * 1024) /* over max_write: several requests */
#define RECORDS 3
#define WRITERS 4
#define ROUNDS	12

static int writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char *buf = malloc(RECORD);
	int fd = open(P("rec"), O_WRONLY);
	if (!buf || fd < 0)
		return 1;
	memset(buf, 'A' + id, RECORD);
	for (int round = 0; round < ROUNDS; round++) {
		off_t off = (off_t)((round + id) % RECORDS) * RECORD;
		if (pwrite(fd, buf, RECORD, off) != RECORD)
			return 2;
	}
	close(fd);
	free(buf);
	return 0;
}

static int truncator(void *arg)
{
	(void)arg;
	int fd = open(P("rec"), O_WRONLY);
	for (int i = 0; i < ROUNDS; i++) {
		if (ftruncate(fd, RECORD / 2) < 0 ||
		    ftruncate(fd, (off_t)RECORDS * RECORD) < 0)
			return 1;
		usleep(2000);
	}
	close(fd);
	return 0;
}

static void check_records(int with_truncate)
{
	char *buf = malloc(RECORD);
	int fd = open(P("rec"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	for (int r = 0; r < RECORDS; r++) {
		ck_assert_int_eq(pread(fd, buf, RECORD, (off_t)r * RECORD),
				 RECORD);
		/* A record is wholly one writer's; with a truncate in the
		 * mix, zeroes may stand where the truncate came last. */
		char first = buf[0];
		ck_assert(first >= 'A' || (with_truncate && first == 0));
		size_t i = 0;
		while (i < RECORD && buf[i] == first)
			i++;
		if (with_truncate && first != 0 && i == RECORD / 2) {
			while (i < RECORD && buf[i] == 0)
				i++;
		}
		ck_assert_msg(i == RECORD, "record %d torn at byte %zu", r, i);
	}
	close(fd);
	free(buf);
}

static void run_writers(int with_truncate)
{
	int fd = new_mapping("rec", (off_t)RECORDS * RECORD);
	close(fd);
	pid_t pids[WRITERS + 1];
	for (int i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(writer((void *)(intptr_t)i));
	}
	if (with_truncate) {
		pids[WRITERS] = fork();
		if (pids[WRITERS] == 0)
			_exit(truncator(NULL));
	}
	for (int i = 0; i < WRITERS + with_truncate; i++)
		ck_assert_int_eq(twait(pids[i], 60000), 0);
	check_records(with_truncate);
}

START_TEST(serialized_writes)
{
	run_writers(0);
}
END_TEST

START_TEST(truncate_never_tears_a_write)
{
	run_writers(1);
}
END_TEST

/* Behaviour 5: msync and fsync make data durable in the backing file;
 * after unmount everything is there and a new mount shows it. */
START_TEST(durability)
{
	int fd = new_mapping("d", 3 * 4096);
	char *p = map_shared(fd, 3 * 4096);
	memcpy(p, "synced-view", 11);
	ck_assert_int_eq(msync(p, 4096, MS_SYNC), 0);
	char back[16];
	ck_assert_int_eq(get_file(tmount_bpath(&m, "d"), back, 11), 11);
	ck_assert_mem_eq(back, "synced-view", 11);
	ck_assert_int_eq(pwrite(fd, "synced-write", 12, 4096), 12);
	ck_assert_int_eq(fsync(fd), 0);
	int bfd = open(tmount_bpath(&m, "d"), O_RDONLY);
	ck_assert_int_eq(pread(bfd, back, 12, 4096), 12);
	ck_assert_mem_eq(back, "synced-write", 12);
	close(bfd);
	/* Stores with no msync at all, still mapped at unmount time... */
	memcpy(p + 8192, "unsynced", 8);
	munmap(p, 3 * 4096);
	close(fd);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(get_file(tmount_bpath(&m, "d"), back, 16), 16);
	bfd = open(tmount_bpath(&m, "d"), O_RDONLY);
	ck_assert_int_eq(pread(bfd, back, 8, 8192), 8);
	ck_assert_mem_eq(back, "unsynced", 8);
	close(bfd);
	/* ...and a new mount shows it all. */
	ck_assert_int_eq(tmount_restart(&m, FILE_OPTS), 0);
	fd = open(P("d"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, back, 11, 0), 11);
	ck_assert_mem_eq(back, "synced-view", 11);
	ck_assert_int_eq(pread(fd, back, 8, 8192), 8);
	ck_assert_mem_eq(back, "unsynced", 8);
	close(fd);
}
END_TEST

/* Behaviour 2: the daemon holds each backing file locked; a backing
 * file locked by someone else is refused with EBUSY, until released. */
START_TEST(backing_files_locked)
{
	int fd = new_mapping("l", 4096);
	int bfd = open(tmount_bpath(&m, "l"), O_RDONLY);
	ck_assert_int_eq(flock(bfd, LOCK_EX | LOCK_NB), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	close(bfd);
	close(fd);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	/* Released at unmount. */
	bfd = open(tmount_bpath(&m, "l"), O_RDONLY);
	ck_assert_int_eq(flock(bfd, LOCK_EX | LOCK_NB), 0);
	/* Held by us across a mount: the mapping is refused. */
	ck_assert_int_eq(tmount_restart(&m, FILE_OPTS), 0);
	ck_assert_int_eq(open(P("l"), O_RDWR), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(flock(bfd, LOCK_UN), 0);
	fd = open(P("l"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	close(fd);
	close(bfd);
}
END_TEST

/* Behaviour 6: protection, enforced at open for root too. */
static int set_protect(const char *rel, const char *p)
{
	return setxattr(P(rel), "user.shmap.protect", p, strlen(p), 0) < 0
		   ? -errno
		   : 0;
}

static int other_sets_protect(void *arg)
{
	return set_protect(arg, "readwrite") == -EPERM ? 0 : 1;
}

START_TEST(protection)
{
	int fd = new_mapping("p", 4096);
	ck_assert_int_eq(pwrite(fd, "original", 8, 0), 8);
	close(fd);
	char val[32] = {0};
	ck_assert_int_eq(getxattr(P("p"), "user.shmap.protect", val, 32), 9);
	ck_assert_str_eq(val, "readwrite");
	ck_assert_int_eq(set_protect("p", "readonly"), 0);
	ck_assert_int_eq(open(P("p"), O_RDWR), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(open(P("p"), O_WRONLY | O_TRUNC), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(truncate(P("p"), 0), -1);
	ck_assert_int_eq(errno, EACCES);
	fd = open(P("p"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(ro, MAP_FAILED);
	ck_assert_mem_eq(ro, "original", 8);
	/* writecopy: private copy-on-write views, the mapping unchanged. */
	ck_assert_int_eq(set_protect("p", "writecopy"), 0);
	ck_assert_int_eq(open(P("p"), O_RDWR), -1);
	ck_assert_int_eq(errno, EACCES);
	char *cow =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert_ptr_ne(cow, MAP_FAILED);
	memcpy(cow, "modified", 8);
	ck_assert_mem_eq(ro, "original", 8);
	ck_assert_int_eq(pread(fd, val, 8, 0), 8);
	ck_assert_mem_eq(val, "original", 8);
	ck_assert_int_eq(set_protect("p", "bogus"), -EINVAL);
	/* Only the owner (or root) sets it. */
	ck_assert_int_eq(chmod(P("p"), 0666), 0);
	ck_assert_int_eq(in_child(other_sets_protect, "p", 4321, 4321, 10), 0);
	ck_assert_int_eq(set_protect("p", "readwrite"), 0);
	int rw = open(P("p"), O_RDWR);
	ck_assert_int_ge(rw, 0);
	close(rw);
	munmap(ro, 4096);
	munmap(cow, 4096);
	close(fd);
}
END_TEST

START_TEST(protection_persists)
{
	int fd = new_mapping("p", 4096);
	close(fd);
	ck_assert_int_eq(set_protect("p", "readonly"), 0);
	char val[32] = {0};
	ck_assert_int_eq(
	    getxattr(tmount_bpath(&m, "p"), "user.shmap.protect", val, 32), 8);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(tmount_restart(&m, FILE_OPTS), 0);
	ck_assert_int_eq(open(P("p"), O_RDWR), -1);
	ck_assert_int_eq(errno, EACCES);
}
END_TEST

/* Behaviour 7: an unlinked mapping lives while a handle or view does. */
START_TEST(unlinked_mapping_lives_on)
{
	struct statfs sf0, sf;
	ck_assert_int_eq(statfs(P(""), &sf0), 0);
	int fd = new_mapping("u", 4 * MB);
	char *p = map_shared(fd, 4 * MB);
	memset(p, 'u', 4 * MB);
	ck_assert_int_eq(unlink(P("u")), 0);
	ck_assert_int_eq(access(P("u"), F_OK), -1);
	close(fd);
	/* Shared with a child through fork: still one mapping. */
	pid_t pid = fork();
	if (pid == 0) {
		p[MB] = 'c';
		_exit(0);
	}
	ck_assert_int_eq(twait(pid, 10000), 0);
	ck_assert_int_eq(p[MB], 'c');
	ck_assert_int_eq(p[3 * MB], 'u');
	ck_assert_int_eq(statfs(P(""), &sf), 0);
	ck_assert_int_eq(sf0.f_bfree - sf.f_bfree, 4 * MB / sf.f_bsize);
	munmap(p, 4 * MB);
	/* The last view gone, the memory is freed (bounded wait: the
	 * kernel releases the file asynchronously). */
	for (int i = 0; i < 200 && sf.f_bfree != sf0.f_bfree; i++) {
		usleep(10000);
		ck_assert_int_eq(statfs(P(""), &sf), 0);
	}
	ck_assert_int_eq(sf.f_bfree, sf0.f_bfree);
}
END_TEST

/* The kernel may open an unlinked inode it still holds (a reopen through
 * /proc/self/fd, an open racing an unlink): its data must be there. */
START_TEST(reopen_unlinked_through_proc)
{
	ck_assert_int_eq(put_file(P("o"), "hello", 5, 0644), 0);
	int path_fd = open(P("o"), O_PATH);
	ck_assert_int_ge(path_fd, 0);
	ck_assert_int_eq(unlink(P("o")), 0);
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
	int fd = open(proc, O_RDWR);
	ck_assert_int_ge(fd, 0);
	char b[8] = {0};
	ck_assert_int_eq(pread(fd, b, 5, 0), 5);
	ck_assert_str_eq(b, "hello");
	ck_assert_int_eq(ftruncate(fd, 2), 0);
	ck_assert_int_eq(pwrite(fd, "y", 1, 1), 1);
	ck_assert_int_eq(pread(fd, b, 8, 0), 2);
	ck_assert_mem_eq(b, "hy", 2);
	close(fd);
	close(path_fd);
}
END_TEST

START_TEST(unlinked_backing_file_removed)
{
	int fd = new_mapping("u", 8192);
	char *p = map_shared(fd, 8192);
	ck_assert_int_eq(unlink(P("u")), 0);
	ck_assert_int_eq(access(tmount_bpath(&m, "u"), F_OK), -1);
	strcpy(p, "still here");
	ck_assert_int_eq(msync(p, 8192, MS_SYNC), 0);
	char back[16];
	ck_assert_int_eq(pread(fd, back, 10, 0), 10);
	ck_assert_mem_eq(back, "still here", 10);
	munmap(p, 8192);
	close(fd);
}
END_TEST

/* Behaviour 8: capacity. */
static int store_past_end(void *arg)
{
	(void)arg;
	signal(SIGBUS, SIG_DFL); /* not a sanitizer's report: the signal */
	int fd = open(P("small"), O_RDWR);
	char *v = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (v == MAP_FAILED)
		return 1;
	v[0] = 1;    /* inside the mapping: fine */
	v[4096] = 1; /* past its end: SIGBUS, as on any file */
	return 0;
}

/* A committed mapping keeps the guarantee: a full mount shows at the
 * truncate, write (or, with writeback caching, the fsync after it) or
 * fallocate, never under a view. */
START_TEST(capacity)
{
	int keep = new_mapping("keep", MB);
	ck_assert_int_eq(pwrite(keep, "precious", 8, 0), 8);
	int fd = open(P("big"), O_RDWR | O_CREAT, 0644);
	ck_assert_int_eq(fsetxattr(fd, "user.shmap.commit", "committed", 9, 0),
			 0);
	ck_assert_int_eq(ftruncate(fd, 64 * MB), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(fallocate(fd, 0, 0, 64 * MB), -1);
	ck_assert_int_eq(errno, ENOSPC);
	char *buf = calloc(1, MB);
	int err = 0;
	for (int i = 0; i < 40 && !err; i++)
		if (write(fd, buf, MB) < 0)
			err = errno;
	/* With writeback caching write() lands in the page cache and the
	 * daemon refuses it when written back: fsync tells (README). */
	if (!err && m.writeback_cache && fsync(fd) < 0)
		err = errno;
	ck_assert_int_eq(err, ENOSPC);
	free(buf);
	/* Within the capacity, everything keeps working. */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(ftruncate(fd, 16 * MB), 0);
	char back[8];
	ck_assert_int_eq(pread(keep, back, 8, 0), 8);
	ck_assert_mem_eq(back, "precious", 8);
	close(fd);
	close(keep);
	/* A view cannot reach past the capacity: only past the end of
	 * its file, and that is SIGBUS on every filesystem. */
	int small = new_mapping("small", 4096);
	close(small);
	ck_assert_int_eq(child_signal(store_past_end, NULL, 10), SIGBUS);
}
END_TEST

/* Behaviour 9: requests a client can make that no file should take. */
START_TEST(hostile_requests)
{
	int fd = new_mapping("h", 4096);
	char b[16];
	ck_assert_int_eq(pread(fd, b, 8, INT64_MAX - 8), 0);
	ck_assert_int_eq(pread(fd, b, 16, INT64_MAX - 8), -1); /* VFS: EINVAL */
	ck_assert_int_eq(pwrite(fd, "x", 1, INT64_MAX), -1);
	ck_assert_int_eq(pwrite(fd, "x", 1, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(fallocate(fd, 0x40 /* unknown */, 0, 10), -1);
	ck_assert_int_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), -1);
	/* Refused (committed, or past the backing filesystem's limit), or
	 * taken as a sparse size, as tmpfs takes it. */
	if (ftruncate(fd, INT64_MAX) == 0)
		ck_assert_int_eq(ftruncate(fd, 4096), 0);
	char huge[70000];
	memset(huge, 'v', sizeof(huge));
	ck_assert_int_eq(setxattr(P("h"), "user.big", huge, sizeof(huge), 0),
			 -1);
	ck_assert_int_eq(setxattr(P("h"), "bogus.x", "v", 1, 0), -1);
	ck_assert_int_eq(errno, EOPNOTSUPP); /* a namespace tmpfs has not */
	ck_assert_int_eq(getxattr(P("h"), "user.none", b, 16), -1);
	ck_assert_int_eq(errno, ENODATA);
	ck_assert_int_eq(getxattr(P("h"), "user.shmap.protect", b, 2), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(mknod(P("x"), S_IFMT | 0644, 0), -1);
	ck_assert_int_eq(rename(P("h"), P("")), -1);
	/* ... and the daemon still serves. */
	ck_assert_int_eq(pwrite(fd, "alive", 5, 0), 5);
	ck_assert_int_eq(pread(fd, b, 5, 0), 5);
	ck_assert_mem_eq(b, "alive", 5);
	close(fd);
}
END_TEST

/* Whether the store behind the mapping "rel" holds len bytes of want at
 * off: the backing file, or (memory-backed) any file the daemon holds. */
static int store_holds(const char *rel, const char *want, size_t len, off_t off)
{
	char got[64];
	ck_assert_uint_le(len, sizeof(got));
	if (m.backing[0]) {
		int fd = open(tmount_bpath(&m, rel), O_RDONLY);
		ck_assert_int_ge(fd, 0);
		int same = pread(fd, got, len, off) == (ssize_t)len &&
			   !memcmp(got, want, len);
		close(fd);
		return same;
	}
	char dir[64], path[PATH_MAX];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)m.pid);
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int found = 0;
	for (struct dirent *e; !found && (e = readdir(d));) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		found = pread(fd, got, len, off) == (ssize_t)len &&
			!memcmp(got, want, len);
		close(fd);
	}
	closedir(d);
	return found;
}

/* With passthrough a view maps the store itself: a store through it is in
 * the store at once, with no write-back. Without, it waits in the FUSE
 * file's page cache for msync (or munmap, or the kernel's write-back).
 * Either way views, read() and write() agree. */
START_TEST(views_map_the_store)
{
	int fd = new_mapping("v", 8192);
	char *p = map_shared(fd, 8192);
	memcpy(p + 4096, "direct-7f3a", 11);
	ck_assert_int_eq(store_holds("v", "direct-7f3a", 11, 4096),
			 passthrough);
	ck_assert_int_eq(msync(p, 8192, MS_SYNC), 0);
	ck_assert(store_holds("v", "direct-7f3a", 11, 4096));
	char b[11];
	ck_assert_int_eq(pread(fd, b, 11, 4096), 11);
	ck_assert_mem_eq(b, "direct-7f3a", 11);
	ck_assert_int_eq(pwrite(fd, "back", 4, 10), 4);
	ck_assert_mem_eq(p + 10, "back", 4);
	/* Growth by write() shows in stat at once. */
	ck_assert_int_eq(pwrite(fd, "end", 3, 3 * 4096), 3);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 3 * 4096 + 3);
	munmap(p, 8192);
	close(fd);
}
END_TEST

/*
 * One worker reads requests and serves them (fs/reader.h); a request
 * that keeps it busy must not hold up the others beyond the takeover time.
 * Allocating 2 GiB of a memory-backed mapping takes its pages, which takes
 * a while, and fallocate is the daemon's to serve on both data paths;
 * opens of another mapping meanwhile must all be answered before the
 * fallocate is.
 */
struct slow_fallocate {
	int fd;
	atomic_int done;
	atomic_int tid; /* the thread's, once it starts */
};

static void *fallocate_big(void *arg)
{
	struct slow_fallocate *t = arg;
	atomic_store(&t->tid, (int)gettid());
	ck_assert_int_eq(fallocate(t->fd, 0, 0, 2LL << 30), 0);
	atomic_store(&t->done, 1);
	return NULL;
}

START_TEST(slow_request_does_not_stall_others)
{
	ck_assert_int_eq(tmount_start(&m, 0, "size=3g"), 0);
	int other = new_mapping("other", 4096);
	close(other);
	struct slow_fallocate t = {.fd = new_mapping("big", 0)};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, fallocate_big, &t), 0);
	/* Until the fallocate waits for the daemon's answer. */
	for (int i = 0; i < 10000 && !atomic_load(&t.tid); i++)
		usleep(1000);
	ck_assert_int_eq(
	    twait_sleeping_in(atomic_load(&t.tid), SYS_fallocate, -1, 10000),
	    0);
	int opens = 0;
	for (; opens < 20 && !atomic_load(&t.done); opens++) {
		int fd = open(P("other"), O_RDWR);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	int done_first = atomic_load(&t.done);
	pthread_join(th, NULL);
	ck_assert_msg(!done_first && opens == 20,
		      "only %d opens answered during the fallocate", opens);
	close(t.fd);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mapping");
	TCase *mem = tcase_create("memory");
	tcase_add_checked_fixture(mem, mount_memory, unmount);
	tcase_set_timeout(mem, 120);
	tcase_add_test(mem, coherent_views);
	tcase_add_test(mem, serialized_writes);
	tcase_add_test(mem, truncate_never_tears_a_write);
	tcase_add_test(mem, protection);
	tcase_add_test(mem, unlinked_mapping_lives_on);
	tcase_add_test(mem, reopen_unlinked_through_proc);
	tcase_add_test(mem, capacity);
	tcase_add_test(mem, hostile_requests);
	tcase_add_test(mem, views_map_the_store);
	suite_add_tcase(s, mem);

	TCase *reader = tcase_create("reader");
	tcase_set_timeout(reader, 60);
	tcase_add_test(reader, slow_request_does_not_stall_others);
	suite_add_tcase(s, reader);

	TCase *daemon = tcase_create("memory-nopassthrough");
	tcase_add_checked_fixture(daemon, mount_memory_nopassthrough, unmount);
	tcase_set_timeout(daemon, 120);
	tcase_add_test(daemon, coherent_views);
	tcase_add_test(daemon, serialized_writes);
	tcase_add_test(daemon, capacity);
	tcase_add_test(daemon, views_map_the_store);
	suite_add_tcase(s, daemon);

	TCase *file = tcase_create("file-backed");
	tcase_add_checked_fixture(file, mount_file, unmount);
	tcase_set_timeout(file, 120);
	tcase_add_test(file, coherent_views);
	tcase_add_test(file, serialized_writes);
	tcase_add_test(file, durability);
	tcase_add_test(file, backing_files_locked);
	tcase_add_test(file, protection);
	tcase_add_test(file, protection_persists);
	tcase_add_test(file, unlinked_backing_file_removed);
	tcase_add_test(file, reopen_unlinked_through_proc);
	tcase_add_test(file, hostile_requests);
	tcase_add_test(file, views_map_the_store);
	suite_add_tcase(s, file);

	TCase *ovl = tcase_create("file-on-overlayfs");
	tcase_add_checked_fixture(ovl, mount_file_on_overlayfs,
				  unmount_file_on_overlayfs);
	tcase_set_timeout(ovl, 120);
	tcase_add_test(ovl, coherent_views);
	tcase_add_test(ovl, serialized_writes);
	tcase_add_test(ovl, durability);
	tcase_add_test(ovl, views_map_the_store);
	suite_add_tcase(s, ovl);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
