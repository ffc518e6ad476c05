/*
 * Mapping handles: create or open a named mapping (CreateFileMapping,
 * OpenFileMapping), duplicate one from a descriptor, ask its size, close it.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* How many times shmap_create retries when a name comes and goes. */
#define CREATE_RETRIES 100

static const char *prot_name(int prot)
{
	switch (prot) {
	case SHMAP_READONLY:
		return "readonly";
	case SHMAP_WRITECOPY:
		return "writecopy";
	default:
		return "readwrite";
	}
}

int shmap__protection(int fd, int *prot)
{
	char buf[32];
	ssize_t n = fgetxattr(fd, SHMAP__XATTR_PROTECT, buf, sizeof(buf) - 1);
	if (n < 0) {
		/* Never set, or a filesystem without xattrs: read-write. */
		if (errno == ENODATA || errno == ENOTSUP) {
			*prot = SHMAP_READWRITE;
			return 0;
		}
		return -errno;
	}
	buf[n] = '\0';
	if (strcmp(buf, "readonly") == 0)
		*prot = SHMAP_READONLY;
	else if (strcmp(buf, "writecopy") == 0)
		*prot = SHMAP_WRITECOPY;
	else
		*prot = SHMAP_READWRITE;
	return 0;
}

/* The access a handle gets from the protection it was created with. */
static int access_for_prot(int prot)
{
	if (prot == SHMAP_READONLY)
		return SHMAP_READ;
	if (prot == SHMAP_WRITECOPY)
		return SHMAP_COPY;
	return SHMAP_WRITE;
}

static int new_handle(int fd, int access, int existed, shmap_t **out)
{
	shmap_t *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = fd;
	m->access = access;
	m->existed = existed;
	*out = m;
	return 0;
}

/* The kind of a mapping on shmapfs: sparse or committed. */
#define XATTR_COMMIT "user.shmap.commit"

struct create_args {
	uint64_t size;
	int prot;
	unsigned kind; /* SHMAP_COMMIT, SHMAP_SPARSE or 0 */
};

/*
 * Give the new file its kind before its size, so that a committed one
 * reserves its pages at the truncate (ENOSPC there). Where there is no
 * such attribute (a plain tmpfs), sparse is what files are, and
 * committed is asked of the filesystem by allocating.
 */
static int set_kind(int fd, unsigned kind)
{
	if (!kind)
		return 0;
	const char *v = kind == SHMAP_COMMIT ? "committed" : "sparse";
	if (fsetxattr(fd, XATTR_COMMIT, v, strlen(v), 0) == 0)
		return 0;
	return errno == ENOTSUP ? 1 : -errno;
}

/*
 * Size and protect the temporary file before it gets its name. The
 * daemon refuses to make a mapping read-only while it is open for
 * writing, so reopen it read-only first.
 */
static int init_mapping(int *fd, const char *tmp, void *arg)
{
	const struct create_args *a = arg;
	if (a->size > (uint64_t)INT64_MAX)
		return -EFBIG;
	int plain = set_kind(*fd, a->kind);
	if (plain < 0)
		return plain;
	if (ftruncate(*fd, (off_t)a->size) < 0)
		return -errno;
	if (plain && a->kind == SHMAP_COMMIT && a->size &&
	    fallocate(*fd, 0, 0, (off_t)a->size) < 0)
		return -errno;
	if (a->prot == SHMAP_READWRITE)
		return 0;
	close(*fd);
	*fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	const char *v = prot_name(a->prot);
	if (fsetxattr(*fd, SHMAP__XATTR_PROTECT, v, strlen(v), 0) < 0)
		return -errno;
	return 0;
}

static int open_path(const char *path, int access, shmap_t **out);

int shmap_create(const char *name, uint64_t size, int prot, unsigned flags,
		 shmap_t **out)
{
	if (!out ||
	    (prot != SHMAP_READONLY && prot != SHMAP_READWRITE &&
	     prot != SHMAP_WRITECOPY) ||
	    (flags & ~(SHMAP_EXCL | SHMAP_COMMIT | SHMAP_SPARSE)) ||
	    ((flags & SHMAP_COMMIT) && (flags & SHMAP_SPARSE)))
		return -EINVAL;
	char path[PATH_MAX];
	size_t root;
	int err = shmap__path(name, path, &root);
	if (err)
		return err;
	struct create_args a = {size, prot,
				flags & (SHMAP_COMMIT | SHMAP_SPARSE)};
	for (int i = 0; i < CREATE_RETRIES; i++) {
		int fd;
		err = shmap__create_file(path, root, init_mapping, &a, &fd);
		if (!err) {
			err = new_handle(fd, access_for_prot(prot), 0, out);
			if (err) {
				close(fd);
				unlink(path);
			}
			return err;
		}
		if (err != -EEXIST || (flags & SHMAP_EXCL))
			return err;
		err = open_path(path, access_for_prot(prot), out);
		if (err != -ENOENT) {
			if (!err)
				(*out)->existed = 1;
			return err;
		}
		/* Removed between our two looks: try to create it again. */
	}
	return -EAGAIN;
}

static int open_path(const char *path, int access, shmap_t **out)
{
	int flags = access == SHMAP_WRITE ? O_RDWR : O_RDONLY;
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int prot = SHMAP_READWRITE, err = 0;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	else if (access == SHMAP_WRITE)
		err = shmap__protection(fd, &prot);
	/* The daemon enforces this at open; check too for other filesystems. */
	if (!err && prot != SHMAP_READWRITE)
		err = -EACCES;
	if (!err)
		err = new_handle(fd, access, 0, out);
	if (err)
		close(fd);
	return err;
}

int shmap_open(const char *name, int access, shmap_t **out)
{
	if (!out || (access != SHMAP_READ && access != SHMAP_WRITE &&
		     access != SHMAP_COPY))
		return -EINVAL;
	char path[PATH_MAX];
	int err = shmap__path(name, path, NULL);
	if (err)
		return err;
	return open_path(path, access, out);
}

int shmap_unlink(const char *name)
{
	char path[PATH_MAX];
	int err = shmap__path(name, path, NULL);
	if (err)
		return err;
	return unlink(path) < 0 ? -errno : 0;
}

int shmap_close(shmap_t *m)
{
	if (!m)
		return -EINVAL;
	int err = close(m->fd) < 0 ? -errno : 0;
	free(m);
	return err;
}

int shmap_size(const shmap_t *m, uint64_t *size)
{
	if (!m || !size)
		return -EINVAL;
	struct stat st;
	if (fstat(m->fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

int shmap_existed(const shmap_t *m)
{
	return m ? m->existed : -EINVAL;
}

int shmap_fd(const shmap_t *m)
{
	return m ? m->fd : -EINVAL;
}

/* The access an inherited descriptor allows, given the protection. */
static int access_of_fd(int fd, int *access)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) == O_RDWR) {
		*access = SHMAP_WRITE;
		return 0;
	}
	if ((fl & O_ACCMODE) != O_RDONLY)
		return -EBADF; /* O_WRONLY cannot be mapped */
	int prot, err = shmap__protection(fd, &prot);
	if (err)
		return err;
	*access = prot == SHMAP_WRITECOPY ? SHMAP_COPY : SHMAP_READ;
	return 0;
}

int shmap_from_fd(int fd, shmap_t **out)
{
	if (!out)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	int access = SHMAP_READ;
	int err = access_of_fd(fd, &access);
	if (err)
		return err;
	/* Our own descriptor: the caller keeps (and closes) theirs. */
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	err = new_handle(dup_fd, access, 1, out);
	if (err)
		close(dup_fd);
	return err;
}
