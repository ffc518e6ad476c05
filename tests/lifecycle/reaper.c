/*
 * reaper: run one command as a child subreaper and record how every
 * descendant ended, so that a lifecycle test can learn the exit status of
 * a daemon that detached from it (mount(8) -> mount.shmapfs -> shmapfs,
 * which forks and leaves; the orphan is re-parented to us, not to init).
 *
 *   reaper STATUS_FILE COMMAND [ARG...]
 *
 * Each reaped process appends one line "PID STATUS" to STATUS_FILE, where
 * STATUS is the exit status, or 128 + the signal number if it was killed.
 * The reaper exits with the command's status once the command has ended
 * and no descendant is left, or at most LINGER_MS after the command ended
 * (what lingers then is killed, by pid: a test must not leave daemons
 * behind).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MS 5000
#define POLL_MS	  10

static int status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

static void record(int fd, pid_t pid, int code)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %d\n", (int)pid, code);
	/* One write per line on an O_APPEND file: readers never see half. */
	if (write(fd, line, (size_t)n) != n)
		perror("reaper: write");
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Reap what has ended; 1 if no child is left at all. */
static int reap_ready(int fd, pid_t cmd, int *cmd_code, int *cmd_done)
{
	int status;
	for (;;) {
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0)
			return errno == ECHILD;
		if (pid == 0)
			return 0;
		record(fd, pid, status_code(status));
		if (pid == cmd) {
			*cmd_code = status_code(status);
			*cmd_done = 1;
		}
	}
}

/* SIGKILL every process whose parent is this one (by pid, one by one). */
static void kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], buf[512];
		int pid = atoi(e->d_name), ppid;
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		/* "pid (comm) state ppid": comm may hold spaces and ')'. */
		char *p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 &&
		    ppid == getpid())
			kill(pid, SIGKILL);
	}
	closedir(d);
}

static pid_t spawn(char **argv)
{
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "reaper: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: reaper STATUS_FILE COMMAND [ARG...]\n");
		return 2;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("reaper");
		return 2;
	}
	pid_t cmd = spawn(argv + 2);
	if (cmd < 0) {
		perror("reaper: fork");
		return 2;
	}
	int code = 255, done = 0, lingered = 0;
	while (!reap_ready(fd, cmd, &code, &done)) {
		if (done && (lingered += POLL_MS) > LINGER_MS) {
			fprintf(stderr, "reaper: killing leftover processes\n");
			kill_children();
			lingered = 0;
		}
		sleep_ms(POLL_MS);
	}
	return code;
}
