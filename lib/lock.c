/*
 * Byte-range locks on a mapping (LockFileEx / UnlockFileEx): open file
 * description locks, so that they belong to the handle (not the process,
 * and not lost when another descriptor of the file closes) and conflict
 * with the classic fcntl locks that unmodified programs take.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

static int range_to_flock(uint64_t offset, uint64_t length, short type,
			  struct flock *fl)
{
	if (offset > (uint64_t)INT64_MAX || length > (uint64_t)INT64_MAX ||
	    (length && offset + length - 1 > (uint64_t)INT64_MAX))
		return -EINVAL;
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)offset;
	fl->l_len = (off_t)length; /* 0: to the end, however far it grows */
	fl->l_pid = 0;		   /* required for OFD locks */
	return 0;
}

int shmap_lock(shmap_t *m, uint64_t offset, uint64_t length, int flags)
{
	if (!m || (flags & ~(SHMAP_LOCK_EXCLUSIVE | SHMAP_LOCK_NONBLOCK)))
		return -EINVAL;
	struct flock fl;
	short type = flags & SHMAP_LOCK_EXCLUSIVE ? F_WRLCK : F_RDLCK;
	int err = range_to_flock(offset, length, type, &fl);
	if (err)
		return err;
	int cmd = flags & SHMAP_LOCK_NONBLOCK ? F_OFD_SETLK : F_OFD_SETLKW;
	while (fcntl(m->fd, cmd, &fl) < 0) {
		if (errno == EINTR && cmd == F_OFD_SETLKW)
			continue;
		/* POSIX lets a refused lock say EACCES or EAGAIN. */
		return errno == EACCES ? -EAGAIN : -errno;
	}
	return 0;
}

int shmap_unlock(shmap_t *m, uint64_t offset, uint64_t length)
{
	if (!m)
		return -EINVAL;
	struct flock fl;
	int err = range_to_flock(offset, length, F_UNLCK, &fl);
	if (err)
		return err;
	return fcntl(m->fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}
