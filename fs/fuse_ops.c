/*
 * The FUSE glue: one thin handler per low-level request. Each decodes the
 * request, calls the core (fs/core/registry.h), and replies; a negative
 * errno from the core becomes an error reply here and nowhere else.
 *
 * Caching policy (see design.md): a memory-backed mount is the only way
 * into its mappings, so the kernel's cache of it never goes stale. Every
 * open keeps the page cache (FOPEN_KEEP_CACHE: an open must not drop pages
 * others have mapped), entries and attributes live long, and the kernel
 * does not invalidate data on a changed mtime. Missing names are
 * remembered too: an operation that fails leaves no name, and one it made
 * and had to undo (a create whose open failed) was never seen by any
 * request, since the core makes and undoes it under one lock before the
 * reply; so no entry the kernel holds goes stale.
 *
 * A file-backed mount's backing directory is the truth, which others
 * change too. With a watcher (watch.h) reporting every local change, the
 * caches live as long, and the watcher invalidates what changed; else
 * (actimeo=, or no watcher) they live actimeo seconds (fs->timeout), and
 * lookup, getattr and opendir look at the directory again once their last
 * look is that old. Lookups, creates and opens always look (revalidate.c).
 * Nothing here sends a notification: the watcher's thread does, outside
 * any request (a notify for the inode a request serves can deadlock).
 */
#include "fuse_ops.h"
#include "passthrough.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define MAX_REQUEST (MAX_REQUEST_KB * 1024u)

static struct registry *reg(fuse_req_t req)
{
	return ((struct shmapfs *)fuse_req_userdata(req))->reg;
}

static struct node *node(fuse_req_t req, fuse_ino_t ino)
{
	return registry_node(reg(req), ino);
}

static struct caller caller(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	return (struct caller){ctx->uid, ctx->gid};
}

static void reply_err(fuse_req_t req, int res)
{
	fuse_reply_err(req, -res);
}

/* How long the kernel may keep entries and attributes, seconds. */
static double timeout(fuse_req_t req)
{
	return ((struct shmapfs *)fuse_req_userdata(req))->timeout;
}

static struct fuse_entry_param entry_param(fuse_req_t req, struct node *n,
					   const struct stat *st)
{
	return (struct fuse_entry_param){
	    .ino = registry_node_id(reg(req), n),
	    .attr = *st,
	    .attr_timeout = timeout(req),
	    .entry_timeout = timeout(req),
	};
}

/* Reply with a node the core handed out (with one lookup reference). */
static void reply_entry(fuse_req_t req, int res, struct node *n,
			const struct stat *st)
{
	if (res < 0) {
		reply_err(req, res);
		return;
	}
	struct fuse_entry_param e = entry_param(req, n, st);
	if (fuse_reply_entry(req, &e) != 0)
		registry_forget(reg(req), n, 1);
}

static void reply_attr(fuse_req_t req, int res, const struct stat *st)
{
	if (res < 0)
		reply_err(req, res);
	else
		fuse_reply_attr(req, st, timeout(req));
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct shmapfs *fs = userdata;
	if (fs->writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		fs->log(fs->log_ctx, LOG_INFO, "writeback cache: on");
	}
	conn->max_write = MAX_REQUEST;
	conn->max_readahead = MAX_REQUEST;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->time_gran = 1;
	/* The daemon is the only writer of a mapping in use (its file is
	 * locked, and exclusive): mtime changes are not news. The watcher
	 * invalidates an idle one's data when its file changes. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA)
		conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
	if (conn->capable & FUSE_CAP_IOCTL_DIR) /* chattr on directories */
		conn->want |= FUSE_CAP_IOCTL_DIR;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
}

