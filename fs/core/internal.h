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
 */
#ifndef SHMAPFS_INTERNAL_H
#define SHMAPFS_INTERNAL_H

#include "registry.h"
#include "store.h"

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

	/* Guarded by lock: */
	pthread_rwlock_t lock;
	mode_t mode; /* permission bits (and suid/sgid/sticky) */
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	struct timespec atime, mtime, ctime;
	uint64_t size; /* regular file's size: what is reserved */
	enum shmap_protect protect;
	int sparse;	  /* else committed: capacity reserved by size */
	uint64_t charged; /* a sparse mapping's pages stored, counted */
	struct xattr *xattrs;
	size_t xattr_bytes;
	/* A regular file's mapping object while it is in use (opens > 0;
	 * always for a memfd), else NULL: see residency.c. Set and cleared
	 * under registry.lock too. */
	struct store *store;
	int share;  /* direct-access handle; 0: not asked, -1: refused */
	int direct; /* was ever shared: the store knows size and times */
};

struct registry {
	struct registry_config cfg; /* immutable after registry_new */
	int memory_backed;	    /* cfg.backing_dirfd < 0 */
	int counts_capacity;	    /* memory-backed, and no tmpfs counts it */
	struct node *root;	    /* immutable */
	atomic_uint_fast64_t used;  /* bytes reserved (memory-backed) */
	atomic_uint_fast64_t next_ino;
	atomic_uint_fast64_t fd_warned_at; /* monotonic s of the last warning */
	atomic_uint store_opens;	   /* counted for cfg.fault_open */

	pthread_mutex_t lock;		/* see the top of this file */
	struct dentry **buckets;	/* guarded by lock */
	size_t nbuckets;		/* guarded by lock; power of two */
	size_t ndentries;		/* guarded by lock */
	uint64_t nnodes;		/* guarded by lock; root excluded */
	struct node *all_nodes;		/* guarded by lock */
	struct node *lingering;		/* guarded by lock; residency.c */
	struct dir_snapshot *snapshots; /* open listings; guarded by lock */
	struct quota_table quota;	/* per-id usage; quota.c */

	/* Guarded by lock (residency.c): the mount's device, where views
	 * show in /proc/PID/maps (views.h), 0 if unknown; and whether a write
	 * lease probe sees read-only opens too (the kernel counts them with
	 * IMA), so that its "nobody" is the whole answer at a release. */
	dev_t views_dev;
	int leases_see_readers;
	atomic_int views_warned; /* a failed look at views was logged */
};

