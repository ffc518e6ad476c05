/*
 * Where a memory-backed mount keeps its stores while their mappings are
 * idle: a directory in a tmpfs the daemon owns. A root daemon mounts a
 * tmpfs of its own, mounted nowhere (fsopen/fsmount), as large as the
 * mount's capacity, with the huge= policy asked for: the kernel then
 * counts and enforces the capacity, also for writes it serves without the
 * daemon (passthrough). A daemon
 * that cannot mount makes a private directory (mode 0700) in /dev/shm and
 * counts the capacity itself; the directory goes at unmount.
 */
#ifndef SHMAPFS_STORE_DIR_H
#define SHMAPFS_STORE_DIR_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct store_dir {
	int fd;		     /* the directory, or -1 (memfd stores) */
	int is_capacity;     /* fd is a tmpfs of its own, size = capacity */
	char path[PATH_MAX]; /* a private directory to remove, or "" */
};

/* Make one; on failure d->fd is -1 and err says why (stores are then
 * memfds). */
void store_dir_make(struct store_dir *d, uint64_t capacity,
		    uint64_t max_entries, const char *huge, char *err,
		    size_t errlen);
/* Close it, and remove a private directory (emptied by the registry). */
void store_dir_free(struct store_dir *d);

#endif
