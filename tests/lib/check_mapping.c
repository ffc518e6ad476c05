/*
 * libshmap mapping handles on a real mount: shmap_create / shmap_open /
 * shmap_close / shmap_unlink / shmap_size / shmap_existed / shmap_fd /
 * shmap_from_fd / shmap_strerror, their error cases, creation racing
 * creation and opening across processes, descriptors passed over
 * SCM_RIGHTS, and the library's exported symbols.
 */
#include "shmap.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MiB (1024 * 1024)

static void create_ok(const char *name, uint64_t size, int prot)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_create(name, size, prot, SHMAP_EXCL, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}

START_TEST(create_makes_a_sized_file)
{
	shmap_t *m = NULL;
	ck_assert_int_eq(shmap_create("a", 3 * MiB, SHMAP_READWRITE, 0, &m), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(shmap_existed(m), 0);
	uint64_t size = 0;
	ck_assert_int_eq(shmap_size(m, &size), 0);
	ck_assert_uint_eq(size, 3 * MiB);
	ck_assert_int_ge(shmap_fd(m), 0);
	struct stat st;
	ck_assert_int_eq(stat(tmount_path(&lt_mnt, "a"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 3 * MiB);
	/* The handle's descriptor is the mapping itself. */
	ck_assert_int_eq(fstat(shmap_fd(m), &st), 0);
	ck_assert_int_eq(st.st_size, 3 * MiB);
	ck_assert_int_eq(shmap_close(m), 0);
	/* No temporary file left behind. */
	ck_assert_int_eq(tsh(10, "test \"$(ls -A '%s')\" = a", lt_mnt.mnt), 0);
}
END_TEST

START_TEST(create_existing_opens_it_untouched)
{
	create_ok("a", 8192, SHMAP_READWRITE);
	shmap_t *m;
	ck_assert_int_eq(shmap_create("a", 3 * MiB, SHMAP_READWRITE, 0, &m), 0);
	ck_assert_int_eq(shmap_existed(m), 1);
	uint64_t size;
	ck_assert_int_eq(shmap_size(m, &size), 0);
	ck_assert_uint_eq(size, 8192);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(shmap_create("a", 1, SHMAP_READWRITE, SHMAP_EXCL, &m),
			 -EEXIST);
}
END_TEST

START_TEST(create_rejects_bad_arguments)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_create("a", 1, 0, 0, &m), -EINVAL);
	ck_assert_int_eq(shmap_create("a", 1, 99, 0, &m), -EINVAL);
	ck_assert_int_eq(shmap_create("a", 1, SHMAP_READWRITE, 0x80, &m),
			 -EINVAL);
	ck_assert_int_eq(shmap_create("a", 1, SHMAP_READWRITE, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(shmap_create("", 1, SHMAP_READWRITE, 0, &m), -EINVAL);
	ck_assert_int_eq(shmap_create(NULL, 1, SHMAP_READWRITE, 0, &m),
			 -EINVAL);
	ck_assert_int_eq(shmap_create("dir/", 1, SHMAP_READWRITE, 0, &m),
			 -EINVAL);
	char longname[PATH_MAX + 10];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(shmap_create(longname, 1, SHMAP_READWRITE, 0, &m),
			 -ENAMETOOLONG);
	/* A directory in the way. */
	ck_assert_int_eq(mkdir(tmount_path(&lt_mnt, "d"), 0755), 0);
	ck_assert_int_eq(shmap_create("d", 1, SHMAP_READWRITE, 0, &m), -EISDIR);
	ck_assert_int_eq(tsh(10, "test \"$(ls -A '%s')\" = d", lt_mnt.mnt), 0);
}
END_TEST

static const char *kind_of(const char *name)
{
	static char buf[32];
	ssize_t n = getxattr(tmount_path(&lt_mnt, name), "user.shmap.commit",
			     buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

/* SHMAP_COMMIT reserves the whole size at creation (SEC_COMMIT), or
 * fails there; SHMAP_SPARSE takes pages as they are stored (SEC_RESERVE),
 * as the mount's default does. */
START_TEST(create_kinds)
{
	shmap_t *m;
	struct stat st;
	ck_assert_int_eq(
	    shmap_create("c", MiB, SHMAP_READWRITE, SHMAP_COMMIT, &m), 0);
	ck_assert_str_eq(kind_of("c"), "committed");
	ck_assert_int_eq(fstat(shmap_fd(m), &st), 0);
	ck_assert_int_eq(st.st_blocks, MiB / 512);
	ck_assert_int_eq(shmap_close(m), 0);
	uint64_t tib = 1ULL << 40;
	ck_assert_int_eq(
	    shmap_create("s", tib, SHMAP_READONLY, SHMAP_SPARSE, &m), 0);
	ck_assert_str_eq(kind_of("s"), "sparse");
	ck_assert_int_eq(fstat(shmap_fd(m), &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)tib);
	ck_assert_int_eq(st.st_blocks, 0);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(shmap_create("x", tib, SHMAP_READWRITE,
				      SHMAP_COMMIT | SHMAP_EXCL, &m),
			 -ENOSPC);
	ck_assert_int_eq(shmap_create("y", 1, SHMAP_READWRITE,
				      SHMAP_COMMIT | SHMAP_SPARSE, &m),
			 -EINVAL);
	ck_assert_int_eq(tsh(10,
			     "test \"$(ls -A '%s' | tr '\\n' ' ')\" = 'c s '",
			     lt_mnt.mnt),
			 0);
}
END_TEST

START_TEST(create_makes_namespace_directories)
{
	create_ok("ns1/ns2/obj", 4096, SHMAP_READWRITE);
	struct stat st;
	ck_assert_int_eq(stat(tmount_path(&lt_mnt, "ns1/ns2"), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(stat(tmount_path(&lt_mnt, "ns1/ns2/obj"), &st), 0);
	ck_assert_int_eq(st.st_size, 4096);
	shmap_t *m;
	ck_assert_int_eq(shmap_open("ns1/ns2/obj", SHMAP_READ, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	/* An absolute name is a path, whatever SHMAP_DIR says. */
	char abs[PATH_MAX];
	snprintf(abs, sizeof(abs), "%s", tmount_path(&lt_mnt, "ns1/abs"));
	setenv("SHMAP_DIR", "/nonexistent", 1);
	ck_assert_int_eq(shmap_create(abs, 100, SHMAP_READWRITE, 0, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(shmap_open("ns1/abs", SHMAP_READ, &m), -ENOENT);
	/* A missing SHMAP_DIR (no mount there) is not made. */
	ck_assert_int_eq(shmap_create("x/y", 100, SHMAP_READWRITE, 0, &m),
			 -ENOENT);
	shmap_sem_t *s;
	ck_assert_int_eq(shmap_sem_open("x/y", 0, 0, &s), -ENOENT);
	ck_assert_int_eq(access("/nonexistent", F_OK), -1);
	setenv("SHMAP_DIR", lt_mnt.mnt, 1);
	ck_assert_int_eq(shmap_open("ns1/abs", SHMAP_READ, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

START_TEST(open_finds_or_refuses)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_open("missing", SHMAP_READ, &m), -ENOENT);
	ck_assert_int_eq(shmap_open("a", 0, &m), -EINVAL);
	ck_assert_int_eq(shmap_open("a", SHMAP_READ | SHMAP_WRITE, &m),
			 -EINVAL);
	ck_assert_int_eq(shmap_open("a", SHMAP_READ, NULL), -EINVAL);
	create_ok("a", 4096, SHMAP_READWRITE);
	int access[] = {SHMAP_READ, SHMAP_WRITE, SHMAP_COPY};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(shmap_open("a", access[i], &m), 0);
		ck_assert_int_eq(shmap_existed(m), 0);
		int fl = fcntl(shmap_fd(m), F_GETFL);
		ck_assert_int_eq(fl & O_ACCMODE,
				 access[i] == SHMAP_WRITE ? O_RDWR : O_RDONLY);
		ck_assert_int_eq(shmap_close(m), 0);
	}
}
END_TEST

static char *get_protect(const char *name, char *buf, size_t len)
{
	ssize_t n = getxattr(tmount_path(&lt_mnt, name), "user.shmap.protect",
			     buf, len - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

START_TEST(protection_is_enforced)
{
	char buf[32];
	create_ok("ro", 4096, SHMAP_READONLY);
	create_ok("wc", 4096, SHMAP_WRITECOPY);
	create_ok("rw", 4096, SHMAP_READWRITE);
	ck_assert_str_eq(get_protect("ro", buf, sizeof(buf)), "readonly");
	ck_assert_str_eq(get_protect("wc", buf, sizeof(buf)), "writecopy");
	shmap_t *m;
	/* Conflicting access: -EACCES, for root too. */
	ck_assert_int_eq(shmap_open("ro", SHMAP_WRITE, &m), -EACCES);
	ck_assert_int_eq(shmap_open("wc", SHMAP_WRITE, &m), -EACCES);
	ck_assert_int_eq(open(tmount_path(&lt_mnt, "ro"), O_RDWR), -1);
	ck_assert_int_eq(errno, EACCES);
	/* shmap_create of an existing read-only mapping asking to write. */
	ck_assert_int_eq(shmap_create("ro", 4096, SHMAP_READWRITE, 0, &m),
			 -EACCES);
	ck_assert_int_eq(shmap_open("ro", SHMAP_READ, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(shmap_open("wc", SHMAP_COPY, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(shmap_open("rw", SHMAP_WRITE, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	/* The creator of a read-only mapping gets a read handle. */
	ck_assert_int_eq(shmap_create("ro2", 4096, SHMAP_READONLY, 0, &m), 0);
	ck_assert_int_eq(fcntl(shmap_fd(m), F_GETFL) & O_ACCMODE, O_RDONLY);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

START_TEST(unlink_and_close)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_unlink("a"), -ENOENT);
	ck_assert_int_eq(shmap_unlink(""), -EINVAL);
	ck_assert_int_eq(shmap_create("a", 4096, SHMAP_READWRITE, 0, &m), 0);
	ck_assert_int_eq(shmap_unlink("a"), 0);
	ck_assert_int_eq(shmap_open("a", SHMAP_READ, &m), -ENOENT);
	/* The unlinked mapping lives on through the handle. */
	uint64_t size;
	ck_assert_int_eq(shmap_size(m, &size), 0);
	ck_assert_uint_eq(size, 4096);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(shmap_close(NULL), -EINVAL);
	ck_assert_int_eq(shmap_size(NULL, &size), -EINVAL);
	ck_assert_int_eq(shmap_existed(NULL), -EINVAL);
	ck_assert_int_eq(shmap_fd(NULL), -EINVAL);
}
END_TEST

/* A full or read-only mount: the error, and nothing left behind. */
START_TEST(create_fails_cleanly_when_it_cannot)
{
	struct tmount small;
	ck_assert_int_eq(tmount_start(&small, 0, "size=1m"), 0);
	setenv("SHMAP_DIR", small.mnt, 1);
	shmap_t *m;
	/* Committed: a full mount shows at the creation. */
	ck_assert_int_eq(
	    shmap_create("big", 4 << 20, SHMAP_READWRITE, SHMAP_COMMIT, &m),
	    -ENOSPC);
	ck_assert_int_eq(shmap_open("big", SHMAP_READ, &m), -ENOENT);
	ck_assert_int_eq(tsh(10, "test -z \"$(ls -A '%s')\"", small.mnt), 0);
	ck_assert_int_eq(shmap_create("fits", 4096, SHMAP_READWRITE, 0, &m), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	ck_assert_int_eq(tmount_stop(&small), 0);

	struct tmount ro;
	ck_assert_int_eq(tmount_start(&ro, 1, "ro"), 0);
	setenv("SHMAP_DIR", ro.mnt, 1);
	ck_assert_int_eq(shmap_create("x", 4096, SHMAP_READWRITE, 0, &m),
			 -EROFS);
	shmap_sem_t *s;
	ck_assert_int_eq(shmap_sem_open("s", 0, 0, &s), -EROFS);
	ck_assert_int_eq(tmount_stop(&ro), 0);
}
END_TEST

START_TEST(strerror_names_errors)
{
	ck_assert_str_eq(shmap_strerror(0), "success");
	ck_assert_str_eq(shmap_strerror(-ENOENT), "No such file or directory");
	ck_assert_str_eq(shmap_strerror(EACCES), "Permission denied");
	ck_assert_str_eq(shmap_strerror(-EADDRINUSE), "Address already in use");
	ck_assert_str_eq(shmap_strerror(-99999), "unknown error");
	ck_assert_str_eq(shmap_strerror(-2147483647 - 1), "unknown error");
}
END_TEST

/* Children creating or opening the same names at once. */
#define RACERS 4
#define ROUNDS 40

static int race_child(void *arg)
{
	int who = (int)(long)arg;
	char name[32];
	for (int r = 0; r < ROUNDS; r++) {
		snprintf(name, sizeof(name), "race/%d", r);
		shmap_t *m;
		int err = who % 2 ? shmap_create(name, 5 * 4096, SHMAP_READONLY,
						 0, &m)
				  : shmap_open(name, SHMAP_READ, &m);
		if (err == -ENOENT && who % 2 == 0)
			continue; /* not made yet: absent is fine */
		if (err)
			return 10;
		uint64_t size;
		char buf[32];
		ssize_t n = fgetxattr(shmap_fd(m), "user.shmap.protect", buf,
				      sizeof(buf));
		/* Never half-made: full size, protection set. */
		if (shmap_size(m, &size) || size != 5 * 4096)
			return 11;
		if (n != 8 || memcmp(buf, "readonly", 8))
			return 12;
		shmap_close(m);
	}
	return 0;
}

START_TEST(create_races_create_and_open)
{
	pid_t pids[RACERS];
	for (long i = 0; i < RACERS; i++)
		pids[i] = lt_fork(race_child, (void *)i);
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(lt_wait(pids[i], 30000), 0);
	/* Exactly the ROUNDS names, no temporaries left. */
	ck_assert_int_eq(
	    tsh(10, "test $(ls -A '%s/race' | wc -l) = %d", lt_mnt.mnt, ROUNDS),
	    0);
}
END_TEST

/* Exclusive creators of the same names: exactly one wins each. */
static int *winners;

static int excl_child(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		char name[32];
		snprintf(name, sizeof(name), "excl/%d", r);
		shmap_t *m;
		int err =
		    shmap_create(name, 4096, SHMAP_READWRITE, SHMAP_EXCL, &m);
		if (err == -EEXIST)
			continue;
		if (err)
			return 10;
		__atomic_add_fetch(&winners[r], 1, __ATOMIC_SEQ_CST);
		shmap_close(m);
	}
	return 0;
}

START_TEST(exclusive_create_has_one_winner)
{
	winners = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(winners, MAP_FAILED);
	pid_t pids[RACERS];
	for (int i = 0; i < RACERS; i++)
		pids[i] = lt_fork(excl_child, NULL);
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(lt_wait(pids[i], 30000), 0);
	for (int r = 0; r < ROUNDS; r++)
		ck_assert_int_eq(winners[r], 1);
	munmap(winners, 4096);
}
END_TEST

/* Send one descriptor over a Unix socket. */
static int send_fd(int sock, int fd)
{
	char byte = 'm';
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int socks[2];

/* Receive an unnamed mapping, write through it, report its size. */
static int scm_child(void *arg)
{
	(void)arg;
	close(socks[0]);
	int fd = recv_fd(socks[1]);
	if (fd < 0)
		return 10;
	shmap_t *m;
	if (shmap_from_fd(fd, &m))
		return 11;
	close(fd); /* the handle has its own descriptor */
	uint64_t size;
	if (shmap_size(m, &size) || size != 65536 || shmap_existed(m) != 1)
		return 12;
	char *v;
	if (shmap_map(m, 0, 0, SHMAP_WRITE, (void **)&v))
		return 13;
	strcpy(v + 4096, "over SCM_RIGHTS");
	shmap_unmap(v);
	shmap_close(m);
	return 0;
}

START_TEST(from_fd_over_scm_rights)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, socks), 0);
	pid_t pid = lt_fork(scm_child, NULL);
	close(socks[1]);
	shmap_t *m;
	ck_assert_int_eq(shmap_create("unnamed", 65536, SHMAP_READWRITE, 0, &m),
			 0);
	/* Unnamed: only the descriptor reaches it now. */
	ck_assert_int_eq(shmap_unlink("unnamed"), 0);
	ck_assert_int_eq(send_fd(socks[0], shmap_fd(m)), 0);
	ck_assert_int_eq(lt_wait(pid, 20000), 0);
	char *v;
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_READ, (void **)&v), 0);
	ck_assert_str_eq(v + 4096, "over SCM_RIGHTS");
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
	close(socks[0]);
}
END_TEST

START_TEST(from_fd_checks_its_descriptor)
{
	shmap_t *m;
	ck_assert_int_eq(shmap_from_fd(-1, &m), -EBADF);
	ck_assert_int_eq(shmap_from_fd(0, NULL), -EINVAL);
	int dfd = open(lt_mnt.mnt, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(shmap_from_fd(dfd, &m), -EINVAL);
	close(dfd);
	int closed = dup(1);
	close(closed);
	ck_assert_int_eq(shmap_from_fd(closed, &m), -EBADF);
	/* Access follows the descriptor and the protection. */
	create_ok("wc", 4096, SHMAP_WRITECOPY);
	int fd = open(tmount_path(&lt_mnt, "wc"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(shmap_from_fd(fd, &m), 0);
	close(fd);
	void *v;
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_WRITE, &v), -EACCES);
	ck_assert_int_eq(shmap_map(m, 0, 0, SHMAP_COPY, &v), 0);
	ck_assert_int_eq(shmap_unmap(v), 0);
	ck_assert_int_eq(shmap_close(m), 0);
}
END_TEST

/* The shared library exports shmap_* and nothing else. */
START_TEST(only_shmap_symbols_exported)
{
	const char *so = getenv("LIBSHMAP_SO");
	ck_assert_msg(so && *so, "LIBSHMAP_SO not set");
	ck_assert_int_eq(tsh(10,
			     "test -n \"$(nm -D --defined-only '%s' | "
			     "grep ' T shmap_create$')\"",
			     so),
			 0);
	ck_assert_int_eq(tsh(10,
			     "nm -D --defined-only '%s' | "
			     "awk '{print $3}' | grep -v '^shmap_' | "
			     "grep . && exit 1; exit 0",
			     so),
			 0);
	ck_assert_int_eq(tsh(10,
			     "readelf -d '%s' | grep -q "
			     "'SONAME.*libshmap.so.0'",
			     so),
			 0);
}
END_TEST

static Suite *mapping_suite(void)
{
	Suite *s = suite_create("mapping");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, lt_setup_memory, lt_teardown);
	tcase_add_test(tc, create_makes_a_sized_file);
	tcase_add_test(tc, create_existing_opens_it_untouched);
	tcase_add_test(tc, create_rejects_bad_arguments);
	tcase_add_test(tc, create_kinds);
	tcase_add_test(tc, create_makes_namespace_directories);
	tcase_add_test(tc, open_finds_or_refuses);
	tcase_add_test(tc, protection_is_enforced);
	tcase_add_test(tc, unlink_and_close);
	tcase_add_test(tc, create_races_create_and_open);
	tcase_add_test(tc, exclusive_create_has_one_winner);
	tcase_add_test(tc, from_fd_over_scm_rights);
	tcase_add_test(tc, from_fd_checks_its_descriptor);
	suite_add_tcase(s, tc);

	TCase *fb = tcase_create("file-backed");
	tcase_set_timeout(fb, 60);
	tcase_add_checked_fixture(fb, lt_setup_file, lt_teardown);
	tcase_add_test(fb, create_makes_a_sized_file);
	tcase_add_test(fb, protection_is_enforced);
	tcase_add_test(fb, create_races_create_and_open);
	suite_add_tcase(s, fb);

	TCase *plain = tcase_create("no-mount");
	tcase_set_timeout(plain, 30);
	tcase_add_test(plain, strerror_names_errors);
	tcase_add_test(plain, create_fails_cleanly_when_it_cannot);
	tcase_add_test(plain, only_shmap_symbols_exported);
	suite_add_tcase(s, plain);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mapping_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
