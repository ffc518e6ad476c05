/*
 * The memory a daemon may use, and what fits in it. A daemon in a memory
 * cgroup is charged for its own memory (about 450 bytes per mapping), for
 * the kernel's inodes and dentries of its stores (about 950 bytes per
 * mapping) and, memory-backed, for the data it stores; past the cgroup's
 * limit the kernel's OOM killer takes the daemon and the mount with it.
 * So the mount's size= and nr_mappings= are fitted to the limit: creates
 * then fail with ENOSPC first. See README.md, "Memory limits".
 */
#ifndef SHMAPFS_MEMLIMIT_H
#define SHMAPFS_MEMLIMIT_H

#include <stddef.h>
#include <stdint.h>

/* No limit found. */
#define MEMLIMIT_NONE UINT64_MAX

/*
 * A daemon built with AddressSanitizer (make check's sanitized build)
 * takes about twice the memory per allocation (redzones, shadow,
 * quarantine): measured 2,970-3,040 bytes a mapping memory-backed,
 * 2,840-3,410 file-backed, and 31 MiB before the first.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MEMLIMIT_COST_FACTOR 2u
#else
#define MEMLIMIT_COST_FACTOR 1u
#endif

/*
 * What one mapping costs the cgroup, daemon and kernel together, with
 * margin. Measured with empty 4 KiB mappings on both data paths
 * (tests/mount/check_memlimit.c prints it): memory-backed 1,400 bytes
 * (450 the daemon's, 950 the inode and dentry in its tmpfs), file-backed
 * 1,800-2,050 (the backing filesystem's inode instead, and its page cache).
 */
#define MEMLIMIT_MEMORY_MAPPING_BYTES (2048u * MEMLIMIT_COST_FACTOR)
#define MEMLIMIT_FILE_MAPPING_BYTES   (3072u * MEMLIMIT_COST_FACTOR)

/* The daemon's own memory before any mapping: 16 workers' 1 MiB request
 * buffers, their stacks, libraries. */
#define MEMLIMIT_RESERVE_BYTES ((24u << 20) * MEMLIMIT_COST_FACTOR)

/*
 * The least memory limit of this process's cgroup and of its ancestors:
 * the cgroup v1 memory controller's memory.limit_in_bytes, and cgroup v2's
 * memory.max and memory.high. proc_cgroup and mountinfo are the files to
 * read (/proc/self/cgroup and /proc/self/mountinfo; others in tests).
 * MEMLIMIT_NONE when there is none or it cannot be read.
 */
uint64_t memlimit_read(const char *proc_cgroup, const char *mountinfo);

/* Mount options fitted to a limit, and whether each was cut down. */
struct memlimit_fit {
	uint64_t size;	      /* capacity (memory-backed) */
	uint64_t nr_mappings; /* most entries */
	int size_cut;	      /* size was lowered */
	int nr_cut;	      /* nr_mappings was lowered */
};

/*
 * Fit size (memory-backed only: its data is charged to the cgroup too)
 * and nr_mappings to limit bytes. The daemon's reserve comes off first;
 * of the rest, a memory-backed mount's data gets at most half when size=
 * was not given (size_given 0), at most three quarters when it was, and
 * the mappings what is left at MEMLIMIT_*_MAPPING_BYTES each; a
 * file-backed mount's mappings get all of it (its data is page cache,
 * which the kernel reclaims). Values already within the limit stay.
 */
struct memlimit_fit memlimit_fit(uint64_t limit, int memory_backed,
				 uint64_t size, int size_given,
				 uint64_t nr_mappings);

#endif