static void op_destroy(void *userdata)
{
	struct shmapfs *fs = userdata;
	fs->sync_error = registry_sync_all(fs->reg);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *n = NULL;
	struct stat st;
	registry_revalidate_name(reg(req), node(req, parent), name, 0);
	int res = registry_lookup(reg(req), node(req, parent), name, &n, &st);
	if (res == -ENOENT) {
		/* A missing name is remembered as missing as long as a
		 * present one: every change of names comes through this
		 * mount, or the watcher reports it. */
		struct fuse_entry_param e = {.entry_timeout = timeout(req)};
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, res, n, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	registry_forget(reg(req), node(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		registry_forget(reg(req), node(req, forgets[i].ino),
				forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	registry_revalidate_attr(reg(req), node(req, ino), 0);
	int res = registry_getattr(reg(req), node(req, ino), &st);
	reply_attr(req, res, &st);
}

static unsigned setattr_mask(int to_set)
{
	static const struct {
		int fuse;
		unsigned core;
	} map[] = {
	    {FUSE_SET_ATTR_MODE, SET_MODE},
	    {FUSE_SET_ATTR_UID, SET_UID},
	    {FUSE_SET_ATTR_GID, SET_GID},
	    {FUSE_SET_ATTR_SIZE, SET_SIZE},
	    {FUSE_SET_ATTR_ATIME, SET_ATIME},
	    {FUSE_SET_ATTR_MTIME, SET_MTIME},
	    {FUSE_SET_ATTR_ATIME_NOW, SET_ATIME_NOW},
	    {FUSE_SET_ATTR_MTIME_NOW, SET_MTIME_NOW},
	    {FUSE_SET_ATTR_CTIME, SET_CTIME},
	    {FUSE_SET_ATTR_KILL_SUID, SET_KILL_SUIDGID},
	};
	unsigned valid = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			valid |= map[i].core;
	return valid;
}

/*
 * A SETATTR that sets nothing is the kernel asking to clear set-ID bits:
 * after a write the daemon never saw (passthrough) by a caller without
 * CAP_FSETID, or for a chown(-1, -1) by anyone. The kernel has applied
 * its policy already; with FUSE_HANDLE_KILLPRIV_V2 it leaves the clearing
 * to us, and drops everything else from the request.
 */
static int is_kill_request(unsigned valid)
{
	return valid == 0;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct setattr_req q = {
	    .valid = setattr_mask(to_set),
	    .mode = attr->st_mode,
	    .uid = attr->st_uid,
	    .gid = attr->st_gid,
	    .size = (uint64_t)attr->st_size,
	    .atime = attr->st_atim,
	    .mtime = attr->st_mtim,
	    .ctime = attr->st_ctim,
	};
	if (is_kill_request(q.valid))
		q.valid = SET_KILL_SUIDGID;
	if (fi)
		q.valid |= SET_BY_FD; /* ftruncate */
	if ((q.valid & SET_SIZE) && attr->st_size < 0) {
		reply_err(req, -EINVAL);
		return;
	}
	struct stat st;
	int res = registry_setattr(reg(req), node(req, ino), &q, &st);
	reply_attr(req, res, &st);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	const char *target;
	int res = registry_readlink(reg(req), node(req, ino), &target);
	if (res < 0)
		reply_err(req, res);
	else
		fuse_reply_readlink(req, target);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct caller c = caller(req);
	struct node *n = NULL;
	struct stat st;
	int res = registry_mknod(reg(req), node(req, parent), name, mode, rdev,
				 &c, &n, &st);
	reply_entry(req, res, n, &st);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct caller c = caller(req);
	struct node *n = NULL;
	struct stat st;
	int res = registry_mkdir(reg(req), node(req, parent), name, mode, &c,
				 &n, &st);
	reply_entry(req, res, n, &st);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct caller c = caller(req);
	struct node *n = NULL;
	struct stat st;
	int res = registry_symlink(reg(req), node(req, parent), name, target,
				   &c, &n, &st);
	reply_entry(req, res, n, &st);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct stat st;
	struct node *n = node(req, ino);
	int res =
	    registry_link(reg(req), n, node(req, newparent), newname, &st);
	reply_entry(req, res, n, &st);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, registry_unlink(reg(req), node(req, parent), name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, registry_rmdir(reg(req), node(req, parent), name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct caller c = caller(req);
	if (flags & RENAME_WHITEOUT)
		reply_err(req, registry_rename_whiteout(
				   reg(req), node(req, parent), name,
				   node(req, newparent), newname,
				   flags & ~RENAME_WHITEOUT, &c));
	else
		reply_err(req, registry_rename(reg(req), node(req, parent),
					       name, node(req, newparent),
					       newname, flags));
}

static void set_open_flags(struct fuse_file_info *fi)
{
	fi->keep_cache = 1; /* never drop pages that others have mapped */
	fi->noflush = 1;    /* views write back at munmap; write() is sync */
}

/*
 * Clear set-ID bits as the kernel asked; it keeps the old mode cached, so
 * tell it to forget the attributes (not the data: no page is locked, so
 * this is safe from inside a request on the same inode). 0 or -errno: the
 * request fails, as the kernel fails a write it cannot remove privileges
 * for.
 */
static int kill_suid_sgid(fuse_req_t req, fuse_ino_t ino)
{
	struct shmapfs *fs = fuse_req_userdata(req);
	int res = registry_kill_suid_sgid(fs->reg, registry_node(fs->reg, ino));
	if (res > 0)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	return res < 0 ? res : 0;
}

/* Take the kernel's kill request out of fi->flags (see fuse_io.h). */
static int take_kill_flag(struct fuse_file_info *fi)
{
	int kill = (fi->flags & (int)SHMAPFS_O_KILL_SUIDGID) != 0;
	fi->flags &= ~(int)SHMAPFS_O_KILL_SUIDGID;
	return kill;
}

/* An open with O_TRUNC whose set-ID bits the kernel asked us to clear
 * (kill): clear them, or take the open back and fail it. */
static int kill_on_trunc(fuse_req_t req, struct node *n, int kill, int flags)
{
	if (!kill || !(flags & O_TRUNC))
		return 0;
	int res = kill_suid_sgid(req, registry_node_id(reg(req), n));
	if (res < 0)
		registry_release(reg(req), n, flags);
	return res;
}

/* With a passthrough handle the kernel opens the store's file itself, in
 * the caller's thread, once our reply arrives: let exactly that open of an
 * exclusive backing file through (exclusive.h). */
static void expect_passthrough_open(fuse_req_t req, struct node *n, int handle)
{
	struct shmapfs *fs = fuse_req_userdata(req);
	if (!handle || !fs->exclusive)
		return;
	int fd = registry_store_fd(fs->reg, n);
	if (fd >= 0)
		exclusive_expect(fs->exclusive, fuse_req_ctx(req)->pid, fd);
	registry_store_fd_put(fs->reg, n, fd);
}

/*
 * Every open looks at the backing directory first: a mapping's file may
 * have been changed there. Then the kernel forgets the attributes it has
 * (safe here: no page is locked), and the pages of a mapping nobody here
 * has open or mapped (clearing keep_cache drops them at this open).
 */
static int open_fresh(fuse_req_t req, fuse_ino_t ino)
{
	struct shmapfs *fs = fuse_req_userdata(req);
	int changed = registry_revalidate_attr(fs->reg, node(req, ino), 1);
	if (changed < 0 || !(changed & BACKING_ATTR))
		return 0;
	fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	return (changed & BACKING_IDLE) != 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int kill = take_kill_flag(fi);
	int drop_pages = open_fresh(req, ino);
	int res = registry_open(reg(req), node(req, ino), fi->flags);
	if (res == 0)
		res = kill_on_trunc(req, node(req, ino), kill, fi->flags);
	if (res < 0) {
		reply_err(req, res);
		return;
	}
	set_open_flags(fi);
	fi->keep_cache = !drop_pages;
	int handle = registry_share(reg(req), node(req, ino));
	expect_passthrough_open(req, node(req, ino), handle);
	int sent = handle ? passthrough_reply_open(req, fi, handle)
			  : fuse_reply_open(req, fi);
	if (sent != 0)
		registry_release(reg(req), node(req, ino), fi->flags);
}

/* Take the transport's O_TMPFILE mark out of fi->flags (fuse_io.h). */
static int take_tmpfile_flag(struct fuse_file_info *fi)
{
	int tmpfile = (fi->flags & (int)SHMAPFS_O_TMPFILE) != 0;
	fi->flags &= ~(int)SHMAPFS_O_TMPFILE;
	return tmpfile;
}

/* CREATE, or FUSE_TMPFILE as the transport hands it on (fuse_io.h). */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct caller c = caller(req);
	struct node *n = NULL;
	struct stat st;
	int kill = take_kill_flag(fi);
	int res = take_tmpfile_flag(fi)
		      ? registry_tmpfile(reg(req), node(req, parent), mode,
					 fi->flags, &c, &n, &st)
		      : registry_create(reg(req), node(req, parent), name, mode,
					fi->flags, &c, &n, &st);
	if (res == 0 && (res = kill_on_trunc(req, n, kill, fi->flags)) < 0)
		registry_forget(reg(req), n, 1);
	if (res < 0) {
		reply_err(req, res);
		return;
	}
	set_open_flags(fi);
	struct fuse_entry_param e = entry_param(req, n, &st);
	int handle = registry_share(reg(req), n);
	expect_passthrough_open(req, n, handle);
	int sent = handle ? passthrough_reply_create(req, &e, fi, handle)
			  : fuse_reply_create(req, &e, fi);
	if (sent != 0) {
		registry_release(reg(req), n, fi->flags);
		registry_forget(reg(req), n, 1);
	}
}

/* Reads splice from the mapping object to the kernel: no copy here. The
 * descriptor goes back after the reply (which frees req). */
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	if (off < 0 || size > MAX_REQUEST) {
		reply_err(req, -EINVAL);
		return;
	}
	struct registry *r = reg(req);
	struct node *n = node(req, ino);
	int fd;
	size_t len;
	int res = registry_read_fd(r, n, size, (uint64_t)off, &fd, &len);
	if (res < 0) {
		reply_err(req, res);
		return;
	}
	/* Once replied to, the caller may close and n be freed: ask now
	 * whether the descriptor is ours to close. */
	int owned = registry_store_fd_owned(r, n, fd);
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fd;
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
	if (owned)
		close(fd);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	if (off < 0) {
		reply_err(req, -EINVAL);
		return;
	}
	/* Privileges go first, as the kernel's file_remove_privs(). */
	int res = take_kill_flag(fi) ? kill_suid_sgid(req, ino) : 0;
	if (res == 0)
		res = registry_write(reg(req), node(req, ino), buf, size,
				     (uint64_t)off);
	if (res < 0)
		reply_err(req, res);
	else
		fuse_reply_write(req, size);
}

/*
 * Every open says FOPEN_NOFLUSH, so FLUSH comes only with writeback
 * caching, which ignores it: the kernel has written the dirty pages back
 * and checked their errors before it asks. ENOSYS makes it stop asking,
 * and saves a round trip per close().
 */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	registry_release(reg(req), node(req, ino), fi->flags);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)fi;
	reply_err(req, registry_fsync(reg(req), node(req, ino), datasync));
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct dir_snapshot *snap;
	registry_revalidate_dir(reg(req), node(req, ino));
	int res = registry_opendir(reg(req), node(req, ino), &snap);
	if (res < 0) {
		reply_err(req, res);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)snap;
	if (fuse_reply_open(req, fi) != 0)
		registry_closedir(snap);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	struct dir_snapshot *snap = (struct dir_snapshot *)(uintptr_t)fi->fh;
	if (size > MAX_REQUEST)
		size = MAX_REQUEST;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	size_t used = 0;
	for (size_t i = off < 0 ? snap->count : (size_t)off; i < snap->count;
	     i++) {
		const struct dir_entry *e = &snap->entries[i];
		struct stat st = {.st_ino = e->ino, .st_mode = e->type};
		size_t len = fuse_add_direntry(req, buf + used, size - used,
					       e->name, &st, (off_t)(i + 1));
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	registry_closedir((struct dir_snapshot *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)fi;
	reply_err(req, registry_fsyncdir(reg(req), node(req, ino), datasync));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs st;
	int res = registry_statfs(reg(req), &st);
	if (res < 0)
		reply_err(req, res);
	else
		fuse_reply_statfs(req, &st);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct caller c = caller(req);
	reply_err(req, registry_setxattr(reg(req), node(req, ino), &c, name,
					 value, size, flags));
}

/* Reply to getxattr/listxattr: the size alone when size was 0. */
static void reply_xattr(fuse_req_t req, int res, const void *buf, size_t size,
			size_t len)
{
	if (res < 0)
		reply_err(req, res);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	size_t len = 0;
	int res = size && !buf ? -ENOMEM : 0;
	if (!res)
		res = registry_getxattr(reg(req), node(req, ino), name, buf,
					size, &len);
	reply_xattr(req, res, buf, size, len);
	free(buf);
}

/*
 * The caller's effective capabilities in the daemon's user namespace, as
 * tmpfs asks for them (in the initial one): none for a caller of another
 * user namespace. Read from /proc, for the few requests whose rules ask
 * for a capability; only a process of another pid namespace (pid 0 here)
 * hides them: then root has them all.
 */
static uint64_t caller_caps(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	if (ctx->pid <= 0)
		return ctx->uid == 0 ? ~(uint64_t)0 : 0;
	char path[64], line[256];
	struct stat ns, own;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)ctx->pid);
	if (stat(path, &ns) < 0 || stat("/proc/self/ns/user", &own) < 0 ||
	    ns.st_ino != own.st_ino || ns.st_dev != own.st_dev)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)ctx->pid);
	FILE *f = fopen(path, "re");
	unsigned long long caps = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	if (f)
		fclose(f);
	return caps;
}

