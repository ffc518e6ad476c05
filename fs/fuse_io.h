/*
 * The daemon's side of /dev/fuse, through libfuse's custom I/O hooks: plain
 * read and writev, except that the reply to INIT also asks the kernel for
 * FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14 cannot ask for itself.
 *
 * Why: without it the kernel asks the daemon for security.capability
 * before every write() (file_remove_privs), a second round trip per write;
 * with it the kernel marks the superblock SB_NOSEC and leaves clearing
 * set-user-ID and set-group-ID bits on write, truncate and chown to the
 * daemon. It says when, in flags that libfuse 3.14 drops for WRITE and
 * OPEN/CREATE; the read hook copies them into the open-flags word that
 * libfuse does pass on (fi->flags), as SHMAPFS_O_KILL_SUIDGID. SETATTR's
 * flag passes through as FUSE_SET_ATTR_KILL_SUID (the same bit).
 *
 * O_TMPFILE: the kernel sends FUSE_TMPFILE (protocol 7.37, Linux 6.1),
 * which libfuse 3.14 does not know: it would answer ENOSYS, and the kernel
 * would then give EOPNOTSUPP for good. Its request is a CREATE's
 * (fuse_create_in, then a name: "/") and so is its reply, so the read
 * hook turns it into a CREATE marked SHMAPFS_O_TMPFILE in the open flags,
 * and the create handler makes an unnamed mapping in place of a named one;
 * the reply, passthrough handle and all, is a create's. Only when the
 * kernel's INIT says 7.37 or later; otherwise, or with
 * SHMAPFS_TEST_NO_TMPFILE in the daemon's environment (a test hook),
 * libfuse answers as before, and O_TMPFILE fails with EOPNOTSUPP.
 *
 * The reply to INIT also asks for FUSE_PASSTHROUGH (Linux 6.9), when the
 * daemon wants it and the kernel offers it; see passthrough.h. And the read
 * hook lets one worker at a time read, polling before it sleeps, and
 * keeps every read error but "unmounted" from libfuse, whose loop would
 * end on it; see reader.h.
 */
#ifndef SHMAPFS_FUSE_IO_H
#define SHMAPFS_FUSE_IO_H

#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdint.h>

#include "reader.h"

/* In fi->flags of write, open and create: clear set-ID bits. */
#define SHMAPFS_O_KILL_SUIDGID (1u << 31)
/* In fi->flags of create: this is O_TMPFILE (FUSE_TMPFILE), no name. */
#define SHMAPFS_O_TMPFILE (1u << 30)

struct fuse_io {
	atomic_uint_fast64_t init_unique;  /* INIT request awaiting reply */
	atomic_uint_fast64_t kernel_flags; /* what the kernel offered */
	atomic_int killpriv_v2;		   /* negotiated */
	atomic_int tmpfile;		   /* FUSE_TMPFILE served (above) */
	int want_passthrough;		   /* set before install */
	const char *no_passthrough_why;	   /* likewise, when not wanted */
	atomic_int passthrough;		   /* negotiated; 0 again if the
					    * kernel refuses a store */
	unsigned poll_us;		   /* set before install; reader.h */
	/* Called once if reading requests keeps failing: the daemon should
	 * unmount itself in order. Set before install. */
	void (*give_up)(void *ctx);
	void *give_up_ctx;
	atomic_int gave_up;   /* the errno it gave up on, or 0 */
	struct reader reader; /* who reads requests; no error but ENODEV
			       * reaches libfuse (reader.h) */
};

/*
 * Route se's device I/O through the hooks (after fuse_session_mount()).
 * se's userdata must be the struct shmapfs that holds io.
 */
int fuse_io_install(struct fuse_session *se, struct fuse_io *io);

/* Free what install made, once the session is destroyed. */
void fuse_io_destroy(struct fuse_io *io);

#endif
