/*
 * Other users on a real shmapfs mount, tested as real non-root users
 * (shmaptest1 and shmaptest2, created with useradd -M -r if missing): the
 * test forks, drops to the user (setgroups, setresgid, setresuid) and
 * reports the errno of one system call as its exit status.
 *
 *  - allow_other (default_permissions is always on): a user who does not
 *    own a 0600 mapping cannot open it, a 0644 one cannot be mapped for
 *    writing, and only the owner (or root) may set user.shmap.protect;
 *  - without allow_other nobody but the mounting user (root) gets in;
 *  - in a mode=1777 mount a creator owns what it creates (uid and gid) and
 *    the sticky bit keeps others from deleting or renaming it;
 *  - uid=/gid=/mode= give the root directory to a user;
 *  - file-backed: owner and mode survive a remount (so does the denial).
 *
 * Every "cannot" is paired with a "can" for the right user, so that a
 * test cannot pass because nobody gets anywhere.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

#define U1	  "shmaptest1"
#define U2	  "shmaptest2"
#define PROTECT	  "user.shmap.protect"
#define NOT_RUN	  254
#define WRONG_RET 253

enum call {
	C_CREATE, /* open(O_CREAT|O_EXCL|O_RDWR, arg mode), size 4096 */
	C_OPEN_RO,
	C_OPEN_RW,
	C_MMAP_RO,  /* open O_RDONLY, mmap PROT_READ MAP_SHARED */
	C_MMAP_RW,  /* open O_RDONLY, mmap PROT_READ|PROT_WRITE MAP_SHARED */
	C_PROTECT,  /* setxattr user.shmap.protect = arg string */
	C_STAT,	    /* stat */
	C_UNLINK,   /* unlink */
	C_RENAME,   /* rename to path2 */
	C_TRUNCATE, /* truncate(path, 0) */
	C_CHMOD,    /* chmod 0666 */
};

struct req {
	enum call call;
	const char *path;
	const char *path2;
	const char *value;
	mode_t mode;
};

static void ensure_users(void)
{
	ck_assert_int_eq(tsh(30,
			     "for u in " U1 " " U2 "; do id -u $u >/dev/null "
			     "2>&1 || useradd -M -r -s /usr/sbin/nologin $u "
			     "|| exit 1; done"),
			 0);
}

static int do_call(const struct req *r)
{
	int fd, ret = 0;
	void *p;
	switch (r->call) {
	case C_CREATE:
		fd = open(r->path, O_CREAT | O_EXCL | O_RDWR, r->mode);
		if (fd < 0)
			return errno;
		ret = ftruncate(fd, 4096) < 0 ? errno : 0;
		close(fd);
		return ret;
	case C_OPEN_RO:
	case C_OPEN_RW:
		fd = open(r->path, r->call == C_OPEN_RO ? O_RDONLY : O_RDWR);
		if (fd < 0)
			return errno;
		close(fd);
		return 0;
	case C_MMAP_RO:
	case C_MMAP_RW:
		fd = open(r->path, O_RDONLY);
		if (fd < 0)
			return errno;
		p = mmap(NULL, 4096,
			 PROT_READ | (r->call == C_MMAP_RW ? PROT_WRITE : 0),
			 MAP_SHARED, fd, 0);
		ret = p == MAP_FAILED ? errno : 0;
		if (p != MAP_FAILED) {
			volatile char c = *(volatile char *)p;
			(void)c;
			munmap(p, 4096);
		}
		close(fd);
		return ret;
	case C_PROTECT:
		return setxattr(r->path, PROTECT, r->value, strlen(r->value),
				0) < 0
			   ? errno
			   : 0;
	case C_STAT: {
		struct stat st;
		return stat(r->path, &st) < 0 ? errno : 0;
	}
	case C_UNLINK:
		return unlink(r->path) < 0 ? errno : 0;
	case C_RENAME:
		return rename(r->path, r->path2) < 0 ? errno : 0;
	case C_TRUNCATE:
		return truncate(r->path, 0) < 0 ? errno : 0;
	case C_CHMOD:
		return chmod(r->path, 0666) < 0 ? errno : 0;
	}
	return WRONG_RET;
}

/* Run one call as user (NULL: root); its errno, 0 on success. */
static int as(const char *user, const struct req *r)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return NOT_RUN;
	if (pid == 0) {
		if (user) {
			struct passwd *pw = getpwnam(user);
			if (!pw || setgroups(1, &pw->pw_gid) < 0 ||
			    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
			    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
				_exit(NOT_RUN);
		}
		umask(0);
		_exit(do_call(r));
	}
	int st = twait(pid, 20000);
	return st < 0 ? NOT_RUN : st;
}

