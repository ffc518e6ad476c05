/*
 * Tuning the mount's own backing device info (/sys/class/bdi/MAJ:MIN):
 * read-ahead as large as our largest request, and the dirty-page limits
 * that the kernel makes strict and small for every FUSE mount. Only root
 * may; for anyone else this is a no-op.
 */
#ifndef SHMAPFS_BDI_H
#define SHMAPFS_BDI_H

/*
 * Tune the BDI of the FUSE mount at mountpoint (an absolute path, as in
 * /proc/self/mountinfo). read_ahead_kb: the read-ahead window. Returns 0 or
 * a negative errno (-ENOENT: no such mount; -EACCES: not root).
 */
int bdi_tune(const char *mountpoint, unsigned read_ahead_kb);

/* The mount's share of the system's dirty-page threshold, in percent. */
#define BDI_MAX_RATIO 25

#endif
