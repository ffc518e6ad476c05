/*
 * Extended attributes: user.*, security.* and trusted.* attributes stored
 * with each node (and in the backing file or directory of a file-backed
 * mapping, under the same name), as tmpfs stores them; listed as tmpfs
 * lists them (trusted.* only to a caller with CAP_SYS_ADMIN). And two that
 * every regular file
 * has: its protection, user.shmap.protect (readwrite by default), and its
 * kind, user.shmap.commit (sparse or committed; the mount's default).
 * The root also has user.shmap.exclusive, user.shmap.data_path and
 * (with quotas) user.shmap.quota_limits, read-only: what the mount
 * enforces of exclusive backing files, the data path it took, its limits. The
 * root of a mount with quotas has user.shmap.quota (quota.c). A backing
 * file's user.shmap.flags holds its file flags (flags.c), which only
 * chattr changes; none of these may be changed while the node is immutable
 * or append-only.
 *
 * Calls: node.c (a use while committing), charge.c (sparse or committed),
 * quota.c (user.shmap.quota), the kind of backing and util.c.
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>
#include <sys/xattr.h>

static const char *const protect_names[] = {
    [SHMAP_PROTECT_READWRITE] = "readwrite",
    [SHMAP_PROTECT_READONLY] = "readonly",
    [SHMAP_PROTECT_WRITECOPY] = "writecopy",
};

const char *protect_name(enum shmap_protect p)
{
	return protect_names[p];
}

int protect_parse(const char *s, size_t len, enum shmap_protect *out)
{
	/* Accept a trailing NUL or newline, as shells and C programs send. */
	while (len && (s[len - 1] == '\0' || s[len - 1] == '\n'))
		len--;
	for (int p = 0; p < 3; p++) {
		if (strlen(protect_names[p]) == len &&
		    !memcmp(s, protect_names[p], len)) {
			*out = (enum shmap_protect)p;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *commit_name(int sparse)
{
	return sparse ? "sparse" : "committed";
}

static int commit_parse(const char *s, size_t len, int *sparse)
{
	while (len && (s[len - 1] == '\0' || s[len - 1] == '\n'))
		len--;
	for (int v = 0; v < 2; v++) {
		if (strlen(commit_name(v)) == len &&
		    !memcmp(s, commit_name(v), len)) {
			*sparse = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* The read-only attributes of the root: what the mount enforces of
 * exclusive backing files, the data path it took, and its quota limits
 * (one line "user|group BYTES MAPPINGS" per kind counted; 0: no limit). */
#define ROOT_ATTRS    3
#define ROOT_ATTR_MAX 96
static const char *const root_attr_names[ROOT_ATTRS] = {
    SHMAP_XATTR_EXCLUSIVE, SHMAP_XATTR_DATA_PATH, SHMAP_XATTR_QUOTA_LIMITS};

static const char *quota_limits(const struct quota_config *q,
				char buf[ROOT_ATTR_MAX])
{
	int n = 0;
	if (q->usr)
		n = snprintf(buf, ROOT_ATTR_MAX, "user %llu %llu\n",
			     (unsigned long long)q->usr_limit.bytes,
			     (unsigned long long)q->usr_limit.mappings);
	if (q->grp)
		snprintf(buf + n, ROOT_ATTR_MAX - (size_t)n,
			 "group %llu %llu\n",
			 (unsigned long long)q->grp_limit.bytes,
			 (unsigned long long)q->grp_limit.mappings);
	return q->usr || q->grp ? buf : NULL;
}

/* The value of the root attribute i, or NULL if the mount has none. */
static const char *root_attr_value(struct registry *r, int i,
				   char buf[ROOT_ATTR_MAX])
{
	if (i == 0)
		return r->cfg.exclusive_state;
	return i == 1 ? r->cfg.data_path : quota_limits(&r->cfg.quota, buf);
}

/* The value of the root attribute name if n is the root, else NULL. */
static const char *root_attr(struct registry *r, struct node *n,
			     const char *name, char buf[ROOT_ATTR_MAX])
{
	for (int i = 0; n == r->root && i < ROOT_ATTRS; i++)
		if (!strcmp(name, root_attr_names[i]))
			return root_attr_value(r, i, buf);
	return NULL;
}

/* The bytes the root attributes of n take in a list (names and NULs),
 * and, if p is not NULL, those names copied to p. The quota limits are
 * asked for by name, not listed, as user.shmap.commit. */
static size_t root_attrs_list(struct registry *r, struct node *n, char *p)
{
	char buf[ROOT_ATTR_MAX];
	size_t len = 0;
	for (int i = 0; n == r->root && i < ROOT_ATTRS - 1; i++) {
		if (!root_attr_value(r, i, buf))
			continue;
		size_t l = strlen(root_attr_names[i]) + 1;
		if (p)
			memcpy(p + len, root_attr_names[i], l);
		len += l;
	}
	return len;
}

static struct xattr **xattr_find(struct node *n, const char *name)
{
	struct xattr **pp = &n->xattrs;
	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	return pp;
}

static int is_protect(struct node *n, const char *name)
{
	return S_ISREG(n->type) && !strcmp(name, SHMAP_XATTR_PROTECT);
}

static int is_commit(struct node *n, const char *name)
{
	return S_ISREG(n->type) && !strcmp(name, SHMAP_XATTR_COMMIT);
}

/* Would setting name to size bytes stay within the node's budget? */
static int xattr_fits(struct node *n, const char *name, size_t size)
{
	struct xattr *x = *xattr_find(n, name);
	size_t old = x ? strlen(name) + x->size : 0;
	size_t need = strlen(name) + size;
	return n->xattr_bytes - old + need <= SHMAP_XATTR_TOTAL ? 0 : -ENOSPC;
}

/* A user attribute's new value, made before anything changes, so that
 * putting it in place (xattr_commit) cannot fail. */
struct xattr_change {
	struct xattr *fresh; /* a new entry, or NULL: the name exists */
	void *value;
	size_t size;
};

static int xattr_prepare(const char *name, int exists, const void *value,
			 size_t size, struct xattr_change *c)
{
	*c = (struct xattr_change){.size = size};
	c->value = malloc(size ? size : 1);
	if (!c->value)
		return -ENOMEM;
	memcpy(c->value, value, size);
	if (exists)
		return 0;
	c->fresh = calloc(1, sizeof(*c->fresh));
	char *nm = strdup(name);
	if (!c->fresh || !nm) {
		free(c->fresh);
		free(nm);
		free(c->value);
		return -ENOMEM;
	}
	c->fresh->name = nm;
	return 0;
}

/* Put a prepared value in place (n->lock held for writing). */
static void xattr_commit(struct node *n, const char *name,
			 struct xattr_change *c)
{
	struct xattr **pp = xattr_find(n, name);
	size_t old = *pp ? strlen(name) + (*pp)->size : 0;
	if (!*pp)
		*pp = c->fresh;
	struct xattr *x = *pp;
	free(x->value);
	x->value = c->value;
	x->size = c->size;
	n->xattr_bytes = n->xattr_bytes - old + strlen(name) + c->size;
}

static void xattr_change_free(struct xattr_change *c)
{
	if (c->fresh)
		free(c->fresh->name);
	free(c->fresh);
	free(c->value);
}

int xattr_set_local(struct node *n, const char *name, const void *value,
		    size_t size)
{
	if (flags_is_attr(name))
		return flags_set_local(n, value, size);
	if (is_protect(n, name))
		return protect_parse(value, size, &n->protect);
	if (is_commit(n, name))
		return commit_parse(value, size, &n->sparse);
	if (xattr_fits(n, name, size) < 0)
		return -ENOSPC;
	struct xattr_change c;
	int res =
	    xattr_prepare(name, *xattr_find(n, name) != NULL, value, size, &c);
	if (res == 0)
		xattr_commit(n, name, &c);
	return res;
}

/* The namespaces tmpfs stores. The kernel has checked the caller's
 * privilege for trusted.* (CAP_SYS_ADMIN) and security.capability
 * (CAP_SETFCAP) before the request comes. */
static const char *const namespaces[] = {"user.", "security.", "trusted."};

/* The length of name's namespace prefix, or 0 if it has none we store. */
static size_t namespace_len(const char *name)
{
	for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
		if (!strncmp(name, namespaces[i], strlen(namespaces[i])))
			return strlen(namespaces[i]);
	return 0;
}

int xattr_name_stored(const char *name)
{
	return namespace_len(name) != 0;
}

static int is_trusted(const char *name)
{
	return !strncmp(name, "trusted.", 8);
}

static int name_ok(struct registry *r, struct node *n, const char *name)
{
	size_t prefix = namespace_len(name);
	if (!prefix)
		return -EOPNOTSUPP;
	if (strlen(name) > XATTR_NAME_MAX || !name[prefix])
		return -ERANGE;
	/* As on Linux: user attributes only on files and directories;
	 * the others on every kind, but a backing directory keeps them
	 * only for what the daemon holds open (files, directories). */
	if (!S_ISREG(n->type) && !S_ISDIR(n->type) &&
	    (prefix == 5 || r->backing->xattrs_mirrored))
		return -EPERM;
	return 0;
}

/* Only the owner, or root, may change how a mapping may be opened. */
static int protect_set_locked(struct registry *r, struct node *n,
			      const struct caller *c, const void *value,
			      size_t size, int flags)
{
	enum shmap_protect p;
	if (c->uid != 0 && c->uid != n->uid)
		return -EPERM;
	if (flags & XATTR_CREATE)
		return -EEXIST;
	int res = protect_parse(value, size, &p);
	if (res == 0)
		res =
		    backing_setxattr(r, n, SHMAP_XATTR_PROTECT, protect_name(p),
				     strlen(protect_name(p)));
	if (res == 0)
		n->protect = p;
	return res;
}

/* Make n sparse or committed (owner or root); committing reserves the
 * whole size now, or fails with ENOSPC. */
static int commit_set_locked(struct registry *r, struct node *n,
			     const struct caller *c, int sparse)
{
	if (c->uid != 0 && c->uid != n->uid)
		return -EPERM;
	const char *v = commit_name(sparse);
	int res = backing_setxattr(r, n, SHMAP_XATTR_COMMIT, v, strlen(v));
	if (res == 0)
		res = charge_set_sparse_locked(r, n, sparse);
	if (res < 0) {
		v = commit_name(n->sparse);
		backing_setxattr(r, n, SHMAP_XATTR_COMMIT, v, strlen(v));
	}
	return res;
}

/* Any other attribute, all or nothing: refused or made ready in memory
 * first, then set on the backing file, then put in place, which cannot
 * fail. n->lock held for writing. */
static int user_attr_set_locked(struct registry *r, struct node *n,
				const char *name, const void *value,
				size_t size, int flags)
{
	int exists = *xattr_find(n, name) != NULL;
	if ((flags & XATTR_CREATE) && exists)
		return -EEXIST;
	if ((flags & XATTR_REPLACE) && !exists)
		return -ENODATA;
	int res = xattr_fits(n, name, size);
	struct xattr_change c;
	if (res == 0)
		res = xattr_prepare(name, exists, value, size, &c);
	if (res < 0)
		return res;
	res = backing_setxattr(r, n, name, value, size);
	if (res < 0)
		xattr_change_free(&c);
	else
		xattr_commit(n, name, &c);
	return res;
}

int registry_setxattr(struct registry *r, struct node *n,
		      const struct caller *c, const char *name,
		      const void *value, size_t size, int flags)
{
	int res = name_ok(r, n, name);
	if (res < 0)
		return res;
	char buf[ROOT_ATTR_MAX];
	if (root_attr(r, n, name, buf))
		return -EPERM; /* the mount option decides */
	if (size > XATTR_SIZE_MAX)
		return -E2BIG;
	/* Read-only, and reserved when quotas are off; the file flags'
	 * attribute changes only with them (chattr). */
	if (quota_is_attr(r, n, name) || flags_is_attr(name))
		return -EPERM;
	if (r->cfg.read_only)
		return -EROFS;
	/* Committing allocates the store's pages: it must be open. */
	int held = is_commit(n, name);
	if (held && (res = node_hold(r, n)) < 0)
		return res;
	pthread_rwlock_wrlock(&n->lock);
	res = flags_check_change(n); /* immutable or append-only */
	if (res < 0) {
		/* refused, as the VFS refuses it on tmpfs */
	} else if (is_protect(n, name)) {
		res = protect_set_locked(r, n, c, value, size, flags);
	} else if (is_commit(n, name)) {
		int sparse = 0;
		res = flags & XATTR_CREATE ? -EEXIST
					   : commit_parse(value, size, &sparse);
		if (res == 0)
			res = commit_set_locked(r, n, c, sparse);
	} else {
		res = user_attr_set_locked(r, n, name, value, size, flags);
	}
	if (res == 0)
		now(&n->ctime);
	pthread_rwlock_unlock(&n->lock);
	if (held)
		node_drop(r, n);
	return res;
}

static int copy_out(const void *v, size_t len, void *buf, size_t size,
		    size_t *out)
{
	*out = len;
	if (size == 0)
		return 0;
	if (size < len)
		return -ERANGE;
	memcpy(buf, v, len);
	return 0;
}

int registry_getxattr(struct registry *r, struct node *n, const char *name,
		      void *buf, size_t size, size_t *len)
{
	char abuf[ROOT_ATTR_MAX];
	const char *ex = root_attr(r, n, name, abuf);
	if (ex)
		return copy_out(ex, strlen(ex), buf, size, len);
	if (quota_is_attr(r, n, name))
		return quota_getxattr(r, buf, size, len);
	int res = -ENODATA;
	pthread_rwlock_rdlock(&n->lock);
	if (is_protect(n, name)) {
		const char *p = protect_name(n->protect);
		res = copy_out(p, strlen(p), buf, size, len);
	} else if (is_commit(n, name)) {
		const char *p = commit_name(n->sparse);
		res = copy_out(p, strlen(p), buf, size, len);
	} else {
		struct xattr *x = *xattr_find(n, name);
		if (x)
			res = copy_out(x->value, x->size, buf, size, len);
	}
	pthread_rwlock_unlock(&n->lock);
	return res;
}

int registry_listxattr(struct registry *r, struct node *n, char *buf,
		       size_t size, size_t *len)
{
	return registry_listxattr_for(r, n, 1, buf, size, len, NULL);
}

int registry_listxattr_for(struct registry *r, struct node *n, int trusted,
			   char *buf, size_t size, size_t *len, int *hidden)
{
	int left_out = 0;
	const char *quota = quota_attr_listed(r, n);
	pthread_rwlock_rdlock(&n->lock);
	/* user.shmap.commit is asked for by name, not listed. */
	size_t need = S_ISREG(n->type) ? sizeof(SHMAP_XATTR_PROTECT) : 0;
	need += root_attrs_list(r, n, NULL);
	need += quota ? strlen(quota) + 1 : 0;
	for (struct xattr *x = n->xattrs; x; x = x->next) {
		if (trusted || !is_trusted(x->name))
			need += strlen(x->name) + 1;
		else
			left_out = 1;
	}
	if (hidden)
		*hidden = left_out;
	int res = 0;
	*len = need;
	if (size && size < need)
		res = -ERANGE;
	if (size && !res) {
		char *p = buf;
		if (S_ISREG(n->type)) {
			memcpy(p, SHMAP_XATTR_PROTECT,
			       sizeof(SHMAP_XATTR_PROTECT));
			p += sizeof(SHMAP_XATTR_PROTECT);
		}
		p += root_attrs_list(r, n, p);
		if (quota) {
			memcpy(p, quota, strlen(quota) + 1);
			p += strlen(quota) + 1;
		}
		for (struct xattr *x = n->xattrs; x; x = x->next) {
			if (!trusted && is_trusted(x->name))
				continue;
			size_t l = strlen(x->name) + 1;
			memcpy(p, x->name, l);
			p += l;
		}
	}
	pthread_rwlock_unlock(&n->lock);
	return res;
}

int registry_removexattr(struct registry *r, struct node *n,
			 const struct caller *c, const char *name)
{
	int res = name_ok(r, n, name);
	if (res < 0)
		return res;
	char buf[ROOT_ATTR_MAX];
	if (root_attr(r, n, name, buf) || quota_is_attr(r, n, name) ||
	    flags_is_attr(name))
		return -EPERM;
	if (r->cfg.read_only)
		return -EROFS;
	int held = is_commit(n, name); /* back to the mount's default */
	if (held && (res = node_hold(r, n)) < 0)
		return res;
	pthread_rwlock_wrlock(&n->lock);
	res = flags_check_change(n);
	if (res < 0) {
		/* immutable or append-only: as the VFS refuses it */
	} else if (is_commit(n, name)) {
		res = commit_set_locked(r, n, c, r->cfg.sparse);
	} else if (is_protect(n, name)) {
		res = c->uid != 0 && c->uid != n->uid ? -EPERM : 0;
		if (!res)
			res = backing_setxattr(r, n, name, NULL, 0);
		if (!res)
			n->protect = SHMAP_PROTECT_READWRITE;
	} else {
		struct xattr **pp = xattr_find(n, name);
		struct xattr *x = *pp;
		res = x ? backing_setxattr(r, n, name, NULL, 0) : -ENODATA;
		if (!res) {
			*pp = x->next;
			n->xattr_bytes -= strlen(x->name) + x->size;
			free(x->name);
			free(x->value);
			free(x);
		}
	}
	if (!res)
		now(&n->ctime);
	pthread_rwlock_unlock(&n->lock);
	if (held)
		node_drop(r, n);
	return res;
}
