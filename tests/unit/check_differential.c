/*
 * Unit tests of the core registry, differential tests: random operations
 * on a registry (memory- and file-backed) and on a real directory or file
 * under the test directory, which must give the same results: names, data
 * and fallocate, user.* attributes. No mount: the core is driven directly,
 * on memory-backed registries unless a test says otherwise; the fixture is
 * registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/*
 * Random namespace operations (symlinks all dangle) applied both to a registry
 * and, through system calls, to a real directory under /tmp: each must succeed
 * or fail alike, and the two trees must end the same. The kernel checks a few
 * things itself before a FUSE filesystem sees them (a rename into its own
 * subtree); those may fail with another errno, but must fail.
 */
static const char *const pool[] = {"a", "b", "c", "x"};
#define DANGLING "/nonexistent-shmapfs-unit/target"

static void rand_path(unsigned *seed, char *out, size_t len)
{
	int w = rand_r(seed) % 20, depth = w < 10 ? 1 : w < 17 ? 2 : 3;
	size_t used = 0;
	for (int i = 0; i < depth; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s",
					 i ? "/" : "", pool[rand_r(seed) % 4]);
}

/* The directory holding path's last component, and that component. Every
 * node looked up on the way is put in held[] for a later forget. */
static int reg_walk(struct registry *r, const char *path, struct node **dir,
		    char *last, struct node **held, int *nheld)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", path);
	struct node *cur = registry_root(r);
	char *save, *comp = strtok_r(buf, "/", &save);
	for (;;) {
		char *next = strtok_r(NULL, "/", &save);
		if (!next)
			break;
		struct node *n;
		struct stat st;
		int res = registry_lookup(r, cur, comp, &n, &st);
		if (res < 0)
			return res;
		held[(*nheld)++] = n;
		/* As a path walk finds it: the kernel follows our symlinks,
		 * which all dangle, and stops at a non-directory. */
		if (S_ISLNK(st.st_mode))
			return -ENOENT;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		cur = n;
		comp = next;
	}
	snprintf(last, 64, "%s", comp);
	*dir = cur;
	return 0;
}

static void forget_all(struct registry *r, struct node **held, int nheld)
{
	for (int i = 0; i < nheld; i++)
		registry_forget(r, held[i], 1);
}

/* One random operation on both; returns the two results. */
static void diff_op(struct registry *r, int kfd, const char *kroot,
		    unsigned *seed, char *desc, size_t desclen, int *kres,
		    int *rres)
{
	char p[64], q[64], last[64], last2[64];
	rand_path(seed, p, sizeof(p));
	rand_path(seed, q, sizeof(q));
	struct node *held[16], *dir, *dir2, *n;
	int nheld = 0, op = rand_r(seed) % 8;
	struct stat st;
	static const unsigned flags[] = {0, 0, RENAME_NOREPLACE,
					 RENAME_EXCHANGE};
	unsigned fl = flags[rand_r(seed) % 4];
	uint64_t size = (uint64_t)(rand_r(seed) % 3) * 3000;
	snprintf(desc, desclen, "op %d %s %s flags %u size %llu", op, p, q, fl,
		 (unsigned long long)size);
	int res = reg_walk(r, p, &dir, last, held, &nheld);
	switch (op) {
	case 0:
		*kres = mkdirat(kfd, p, 0755) ? -errno : 0;
		if (!res &&
		    !(res = registry_mkdir(r, dir, last, 0755, &ROOT, &n, &st)))
			held[nheld++] = n;
		break;
	case 1:
		*kres = mknodat(kfd, p, S_IFREG | 0644, 0) ? -errno : 0;
		if (!res && !(res = registry_mknod(r, dir, last, S_IFREG | 0644,
						   0, &ROOT, &n, &st)))
			held[nheld++] = n;
		break;
	case 2:
		*kres = unlinkat(kfd, p, 0) ? -errno : 0;
		if (!res)
			res = registry_unlink(r, dir, last);
		break;
	case 3:
		*kres = unlinkat(kfd, p, AT_REMOVEDIR) ? -errno : 0;
		if (!res)
			res = registry_rmdir(r, dir, last);
		break;
	case 4:
		*kres = renameat2(kfd, p, kfd, q, fl) ? -errno : 0;
		if (!res)
			res = reg_walk(r, q, &dir2, last2, held, &nheld);
		if (!res)
			res = registry_rename(r, dir, last, dir2, last2, fl);
		break;
	case 5:
		*kres = linkat(kfd, p, kfd, q, 0) ? -errno : 0;
		if (!res && !(res = registry_lookup(r, dir, last, &n, &st)))
			held[nheld++] = n;
		if (!res)
			res = reg_walk(r, q, &dir2, last2, held, &nheld);
		if (!res && !(res = registry_link(r, n, dir2, last2, &st)))
			held[nheld++] = n;
		break;
	case 7:
		*kres = symlinkat(DANGLING, kfd, p) ? -errno : 0;
		if (!res && !(res = registry_symlink(r, dir, last, DANGLING,
						     &ROOT, &n, &st)))
			held[nheld++] = n;
		break;
	default: {
		char full[256];
		snprintf(full, sizeof(full), "%s/%s", kroot, p);
		*kres = truncate(full, (off_t)size) ? -errno : 0;
		if (!res && !(res = registry_lookup(r, dir, last, &n, &st)))
			held[nheld++] = n;
		struct setattr_req sq = {.valid = SET_SIZE, .size = size};
		/* truncate(2) follows a symlink; the kernel does that. */
		if (!res && S_ISLNK(st.st_mode))
			res = -ENOENT;
		if (!res)
			res = registry_setattr(r, n, &sq, &st);
		break;
	}
	}
	forget_all(r, held, nheld);
	*rres = res;
}