/*
 * Whether the caller may see trusted.* names: CAP_SYS_ADMIN. The kernel
 * checks it for reading and writing them, but passes listxattr on as it
 * comes.
 */
static int caller_sees_trusted(fuse_req_t req)
{
	return (caller_caps(req) >> CAP_SYS_ADMIN) & 1;
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	size_t len = 0;
	int res = size && !buf ? -ENOMEM : 0;
	/* Ask who the caller is only when a trusted.* name is at stake. */
	int hidden = 0;
	if (!res)
		res = registry_listxattr_for(reg(req), node(req, ino), 0, buf,
					     size, &len, &hidden);
	if (hidden && caller_sees_trusted(req))
		res = registry_listxattr(reg(req), node(req, ino), buf, size,
					 &len);
	reply_xattr(req, res, buf, size, len);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct caller c = caller(req);
	reply_err(req,
		  registry_removexattr(reg(req), node(req, ino), &c, name));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	(void)fi;
	if (offset < 0 || length <= 0) {
		reply_err(req, -EINVAL);
		return;
	}
	reply_err(req, registry_fallocate(reg(req), node(req, ino), mode,
					  (uint64_t)offset, (uint64_t)length));
}

/* FS_IOC_FSGETXATTR's flags for the file flags, and back. */
static const struct {
	unsigned flag, xflag;
} xflags_map[] = {
    {FS_SYNC_FL, FS_XFLAG_SYNC},
    {FS_IMMUTABLE_FL, FS_XFLAG_IMMUTABLE},
    {FS_APPEND_FL, FS_XFLAG_APPEND},
    {FS_NODUMP_FL, FS_XFLAG_NODUMP},
    {FS_NOATIME_FL, FS_XFLAG_NOATIME},
    {FS_DAX_FL, FS_XFLAG_DAX},
    {FS_PROJINHERIT_FL, FS_XFLAG_PROJINHERIT},
};
#define NXFLAGS (sizeof(xflags_map) / sizeof(xflags_map[0]))

