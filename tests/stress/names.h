/*
 * Name churn for the exerciser: processes that create (some refused when
 * the mount is full), unlink and rename names, each in a directory of its
 * own, and check that readdir and stat agree with each other and with
 * what the calls returned. A name that readdir lists and stat cannot see,
 * or the reverse, is a false name; a name whose presence differs from
 * what the calls said (a failed create that left it, say) is a model
 * mismatch. Both must be 0.
 */
#ifndef SHMAPFS_STRESS_NAMES_H
#define SHMAPFS_STRESS_NAMES_H

#include <stdint.h>
#include <sys/types.h>

#define NAMES_MAX_CHURNERS 8

/* Counts, in memory shared with the churners (MAP_SHARED). */
struct names_counts {
	volatile int stop; /* set by the coordinator: check, then exit */
	uint64_t ops[NAMES_MAX_CHURNERS];
	uint64_t refused[NAMES_MAX_CHURNERS]; /* ENOSPC, EDQUOT, ENOMEM */
	uint64_t full_checks[NAMES_MAX_CHURNERS];
	uint64_t false_names[NAMES_MAX_CHURNERS];
	uint64_t mismatches[NAMES_MAX_CHURNERS];
};

/* Start n churners under dir (dir/names0, ...); their pids in pids. */
int names_start(const char *dir, int n, uint64_t seed, struct names_counts *c,
		pid_t *pids);

/*
 * Tell them to stop, wait for their last check (at most timeout_s) and
 * print the totals. 0 if every churner exited 0 and found nothing.
 */
int names_stop(int n, struct names_counts *c, pid_t *pids, int timeout_s);

#endif
