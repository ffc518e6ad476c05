/*
 * The hostile backing directory of fuzz_backing (fuzz_backing_dir.c):
 * planted from the input before the mount, changed behind the daemon's
 * back while mounted, with a sentinel beside it that must stay untouched.
 */
#ifndef SHMAPFS_FUZZ_BACKING_DIR_H
#define SHMAPFS_FUZZ_BACKING_DIR_H

#include "fuzz_input.h"

/* Make a fresh backing directory, planted as the input says; returns a
 * descriptor of it (for registry_config.backing_dirfd). */
int backing_dir_make(struct input *in);

/* Its path, to mount it again. */
const char *backing_dir_path(void);

/* Someone else changes it as the input says; returns what, for traces. */
const char *backing_dir_meddle(int dirfd, struct input *in);

/* Release the locks someone else holds on backing files. */
void backing_dir_unlock_all(void);

/* Abort unless the sentinel outside is as it was. */
void backing_dir_check_outside(void);

#endif
