/*
 * The exerciser's name churn; see names.h.
 */
#include "names.h"
#include "seeded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS	    48 /* names n00 .. n47 per churner */
#define CHECK_EVERY 64 /* operations between full checks */

struct churner {
	int id;
	char dir[PATH_MAX - 16]; /* room for "/nNN" after it */
	uint64_t rng;
	char exists[SLOTS]; /* the model: what the calls said */
	struct names_counts *c;
};

static void __attribute__((noreturn))
churn_die(const struct churner *ch, const char *call, int slot, int err)
{
	fprintf(stderr, "exerciser: names%d: %s n%02d failed: %s\n", ch->id,
		call, slot, strerror(err));
	if (err == ENOTCONN || err == ECONNABORTED)
		fprintf(stderr, "exerciser: CONNECTION LOST (%s)\n",
			strerror(err));
	_exit(1);
}

static const char *slot_path(const struct churner *ch, int slot)
{
	static char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/n%02d", ch->dir, slot);
	return path;
}

/* Whether stat sees the slot's name: 1, 0, or the churner dies. */
static int stat_sees(const struct churner *ch, int slot)
{
	struct stat st;
	if (lstat(slot_path(ch, slot), &st) == 0)
		return 1;
	if (errno != ENOENT)
		churn_die(ch, "stat", slot, errno);
	return 0;
}

/* A name whose presence differs from the model. */
static void mismatch(struct churner *ch, int slot, const char *after, int seen)
{
	fprintf(stderr, "exerciser: names%d: n%02d %s after %s, expected %s\n",
		ch->id, slot, seen ? "present" : "absent", after,
		ch->exists[slot] ? "present" : "absent");
	ch->c->mismatches[ch->id]++;
	ch->exists[slot] = (char)seen; /* count it once */
}

static void expect_slot(struct churner *ch, int slot, const char *after)
{
	int seen = stat_sees(ch, slot);
	if (seen != ch->exists[slot])
		mismatch(ch, slot, after, seen);
}

/* readdir against stat, and both against the model. */
static void full_check(struct churner *ch)
{
	char listed[SLOTS] = {0};
	DIR *d = opendir(ch->dir);
	if (!d)
		churn_die(ch, "opendir", -1, errno);
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		int slot;
		char end;
		if (sscanf(e->d_name, "n%d%c", &slot, &end) == 1 && slot >= 0 &&
		    slot < SLOTS)
			listed[slot] = 1;
		else if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			fprintf(stderr, "exerciser: names%d: stray %s\n",
				ch->id, e->d_name);
	}
	if (errno)
		churn_die(ch, "readdir", -1, errno);
	closedir(d);
	for (int s = 0; s < SLOTS; s++) {
		int seen = stat_sees(ch, s);
		if (listed[s] != seen) {
			fprintf(stderr,
				"exerciser: names%d: FALSE NAME n%02d: "
				"readdir %s it, stat %s it\n",
				ch->id, s, listed[s] ? "lists" : "omits",
				seen ? "sees" : "cannot see");
			ch->c->false_names[ch->id]++;
		}
		if (seen != ch->exists[s])
			mismatch(ch, s, "full check", seen);
	}
	ch->c->full_checks[ch->id]++;
}

static void do_create(struct churner *ch, int slot)
{
	int fd = open(slot_path(ch, slot), O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd >= 0) {
		ch->exists[slot] = 1;
		if (rnd(&ch->rng, 2) && ftruncate(fd, 4096) < 0 &&
		    errno != ENOSPC)
			churn_die(ch, "ftruncate", slot, errno);
		close(fd);
	} else if (errno == ENOSPC || errno == EDQUOT || errno == ENOMEM) {
		ch->c->refused[ch->id]++;
	} else if (errno != EEXIST) {
		churn_die(ch, "create", slot, errno);
	} else if (!ch->exists[slot]) {
		mismatch(ch, slot, "create (EEXIST)", 1);
	}
	expect_slot(ch, slot, "create");
}