/* registry.c */
void reg_log(struct registry *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int node_alloc(struct registry *r, mode_t type, mode_t perm, uid_t uid,
	       gid_t gid, struct node **out);
void node_free(struct registry *r, struct node *n);
void node_put_locked(struct registry *r, struct node *n);
struct dentry *dentry_find(struct registry *r, struct node *dir,
			   const char *name);
int dentry_add(struct registry *r, struct node *dir, const char *name,
	       struct node *n);
struct dentry *dentry_new(struct registry *r, const char *name);
void dentry_link(struct registry *r, struct dentry *d, struct node *dir,
		 struct node *n);
void dentry_free_unlinked(struct dentry *d);
void dentry_remove(struct registry *r, struct dentry *d);
/* Where the daemon counts the capacity (counts_capacity): a committed
 * mapping holds its size in whole pages, reserved before it grows; a
 * sparse one holds the pages its store has, as seen after each change. */
int cap_reserve(struct registry *r, uint64_t old_size, uint64_t new_size);
void cap_release(struct registry *r, uint64_t old_size, uint64_t new_size);
int cap_take(struct registry *r, uint64_t bytes);
void cap_give(struct registry *r, uint64_t bytes);
/* What n holds of the capacity (n->lock held). */
uint64_t node_charge(const struct node *n);
void now(struct timespec *ts);
int name_check(const char *name);

/* xattr.c: 1 if name is in a namespace shmapfs stores (user., security.,
 * trusted.) */
int xattr_name_stored(const char *name);
/* xattr.c: set n's attribute in memory only (n->lock held or unshared) */
int xattr_set_local(struct node *n, const char *name, const void *value,
		    size_t size);

/* attr.c: fill st from n (registry.lock and n->lock held) */
void node_stat_locked(struct registry *r, struct node *n, struct stat *st);
int kill_suid_sgid_locked(struct registry *r, struct node *n);
/* Take a shared mapping's size and times from its store (lock held
 * exclusively); nothing for a mapping the daemon alone serves. */
void node_catch_up_locked(struct registry *r, struct node *n);
/* The same, taking the lock, and exclusively only if n is shared. */
void node_catch_up(struct registry *r, struct node *n);
/* A change that failed part-way (a full disk, RLIMIT_FSIZE) may have
 * grown the store past n's size: cut it back, so that the store holds
 * what the size says, and a sparse mapping is charged nothing for it; not
 * a shared one, whose store's size is the truth (lock held, store open). */
void node_trim_store_locked(struct registry *r, struct node *n);
/* Resize a regular file, checking protection and capacity (lock held). */
int node_resize_locked(struct registry *r, struct node *n, uint64_t size);
/* A sparse mapping's charge before storing size bytes at off: the pages of
 * the range that hold no data yet, but no more than the mapping lacks below
 * its size (a page fallocate reserved and nothing wrote looks like a hole).
 * Then, after
 * the change, count what the store holds (lock held, store open). */
uint64_t sparse_need_locked(struct registry *r, struct node *n, uint64_t off,
			    uint64_t size);
void sparse_recount_locked(struct registry *r, struct node *n);
/* Make n sparse or committed; committed reserves its size now (lock held,
 * store open). */
int node_set_sparse_locked(struct registry *r, struct node *n, int sparse);

/* residency.c: a regular file's store is open only while in use */
#define STORE_NAME_LEN 20
void store_name(const struct node *n, char name[STORE_NAME_LEN]);
/* 1 if stores are closed while idle (all but memfds). */
int node_is_resident(struct registry *r);
/* Take one use of n (an open handle, or a short internal one), opening
 * its store if it was idle; node_drop() gives it back and closes the
 * store with the last use. The _locked forms with registry.lock held. */
int node_hold_locked(struct registry *r, struct node *n);
int node_hold(struct registry *r, struct node *n);
void node_drop_locked(struct registry *r, struct node *n);
void node_drop(struct registry *r, struct node *n);
/* Before a file-backed mapping loses its last name while the kernel
 * still knows it (and may open it), open its store: it lives until the
 * node dies, as an unlinked file on tmpfs would (registry.lock held).
 * 1 if it opened the store now: then, if the name is not lost after all
 * (the unlink or rename failed), node_unkeep_locked() closes it again, so
 * that an idle mapping holds no descriptor and no lock. */
int node_keep_unlinked_locked(struct registry *r, struct node *n);
void node_unkeep_locked(struct registry *r, struct node *n);
/* Take n off the list of idle stores still in use elsewhere. */
void node_unlinger_locked(struct registry *r, struct node *n);
/* Stat n's store, open or idle (registry.lock held). */
int node_store_stat(struct registry *r, struct node *n, struct stat *st);
/* Set the times of a memory store, open or idle (n->lock held). */
int node_store_utimens(struct registry *r, struct node *n,
		       const struct timespec t[2]);
/* Remove a memory store's file as its node dies (registry.lock held). */
void node_store_unlink(struct registry *r, struct node *n);

/* data.c: open n, a regular file just made that nobody has seen: no size
 * or protection to check, only its store to open (registry.lock held). */
int node_open_new_locked(struct registry *r, struct node *n, int flags);

/* quota.c: per-user and per-group usage and limits (see quota.h) */
int quota_init(struct registry *r);
void quota_free(struct registry *r);
/* 1 if this registry counts and limits usage per id. */
int quota_on(const struct registry *r);
/* Charge a new mapping to its owner: -EDQUOT past the mapping limit. */
int quota_new_mapping(struct registry *r, uid_t uid, gid_t gid);
/* Give back what a dying regular file holds: capacity, usage, mapping. */
void charge_end_mapping(struct registry *r, struct node *n);
/* Move n's usage to a new owner (n->lock held): -EDQUOT if no room. */
int quota_chown_locked(struct registry *r, struct node *n, uid_t uid,
		       gid_t gid);
/* Undo quota_chown_locked(r, n, uid, gid) while n still has its old
 * owner: the usage goes back unchecked (-ENOMEM at worst: then it stays). */
int quota_unchown_locked(struct registry *r, struct node *n, uid_t uid,
			 gid_t gid);
/* The capacity functions above, charging n's owner too (n->lock held):
 * take and reserve check the capacity and the limits (-ENOSPC, -EDQUOT),
 * add counts without a check (what a store holds, seen afterwards). */
int charge_take(struct registry *r, struct node *n, uint64_t bytes);
void charge_add(struct registry *r, struct node *n, uint64_t bytes);
void charge_give(struct registry *r, struct node *n, uint64_t bytes);
int charge_reserve(struct registry *r, struct node *n, uint64_t old_size,
		   uint64_t new_size);
void charge_release(struct registry *r, struct node *n, uint64_t old_size,
		    uint64_t new_size);
/* user.shmap.quota: name is it on n; the name to list on n, or NULL; its
 * value (as registry_getxattr; -ENODATA without quotas). */
int quota_is_attr(struct registry *r, struct node *n, const char *name);
const char *quota_attr_listed(struct registry *r, struct node *n);
int quota_getxattr(struct registry *r, void *buf, size_t size, size_t *len);

/* namespace.c */
void snapshot_unlink_locked(struct dir_snapshot *s);
void snapshot_free_all_locked(struct registry *r);
/* Make dir/name a new regular file and open it (flags as open(2)'s) in
 * one step: if the open fails, no name is left (registry_create). */
int entry_create_open(struct registry *r, struct node *dir, const char *name,
		      mode_t mode, int flags, const struct caller *c,
		      struct node **out, struct stat *st);

/* backing.c */
int backing_scan(struct registry *r);
int backing_open_store(struct registry *r, struct dentry *d,
		       struct store **out);
int backing_wrap_store(struct registry *r, struct store **s);
/* Close a store, any kind; a backing file stops being exclusive first. */
void backing_close_store(struct registry *r, struct store *s);
int backing_load_xattrs(struct registry *r, struct node *n, int fd);

#endif
