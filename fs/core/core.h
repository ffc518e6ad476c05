/*
 * The core of shmapfs as its callers see it: the types a registry is
 * configured and asked with, and every operation on its names,
 * attributes, data and extended attributes, with no FUSE in sight. The
 * FUSE glue (fs/fuse_ops.c) decodes a request, calls one of these, and
 * replies; registry.h adds making and freeing a registry.
 *
 * Every function returns 0 or a negative errno. A function that hands out
 * a node (lookup, create, mkdir, ...) adds one kernel reference to it,
 * which registry_forget() takes back, as FUSE's lookup count works.
 *
 * Only declarations: the files that define these include it through
 * internal.h, below the registry that calls them all.
 */
#ifndef SHMAPFS_CORE_H
#define SHMAPFS_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

struct registry;
struct node;

/*
 * Per-user and per-group quotas of a memory-backed mount, named as tmpfs
 * names them (usrquota, grpquota, usrquota_block_hardlimit=, ...): how
 * many bytes of memory and how many mappings each uid and each gid may
 * hold. The limits are the same for every id but 0 (root), which is
 * counted and never limited. The daemon counts every change itself, so a
 * mount with quotas serves all data through the daemon (no passthrough):
 * see quota.c.
 */

/* The root directory's attribute that shows the usage (read-only). */
#define SHMAP_XATTR_QUOTA "user.shmap.quota"

/* One kind of limit; 0: none. */
struct quota_limits {
	uint64_t bytes;	   /* *quota_block_hardlimit= */
	uint64_t mappings; /* *quota_inode_hardlimit= */
};

struct quota_config {
	int usr; /* usrquota: count and limit per uid */
	int grp; /* grpquota: count and limit per gid */
	struct quota_limits usr_limit, grp_limit;
};

enum shmap_protect {
	SHMAP_PROTECT_READWRITE = 0,
	SHMAP_PROTECT_READONLY,
	SHMAP_PROTECT_WRITECOPY,
};

#define SHMAP_XATTR_PROTECT "user.shmap.protect"
/* "sparse" (pages and capacity taken as stored, like tmpfs) or
 * "committed" (the whole size reserved as it grows, SEC_COMMIT). */
#define SHMAP_XATTR_COMMIT "user.shmap.commit"
/* On the root, read-only: what the mount enforces of exclusive backing
 * files (registry_config.exclusive_state). */
#define SHMAP_XATTR_EXCLUSIVE "user.shmap.exclusive"
/* Where a file-backed mount keeps a file's flags (flags.c), in its
 * backing file or directory: lsattr's letters ("i", "ad", ...). Reserved:
 * chattr changes it, setfattr may not. */
#define SHMAP_XATTR_FLAGS "user.shmap.flags"
/* On the root, read-only: the data path the mount took. */
#define SHMAP_XATTR_DATA_PATH "user.shmap.data_path"
/* On the root of a mount with quotas, read-only: the limits. */
#define SHMAP_XATTR_QUOTA_LIMITS "user.shmap.quota_limits"

