/*
 * shmop: one POSIX shared-memory or named-semaphore operation, as a given
 * user, for the /dev/shm tests (tests/mount/check_devshm.c).
 *
 *   shmop USER OP NAME [ARG...]      USER: a user name, or "-" to stay
 *
 * The exit status is the errno of the operation under test (0: it
 * succeeded), or WRONG when it succeeded but the result was wrong (a size,
 * an owner, the data), with one line on stderr saying what. Only the
 * standard calls are used (shm_open, ftruncate, fstat, mmap, shm_unlink,
 * sem_open, sem_getvalue, sem_unlink), so this is what any unmodified
 * program does with /dev/shm.
 *
 * OP:
 *   create NAME MODE SIZE  shm_open(O_CREAT|O_EXCL|O_RDWR), ftruncate,
 *                          check fstat (size, owner), fill with a pattern
 *   check NAME SIZE        shm_open(O_RDONLY), check size and pattern
 *   open-ro NAME / open-rw NAME    shm_open(O_RDONLY / O_RDWR)
 *   excl NAME              shm_open(O_CREAT|O_EXCL|O_RDWR)
 *   unlink NAME            shm_unlink
 *   sizes NAME             ftruncate through sizes up and down; fstat
 *                          must follow, and regrown space read zero
 *   unlinked NAME          shm_unlink a mapped object: the name goes, the
 *                          mapping stays usable (also in a forked child)
 *   extras NAME            what programs do besides: posix_fallocate,
 *                          fchmod, an executable view (JITs), O_TRUNC
 *                          on reopen, fstatvfs (free space in /dev/shm)
 *   hold NAME              create a 1 MiB object, store through a view,
 *                          write "r" to stdout, wait for EOF on stdin
 *                          (the mount is detached meanwhile), then store
 *                          to a new page and check both
 *   sem-create NAME VALUE  sem_open(O_CREAT|O_EXCL, 0666, VALUE)
 *   sem-attach NAME VALUE  sem_open(O_CREAT, 0666, 99): must attach to the
 *                          existing semaphore, whose value is VALUE
 *   sem-value NAME VALUE   sem_open(NAME, 0); its value must be VALUE
 *   sem-join NAME          sem_open(O_CREAT, 0666, 0), then sem_post
 *   sem-unlink NAME        sem_unlink
 *
 * With SHMOP_START_AT=NS in the environment, the operation waits until
 * CLOCK_REALTIME reaches NS nanoseconds, so that racing helpers start
 * together.
 */
#include <fcntl.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>

#include "become.h"

#define WRONG 250
#define USAGE 251

/* The pattern an object is filled with: byte i of object name. */
static unsigned char pattern(const char *name, size_t i)
{
	unsigned h = 5381;
	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return (unsigned char)(h + i * 31 + (i >> 12));
}

static int wrong(const char *name, const char *what)
{
	fprintf(stderr, "shmop %s: %s\n", name, what);
	return WRONG;
}

static int check_fd(int fd, const char *name, off_t size, int own)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errno;
	if (st.st_size != size) {
		fprintf(stderr, "shmop %s: fstat size %lld, expected %lld\n",
			name, (long long)st.st_size, (long long)size);
		return WRONG;
	}
	if (!S_ISREG(st.st_mode))
		return wrong(name, "not a regular file");
	if (own && (st.st_uid != geteuid() || st.st_gid != getegid()))
		return wrong(name, "not owned by its creator");
	return 0;
}

static int op_create(const char *name, mode_t mode, off_t size)
{
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, mode);
	if (fd < 0)
		return errno;
	if (ftruncate(fd, size) < 0)
		return errno;
	int r = check_fd(fd, name, size, 1);
	if (r || size == 0)
		return r;
	unsigned char *p =
	    mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	for (size_t i = 0; i < (size_t)size; i++)
		p[i] = pattern(name, i);
	return 0;
}

static int op_check(const char *name, off_t size)
{
	int fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0)
		return errno;
	int r = check_fd(fd, name, size, 0);
	if (r || size == 0)
		return r;
	unsigned char *p =
	    mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	for (size_t i = 0; i < (size_t)size; i++)
		if (p[i] != pattern(name, i))
			return wrong(name, "data differs from the creator's");
	return 0;
}

static int op_open(const char *name, int flags)
{
	int fd = shm_open(name, flags, 0600);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int all_zero(const unsigned char *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ftruncate up and down; fstat follows, and what regrows reads zero. */
static int op_sizes(const char *name)
{
	static const off_t sizes[] = {0,       1,     4095, 4096,
				      1048579, 65536, 8191, 0};
	const size_t span = 1048579;
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0)
		return errno;
	int r = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && !r; i++) {
		if (ftruncate(fd, sizes[i]) < 0)
			return errno;
		r = check_fd(fd, name, sizes[i], 1);
	}
	if (r)
		return r;
	/* Fill 1 MiB + 3, shrink to 4096, grow again: the tail is zero. */
	if (ftruncate(fd, (off_t)span) < 0)
		return errno;
	unsigned char *p =
	    mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	memset(p, 0xa5, span);
	if (ftruncate(fd, 4096) < 0 || ftruncate(fd, (off_t)span) < 0)
		return errno;
	if (p[4095] != 0xa5 || !all_zero(p, 4096, span))
		return wrong(name, "shrink and regrow did not zero the tail");
	return check_fd(fd, name, (off_t)span, 1);
}

/* Stores through an unlinked object's view, from this process and from
 * a forked child; the new name must read ENOENT meanwhile. */
