/*
 * The core's private structures: nodes (one per mapping, directory or other
 * entry), dentries (names), and the registry that holds them. Only the
 * core's .c files include this; the FUSE glue sees registry.h.
 *
 * Locking. Two levels, always taken in this order:
 *   1. registry.lock (mutex): the namespace. Guards every dentry, the
 *      hash table, each node's nlink / lookups / opens / writers / aliases
 *      / children, the node list and node count, and all changes to the
 *      backing directory's names. Held briefly; never across data I/O.
 *   2. node.lock (rwlock): one node's attributes and data. Writers take it
 *      exclusively, so that write()s, truncates and fallocates of one
 *      mapping never interleave; reads and getattr take it shared.
 * Capacity (registry.used) is an atomic counter, reserved before a mapping
 * grows and released when it shrinks or dies; it needs no lock.
 *   3. quota.lock (mutex, quota.c): each uid's and gid's usage, changed
 *      with the capacity; taken last, briefly.
 *   store.link_lock (mutex, store.h): the name a parked backing file is
 *      opened again by; a leaf, taken under either lock above or none.
 */
#ifndef SHMAPFS_INTERNAL_H
#define SHMAPFS_INTERNAL_H

#include "core.h"
#include "store.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define SHMAP_NAME_MAX	   255
#define SHMAP_SYMLINK_MAX  4095
#define SHMAP_XATTR_TOTAL  65536 /* bytes of names and values per node */
#define SHMAP_MAX_FILESIZE ((uint64_t)INT64_MAX)
#define PAGE_ROUND(x)	   (((x) + 4095) & ~(uint64_t)4095)

struct backing_ops;

/* A directory's file handle, as fanotify reports it (watched.c). */
struct watch_handle {
	uint32_t hash;
	int type;
	unsigned len;
	unsigned char bytes[];
};

struct xattr {
	struct xattr *next;
	char *name;
	void *value;
	size_t size;
};

struct dentry {
	struct node *dir;  /* the directory holding the name */
	struct node *node; /* what the name refers to */
	char *name;	   /* NUL-terminated */
	size_t namelen;
	uint32_t hash;		  /* of (dir, name) */
	struct dentry *hash_next; /* chain in registry.buckets */
	struct dentry *sib_prev;  /* order of dir's entries */
	struct dentry *sib_next;
	struct dentry *alias_next; /* node's other names */
};

struct node {
	uint64_t ino;  /* st_ino; immutable */
	mode_t type;   /* S_IFMT bits; immutable */
	char *symlink; /* target of a symlink; immutable */

	/* Guarded by registry.lock: */
	uint64_t lookups;	    /* references the kernel holds */
	uint32_t opens;		    /* open handles */
	uint32_t writers;	    /* handles open for writing */
	uint32_t nlink;		    /* names, plus 1 and subdirs for a dir */
	struct dentry *aliases;	    /* the names of this node */
	struct dentry *first_child; /* a directory's entries, in order */
	struct dentry *last_child;
	uint64_t nchildren;
	struct node *all_prev; /* registry.all_nodes */
	struct node *all_next;
	struct node *linger_prev; /* registry.lingering (residency.c) */
	struct node *linger_next;
	int lingering;
	/* Times it went idle lingering (residency.c): tells a sweep's look
	 * from a use since. */
	uint64_t idled;
	int dirfd; /* directory's backing fd, or -1 */
	/* The backing object this node stands for (file-backed; 0: none),
	 * which tells a name replaced behind our back from one changed. */
	dev_t bdev;
	ino_t bino;
	/* Monotonic ms of the last look at the backing directory (a
	 * directory's: its whole listing); 0: never (revalidate.c). */
	uint64_t checked;
	/* A watched directory's file handle (watched.c), and its place
	 * on registry.watched; NULL: not watched. */
	struct watch_handle *wh;
	struct node *watch_prev;
	struct node *watch_next;
	/* Made by O_TMPFILE without O_EXCL and never named yet: link may
	 * give it its first name (tmpfile.c). */
	int linkable;
	/* File-backed, made by O_TMPFILE where the backing filesystem has
	 * none: its store sits under a hidden name until it is named
	 * (backing_dir.c). */
	int hidden;

