/*
 * Views that outlive their open: which mappings some process still maps,
 * read from /proc/PID/maps of every process, as fuser(1) does.
 *
 * A passthrough view maps the backing file itself and outlives the last
 * release of its mapping; the daemon's lock (and exclusivity) must stay
 * until it is gone. A write lease probe sees only writable opens, and
 * nothing where leases are off; the maps of the processes see every view.
 * The kernel shows such a view under the name the process opened: the
 * mount's device and the mapping's inode number there, not the backing
 * file's, so that is what views_find() looks for.
 *
 * It reads every process's maps: it is for the once-a-second sweep of the
 * few stores that linger after a release, never for a request.
 */
#ifndef SHMAPFS_VIEWS_H
#define SHMAPFS_VIEWS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The device under which views of the mount at mountpoint show in
 * /proc/PID/maps, from /proc/self/mountinfo (the topmost mount there).
 * Never touches the mount itself. -ENOENT if nothing is mounted there.
 */
int views_mount_dev(const char *mountpoint, dev_t *out);

/*
 * Set found[i] to 1 for each inos[i] (on device dev) that some process
 * other than this one maps, else 0. Processes whose maps the daemon may
 * not read (outside its user namespace) are passed by. Returns 0, or
 * -errno when it cannot tell (/proc unreadable, a read that fails): then
 * found[] means nothing, and every store must be taken as mapped.
 */
int views_find(dev_t dev, const uint64_t *inos, size_t n, unsigned char *found);

/* views_find() in one maps file, read from fd to its end (for tests: the
 * lines as read() hands them, a line split between two reads). */
int views_find_in(int fd, dev_t dev, const uint64_t *inos, size_t n,
		  unsigned char *found);

#endif
