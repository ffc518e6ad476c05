/*
 * Per-user and per-group quotas (see core.h): what each uid and gid
 * holds of a memory-backed mount, in bytes and in mappings, and the
 * EDQUOT that keeps one id from taking more than the limits give it.
 *
 * A mapping (a regular file, however many names it has) is charged to
 * its owner's uid and gid from its creation until its node dies (the
 * last name, handle and kernel reference gone, as on tmpfs), with what it
 * holds of the capacity: a committed mapping its size in whole pages, a
 * sparse one the pages it has stored. charge.c changes the capacity and
 * the owner's usage together, through quota_add() and quota_sub(). The
 * checks come before the change, as the capacity's do; root (id 0) is
 * counted, never limited. An id has an entry while it owns at least one
 * mapping, so that adding bytes never needs memory.
 *
 * Calls nothing else in the core.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>

int quota_init(struct registry *r)
{
	memset(&r->quota, 0, sizeof(r->quota));
	return pthread_mutex_init(&r->quota.lock, NULL) ? -ENOMEM : 0;
}

void quota_free(struct registry *r)
{
	free(r->quota.users.v);
	free(r->quota.groups.v);
	pthread_mutex_destroy(&r->quota.lock);
}

int quota_on(const struct registry *r)
{
	return r->cfg.quota.usr || r->cfg.quota.grp;
}

/* The entry of id, or NULL and where it would go (ids sorted by id). */
static struct quota_use *ids_find(struct quota_ids *ids, uint32_t id,
				  size_t *pos)
{
	size_t lo = 0, hi = ids->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return lo < ids->n && ids->v[lo].id == id ? &ids->v[lo] : NULL;
}

static struct quota_use *ids_insert(struct quota_ids *ids, size_t pos,
				    uint32_t id)
{
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 16;
		struct quota_use *v = realloc(ids->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		ids->v = v;
		ids->cap = cap;
	}
	memmove(&ids->v[pos + 1], &ids->v[pos],
		(ids->n - pos) * sizeof(*ids->v));
	ids->n++;
	ids->v[pos] = (struct quota_use){.id = id};
	return &ids->v[pos];
}

static int over_limit(const struct quota_use *u, const struct quota_limits *l,
		      uint64_t bytes, uint64_t maps)
{
	if (l->bytes && bytes && u->bytes + bytes > l->bytes)
		return 1;
	return l->mappings && maps && u->mappings + maps > l->mappings;
}

/* Add to id's use; past limits (unless NULL): -EDQUOT, nothing added. */
static int ids_add(struct quota_ids *ids, uint32_t id, uint64_t bytes,
		   uint64_t maps, const struct quota_limits *limits)
{
	size_t pos;
	struct quota_use *u = ids_find(ids, id, &pos);
	struct quota_use none = {.id = id};
	if (limits && over_limit(u ? u : &none, limits, bytes, maps))
		return -EDQUOT;
	if (!u && !maps) {
		fprintf(stderr,
			"shmapfs: quota: bytes for id %u, "
			"which owns no mapping\n",
			id);
		abort();
	}
	if (!u && !(u = ids_insert(ids, pos, id)))
		return -ENOMEM;
	u->bytes += bytes;
	u->mappings += maps;
	return 0;
}

static void ids_sub(struct quota_ids *ids, uint32_t id, uint64_t bytes,
		    uint64_t maps)
{
	size_t pos;
	struct quota_use *u = ids_find(ids, id, &pos);
	if (!u || u->bytes < bytes || u->mappings < maps) {
		fprintf(stderr, "shmapfs: quota of id %u would go negative\n",
			id);
		abort();
	}
	u->bytes -= bytes;
	u->mappings -= maps;
	if (u->mappings == 0 && u->bytes == 0) {
		memmove(u, u + 1, (ids->n - pos - 1) * sizeof(*u));
		ids->n--;
	}
}

/* The limits of id of one kind, if they apply: never to root. */
static const struct quota_limits *limits_of(const struct quota_limits *l,
					    uint32_t id, int check)
{
	return check && id != 0 ? l : NULL;
}

int quota_add(struct registry *r, int kinds, uid_t uid, gid_t gid,
	      uint64_t bytes, uint64_t maps, int check)
{
	const struct quota_config *c = &r->cfg.quota;
	struct quota_table *q = &r->quota;
	int usr = (kinds & QUOTA_USR) && c->usr,
	    grp = (kinds & QUOTA_GRP) && c->grp;
	if ((!usr && !grp) || (!bytes && !maps))
		return 0;
	pthread_mutex_lock(&q->lock);
	int res = 0;
	if (usr)
		res = ids_add(&q->users, uid, bytes, maps,
			      limits_of(&c->usr_limit, uid, check));
	if (!res && grp) {
		res = ids_add(&q->groups, gid, bytes, maps,
			      limits_of(&c->grp_limit, gid, check));
		if (res < 0 && usr)
			ids_sub(&q->users, uid, bytes, maps);
	}
	pthread_mutex_unlock(&q->lock);
	return res;
}

void quota_sub(struct registry *r, int kinds, uid_t uid, gid_t gid,
	       uint64_t bytes, uint64_t maps)
{
	const struct quota_config *c = &r->cfg.quota;
	struct quota_table *q = &r->quota;
	int usr = (kinds & QUOTA_USR) && c->usr,
	    grp = (kinds & QUOTA_GRP) && c->grp;
	if ((!usr && !grp) || (!bytes && !maps))
		return;
	pthread_mutex_lock(&q->lock);
	if (usr)
		ids_sub(&q->users, uid, bytes, maps);
	if (grp)
		ids_sub(&q->groups, gid, bytes, maps);
	pthread_mutex_unlock(&q->lock);
}

/* user.shmap.quota, on the root of a mount with quotas. */

int quota_is_attr(struct registry *r, struct node *n, const char *name)
{
	return n == r->root && !strcmp(name, SHMAP_XATTR_QUOTA);
}

const char *quota_attr_listed(struct registry *r, struct node *n)
{
	return n == r->root && quota_on(r) ? SHMAP_XATTR_QUOTA : NULL;
}

/* The longest line: "group " and three numbers of up to 20 digits. */
#define QUOTA_LINE_MAX 72

static size_t ids_format(const struct quota_ids *ids, const char *kind, char *p)
{
	size_t len = 0;
	for (size_t i = 0; i < ids->n; i++)
		len += (size_t)sprintf(p + len, "%s %u %llu %llu\n", kind,
				       ids->v[i].id,
				       (unsigned long long)ids->v[i].bytes,
				       (unsigned long long)ids->v[i].mappings);
	return len;
}

int quota_getxattr(struct registry *r, void *buf, size_t size, size_t *len)
{
	if (!quota_on(r))
		return -ENODATA;
	struct quota_table *q = &r->quota;
	pthread_mutex_lock(&q->lock);
	size_t lines = q->users.n + q->groups.n;
	char *text = malloc(lines * QUOTA_LINE_MAX + 1);
	size_t n = 0;
	if (text) {
		n = ids_format(&q->users, "user", text);
		n += ids_format(&q->groups, "group", text + n);
	}
	pthread_mutex_unlock(&q->lock);
	if (!text)
		return -ENOMEM;
	int res = n > XATTR_SIZE_MAX ? -E2BIG : 0; /* past ~900 ids */
	*len = n;
	if (!res && size && size < n)
		res = -ERANGE;
	else if (!res && size)
		memcpy(buf, text, n);
	free(text);
	return res;
}
