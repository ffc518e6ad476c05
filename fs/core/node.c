/*
 * A node's life: made by node_alloc(), used through node_hold() and
 * node_drop() (an open handle, or a short internal use), and freed by
 * node_put_locked() once nothing refers to it (no name, no open handle,
 * no kernel reference).
 *
 * Calls: charge.c (a mapping is charged from its birth to its death),
 * residency.c (a store opened with the first use, closed after the last,
 * gone with the node), watched.c (a directory's watch goes with it) and
 * util.c.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int node_alloc(struct registry *r, mode_t type, mode_t perm, uid_t uid,
	       gid_t gid, struct node **out)
{
	if (r->nnodes >= r->cfg.max_nodes)
		return -ENOSPC;
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (pthread_rwlock_init(&n->lock, NULL) != 0) {
		free(n);
		return -ENOMEM;
	}
	/* A mapping counts against its owner's quota from now on. */
	int res = S_ISREG(type) ? charge_new_mapping(r, uid, gid) : 0;
	if (res < 0) {
		pthread_rwlock_destroy(&n->lock);
		free(n);
		return res;
	}
	n->ino = atomic_fetch_add(&r->next_ino, 1);
	n->type = type & S_IFMT;
	n->mode = perm & 07777;
	n->uid = uid;
	n->gid = gid;
	n->dirfd = -1;
	n->sparse = S_ISREG(type) && r->cfg.sparse;
	n->nlink = S_ISDIR(type) ? 1 : 0; /* "." ; the name adds one */
	now(&n->mtime);
	n->atime = n->ctime = n->mtime;
	n->all_next = r->all_nodes;
	if (r->all_nodes)
		r->all_nodes->all_prev = n;
	r->all_nodes = n;
	r->nnodes++;
	*out = n;
	return 0;
}

void node_free(struct registry *r, struct node *n)
{
	if (n->all_prev)
		n->all_prev->all_next = n->all_next;
	else if (r->all_nodes == n)
		r->all_nodes = n->all_next;
	if (n->all_next)
		n->all_next->all_prev = n->all_prev;
	if (n != r->root)
		r->nnodes--;
	dir_unwatch_locked(r, n);
	if (S_ISREG(n->type)) /* a symlink's size reserves nothing */
		charge_end_mapping(r, n);
	store_end_locked(r, n);
	if (n->dirfd >= 0)
		close(n->dirfd);
	node_forget_xattrs(n);
	free(n->symlink);
	pthread_rwlock_destroy(&n->lock);
	free(n);
}

/*
 * Free n once nothing refers to it: no name, no open handle, and no
 * reference the kernel holds. The last matters: the kernel may open an
 * unlinked inode it still knows (an open racing an unlink, or a reopen
 * through /proc/self/fd), and must then find its data, as on tmpfs. After
 * an unlink the kernel forgets the inode promptly. Called with
 * registry.lock held.
 */
void node_put_locked(struct registry *r, struct node *n)
{
	if (n == r->root || n->aliases || n->lookups || n->opens)
		return;
	node_free(r, n);
}

int node_hold_locked(struct registry *r, struct node *n)
{
	int res = store_wake_locked(r, n);
	if (res < 0)
		return res;
	n->opens++;
	return 0;
}

int node_open_new_locked(struct registry *r, struct node *n, int flags)
{
	int res = node_hold_locked(r, n);
	if (res == 0 && (flags & O_ACCMODE) != O_RDONLY)
		n->writers++;
	return res;
}

int node_hold(struct registry *r, struct node *n)
{
	pthread_mutex_lock(&r->lock);
	int res = node_hold_locked(r, n);
	pthread_mutex_unlock(&r->lock);
	return res;
}

void node_drop_locked(struct registry *r, struct node *n)
{
	if (n->opens == 0) {
		fprintf(stderr, "shmapfs: release of inode %llu never opened\n",
			(unsigned long long)n->ino);
		abort();
	}
	n->opens--;
	if (n->opens == 0)
		store_rest_locked(r, n);
	node_put_locked(r, n);
}

void node_drop(struct registry *r, struct node *n)
{
	pthread_mutex_lock(&r->lock);
	node_drop_locked(r, n);
	pthread_mutex_unlock(&r->lock);
}

/* A node's id for the kernel: FUSE's root is 1, any other node its
 * address, valid while the kernel holds a lookup of it. */
uint64_t registry_node_id(struct registry *r, struct node *n)
{
	return n == r->root ? 1 : (uint64_t)(uintptr_t)n;
}

struct node *registry_node(struct registry *r, uint64_t id)
{
	return id == 1 ? r->root : (struct node *)(uintptr_t)id;
}

void node_forget_xattrs(struct node *n)
{
	for (struct xattr *x = n->xattrs, *next; x; x = next) {
		next = x->next;
		free(x->name);
		free(x->value);
		free(x);
	}
	n->xattrs = NULL;
	n->xattr_bytes = 0;
	n->protect = SHMAP_PROTECT_READWRITE;
	n->flags = 0;
}