static unsigned to_xflags(unsigned flags)
{
	unsigned x = 0;
	for (size_t i = 0; i < NXFLAGS; i++)
		if (flags & xflags_map[i].flag)
			x |= xflags_map[i].xflag;
	return x;
}

/* The file flags an FS_IOC_FSSETXATTR asks for; -EOPNOTSUPP for what
 * only its extended form says (extent sizes, projects), as tmpfs. */
static int from_fsxattr(const struct fsxattr *fa, unsigned *flags)
{
	unsigned x = fa->fsx_xflags;
	*flags = 0;
	for (size_t i = 0; i < NXFLAGS; i++)
		if (x & xflags_map[i].xflag) {
			*flags |= xflags_map[i].flag;
			x &= ~xflags_map[i].xflag;
		}
	if (x || fa->fsx_extsize || fa->fsx_projid || fa->fsx_cowextsize)
		return -EOPNOTSUPP;
	return 0;
}

static void reply_ioctl(fuse_req_t req, int res, const void *out, size_t size)
{
	if (res < 0)
		reply_err(req, res);
	else
		fuse_reply_ioctl(req, 0, out, size);
}

static void get_flags(fuse_req_t req, fuse_ino_t ino, int fsx)
{
	unsigned flags = 0;
	int res = registry_getflags(reg(req), node(req, ino), &flags);
	struct fsxattr fa = {.fsx_xflags = to_xflags(flags)};
	if (fsx)
		reply_ioctl(req, res, &fa, sizeof(fa));
	else
		reply_ioctl(req, res, &flags, sizeof(flags));
}

