/*
 * The hostile backing directory of fuzz_backing: a temporary directory
 * (in FUZZ_TMPDIR, else /dev/shm, else TMPDIR or /tmp) that the input
 * fills before the mount with files, subdirectories, hard links, fifos,
 * oversized xattrs, symlinks pointing outside and files someone else
 * holds locked, and that someone else changes while it is in use. Beside
 * it a sentinel
 * directory that the daemon must never change, chmod or lock.
 * File-static state: one fuzzer process, one input at a time.
 */
#include "fuzz_backing_dir.h"
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			fail(__LINE__, #c);                                    \
	} while (0)

static void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_backing_dir.c:%d: invariant broken: %s\n", line,
		what);
	abort();
}

static const char *const protect_values[] = {"readwrite", "readonly",
					     "writecopy", "readonly\n"};

/* For xattr values, up to 17 pages. */
static uint8_t value_buf[17 * 4096];

struct dirs {
	char base[256];	   /* the temporary directory of this process */
	char backing[300]; /* base/backing: what the registry gets */
	char outside[300]; /* base/outside: must never change */
	int locked[4];	   /* backing files someone else holds locked */
};

static struct dirs dirs = {.locked = {-1, -1, -1, -1}};

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void dirs_remove(void)
{
	nftw(dirs.base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Remove what fuzzers that died (crash, SIGKILL) left in tmp: the
 * directory names carry the pid. */
static void remove_stale(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	int pid;
	while (d && (e = readdir(d))) {
		if (sscanf(e->d_name, "shmapfs-fuzz.%d.", &pid) != 1 ||
		    pid <= 0 || pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue; /* its fuzzer is alive */
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
		nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (d)
		closedir(d);
}

/* In FUZZ_TMPDIR, else /dev/shm (fast: fsync costs nothing), else TMPDIR,
 * else /tmp. */
static void dirs_init(void)
{
	if (dirs.base[0])
		return;
	const char *tmp = getenv("FUZZ_TMPDIR");
	if (!tmp && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	if (!tmp)
		tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	remove_stale(tmp);
	snprintf(dirs.base, sizeof(dirs.base), "%s/shmapfs-fuzz.%d.XXXXXX", tmp,
		 (int)getpid());
	CHECK(mkdtemp(dirs.base) != NULL);
	atexit(dirs_remove);
	snprintf(dirs.backing, sizeof(dirs.backing), "%s/backing", dirs.base);
	snprintf(dirs.outside, sizeof(dirs.outside), "%s/outside", dirs.base);
	CHECK(mkdir(dirs.outside, 0755) == 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/secret", dirs.outside);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "secret", 6) == 6);
	close(fd);
}

void backing_dir_unlock_all(void)
{
	for (int i = 0; i < 4; i++) {
		if (dirs.locked[i] >= 0)
			close(dirs.locked[i]);
		dirs.locked[i] = -1;
	}
}

/* Someone else locks a backing file, as another shmapfs would. */
static void lock_file(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < 4; i++) {
		if (dirs.locked[i] < 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			dirs.locked[i] = fd;
			return;
		}
	}
	close(fd);
}

static void backing_clear(void)
{
	nftw(dirs.backing, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Nothing outside the backing directory was made, changed or locked. */
void backing_dir_check_outside(void)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/secret", dirs.outside);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(st.st_size == 6 && st.st_nlink == 1);
	CHECK((st.st_mode & 07777) == 0644 && st.st_uid == geteuid());
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0);
	close(fd);
	CHECK(lstat(dirs.outside, &st) == 0 && st.st_nlink == 2);
	snprintf(path, sizeof(path), "%s/a", dirs.base);
	CHECK(lstat(path, &st) < 0);
}

static const char *const plant_names[] = {"a", "b", "c",   "d",
					  "e", "f", "..x", "sub/x"};

/* Fill the backing directory before the mount, as its owner (or someone
 * else) may have: files, subdirectories, links, fifos, symlinks out. */
static void plant(struct input *in, int dirfd)
{
	int count = in_u8(in) % 10;
	mkdirat(dirfd, "sub", 0755);
	for (int i = 0; i < count; i++) {
		const char *name = plant_names[in_u8(in) % 8];
		const char *other = plant_names[in_u8(in) % 8];
		int fd;
		uint16_t size;
		switch (in_u8(in) % 9) {
		case 0:
		case 1:
			fd = openat(
			    dirfd, name,
			    O_CREAT | O_WRONLY | O_NOFOLLOW | O_NONBLOCK, 0644);
			size = in_u16(in);
			if (fd >= 0) {
				(void)!ftruncate(fd, size % 20000);
				(void)!pwrite(fd, name, strlen(name),
					      size % 5000);
				close(fd);
			}
			break;
		case 2:
			mkdirat(dirfd, name, 0755);
			break;
		case 3:
			linkat(dirfd, other, dirfd, name, 0);
			break;
		case 4:
			mkfifoat(dirfd, name, 0644);
			break;
		case 5:
			symlinkat(in_u8(in) & 1 ? "../outside/secret"
						: "../outside",
				  dirfd, name);
			break;
		case 6:
			fd = openat(dirfd, name,
				    O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
			if (fd >= 0) {
				const char *xn = in_u8(in) & 1
						     ? SHMAP_XATTR_PROTECT
						     : "user.shmap.base";
				/* Sometimes a value past what a node holds. */
				uint8_t v = in_u8(in);
				size_t len = v < 240 ? 8 : (v - 239u) * 4096;
				memset(value_buf, 'x', len);
				if (v < 240)
					memcpy(value_buf, protect_values[v % 4],
					       8);
				fsetxattr(fd, xn, value_buf, len, 0);
				close(fd);
			}
			break;
		case 7:
			lock_file(dirfd, name);
			break;
		default:
			symlinkat("a", dirfd, name);
		}
	}
}

/* While mounted, someone else changes the backing directory: swaps a
 * name for a fifo or a symlink out, removes it, renames it, or locks or
 * unlocks it. Returns what it did, for the trace. */
const char *backing_dir_meddle(int dirfd, struct input *in)
{
	static char what[64];
	const char *name = plant_names[in_u8(in) % 8];
	uint8_t kind = in_u8(in);
	snprintf(what, sizeof(what), "%s, %d", name, kind % 6);
	switch (kind % 6) {
	case 0:
		unlinkat(dirfd, name, 0);
		mkfifoat(dirfd, name, 0666);
		break;
	case 1:
		unlinkat(dirfd, name, 0);
		symlinkat("../outside/secret", dirfd, name);
		break;
	case 2:
		unlinkat(dirfd, name, 0);
		break;
	case 3:
		lock_file(dirfd, name);
		break;
	case 4:
		backing_dir_unlock_all();
		break;
	default:
		renameat(dirfd, name, dirfd, plant_names[kind % 8]);
	}
	return what;
}

const char *backing_dir_path(void)
{
	return dirs.backing;
}

int backing_dir_make(struct input *in)
{
	dirs_init();
	backing_clear();
	CHECK(mkdir(dirs.backing, 0755) == 0);
	int dirfd = open(dirs.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dirfd >= 0);
	plant(in, dirfd);
	return dirfd;
}
