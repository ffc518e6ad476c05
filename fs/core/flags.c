/*
 * File flags, as chattr(1) sets them: the four tmpfs keeps (immutable,
 * append-only, nodump, noatime), who may change them, and what they
 * forbid. The kernel knows nothing of a FUSE file's flags (fuse_attr has
 * no field for them), so the rules the VFS applies on tmpfs from the
 * inode's flags are applied here, by the operations that reach the
 * daemon: opens, setattr, names, extended attributes, fallocate. As on
 * tmpfs, a descriptor opened for writing before the flag was set keeps
 * writing (tmpfs checks at open, not at write).
 *
 * A file-backed mount keeps the flags in the backing file's (or
 * directory's) user.shmap.flags, beside its mode, owner and extended
 * attributes, not as the backing file's own flags: ext4 and xfs enforce
 * those on descriptors already open too (a store through a view made
 * before +i raises SIGBUS there), and would refuse the daemon's own
 * read-write open of an immutable mapping's backing file.
 *
 * Calls: the kind of backing (backing.h) and util.c.
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>

/* mm/shmem.c: SHMEM_FL_USER_MODIFIABLE and SHMEM_FL_INHERITED (without
 * casefolding, which a tmpfs has only when mounted for it). */
#define FLAGS_KEPT                                                             \
	(FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL)
#define FLAGS_INHERITED (FS_NODUMP_FL | FS_NOATIME_FL)
/* What only CAP_LINUX_IMMUTABLE changes, and what freezes a node. */
#define FLAGS_GUARDED (FS_IMMUTABLE_FL | FS_APPEND_FL)

/* lsattr's letters, in its order: the stored form. */
static const struct {
	unsigned flag;
	char letter;
} letters[] = {
    {FS_IMMUTABLE_FL, 'i'},
    {FS_APPEND_FL, 'a'},
    {FS_NODUMP_FL, 'd'},
    {FS_NOATIME_FL, 'A'},
};
#define NLETTERS (sizeof(letters) / sizeof(letters[0]))

static int has(const struct node *n, unsigned flags)
{
	return (n->flags & flags) != 0;
}

static int capable(uint64_t caps, int cap)
{
	return (caps >> cap) & 1;
}

int flags_is_attr(const char *name)
{
	return !strcmp(name, SHMAP_XATTR_FLAGS);
}

/* The letters of flags, NUL-terminated; their count. */
static size_t flags_format(unsigned flags, char out[NLETTERS + 1])
{
	size_t len = 0;
	for (size_t i = 0; i < NLETTERS; i++)
		if (flags & letters[i].flag)
			out[len++] = letters[i].letter;
	out[len] = '\0';
	return len;
}

int flags_set_local(struct node *n, const void *value, size_t size)
{
	const char *s = value;
	unsigned flags = 0;
	for (size_t i = 0; i < size && s[i] && s[i] != '\n'; i++) {
		size_t l = 0;
		while (l < NLETTERS && letters[l].letter != s[i])
			l++;
		if (l == NLETTERS)
			return -EINVAL;
		flags |= letters[l].flag;
	}
	n->flags = flags;
	return 0;
}

/* Keep flags in n's backing object (nothing when memory-backed). */
static int flags_store(struct registry *r, struct node *n, unsigned flags)
{
	char text[NLETTERS + 1];
	size_t len = flags_format(flags, text);
	return backing_setxattr(r, n, SHMAP_XATTR_FLAGS, len ? text : NULL,
				len);
}

int registry_getflags(struct registry *r, struct node *n, unsigned *flags)
{
	(void)r;
	if (!S_ISREG(n->type) && !S_ISDIR(n->type))
		return -ENOTTY;
	pthread_rwlock_rdlock(&n->lock);
	*flags = n->flags;
	pthread_rwlock_unlock(&n->lock);
	return 0;
}

/* vfs_fileattr_set() and shmem_fileattr_set(), in their order. */
static int flags_may_set(const struct node *n, const struct caller *c,
			 uint64_t caps, unsigned flags)
{
	if (c->uid != n->uid && !capable(caps, CAP_FOWNER))
		return -EPERM;
	if (((flags ^ n->flags) & FLAGS_GUARDED) &&
	    !capable(caps, CAP_LINUX_IMMUTABLE))
		return -EPERM;
	if (flags & ~FLAGS_KEPT)
		return -EOPNOTSUPP;
	return 0;
}