static int call_as(const char *user, enum call c, const char *path)
{
	struct req r = {.call = c, .path = path, .mode = 0644};
	return as(user, &r);
}

static int create_as(const char *user, const char *path, mode_t mode)
{
	struct req r = {.call = C_CREATE, .path = path, .mode = mode};
	return as(user, &r);
}

static int protect_as(const char *user, const char *path, const char *v)
{
	struct req r = {.call = C_PROTECT, .path = path, .value = v};
	return as(user, &r);
}

static int rename_as(const char *user, const char *from, const char *to)
{
	struct req r = {.call = C_RENAME, .path = from, .path2 = to};
	return as(user, &r);
}

static void start(struct tmount *m, int file_backed, const char *opts)
{
	ensure_users();
	ck_assert_int_eq(tmount_start(m, file_backed, opts), 0);
	/* mkdtemp made the test directory 0700: open it up, so that only
	 * the mount itself stands between the users and the mappings. */
	ck_assert_int_eq(chmod(m->root, 0755), 0);
}

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);
	ck_assert_ptr_nonnull(pw);
	return pw->pw_uid;
}

static gid_t gid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);
	ck_assert_ptr_nonnull(pw);
	return pw->pw_gid;
}

static int denied(int e)
{
	return e == EACCES || e == EPERM;
}

