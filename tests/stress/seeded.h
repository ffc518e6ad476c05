/*
 * What the stress exercisers share: a seeded random sequence (splitmix64,
 * so that a run repeats from its seed) and a monotonic clock in seconds.
 */
#ifndef SHMAPFS_STRESS_SEEDED_H
#define SHMAPFS_STRESS_SEEDED_H

#include <stdint.h>
#include <time.h>

/* The next number of the sequence whose state is *s. */
static inline uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number below n (0 if n is 0). */
static inline uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? splitmix(s) % n : 0;
}

/* CLOCK_MONOTONIC, in seconds. */
static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