	/* Guarded by lock: */
	pthread_rwlock_t lock;
	mode_t mode; /* permission bits (and suid/sgid/sticky) */
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	struct timespec atime, mtime, ctime;
	uint64_t size; /* regular file's size: what is reserved */
	enum shmap_protect protect;
	unsigned flags;	  /* file flags, FS_*_FL; changed under registry.lock
			   * too, so that a name operation sees them still */
	int sparse;	  /* else committed: capacity reserved by size */
	uint64_t charged; /* a sparse mapping's pages stored, counted */
	struct xattr *xattrs;
	size_t xattr_bytes;
	/* A regular file's mapping object while it is in use (opens > 0;
	 * always for a memfd), else NULL: see residency.c. Set and cleared
	 * under registry.lock too. */
	struct store *store;
	/* The store holds a descriptor, counted in registry.resident
	 * (residency.c); guarded by registry.lock. */
	int resident;
	int share;  /* direct-access handle; 0: not asked, -1: refused */
	int direct; /* was ever shared: the store knows size and times */
};

/* What one id holds. */
struct quota_use {
	uint32_t id;
	uint64_t bytes;	   /* whole pages */
	uint64_t mappings; /* regular files */
};

/* The ids that hold something, sorted by id. */
struct quota_ids {
	struct quota_use *v;
	size_t n, cap;
};

/* A registry's usage. lock guards users and groups; it is taken after
 * registry.lock and node.lock, and nothing is taken while it is held. */
struct quota_table {
	pthread_mutex_t lock;
	struct quota_ids users;
	struct quota_ids groups;
};

struct registry {
	struct registry_config cfg; /* immutable after registry_new */
	/* The kind of backing (backing.h), and whether the daemon counts
	 * the capacity (the kind's init decides); immutable after
	 * registry_new. */
	const struct backing_ops *backing;
	int counts_capacity;
	/* The daemon may open a backing file again through its pin; else a
	 * parked one is opened by name (store.h); immutable after
	 * registry_new. */
	int pins_reachable;
	struct node *root;	   /* immutable */
	atomic_uint_fast64_t used; /* bytes reserved, if counted (charge.c) */
	atomic_uint_fast64_t next_ino;
	atomic_uint_fast64_t fd_warned_at; /* monotonic s of the last warning */
	atomic_uint store_opens;	   /* counted for cfg.fault_open */
	/* Stores holding a descriptor of their own (residency.c): past half
	 * the daemon's RLIMIT_NOFILE, stores opened are parked. */
	atomic_uint resident;

	pthread_mutex_t lock;		/* see the top of this file */
	struct dentry **buckets;	/* guarded by lock */
	size_t nbuckets;		/* guarded by lock; power of two */
	size_t ndentries;		/* guarded by lock */
	uint64_t nnodes;		/* guarded by lock; root excluded */
	struct node *all_nodes;		/* guarded by lock */
	struct node *lingering;		/* guarded by lock; residency.c */
	struct dir_snapshot *snapshots; /* open listings; guarded by lock */
	struct node *watched;	  /* watched directories; guarded by lock */
	struct quota_table quota; /* per-id usage; quota.c */

	/* Guarded by lock (residency.c): the mount's device, where views
	 * show in /proc/PID/maps (views.h), 0 if unknown; and whether a write
	 * lease probe sees read-only opens too (the kernel counts them with
	 * IMA), so that its "nobody" is the whole answer at a release. */
	dev_t views_dev;
	int leases_see_readers;
	atomic_int views_warned; /* a failed look at views was logged */
	atomic_int watch_warned; /* a directory not watched was logged */
};