static void set_flags(fuse_req_t req, fuse_ino_t ino, int fsx, const void *in,
		      size_t in_size)
{
	unsigned flags = 0;
	struct fsxattr fa;
	int res = 0;
	if (in_size != (fsx ? sizeof(fa) : sizeof(flags)))
		res = -EINVAL;
	else if (fsx)
		res = from_fsxattr(memcpy(&fa, in, sizeof(fa)), &flags);
	else
		memcpy(&flags, in, sizeof(flags));
	struct caller c = caller(req);
	if (!res)
		res = registry_setflags(reg(req), node(req, ino), &c,
					caller_caps(req), flags);
	reply_ioctl(req, res, NULL, 0);
}

/*
 * File flags, the only ioctls: the kernel sends these four (with an int,
 * or a struct fsxattr) from its own FS_IOC_GETFLAGS / SETFLAGS /
 * FSGETXATTR / FSSETXATTR, after checking ownership and
 * CAP_LINUX_IMMUTABLE against the flags it asked for first; the core
 * checks again with the caller's capabilities. Any other command, the
 * 32-bit FS_IOC32_* numbers a program may send raw included, is ENOTTY.
 */
static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		     void *arg, struct fuse_file_info *fi, unsigned flags,
		     const void *in, size_t in_size, size_t out_size)
{
	(void)arg;
	(void)fi;
	(void)flags;
	(void)out_size; /* the kernel sizes it from cmd */
	if (cmd == FS_IOC_GETFLAGS || cmd == FS_IOC_FSGETXATTR)
		get_flags(req, ino, cmd == FS_IOC_FSGETXATTR);
	else if (cmd == FS_IOC_SETFLAGS || cmd == FS_IOC_FSSETXATTR)
		set_flags(req, ino, cmd == FS_IOC_FSSETXATTR, in, in_size);
	else
		reply_err(req, -ENOTTY);
}

/* SEEK_DATA and SEEK_HOLE; the kernel answers the other whences. */
static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	(void)fi;
	uint64_t pos = 0;
	int res = off < 0 ? -ENXIO
			  : registry_seek_data(reg(req), node(req, ino),
					       (uint64_t)off, whence, &pos);
	if (res < 0)
		reply_err(req, res);
	else
		fuse_reply_lseek(req, (off_t)pos);
}

const struct fuse_lowlevel_ops shmapfs_ops = {
    .init = op_init,
    .destroy = op_destroy,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .symlink = op_symlink,
    .link = op_link,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .fsyncdir = op_fsyncdir,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
    .fallocate = op_fallocate,
    .lseek = op_lseek,
    .ioctl = op_ioctl,
};