struct registry_config {
	uint64_t capacity;  /* bytes; enforced when memory-backed */
	uint64_t max_nodes; /* entries of any kind, root excluded */
	mode_t root_mode;
	uid_t root_uid;
	gid_t root_gid;
	int backing_dirfd; /* -1: memory-backed; else owned by registry */
	int read_only;
	int sparse;	      /* new mappings are sparse (0: committed) */
	unsigned fault_write; /* see store_faulty_wrap(); 0: off */
	unsigned fault_resize;
	/* The Nth opening of a store (counting from 1) fails with
	 * fault_open_err (tests of what a failed open leaves); 0: off. */
	unsigned fault_open;
	int fault_open_err;
	/* Stores that keep a descriptor of the daemon's at once; past it,
	 * a store opened is parked and opened again at each use (store.h).
	 * 0: half the daemon's RLIMIT_NOFILE, read at each open. */
	unsigned resident_max;
	/*
	 * Direct access, optional (all NULL/0: never). share_store makes a
	 * store's descriptor reachable by the kernel, which then serves reads,
	 * writes and views of that mapping without the daemon (FUSE
	 * passthrough); it returns a handle > 0 or a negative errno.
	 * unshare_store lets a handle go when its store dies. The core then
	 * takes a shared mapping's size and times from the store itself.
	 * A memory-backed registry shares its stores only if store_dirfd
	 * is a tmpfs as large as capacity (store_dir_capacity), so that the
	 * kernel enforces the capacity on writes the daemon never sees.
	 */
	int (*share_store)(void *ctx, int fd);
	void (*unshare_store)(void *ctx, int handle);
	void *share_ctx;
	/*
	 * > 0: a directory in a tmpfs, owned by the daemon, where memory
	 * stores live as named files while their mappings are idle; borrowed.
	 * Else memory stores are memfds, open for as long as they live.
	 */
	int store_dirfd;
	/* store_dirfd is a tmpfs of its own with size=capacity: the kernel
	 * counts and enforces the capacity, and statfs reports it. Else the
	 * daemon counts it. */
	int store_dir_capacity;
	/*
	 * Exclusive backing files, optional (NULL: none). guard_store is
	 * called when a file-backed store has opened and locked its backing
	 * file (fd), unguard_store before it closes it: from then on and
	 * until then, others' opens of the file are refused (exclusive.h).
	 * If guard_store fails (-errno), the store is closed and the open
	 * refused with EBUSY: a mapping is never served unguarded.
	 * exclusive_state says what the mount enforces ("on", "off (why)",
	 * "unavailable (why)"), for the root's user.shmap.exclusive; NULL:
	 * no such attribute. Borrowed.
	 */
	int (*guard_store)(void *ctx, int fd);
	void (*unguard_store)(void *ctx, int fd);
	void *guard_ctx;
	const char *exclusive_state;
	/* The data path ("passthrough", "fallback (why)"), for the root's
	 * read-only user.shmap.data_path; NULL: no such attribute. Borrowed;
	 * filled once before the first request that can read it. */
	const char *data_path;
	/* Per-user and per-group limits (memory-backed; see above). */
	struct quota_config quota;
	/* Every write must reach the daemon, which counts each page (with
	 * quotas; decided once, by options_check()): a memory-backed
	 * registry then counts the capacity itself and shares no store. */
	int sees_every_write;
	/*
	 * File-backed: the backing directory is the truth (revalidate.c).
	 * Creates and opens always look at it; lookups, getattr and opendir
	 * look again once their last look is actimeo_ms old (0: always;
	 * lookups always, unless watched); -1: never, a watcher reports every
	 * change (mark_dir).
	 */
	int actimeo_ms;
	/* Watch a backing directory (dirfd, borrowed) for changes made by
	 * others, reported to registry_backing_event(); NULL: no watcher.
	 * Called with registry.lock held; returns 0 or -errno. */
	int (*mark_dir)(void *ctx, int dirfd);
	void *watch_ctx;
	/* Where the core reports events a person wants to know about. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

/* Who is asking, from the request's context. */
struct caller {
	uid_t uid;
	gid_t gid;
};

/* What a setattr changes; valid is a mask of SET_*. */
enum {
	SET_MODE = 1 << 0,
	SET_UID = 1 << 1,
	SET_GID = 1 << 2,
	SET_SIZE = 1 << 3,
	SET_ATIME = 1 << 4,
	SET_MTIME = 1 << 5,
	SET_ATIME_NOW = 1 << 6,
	SET_MTIME_NOW = 1 << 7,
	SET_CTIME = 1 << 8,
	SET_KILL_SUIDGID = 1 << 9, /* as an unprivileged chown/truncate */
	SET_BY_FD = 1 << 10,	   /* through an open file (ftruncate) */
};

struct setattr_req {
	unsigned valid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};

/* One entry of a directory listing taken at opendir. */
struct dir_entry {
	uint64_t ino;
	mode_t type;
	char *name;
};

struct dir_snapshot {
	size_t count;
	struct dir_entry *entries;
	/* Open listings are the registry's, so that registry_free() frees
	 * the ones never closed (a mount gone before their release). */
	struct registry *reg;	   /* immutable */
	struct dir_snapshot *prev; /* guarded by registry.lock */
	struct dir_snapshot *next; /* guarded by registry.lock */
};

/* Namespace (namespace.c). */
int registry_lookup(struct registry *r, struct node *dir, const char *name,
		    struct node **out, struct stat *st);
void registry_forget(struct registry *r, struct node *n, uint64_t nlookup);
int registry_mknod(struct registry *r, struct node *dir, const char *name,
		   mode_t mode, dev_t rdev, const struct caller *c,
		   struct node **out, struct stat *st);
int registry_mkdir(struct registry *r, struct node *dir, const char *name,
		   mode_t mode, const struct caller *c, struct node **out,
		   struct stat *st);
int registry_symlink(struct registry *r, struct node *dir, const char *name,
		     const char *target, const struct caller *c,
		     struct node **out, struct stat *st);
int registry_link(struct registry *r, struct node *n, struct node *dir,
		  const char *name, struct stat *st);
int registry_unlink(struct registry *r, struct node *dir, const char *name);
int registry_rmdir(struct registry *r, struct node *dir, const char *name);
int registry_rename(struct registry *r, struct node *dir, const char *name,
		    struct node *newdir, const char *newname,
		    unsigned int flags);
/* The same with RENAME_WHITEOUT (whiteout.c): a whiteout owned by c is
 * left where name was. flags: the other rename flags. */
int registry_rename_whiteout(struct registry *r, struct node *dir,
			     const char *name, struct node *newdir,
			     const char *newname, unsigned int flags,
			     const struct caller *c);
int registry_readlink(struct registry *r, struct node *n, const char **out);
int registry_opendir(struct registry *r, struct node *dir,
		     struct dir_snapshot **out);
void registry_closedir(struct dir_snapshot *snap);

/* Attributes (attr.c). */
int registry_getattr(struct registry *r, struct node *n, struct stat *st);
int registry_setattr(struct registry *r, struct node *n,
		     const struct setattr_req *req, struct stat *st);
int registry_statfs(struct registry *r, struct statvfs *st);
/* Clear set-ID bits as an unprivileged write must (the kernel asks);
 * 1 if the mode changed, 0 if not, -errno if the backing file's mode
 * could not be changed (then nothing changed: fail the write). */
int registry_kill_suid_sgid(struct registry *r, struct node *n);

/* Data (data.c). flags are open(2)'s. */
int registry_open(struct registry *r, struct node *n, int flags);
void registry_release(struct registry *r, struct node *n, int flags);
/*
 * The direct-access handle of an open regular file (see share_store in
 * registry_config), made on first use; 0 if its mapping is served by the
 * daemon alone. A mapping once shared stays shared until it dies, so that
 * every open of it is served the same way.
 */
int registry_share(struct registry *r, struct node *n);
int registry_create(struct registry *r, struct node *dir, const char *name,
		    mode_t mode, int flags, const struct caller *c,
		    struct node **out, struct stat *st);
/*
 * open(2) with O_TMPFILE in dir (tmpfile.c): a new regular file with no
 * name, open (flags as open(2)'s), handed out with one lookup reference
 * as by create. Without O_EXCL in flags, registry_link() may name it once.
 */
int registry_tmpfile(struct registry *r, struct node *dir, mode_t mode,
		     int flags, const struct caller *c, struct node **out,
		     struct stat *st);
/* A copying read, for callers with no descriptor to splice to (tests,
 * tools); the daemon itself uses registry_read_fd(). */
int registry_read(struct registry *r, struct node *n, void *buf, size_t size,
		  uint64_t off, size_t *got);
/*
 * Where a read of size bytes at off can be spliced from: the mapping
 * object's descriptor and the length within the file (0 at the end). The
 * descriptor stays valid while the caller's file is open; without an open
 * file the store may be closed (-EBUSY). Give it back with
 * registry_store_fd_put() once read, or, after the caller's file may have
 * gone, as registry_store_fd_owned() says.
 */
int registry_read_fd(struct registry *r, struct node *n, size_t size,
		     uint64_t off, int *fd, size_t *len);
int registry_write(struct registry *r, struct node *n, const void *buf,
		   size_t size, uint64_t off);
int registry_fallocate(struct registry *r, struct node *n, int mode,
		       uint64_t off, uint64_t len);
int registry_fsync(struct registry *r, struct node *n, int datasync);
/* fsync a directory: its backing directory, so that the names in it are
 * on disk (a file-backed mount); nothing to do for a memory-backed one. */
int registry_fsyncdir(struct registry *r, struct node *n, int datasync);
/* lseek(2)'s SEEK_DATA / SEEK_HOLE from off, as tmpfs answers (holes.c):
 * the offset found, or -ENXIO at or past the end, or where no data
 * follows. */
int registry_seek_data(struct registry *r, struct node *n, uint64_t off,
		       int whence, uint64_t *out);

/* Extended attributes and protection (xattr.c). */
int registry_setxattr(struct registry *r, struct node *n,
		      const struct caller *c, const char *name,
		      const void *value, size_t size, int flags);
/* *len gets the value's size; with size 0 only that is asked. */
int registry_getxattr(struct registry *r, struct node *n, const char *name,
		      void *buf, size_t size, size_t *len);
int registry_listxattr(struct registry *r, struct node *n, char *buf,
		       size_t size, size_t *len);
/* The same, showing trusted.* names only if trusted (as tmpfs shows
 * them only to a caller with CAP_SYS_ADMIN); the above shows them.
 * *hidden (if not NULL) says whether any were left out. */
int registry_listxattr_for(struct registry *r, struct node *n, int trusted,
			   char *buf, size_t size, size_t *len, int *hidden);
int registry_removexattr(struct registry *r, struct node *n,
			 const struct caller *c, const char *name);
const char *protect_name(enum shmap_protect p);

/*
 * File flags (flags.c), as FS_IOC_GETFLAGS / FS_IOC_SETFLAGS carry them
 * (FS_*_FL bits): the ones tmpfs keeps, immutable, append-only, nodump and
 * noatime, on regular files and directories (-ENOTTY on others). Setting
 * them asks for the owner or CAP_FOWNER, and changing immutable or
 * append-only for CAP_LINUX_IMMUTABLE (-EPERM), as the capabilities in
 * caps (1 << CAP_*, the caller's effective set) say; others: -EOPNOTSUPP.
 */
int registry_getflags(struct registry *r, struct node *n, unsigned *flags);
int registry_setflags(struct registry *r, struct node *n,
		      const struct caller *c, uint64_t caps, unsigned flags);
int protect_parse(const char *s, size_t len, enum shmap_protect *out);

/*
 * Revalidation (revalidate.c), file-backed: what the backing directory
 * holds now, taken in. Each returns a mask of what changed (BACKING_*),
 * or a negative errno; memory-backed registries have nothing to do.
 */
enum {
	BACKING_NAME = 1, /* a name appeared, vanished or was replaced */
	BACKING_ATTR = 2, /* an entry's attributes or size changed */
	BACKING_IDLE = 4, /* with BACKING_ATTR: of a mapping no process
			   * here has open or mapped (its cached pages
			   * may go) */
};
/* dir/name: if force (a create that met the name), or unless a watcher
 * reports every change of dir (a lookup). */
int registry_revalidate_name(struct registry *r, struct node *dir,
			     const char *name, int force);
/* n's attributes: if the last look is older than actimeo, or force (every
 * open: the glue asks before registry_open()). */
int registry_revalidate_attr(struct registry *r, struct node *n, int force);
/* dir's whole listing: if older than actimeo, or never looked at. */
int registry_revalidate_dir(struct registry *r, struct node *dir);
/*
 * A watcher's report (see mark_dir): something happened to name (NULL
 * or ".": the directory itself) in the watched directory whose file
 * handle is (type, bytes, len); data_only: only a file's contents (a
 * write, which for a mapping in use here is this mount's own). Takes it
 * in, and gives the FUSE ids the kernel must forget: *dir_id (its entry
 * name, and the directory) and *ino (an entry's attributes and data; 0:
 * none). -ENOENT: not a directory of ours.
 */
int registry_backing_event(struct registry *r, int type, const void *bytes,
			   unsigned len, const char *name, int data_only,
			   uint64_t *dir_id, uint64_t *ino);
/* The watcher lost events: every listing is looked at again. */
void registry_backing_lost(struct registry *r);

/* Residency (residency.c). */
/*
 * Close the stores of idle mappings that a view may have held when they
 * went idle, once nobody writes or maps them (see residency.c). The
 * daemon calls it every second; it reads every process's maps then, with
 * no lock of the registry held.
 */
void registry_sweep(struct registry *r);

/*
 * Let registry_sweep() find views of the mount at mountpoint in the
 * processes' maps (views.h): until then, and if this fails, a store that
 * lingers after its release stays open and locked. Also learns whether
 * the kernel's lease probe sees read-only opens: then a store that no
 * other file has open closes at its release. Call once mounted.
 */
int registry_watch_views(struct registry *r, const char *mountpoint);

/* A descriptor of an open regular file's store (valid while the caller's
 * file is open), or -EBADF if it has none; give it back with
 * registry_store_fd_put() (a parked store's is opened for the caller). */
int registry_store_fd(struct registry *r, struct node *n);
void registry_store_fd_put(struct registry *r, struct node *n, int fd);
/* 1 if fd, from registry_read_fd() or registry_store_fd(), was opened
 * for the caller (a parked store's), who must then close(2) it; 0 if it
 * is the store's own. For a caller that gives it back only after its
 * reply, when n may be gone: ask while the caller's file keeps n. */
int registry_store_fd_owned(struct registry *r, struct node *n, int fd);

/* node.c: the number FUSE knows a node by (1 for the root), and back. */
uint64_t registry_node_id(struct registry *r, struct node *n);
struct node *registry_node(struct registry *r, uint64_t id);

#endif