static void do_unlink(struct churner *ch, int slot)
{
	if (unlink(slot_path(ch, slot)) == 0) {
		if (!ch->exists[slot])
			mismatch(ch, slot, "unlink (done)", 1);
		ch->exists[slot] = 0;
	} else if (errno != ENOENT) {
		churn_die(ch, "unlink", slot, errno);
	} else if (ch->exists[slot]) {
		mismatch(ch, slot, "unlink (ENOENT)", 0);
	}
	expect_slot(ch, slot, "unlink");
}

static void do_rename(struct churner *ch, int from, int to)
{
	char src[PATH_MAX + 8];
	snprintf(src, sizeof(src), "%s", slot_path(ch, from));
	if (rename(src, slot_path(ch, to)) == 0) {
		if (!ch->exists[from])
			mismatch(ch, from, "rename (done)", 1);
		ch->exists[from] = from == to;
		ch->exists[to] = 1;
	} else if (errno != ENOENT) {
		churn_die(ch, "rename", from, errno);
	} else if (ch->exists[from]) {
		mismatch(ch, from, "rename (ENOENT)", 0);
	}
	expect_slot(ch, from, "rename");
	expect_slot(ch, to, "rename");
}

static void __attribute__((noreturn)) churn_main(struct churner *ch)
{
	if (mkdir(ch->dir, 0755) < 0 && errno != EEXIST)
		churn_die(ch, "mkdir", -1, errno);
	full_check(ch);
	for (uint64_t i = 1; !ch->c->stop; i++) {
		int slot = (int)rnd(&ch->rng, SLOTS);
		uint64_t pick = rnd(&ch->rng, 10);
		if (pick < 4)
			do_create(ch, slot);
		else if (pick < 7)
			do_unlink(ch, slot);
		else
			do_rename(ch, slot, (int)rnd(&ch->rng, SLOTS));
		ch->c->ops[ch->id]++;
		if (i % CHECK_EVERY == 0)
			full_check(ch);
	}
	full_check(ch);
	_exit(ch->c->false_names[ch->id] || ch->c->mismatches[ch->id] ? 1 : 0);
}

int names_start(const char *dir, int n, uint64_t seed, struct names_counts *c,
		pid_t *pids)
{
	for (int i = 0; i < n; i++) {
		fflush(NULL);
		pids[i] = fork();
		if (pids[i] < 0)
			return -errno;
		if (pids[i] == 0) {
			struct churner ch = {.id = i, .c = c};
			ch.rng = seed ^ (0x6e616d6573ULL + (uint64_t)i);
			snprintf(ch.dir, sizeof(ch.dir), "%s/names%d", dir, i);
			churn_main(&ch);
		}
	}
	return 0;
}

int names_stop(int n, struct names_counts *c, pid_t *pids, int timeout_s)
{
	int bad = 0;
	c->stop = 1;
	double deadline = now_s() + timeout_s;
	for (int i = 0; i < n; i++) {
		int st = 0;
		pid_t r;
		while ((r = waitpid(pids[i], &st, WNOHANG)) == 0 &&
		       now_s() < deadline)
			usleep(10000); /* polled, within the deadline */
		if (r == 0) {
			fprintf(stderr,
				"exerciser: names%d still busy after "
				"%d s (hang)\n",
				i, timeout_s);
			kill(pids[i], SIGKILL);
			waitpid(pids[i], &st, 0);
		}
		pids[i] = -1;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	}
	uint64_t t[5] = {0};
	for (int i = 0; i < n; i++) {
		t[0] += c->ops[i];
		t[1] += c->refused[i];
		t[2] += c->full_checks[i];
		t[3] += c->false_names[i];
		t[4] += c->mismatches[i];
	}
	printf("exerciser: names: %d churners, %" PRIu64 " operations, %" PRIu64
	       " creates refused, %" PRIu64 " full checks, %" PRIu64
	       " false names, %" PRIu64 " model mismatches\n",
	       n, t[0], t[1], t[2], t[3], t[4]);
	fflush(stdout);
	return bad || t[3] || t[4] ? -1 : 0;
}