/*
 * The core's files, in layers, each calling only those below it (each
 * file's opening comment names what it calls):
 *
 *   registry.c                 make and free a registry (registry.h)
 *   scan.c                     a backing directory, read at mount
 *   data.c  holes.c  whiteout.c  open, create, read, write, fallocate,
 *   tmpfile.c                  fsync; SEEK_DATA/SEEK_HOLE; rename leaving
 *                              a whiteout; O_TMPFILE's unnamed mappings
 *   revalidate.c               the registry brought in line with the
 *                              backing directory (the truth) again
 *   namespace.c  xattr.c       names; extended attributes and protection
 *   flags.c                    file flags (chattr), and what they forbid
 *   attr.c                     stat, setattr, resize, statfs
 *   node.c                     a node's life: alloc, hold, drop, put, free
 *   residency.c                a store open only while its mapping is used
 *   backing_mem.c backing_dir.c  the kinds of backing (backing.h)
 *   charge.c  watched.c        capacity, sparse pages and quotas, counted;
 *                              the directories a watcher watches
 *   quota.c  dentry.c  util.c  each id's usage; the names; log and clock
 *   views.c                    the processes' maps: views that outlive a close
 *   memlimit.c                 (for main.c) what fits in a memory cgroup
 *   store_fd.c store_faulty.c  the mapping objects (store.h)
 *
 * Declared here: what the files below the registry offer one another.
 */