/* Loop index: seed, and below 4 memory-backed, 4 and 5 file-backed (on a
 * backing directory of its own, which must then match too). */
START_TEST(differential)
{
	char kroot[128], broot[128];
	diff_mkdtemp(kroot, sizeof(kroot), "reference");
	diff_mkdtemp(broot, sizeof(broot), "backing");
	int kfd = open(kroot, O_RDONLY | O_DIRECTORY);
	int file_backed = _i >= 4;
	struct registry_config cfg = {
	    .capacity = 1ULL << 30,
	    .max_nodes = 100000,
	    .root_mode = 0755,
	    .backing_dirfd =
		file_backed ? open(broot, O_RDONLY | O_DIRECTORY) : -1,
	};
	struct registry *r;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	unsigned seed = 12345u + (unsigned)(_i % 4);
	char desc[256];
	for (int i = 0; i < 1500; i++) {
		int kres, rres;
		diff_op(r, kfd, kroot, &seed, desc, sizeof(desc), &kres, &rres);
		/* Checked by the kernel before FUSE sees it, maybe after
		 * other checks: any refusal will do. A rename into its own
		 * subtree; a link of a directory (the kernel first resolves
		 * the new name, so may say EEXIST or ENOTDIR). */
		int vfs_checked =
		    rres < 0 && (kres == -EINVAL || kres == -ENOTEMPTY ||
				 (rres == -EPERM && kres < 0));
		/* RENAME_NOREPLACE onto any existing name, itself included;
		 * the registry may call that a no-op: the trees are compared
		 * at the end. */
		vfs_checked |= kres == -EEXIST && rres == 0 &&
			       strstr(desc, "op 4") && strstr(desc, "flags 1");
		if (kres != rres && !vfs_checked)
			ck_abort_msg("step %d, %s: kernel %d, registry %d", i,
				     desc, kres, rres);
	}
	diff_tree(r, registry_root(r), kfd, "");
	if (file_backed) {
		int bfd = open(broot, O_RDONLY | O_DIRECTORY);
		diff_tree(r, registry_root(r), bfd, "(backing)");
		close(bfd);
	}
	close(kfd);
	registry_free(r);
}
END_TEST

/*
 * fallocate() on the reference file, done by hand where its filesystem
 * refuses the mode (tmpfs has no FALLOC_FL_ZERO_RANGE): what the mode does
 * to sizes and contents, so that the reference and the registry never
 * drift apart, whatever filesystem the temporary directory is on.
 */