static int op_unlinked(const char *name)
{
	const size_t len = 65536;
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0)
		return errno;
	if (ftruncate(fd, (off_t)len) < 0)
		return errno;
	unsigned char *a =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED)
		return errno;
	memset(a, 1, len);
	if (shm_unlink(name) < 0)
		return errno;
	if (shm_open(name, O_RDWR, 0) >= 0 || errno != ENOENT)
		return wrong(name, "name still opens after shm_unlink");
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		memset(a, 2, len);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || status != 0)
		return wrong(name, "child failed to store through the view");
	if (a[0] != 2 || a[len - 1] != 2)
		return wrong(name, "child's stores not seen after unlink");
	/* A second view of the nameless object shows the same pages. */
	unsigned char *b = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		return errno;
	a[len / 2] = 3;
	if (b[len / 2] != 3 || b[0] != 2)
		return wrong(name, "second view of unlinked object differs");
	return check_fd(fd, name, (off_t)len, 1);
}

static int op_extras(const char *name)
{
	struct statvfs sv;
	struct stat st;
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return errno;
	int r = posix_fallocate(fd, 0, 1 << 20);
	if (r)
		return r;
	if ((r = check_fd(fd, name, 1 << 20, 1)))
		return r;
	if (fchmod(fd, 0640) < 0 || fstat(fd, &st) < 0)
		return errno;
	if ((st.st_mode & 07777) != 0640)
		return wrong(name, "fchmod did not change the mode");
	void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	if (x == MAP_FAILED)
		return errno;
	int fd2 = shm_open(name, O_RDWR | O_TRUNC, 0);
	if (fd2 < 0)
		return errno;
	if ((r = check_fd(fd, name, 0, 1)) || (r = check_fd(fd2, name, 0, 1)))
		return r;
	if (fstatvfs(fd, &sv) < 0)
		return errno;
	if (sv.f_bsize == 0 || sv.f_blocks == 0 || sv.f_bavail == 0 ||
	    sv.f_bavail > sv.f_blocks)
		return wrong(name, "fstatvfs reports no space");
	return 0;
}

static int op_hold(const char *name)
{
	const size_t len = 1 << 20;
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		return errno;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	memcpy(p, "before", 6);
	char c;
	if (write(STDOUT_FILENO, "r", 1) != 1)
		return errno;
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	memcpy(p + len / 2, "after", 5);
	if (memcmp(p, "before", 6) || memcmp(p + len / 2, "after", 5))
		return wrong(name, "stores lost while the mount was detached");
	if (msync(p, len, MS_SYNC) < 0)
		return errno;
	return check_fd(fd, name, (off_t)len, 1);
}

static int op_sem_create(const char *name, unsigned value)
{
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0666, value);
	return s == SEM_FAILED ? errno : 0;
}

static int sem_has(sem_t *s, const char *name, int value)
{
	int v;
	if (s == SEM_FAILED)
		return errno;
	if (sem_getvalue(s, &v) < 0)
		return errno;
	if (v != value) {
		fprintf(stderr, "shmop %s: semaphore value %d, expected %d\n",
			name, v, value);
		return WRONG;
	}
	return 0;
}

static int op_sem_join(const char *name)
{
	sem_t *s = sem_open(name, O_CREAT, 0666, 0);
	if (s == SEM_FAILED)
		return errno;
	return sem_post(s) < 0 ? errno : 0;
}

static void wait_for_start(void)
{
	const char *at = getenv("SHMOP_START_AT");
	if (!at)
		return;
	long long ns = atoll(at);
	struct timespec t = {(time_t)(ns / 1000000000),
			     (long)(ns % 1000000000)};
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &t, NULL) ==
	       EINTR)
		;
}

static int run(int argc, char **argv)
{
	const char *op = argv[2], *name = argv[3];
	long arg = argc > 4 ? strtol(argv[4], NULL, 0) : 0;
	long arg2 = argc > 5 ? strtol(argv[5], NULL, 0) : 0;
	if (!strcmp(op, "create") && argc == 6)
		return op_create(name, (mode_t)arg, (off_t)arg2);
	if (!strcmp(op, "check") && argc == 5)
		return op_check(name, (off_t)arg);
	if (!strcmp(op, "open-ro"))
		return op_open(name, O_RDONLY);
	if (!strcmp(op, "open-rw"))
		return op_open(name, O_RDWR);
	if (!strcmp(op, "excl"))
		return op_open(name, O_CREAT | O_EXCL | O_RDWR);
	if (!strcmp(op, "unlink"))
		return shm_unlink(name) < 0 ? errno : 0;
	if (!strcmp(op, "sizes"))
		return op_sizes(name);
	if (!strcmp(op, "unlinked"))
		return op_unlinked(name);
	if (!strcmp(op, "hold"))
		return op_hold(name);
	if (!strcmp(op, "extras"))
		return op_extras(name);
	if (!strcmp(op, "sem-create") && argc == 5)
		return op_sem_create(name, (unsigned)arg);
	if (!strcmp(op, "sem-attach") && argc == 5)
		return sem_has(sem_open(name, O_CREAT, 0666, 99), name,
			       (int)arg);
	if (!strcmp(op, "sem-value") && argc == 5)
		return sem_has(sem_open(name, 0), name, (int)arg);
	if (!strcmp(op, "sem-join"))
		return op_sem_join(name);
	if (!strcmp(op, "sem-unlink"))
		return sem_unlink(name) < 0 ? errno : 0;
	return USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: shmop USER OP NAME [ARG...]\n");
		return USAGE;
	}
	int r = become(argv[1]);
	if (r < 0) {
		fprintf(stderr, "shmop: cannot become %s: %s\n", argv[1],
			strerror(-r));
		return HELPER_NOT_RUN;
	}
	wait_for_start();
	r = run(argc, argv);
	if (r == USAGE)
		fprintf(stderr, "shmop: bad operation or arguments: %s\n",
			argv[2]);
	return r;
}