/* util.c */
void reg_log(struct registry *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void now(struct timespec *ts);
/* Monotonic milliseconds, never 0. */
uint64_t now_ms(void);
int name_check(const char *name);

/* dentry.c: the table of names (registry.lock held) */
struct dentry *dentry_find(struct registry *r, struct node *dir,
			   const char *name);
int dentry_add(struct registry *r, struct node *dir, const char *name,
	       struct node *n);
struct dentry *dentry_new(struct registry *r, const char *name);
void dentry_link(struct registry *r, struct dentry *d, struct node *dir,
		 struct node *n);
void dentry_free_unlinked(struct dentry *d);
void dentry_remove(struct registry *r, struct dentry *d);

/* quota.c: each uid's and gid's usage (limits: quota_config, core.h) */
int quota_init(struct registry *r);
void quota_free(struct registry *r);
/* 1 if this registry counts and limits usage per id. */
int quota_on(const struct registry *r);
enum {
	QUOTA_USR = 1,
	QUOTA_GRP = 2,
	QUOTA_BOTH = 3
};
/* Add bytes and maps to uid's and gid's usage (the kinds asked for and
 * counted), checking the limits if asked: both or neither (-EDQUOT). */
int quota_add(struct registry *r, int kinds, uid_t uid, gid_t gid,
	      uint64_t bytes, uint64_t maps, int check);
void quota_sub(struct registry *r, int kinds, uid_t uid, gid_t gid,
	       uint64_t bytes, uint64_t maps);
/* user.shmap.quota: name is it on n; the name to list on n, or NULL; its
 * value (as registry_getxattr; -ENODATA without quotas). */
int quota_is_attr(struct registry *r, struct node *n, const char *name);
const char *quota_attr_listed(struct registry *r, struct node *n);
int quota_getxattr(struct registry *r, void *buf, size_t size, size_t *len);

/* charge.c: every change of the capacity and the quotas (n->lock held) */
/* Count a new mapping against its owner: -EDQUOT past the mapping limit. */
int charge_new_mapping(struct registry *r, uid_t uid, gid_t gid);
/* Give back what a dying regular file holds: capacity, usage, mapping. */
void charge_end_mapping(struct registry *r, struct node *n);
/* Move n's usage to a new owner: -EDQUOT if no room. */
int charge_chown_locked(struct registry *r, struct node *n, uid_t uid,
			gid_t gid);
/* Undo charge_chown_locked(r, n, uid, gid) while n still has its old
 * owner: the usage goes back unchecked (-ENOMEM at worst: then it stays). */
int charge_unchown_locked(struct registry *r, struct node *n, uid_t uid,
			  gid_t gid);
/* Before storing len bytes at off: reserve what it may take (-ENOSPC,
 * -EDQUOT), into *taken; after it, settle: give back what a failure did
 * not use, and count a sparse mapping's pages anew. */
int charge_range_locked(struct registry *r, struct node *n, uint64_t off,
			uint64_t len, uint64_t *taken);
void charge_settle_locked(struct registry *r, struct node *n, uint64_t taken,
			  int failed);
/* Before resizing n to size, and after (n->size then the new size if it
 * did not fail). */
int charge_resize_locked(struct registry *r, struct node *n, uint64_t size,
			 uint64_t *taken);
void charge_resized_locked(struct registry *r, struct node *n,
			   uint64_t old_size, uint64_t taken, int failed);
/* Make n sparse or committed; committed reserves its size now (store
 * open). */
int charge_set_sparse_locked(struct registry *r, struct node *n, int sparse);
/* Bytes of the capacity in use (where the daemon counts it). */
uint64_t charge_used(struct registry *r);

/* residency.c: a regular file's store is open only while in use */
/* Open n's store if it is idle (registry.lock held). */
int store_wake_locked(struct registry *r, struct node *n);
/* After the last use of n: close its store, or let it linger while a view
 * still holds it. */
void store_rest_locked(struct registry *r, struct node *n);
/* n dies: its store, its direct-access handle and what the store left
 * behind go. */
void store_end_locked(struct registry *r, struct node *n);
/* Before a file-backed mapping loses its last name while the kernel
 * still knows it (and may open it), open its store: it lives until the
 * node dies, as an unlinked file on tmpfs would (registry.lock held).
 * 1 if it opened the store now: then, if the name is not lost after all
 * (the unlink or rename failed), node_unkeep_locked() closes it again, so
 * that an idle mapping holds no descriptor and no lock. */
int node_keep_unlinked_locked(struct registry *r, struct node *n);
void node_unkeep_locked(struct registry *r, struct node *n);
/* Stat n's store, open or idle (registry.lock held). */
int node_store_stat(struct registry *r, struct node *n, struct stat *st);
/* Take a shared mapping's size and times from its store (lock held
 * exclusively); nothing for a mapping the daemon alone serves. */
void node_catch_up_locked(struct registry *r, struct node *n);
/* The same, taking the lock, and exclusively only if n is shared. */
void node_catch_up(struct registry *r, struct node *n);
/* Lock n for reading its attributes: exclusively if it must catch up. */
void node_lock_for_stat(struct registry *r, struct node *n);

/* node.c */
int node_alloc(struct registry *r, mode_t type, mode_t perm, uid_t uid,
	       gid_t gid, struct node **out);
void node_free(struct registry *r, struct node *n);
void node_put_locked(struct registry *r, struct node *n);
/* Take one use of n (an open handle, or a short internal one), opening
 * its store if it was idle; node_drop() gives it back and closes the
 * store with the last use. The _locked forms with registry.lock held. */
int node_hold_locked(struct registry *r, struct node *n);
int node_hold(struct registry *r, struct node *n);
void node_drop_locked(struct registry *r, struct node *n);
void node_drop(struct registry *r, struct node *n);
/* Open n, a regular file just made that nobody has seen: no size or
 * protection to check, only its store to open (registry.lock held). */
int node_open_new_locked(struct registry *r, struct node *n, int flags);

/* attr.c: fill st from n (registry.lock and n->lock held) */
void node_stat_locked(struct registry *r, struct node *n, struct stat *st);
int kill_suid_sgid_locked(struct registry *r, struct node *n);
/* A change that failed part-way (a full disk, RLIMIT_FSIZE) may have
 * grown the store past n's size: cut it back, so that the store holds
 * what the size says, and a sparse mapping is charged nothing for it; not
 * a shared one, whose store's size is the truth (lock held, store open). */
void node_trim_store_locked(struct registry *r, struct node *n);
/* Resize a regular file, checking protection and capacity (lock held). */
int node_resize_locked(struct registry *r, struct node *n, uint64_t size);

/* xattr.c: 1 if name is in a namespace shmapfs stores (user., security.,
 * trusted.) */
int xattr_name_stored(const char *name);
/* node.c: forget n's attributes, protection and file flags included, in
 * memory only (n->lock held or unshared) */
void node_forget_xattrs(struct node *n);
/* xattr.c: set n's attribute in memory only (n->lock held or unshared) */
int xattr_set_local(struct node *n, const char *name, const void *value,
		    size_t size);

/* flags.c: what a node's file flags forbid, as the VFS forbids it on tmpfs
 * (-EPERM; 0: allowed). n->lock held, or registry.lock, under which
 * registry_setflags() changes them too. */
int flags_check_open(const struct node *n, int open_flags);
int flags_check_setattr(const struct node *n, unsigned valid);
/* setxattr, removexattr, link: neither immutable nor append-only. */
int flags_check_change(const struct node *n);
/* A new name in dir (create, link, rename to a name that is free). */
int flags_check_dir_add(const struct node *dir);
/* Taking n's name away from dir (unlink, rmdir, rename from, rename
 * over). */
int flags_check_remove(const struct node *dir, const struct node *n);
int flags_check_fallocate(const struct node *n, int mode);
/* SHMAP_XATTR_FLAGS, as a backing file keeps it. */
int flags_is_attr(const char *name);
int flags_set_local(struct node *n, const void *value, size_t size);
/* A new entry n in dir takes dir's nodump and noatime, as on tmpfs, and
 * keeps them in its backing object (registry.lock held). */
int flags_inherit_locked(struct registry *r, struct node *dir, struct node *n);

/* namespace.c */
void snapshot_free_all_locked(struct registry *r);
/* Make dir/name a new regular file and open it (flags as open(2)'s) in
 * one step: if the open fails, no name is left (registry_create). */
int entry_create_open(struct registry *r, struct node *dir, const char *name,
		      mode_t mode, int flags, const struct caller *c,
		      struct node **out, struct stat *st);

/* revalidate.c: the backing directory's entries taken in (registry.lock
 * held, or the registry unshared) */
/* Take a backing object's attributes (n->lock held, or n unshared). */
void node_take_stat(struct node *n, const struct stat *st);
/* Take n's user.*, security.* and trusted.* extended attributes from fd,
 * its backing object (n not yet shared). */
int node_load_xattrs(struct registry *r, struct node *n, int fd);
/* Give dir/name, just found in the backing directory as st, a node: its
 * attributes, name and object (a directory's descriptor, unscanned). */
int entry_adopt_locked(struct registry *r, struct node *dir, const char *name,
		       const struct stat *st, struct node **out);
/* Open the object of n, named dir/name, just adopted: a symlink's target,
 * a directory's descriptor, a file's extended attributes. */
int entry_object_locked(struct registry *r, struct node *dir, const char *name,
			struct node *n);
/* A listing of the directory dirfd (borrowed), from its start. */
int dir_listing_open(int dirfd, DIR **out);
/* watched.c: watch a directory node that has its descriptor (if the
 * mount watches); take it off the watched list; find one by the handle a
 * report names (registry.lock held) */
void dir_watch_locked(struct registry *r, struct node *n);
void dir_unwatch_locked(struct registry *r, struct node *n);
struct node *dir_find_watched_locked(struct registry *r, int type,
				     const void *bytes, unsigned len);

/* namespace.c: whether dir takes new names (registry.lock held), and
 * the owner and mode a new entry of c in dir gets. */
int dir_check_locked(struct registry *r, struct node *dir);
void inherit_owner(struct node *dir, const struct caller *c, mode_t *mode,
		   gid_t *gid);

/* scan.c: take in what a backing directory holds, as the registry is
 * made (nothing without one). */
int scan_backing(struct registry *r);

#endif