int registry_setflags(struct registry *r, struct node *n,
		      const struct caller *c, uint64_t caps, unsigned flags)
{
	if (!S_ISREG(n->type) && !S_ISDIR(n->type))
		return -ENOTTY;
	if (r->cfg.read_only)
		return -EROFS;
	/* Names are changed under registry.lock alone: hold it too, so
	 * that an unlink or rename sees the flags it checked until done. */
	pthread_mutex_lock(&r->lock);
	pthread_rwlock_wrlock(&n->lock);
	int res = flags_may_set(n, c, caps, flags);
	if (!res && flags != n->flags)
		res = flags_store(r, n, flags);
	if (!res) {
		n->flags = flags;
		now(&n->ctime);
	}
	pthread_rwlock_unlock(&n->lock);
	pthread_mutex_unlock(&r->lock);
	return res;
}

int flags_inherit_locked(struct registry *r, struct node *dir, struct node *n)
{
	if (!S_ISREG(n->type) && !S_ISDIR(n->type))
		return 0;
	pthread_rwlock_rdlock(&dir->lock);
	unsigned flags = dir->flags & FLAGS_INHERITED;
	pthread_rwlock_unlock(&dir->lock);
	if (!flags)
		return 0;
	pthread_rwlock_wrlock(&n->lock);
	int res = flags_store(r, n, flags);
	if (!res)
		n->flags = flags;
	pthread_rwlock_unlock(&n->lock);
	return res;
}

/* may_open(): no writing an immutable file, and only appending to an
 * append-only one; O_TRUNC counts as writing, whatever the access mode. */
int flags_check_open(const struct node *n, int open_flags)
{
	int writing = (open_flags & O_ACCMODE) != O_RDONLY;
	int trunc = (open_flags & O_TRUNC) != 0;
	if (has(n, FS_IMMUTABLE_FL) && (writing || trunc))
		return -EPERM;
	if (has(n, FS_APPEND_FL) &&
	    ((writing && !(open_flags & O_APPEND)) || trunc))
		return -EPERM;
	return 0;
}

/*
 * notify_change() and its callers: no mode, owner or explicit times on
 * either; no "touch" (times set to now) on an immutable file; no size on
 * an append-only file, nor on an immutable one but through a descriptor
 * opened before (ftruncate), which tmpfs lets through.
 */
int flags_check_setattr(const struct node *n, unsigned valid)
{
	int explicit_times =
	    ((valid & SET_ATIME) && !(valid & SET_ATIME_NOW)) ||
	    ((valid & SET_MTIME) && !(valid & SET_MTIME_NOW));
	int touch = (valid & (SET_ATIME_NOW | SET_MTIME_NOW)) != 0;
	if (has(n, FLAGS_GUARDED) &&
	    ((valid & (SET_MODE | SET_UID | SET_GID)) || explicit_times))
		return -EPERM;
	if (has(n, FS_IMMUTABLE_FL) && touch)
		return -EPERM;
	if ((valid & SET_SIZE) &&
	    (has(n, FS_APPEND_FL) ||
	     (has(n, FS_IMMUTABLE_FL) && !(valid & SET_BY_FD))))
		return -EPERM;
	return 0;
}

int flags_check_change(const struct node *n)
{
	return has(n, FLAGS_GUARDED) ? -EPERM : 0;
}

/* An immutable directory takes no new names; an append-only one does. */
int flags_check_dir_add(const struct node *dir)
{
	return has(dir, FS_IMMUTABLE_FL) ? -EPERM : 0;
}

/* may_delete(). */
int flags_check_remove(const struct node *dir, const struct node *n)
{
	return has(dir, FLAGS_GUARDED) || has(n, FLAGS_GUARDED) ? -EPERM : 0;
}

/* vfs_fallocate(): an append-only file may only grow. */
int flags_check_fallocate(const struct node *n, int mode)
{
	if (has(n, FS_APPEND_FL) && (mode & ~FALLOC_FL_KEEP_SIZE))
		return -EPERM;
	return has(n, FS_IMMUTABLE_FL) ? -EPERM : 0;
}
