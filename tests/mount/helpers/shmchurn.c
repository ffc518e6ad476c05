/*
 * shmchurn: create-or-open and unlink one POSIX shared-memory name over
 * and over, from several processes at once, as programs that share a
 * well-known name do (each side calls shm_open(O_CREAT) and someone
 * shm_unlinks it when done), for the /dev/shm tests
 * (tests/mount/check_devshm.c).
 *
 *   shmchurn USER NAME PROCS ITERATIONS
 *
 * Each of PROCS processes, ITERATIONS times: shm_open(NAME, O_CREAT |
 * O_RDWR), ftruncate to a page, map it, store and load through the view,
 * unmap, close, and every third time shm_unlink(NAME). Whatever the
 * interleaving, each call must succeed (shm_unlink may find the name
 * gone: ENOENT): an object that lost its name keeps working for whoever
 * opened it, as on tmpfs. Exit 0 on success, 1 (with a line on stderr)
 * on the first failure.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "become.h"

static int fail(const char *what, long i)
{
	fprintf(stderr, "shmchurn[%d]: %s (iteration %ld): %s\n", getpid(),
		what, i, strerror(errno));
	return 1;
}

static int one_round(const char *name, long i, unsigned char tag)
{
	int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		return fail("shm_open", i);
	if (ftruncate(fd, 4096) < 0)
		return fail("ftruncate", i);
	volatile unsigned char *p =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", i);
	p[tag] = tag;
	if (p[tag] != tag) {
		errno = EIO;
		return fail("store through the view lost", i);
	}
	munmap((void *)p, 4096);
	close(fd);
	if (i % 3 == 2 && shm_unlink(name) < 0 && errno != ENOENT)
		return fail("shm_unlink", i);
	return 0;
}

static int churn(const char *name, long iterations, unsigned char tag)
{
	for (long i = 0; i < iterations; i++)
		if (one_round(name, i, tag))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: shmchurn USER NAME PROCS ITERATIONS\n");
		return 1;
	}
	if (become(argv[1]) < 0) {
		fprintf(stderr, "shmchurn: cannot become %s\n", argv[1]);
		return HELPER_NOT_RUN;
	}
	int procs = atoi(argv[3]);
	long iterations = atol(argv[4]);
	for (int k = 0; k < procs; k++) {
		pid_t pid = fork();
		if (pid < 0)
			return fail("fork", -1);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(
			    churn(argv[2], iterations, (unsigned char)(k + 1)));
		}
	}
	int status, failed = 0;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	shm_unlink(argv[2]);
	return failed;
}