static int reference_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (fallocate(fd, mode, off, len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	off_t end = off + len;
	if ((mode & FALLOC_FL_KEEP_SIZE) && end > st.st_size)
		end = st.st_size;
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		/* Plain allocation: only the size can change. */
		if (end > st.st_size)
			ck_assert_int_eq(ftruncate(fd, end), 0);
		return 0;
	}
	static const char zeros[65536];
	for (off_t at = off; at < end;) {
		size_t n = (size_t)(end - at) < sizeof(zeros)
			       ? (size_t)(end - at)
			       : sizeof(zeros);
		ck_assert_int_eq(pwrite(fd, zeros, n, at), (ssize_t)n);
		at += (off_t)n;
	}
	return 0;
}

/* Random writes, truncates and fallocates on one mapping and on a real
 * file: sizes and contents must stay the same. */
START_TEST(differential_data)
{
	char kpath[160], broot[128];
	snprintf(kpath, sizeof(kpath), "%s/reference.XXXXXX", DIFF_TOP);
	int kfd = mkstemp(kpath);
	ck_assert_int_ge(kfd, 0);
	unlink(kpath);
	/* Loop index 0 and 1 memory-backed, 2 and 3 file-backed. */
	diff_mkdtemp(broot, sizeof(broot), "backing");
	struct registry_config cfg = {
	    .capacity = 1ULL << 30,
	    .max_nodes = 100,
	    .backing_dirfd = _i >= 2 ? open(broot, O_RDONLY | O_DIRECTORY) : -1,
	};
	struct registry *r;
	ck_assert_int_eq(registry_new(&cfg, &r), 0);
	struct node *f = mkfile(r, registry_root(r), "f");
	unsigned seed = 777u + (unsigned)(_i % 2);
	static char buf[3 * 65536], kbuf[3 * 65536], rbuf[3 * 65536];
	static const int modes[] = {
	    0,
	    FALLOC_FL_KEEP_SIZE,
	    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    FALLOC_FL_ZERO_RANGE,
	    FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
	};
	for (int i = 0; i < 1000; i++) {
		uint64_t off = (uint64_t)(rand_r(&seed) % 150000);
		size_t len = 1 + (size_t)(rand_r(&seed) % 40000);
		int op = rand_r(&seed) % 4, kres, rres;
		if (op == 0) {
			memset(buf, 'a' + i % 26, len);
			kres = pwrite(kfd, buf, len, (off_t)off) == (ssize_t)len
				   ? 0
				   : -errno;
			rres = registry_write(r, f, buf, len, off);
		} else if (op == 1) {
			kres = ftruncate(kfd, (off_t)off) ? -errno : 0;
			struct setattr_req q = {.valid = SET_SIZE, .size = off};
			struct stat st;
			rres = registry_setattr(r, f, &q, &st);
		} else {
			int mode = modes[rand_r(&seed) % 5];
			kres = reference_fallocate(kfd, mode, (off_t)off,
						   (off_t)len);
			rres = registry_fallocate(r, f, mode, off, len);
		}
		struct stat kst;
		ck_assert_int_eq(fstat(kfd, &kst), 0);
		ck_assert_msg(kres == rres, "step %d op %d: kernel %d, core %d",
			      i, op, kres, rres);
		ck_assert_msg(
		    (uint64_t)kst.st_size == (uint64_t)getattr(r, f).st_size,
		    "step %d op %d off %llu len %zu: size %lld vs %lld", i, op,
		    (unsigned long long)off, len, (long long)kst.st_size,
		    (long long)getattr(r, f).st_size);
	}
	struct stat kst;
	ck_assert_int_eq(fstat(kfd, &kst), 0);
	size_t size = (size_t)kst.st_size, got = 0;
	ck_assert_uint_le(size, sizeof(kbuf));
	ck_assert_int_eq(pread(kfd, kbuf, size, 0), (ssize_t)size);
	ck_assert_int_eq(registry_read(r, f, rbuf, sizeof(rbuf), 0, &got), 0);
	ck_assert_uint_eq(got, size);
	for (size_t i = 0; i < size; i++)
		ck_assert_msg(kbuf[i] == rbuf[i], "byte %zu: %d vs %d", i,
			      kbuf[i], rbuf[i]);
	close(kfd);
	registry_forget(r, f, 1);
	registry_free(r);
}
END_TEST

