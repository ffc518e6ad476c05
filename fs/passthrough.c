/*
 * FUSE passthrough: registering stores with the kernel and the OPEN and
 * CREATE replies that name them; see passthrough.h.
 */
#include "passthrough.h"
#include "shmapfs.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

/* Newer than bookworm's <linux/fuse.h> (FUSE 7.40), as in passthrough.h. */
#define SHMAPFS_FOPEN_PASSTHROUGH (1u << 7)

struct backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define DEV_IOC_BACKING_OPEN  _IOW(FUSE_DEV_IOC_MAGIC, 1, struct backing_map)
#define DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)

int passthrough_privileged(void)
{
	/* glibc has no wrapper for capget, and libcap is not worth a
	 * dependency for this. */
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0;
	return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
		CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

int passthrough_share(void *ctx, int fd)
{
	struct shmapfs *fs = ctx;
	if (!atomic_load(&fs->io.passthrough))
		return -EOPNOTSUPP;
	struct backing_map map = {.fd = fd};
	int handle = ioctl(fuse_session_fd(fs->se), DEV_IOC_BACKING_OPEN, &map);
	if (handle > 0)
		return handle;
	int err = handle < 0 ? errno : EIO;
	/* Not permitted (no CAP_SYS_ADMIN) or not possible here: serve every
	 * mapping through the daemon from now on. */
	if (err == EPERM || err == EOPNOTSUPP || err == ENOTTY) {
		atomic_store(&fs->io.passthrough, 0);
		fs->log(fs->log_ctx, LOG_INFO,
			"the kernel refuses passthrough; the daemon serves "
			"all data");
	}
	return -err;
}

void passthrough_unshare(void *ctx, int handle)
{
	struct shmapfs *fs = ctx;
	uint32_t id = (uint32_t)handle;
	if (!fs->se) /* the connection, and every handle, is gone */
		return;
	ioctl(fuse_session_fd(fs->se), DEV_IOC_BACKING_CLOSE, &id);
}

static struct fuse_open_out open_out(const struct fuse_file_info *fi,
				     int handle)
{
	/* The kernel takes no other flag with passthrough (a page cache of
	 * the FUSE file would be a second copy beside the store's). */
	uint32_t flags = SHMAPFS_FOPEN_PASSTHROUGH;
	if (fi->noflush)
		flags |= FOPEN_NOFLUSH;
	return (struct fuse_open_out){
	    .fh = fi->fh,
	    .open_flags = flags,
	    .padding = (uint32_t)handle, /* backing_id in FUSE 7.40 */
	};
}

/* Split a timeout in seconds as FUSE wants it. */
static void split_timeout(double t, uint64_t *sec, uint32_t *nsec)
{
	*sec = (uint64_t)t;
	*nsec = (uint32_t)((t - (double)*sec) * 1e9);
}

static struct fuse_attr fuse_attr_of(const struct stat *st)
{
	return (struct fuse_attr){
	    .ino = st->st_ino,
	    .size = (uint64_t)st->st_size,
	    .blocks = (uint64_t)st->st_blocks,
	    .atime = (uint64_t)st->st_atim.tv_sec,
	    .mtime = (uint64_t)st->st_mtim.tv_sec,
	    .ctime = (uint64_t)st->st_ctim.tv_sec,
	    .atimensec = (uint32_t)st->st_atim.tv_nsec,
	    .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
	    .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
	    .mode = st->st_mode,
	    .nlink = (uint32_t)st->st_nlink,
	    .uid = st->st_uid,
	    .gid = st->st_gid,
	    .rdev = (uint32_t)st->st_rdev,
	    .blksize = (uint32_t)st->st_blksize,
	};
}

int passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
			   int handle)
{
	struct fuse_open_out out = open_out(fi, handle);
	struct iovec iov = {&out, sizeof(out)};
	return fuse_reply_iov(req, &iov, 1);
}

int passthrough_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			     const struct fuse_file_info *fi, int handle)
{
	struct {
		struct fuse_entry_out entry;
		struct fuse_open_out open;
	} out = {
	    .entry =
		{
		    .nodeid = e->ino,
		    .generation = e->generation,
		    .attr = fuse_attr_of(&e->attr),
		},
	    .open = open_out(fi, handle),
	};
	split_timeout(e->entry_timeout, &out.entry.entry_valid,
		      &out.entry.entry_valid_nsec);
	split_timeout(e->attr_timeout, &out.entry.attr_valid,
		      &out.entry.attr_valid_nsec);
	struct iovec iov = {&out, sizeof(out)};
	return fuse_reply_iov(req, &iov, 1);
}
