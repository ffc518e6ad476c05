/*
 * The directory of a memory-backed mount's stores; see store_dir.h.
 */
#include "store_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* A tmpfs mounted nowhere, size capacity, room for max_entries files,
 * with tmpfs's huge= policy. */
static int private_tmpfs(uint64_t capacity, uint64_t max_entries,
			 const char *huge)
{
	int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	char size[32], inodes[32];
	snprintf(size, sizeof(size), "%llu", (unsigned long long)capacity);
	snprintf(inodes, sizeof(inodes), "%llu",
		 (unsigned long long)max_entries + 1);
	int mnt = -1;
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "size", size, 0) == 0 &&
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) == 0 &&
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0700", 0) == 0 &&
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "huge", huge, 0) == 0 &&
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = fsmount(fsfd, FSMOUNT_CLOEXEC,
			      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				  MOUNT_ATTR_NOEXEC);
	int err = errno;
	close(fsfd);
	return mnt >= 0 ? mnt : -err;
}

/* A fresh directory only we may enter, in the tmpfs of /dev/shm. */
static int private_dir(struct store_dir *d)
{
	snprintf(d->path, sizeof(d->path), "/dev/shm/.shmapfs-%d-XXXXXX",
		 (int)getpid());
	if (!mkdtemp(d->path)) {
		int err = errno;
		d->path[0] = '\0';
		return -err;
	}
	int fd = open(d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		rmdir(d->path);
		d->path[0] = '\0';
		return -err;
	}
	return fd;
}

void store_dir_make(struct store_dir *d, uint64_t capacity,
		    uint64_t max_entries, const char *huge, char *err,
		    size_t errlen)
{
	memset(d, 0, sizeof(*d));
	err[0] = '\0';
	d->fd = private_tmpfs(capacity, max_entries, huge);
	if (d->fd >= 0) {
		d->is_capacity = 1;
		return;
	}
	d->fd = private_dir(d);
	if (d->fd < 0)
		snprintf(err, errlen,
			 "no directory for stores in /dev/shm (%s): every "
			 "mapping holds a descriptor",
			 strerror(-d->fd));
	else if (strcmp(huge, "never"))
		snprintf(err, errlen,
			 "huge=%s needs a tmpfs of the daemon's own (root): "
			 "/dev/shm's policy applies",
			 huge);
}

void store_dir_free(struct store_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->path[0])
		rmdir(d->path);
	d->path[0] = '\0';
}