/* Random user.* attribute calls on one mapping and on a real file: same
 * results, values and (as sets) lists. */
START_TEST(differential_xattr)
{
	char kpath[160];
	snprintf(kpath, sizeof(kpath), "%s/xattr.XXXXXX", DIFF_TOP);
	int kfd = mkstemp(kpath);
	ck_assert_int_ge(kfd, 0);
	struct node *f = mkfile(R, root(), "f");
	unsigned seed = 4242u + (unsigned)_i;
	static const char *const xnames[] = {
	    "user.a", "user.b", "user.long.name", "user.shmap.base", "user.z"};
	static const int flags[] = {0, XATTR_CREATE, XATTR_REPLACE};
	char val[256], kbuf[512], rbuf[512];
	for (int i = 0; i < 1000; i++) {
		const char *name = xnames[rand_r(&seed) % 5];
		int op = rand_r(&seed) % 4, kres, rres;
		size_t len = (size_t)(rand_r(&seed) % 200), rlen = 0;
		if (op == 0) {
			int fl = flags[rand_r(&seed) % 3];
			memset(val, 'A' + i % 26, len);
			kres = fsetxattr(kfd, name, val, len, fl) ? -errno : 0;
			rres =
			    registry_setxattr(R, f, &USER, name, val, len, fl);
		} else if (op == 1) {
			kres = fremovexattr(kfd, name) ? -errno : 0;
			rres = registry_removexattr(R, f, &USER, name);
		} else {
			/* Sometimes a size query, sometimes too small. */
			size_t bsz =
			    op == 2 ? 0 : (size_t)(rand_r(&seed) % 300);
			ssize_t k =
			    fgetxattr(kfd, name, bsz ? kbuf : NULL, bsz);
			kres = k < 0 ? -errno : 0;
			rres = registry_getxattr(R, f, name, bsz ? rbuf : NULL,
						 bsz, &rlen);
			if (kres == 0 && rres == 0) {
				ck_assert_uint_eq((size_t)k, rlen);
				if (bsz)
					ck_assert(memcmp(kbuf, rbuf, rlen) ==
						  0);
			}
		}
		ck_assert_msg(kres == rres,
			      "step %d op %d %s: kernel %d, core %d", i, op,
			      name, kres, rres);
	}
	/* The lists, as sets; ours also names the protection. */
	ssize_t klen = flistxattr(kfd, kbuf, sizeof(kbuf));
	size_t rlen;
	ck_assert_int_ge(klen, 0);
	ck_assert_int_eq(registry_listxattr(R, f, rbuf, sizeof(rbuf), &rlen),
			 0);
	int kn = 0, rn = 0;
	for (char *p = kbuf; p < kbuf + klen; p += strlen(p) + 1) {
		if (strncmp(p, "user.", 5))
			continue;
		kn++;
		int found = 0;
		for (char *q = rbuf; q < rbuf + rlen; q += strlen(q) + 1)
			found |= !strcmp(p, q);
		ck_assert_msg(found, "%s missing from the registry's list", p);
	}
	for (char *q = rbuf; q < rbuf + rlen; q += strlen(q) + 1)
		rn += strcmp(q, SHMAP_XATTR_PROTECT) != 0;
	ck_assert_int_eq(kn, rn);
	close(kfd);
	unlink(kpath);
	registry_forget(R, f, 1);
}
END_TEST

int main(void)
{
	TCase *tc = registry_tcase("differential", 60);
	tcase_add_loop_test(tc, differential, 0, 6);
	tcase_add_loop_test(tc, differential_data, 0, 4);
	tcase_add_loop_test(tc, differential_xattr, 0, 2);
	return registry_run(tc);
}