/* allow_other: a non-owner cannot open, map or protect; the owner can. */
START_TEST(non_owner_is_kept_out)
{
	struct tmount m;
	char prot[64] = "";
	start(&m, _i, "allow_other,mode=1777");
	const char *secret = tmount_path(&m, "secret");
	const char *shared = tmount_path(&m, "shared");
	const char *open = tmount_path(&m, "open");
	ck_assert_int_eq(create_as(U1, secret, 0600), 0);
	ck_assert_int_eq(create_as(U1, shared, 0644), 0);
	ck_assert_int_eq(create_as(U1, open, 0666), 0);

	/* The owner gets in. */
	ck_assert_int_eq(call_as(U1, C_OPEN_RW, secret), 0);
	ck_assert_int_eq(call_as(U1, C_MMAP_RO, secret), 0);

	/* 0600: nothing for anyone else. */
	ck_assert_int_eq(call_as(U2, C_OPEN_RO, secret), EACCES);
	ck_assert_int_eq(call_as(U2, C_OPEN_RW, secret), EACCES);
	ck_assert_int_eq(call_as(U2, C_MMAP_RO, secret), EACCES);
	ck_assert_int_eq(call_as(U2, C_TRUNCATE, secret), EACCES);
	ck_assert_int_eq(call_as(U2, C_CHMOD, secret), EPERM);

	/* 0644: others may read and map for reading, never for writing. */
	ck_assert_int_eq(call_as(U2, C_OPEN_RO, shared), 0);
	ck_assert_int_eq(call_as(U2, C_MMAP_RO, shared), 0);
	ck_assert_int_eq(call_as(U2, C_OPEN_RW, shared), EACCES);
	ck_assert_int_eq(call_as(U2, C_MMAP_RW, shared), EACCES);

	/* Protection: only the owner (or root), even with write access. */
	int e = protect_as(U2, secret, "readonly");
	ck_assert_msg(denied(e), "non-owner set protect on 0600: %d", e);
	e = protect_as(U2, open, "readonly");
	ck_assert_msg(denied(e), "non-owner set protect on 0666: %d", e);
	ck_assert_int_eq(call_as(U2, C_OPEN_RW, open), 0);
	ssize_t n = getxattr(open, PROTECT, prot, sizeof(prot) - 1);
	ck_assert_msg(n < 0 || strncmp(prot, "readwrite", (size_t)n) == 0,
		      "protection changed by a non-owner: %.*s", (int)n, prot);
	ck_assert_int_eq(protect_as(U1, shared, "readonly"), 0);
	ck_assert_int_eq(call_as(U1, C_OPEN_RW, shared), EACCES);
	ck_assert_int_eq(call_as(U1, C_OPEN_RO, shared), 0);
	ck_assert_int_eq(protect_as(NULL, open, "writecopy"), 0);
	ck_assert_int_eq(call_as(U2, C_OPEN_RW, open), EACCES);

	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* Without allow_other no other user gets in at all, not even to stat. */
START_TEST(no_allow_other_no_entry)
{
	struct tmount m;
	start(&m, _i, "mode=1777");
	const char *f = tmount_path(&m, "rootfile");
	ck_assert_int_eq(create_as(NULL, f, 0666), 0);
	ck_assert_int_eq(call_as(NULL, C_OPEN_RW, f), 0);
	ck_assert_int_eq(call_as(U1, C_STAT, m.mnt), EACCES);
	ck_assert_int_eq(call_as(U1, C_STAT, f), EACCES);
	ck_assert_int_eq(call_as(U1, C_OPEN_RO, f), EACCES);
	ck_assert_int_eq(create_as(U1, tmount_path(&m, "mine"), 0644), EACCES);
	ck_assert_int_eq(call_as(U2, C_MMAP_RO, f), EACCES);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* mode=1777: creators own their mappings; the sticky bit protects them. */
START_TEST(sticky_and_ownership)
{
	struct tmount m;
	struct stat st;
	start(&m, _i, "allow_other,mode=1777");
	const char *a = tmount_path(&m, "a");
	const char *b = tmount_path(&m, "b");
	ck_assert_int_eq(stat(m.mnt, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 01777);
	ck_assert_int_eq(create_as(U1, a, 0666), 0);
	ck_assert_int_eq(create_as(U2, b, 0666), 0);
	ck_assert_int_eq(stat(a, &st), 0);
	ck_assert_int_eq(st.st_uid, uid_of(U1));
	ck_assert_int_eq(st.st_gid, gid_of(U1));
	ck_assert_int_eq(stat(b, &st), 0);
	ck_assert_int_eq(st.st_uid, uid_of(U2));
	ck_assert_int_eq(st.st_gid, gid_of(U2));

	/* Others may write (0666) but neither delete nor rename. */
	ck_assert_int_eq(call_as(U2, C_OPEN_RW, a), 0);
	ck_assert_int_eq(call_as(U2, C_UNLINK, a), EPERM);
	ck_assert_int_eq(rename_as(U2, a, tmount_path(&m, "stolen")), EPERM);
	ck_assert_int_eq(rename_as(U2, b, a), EPERM);
	ck_assert_int_eq(call_as(U1, C_UNLINK, b), EPERM);
	ck_assert_int_eq(stat(a, &st), 0);
	ck_assert_int_eq(stat(b, &st), 0);

	/* The owners can. */
	ck_assert_int_eq(rename_as(U1, a, tmount_path(&m, "a2")), 0);
	ck_assert_int_eq(call_as(U1, C_UNLINK, tmount_path(&m, "a2")), 0);
	ck_assert_int_eq(call_as(U2, C_UNLINK, b), 0);
	ck_assert_int_ne(stat(b, &st), 0);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* uid=, gid=, mode= hand the root directory to a user. */
START_TEST(root_directory_owner)
{
	struct tmount m;
	struct stat st;
	char opts[128];
	ensure_users();
	snprintf(opts, sizeof(opts), "allow_other,mode=0700,uid=%u,gid=%u",
		 (unsigned)uid_of(U1), (unsigned)gid_of(U1));
	start(&m, _i, opts);
	ck_assert_int_eq(stat(m.mnt, &st), 0);
	ck_assert_int_eq(st.st_uid, uid_of(U1));
	ck_assert_int_eq(st.st_gid, gid_of(U1));
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	const char *f = tmount_path(&m, "f");
	ck_assert_int_eq(create_as(U1, f, 0666), 0);
	ck_assert_int_eq(call_as(U1, C_OPEN_RW, f), 0);
	ck_assert_int_eq(call_as(U2, C_STAT, f), EACCES);
	ck_assert_int_eq(call_as(U2, C_OPEN_RO, f), EACCES);
	ck_assert_int_eq(create_as(U2, tmount_path(&m, "g"), 0644), EACCES);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

/* File-backed: owner and mode survive a remount, so does the denial. */
START_TEST(remount_keeps_owner_and_mode)
{
	struct tmount m;
	struct stat st;
	start(&m, 1, "allow_other,mode=1777");
	const char *secret = tmount_path(&m, "secret");
	ck_assert_int_eq(create_as(U1, secret, 0600), 0);
	ck_assert_int_eq(tmount_unmount(&m), 0);
	ck_assert_int_eq(tmount_restart(&m, "allow_other,mode=1777"), 0);
	ck_assert_int_eq(stat(secret, &st), 0);
	ck_assert_int_eq(st.st_uid, uid_of(U1));
	ck_assert_int_eq(st.st_gid, gid_of(U1));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(call_as(U2, C_OPEN_RO, secret), EACCES);
	ck_assert_int_eq(call_as(U1, C_OPEN_RW, secret), 0);
	ck_assert_int_eq(tmount_stop(&m), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("users");
	tcase_set_timeout(tc, 60);
	/* _i: 0 memory-backed, 1 file-backed */
	tcase_add_loop_test(tc, non_owner_is_kept_out, 0, 2);
	tcase_add_loop_test(tc, no_allow_other_no_entry, 0, 2);
	tcase_add_loop_test(tc, sticky_and_ownership, 0, 2);
	tcase_add_loop_test(tc, root_directory_owner, 0, 2);
	tcase_add_test(tc, remount_keeps_owner_and_mode);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
