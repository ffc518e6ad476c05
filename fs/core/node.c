/*
 * A node's life: made by node_alloc(), freed by node_put_locked() once
 * nothing refers to it (no name, no open handle, no kernel reference).
 */
#include "backing.h"
#include "internal.h"

#include <errno.h>
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
	node_unlinger_locked(r, n);
	if (n->all_prev)
		n->all_prev->all_next = n->all_next;
	else if (r->all_nodes == n)
		r->all_nodes = n->all_next;
	if (n->all_next)
		n->all_next->all_prev = n->all_prev;
	if (n != r->root)
		r->nnodes--;
	if (S_ISREG(n->type)) /* a symlink's size reserves nothing */
		charge_end_mapping(r, n);
	if (n->share > 0)
		r->cfg.unshare_store(r->cfg.share_ctx, n->share);
	backing_close_store(r, n->store);
	r->backing->forget_store(r, n);
	if (n->dirfd >= 0)
		close(n->dirfd);
	for (struct xattr *x = n->xattrs, *next; x; x = next) {
		next = x->next;
		free(x->name);
		free(x->value);
		free(x);
	}
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
