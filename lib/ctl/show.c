/*
 * shmapctl: how what it learned is shown: the table (a header line per
 * mount, a line per object), the JSON document (schema in shmapctl.1),
 * who uses one object, and the quotas of a mount.
 */
#include "ctl.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define SCHEMA "shmapctl/1"

void ctl_human(uint64_t bytes, char out[16])
{
	static const char units[] = "BKMGTPE";
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, 16, "%" PRIu64, bytes);
	else
		snprintf(out, 16, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

/* A user's (or a group's) name, or its number if it has none. */
static void id_name(int group, unsigned id, char out[32])
{
	struct passwd *pw = group ? NULL : getpwuid(id);
	struct group *gr = group ? getgrgid(id) : NULL;
	if (pw || gr)
		snprintf(out, 32, "%s", pw ? pw->pw_name : gr->gr_name);
	else
		snprintf(out, 32, "%u", id);
}

#define user_name(uid, out)  id_name(0, (unsigned)(uid), out)
#define group_name(gid, out) id_name(1, (unsigned)(gid), out)

/* A sync object's state in words; "-" for a mapping. */
static void state_text(const struct ctl_object *o, char *out, size_t size)
{
	const struct ctl_sync *s = &o->sync;
	int n = 0;
	if (o->kind == CTL_MAPPING) {
		snprintf(out, size, "-");
		return;
	}
	if (o->kind == CTL_SEMAPHORE)
		n = snprintf(out, size, "count %u", s->value);
	else if (o->kind == CTL_EVENT)
		n = snprintf(out, size, "%s, %s", s->manual ? "manual" : "auto",
			     s->set ? "set" : "unset");
	else if (!s->owner_tid)
		n = snprintf(out, size, "free");
	else if (s->owner_pid)
		n = snprintf(out, size, "owner %d/%d, count %u",
			     (int)s->owner_pid, (int)s->owner_tid, s->count);
	else
		n = snprintf(out, size, "owner gone (tid %d), count %u",
			     (int)s->owner_tid, s->count);
	if (o->kind == CTL_MUTEX && s->abandoned)
		n += snprintf(out + n, size - (size_t)n, ", abandoned");
	n += snprintf(out + n, size - (size_t)n, ", waiters %u", s->waiters);
	if (s->changing)
		snprintf(out + n, size - (size_t)n, " (changing)");
}

static int open_count(const struct ctl_object *o)
{
	int fds = 0;
	for (size_t i = 0; i < o->nusers; i++)
		fds += o->users[i].fds;
	return fds;
}

static void users_text(const struct ctl_object *o, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < o->nusers && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%d(%s)",
				      i ? " " : "", (int)o->users[i].pid,
				      o->users[i].comm);
	if (!o->nusers)
		snprintf(out, size, "-");
}

static void show_header(FILE *f, const struct ctl_mount *m)
{
	char used[16], total[16];
	ctl_human(m->bytes_used, used);
	ctl_human(m->bytes_total, total);
	fprintf(f,
		"%s: data path %s, exclusive %s, capacity %s/%s, "
		"mappings %" PRIu64 "/%" PRIu64,
		m->path, m->data_path, m->exclusive[0] ? m->exclusive : "-",
		used, total, m->maps_used, m->maps_total);
	if (m->unreadable)
		fprintf(f, ", processes not readable %d", m->unreadable);
	fputc('\n', f);
}

/* One line of the table, as text. */
struct row {
	char name[PATH_MAX + 2], size[16], stored[16], og[72], state[128];
	char users[512];
};

static void row_of(const struct ctl_object *o, struct row *r)
{
	char owner[32], group[32];
	ctl_human((uint64_t)o->st.st_size, r->size);
	ctl_human((uint64_t)o->st.st_blocks * 512, r->stored);
	user_name(o->st.st_uid, owner);
	group_name(o->st.st_gid, group);
	snprintf(r->og, sizeof(r->og), "%s:%s", owner, group);
	snprintf(r->name, sizeof(r->name), "%s%s", o->name,
		 o->changed ? "*" : "");
	state_text(o, r->state, sizeof(r->state));
	users_text(o, r->users, sizeof(r->users));
}

static int widest(int w, const char *s)
{
	return (int)strlen(s) > w ? (int)strlen(s) : w;
}

/* Columns as wide as their widest cell: name, owner and state vary. */
void ctl_show_table(FILE *f, const struct ctl_mount *m)
{
	show_header(f, m);
	struct row *rows = calloc(m->nobjs ? m->nobjs : 1, sizeof(*rows));
	int wn = 4, wo = 5, ws = 5;
	for (size_t i = 0; rows && i < m->nobjs; i++) {
		row_of(&m->objs[i], &rows[i]);
		wn = widest(wn, rows[i].name);
		wo = widest(wo, rows[i].og);
		ws = widest(ws, rows[i].state);
	}
	fprintf(f, "%-*s %-9s %6s %6s %-9s %-9s %-*s %4s %4s %-*s %s\n", wn,
		"NAME", "KIND", "SIZE", "STORED", "COMMIT", "PROTECT", wo,
		"OWNER", "MODE", "OPEN", ws, "STATE", "PROCESSES");
	for (size_t i = 0; rows && i < m->nobjs; i++) {
		const struct ctl_object *o = &m->objs[i];
		const struct row *r = &rows[i];
		fprintf(f,
			"%-*s %-9s %6s %6s %-9s %-9s %-*s %04o %4d %-*s %s\n",
			wn, r->name, ctl_kind_name(o->kind), r->size, r->stored,
			o->commit[0] ? o->commit : "-",
			o->protect[0] ? o->protect : "-", wo, r->og,
			(unsigned)(o->st.st_mode & 07777), open_count(o), ws,
			r->state, r->users);
	}
	free(rows);
}

/* A JSON string, escaped. */
static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_sync(FILE *f, const struct ctl_object *o)
{
	const struct ctl_sync *s = &o->sync;
	if (o->kind == CTL_MAPPING) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"waiters\": %u, \"changing\": %s", s->waiters,
		s->changing ? "true" : "false");
	if (o->kind == CTL_SEMAPHORE)
		fprintf(f, ", \"count\": %u", s->value);
	else if (o->kind == CTL_EVENT)
		fprintf(f, ", \"manual_reset\": %s, \"set\": %s",
			s->manual ? "true" : "false",
			s->set ? "true" : "false");
	else
		fprintf(
		    f,
		    ", \"owner_pid\": %d, \"owner_tid\": %d, \"count\": %u, "
		    "\"abandoned\": %s",
		    (int)s->owner_pid, (int)s->owner_tid, s->count,
		    s->abandoned ? "true" : "false");
	fputc('}', f);
}

static void json_users(FILE *f, const struct ctl_object *o)
{
	fputc('[', f);
	for (size_t i = 0; i < o->nusers; i++) {
		const struct ctl_user *u = &o->users[i];
		fprintf(f, "%s{\"pid\": %d, \"command\": ", i ? ", " : "",
			(int)u->pid);
		jstr(f, u->comm);
		fprintf(f, ", \"fds\": %d, \"views\": [", u->fds);
		for (size_t v = 0; v < u->nviews; v++) {
			const struct ctl_view *w = &u->views[v];
			fprintf(f,
				"%s{\"offset\": %llu, \"length\": %llu, "
				"\"address\": %llu, \"perms\": \"%s\"}",
				v ? ", " : "", w->offset, w->end - w->start,
				w->start, w->perms);
		}
		fprintf(f, "]}");
	}
	fputc(']', f);
}

static void json_object(FILE *f, const struct ctl_object *o)
{
	char owner[32], group[32];
	user_name(o->st.st_uid, owner);
	group_name(o->st.st_gid, group);
	fprintf(f, "{\"name\": ");
	jstr(f, o->name);
	fprintf(f,
		", \"kind\": \"%s\", \"size\": %lld, \"stored\": %lld, "
		"\"commit\": ",
		ctl_kind_name(o->kind), (long long)o->st.st_size,
		(long long)o->st.st_blocks * 512);
	jstr(f, o->commit);
	fprintf(f, ", \"protect\": ");
	jstr(f, o->protect);
	fprintf(f, ", \"uid\": %u, \"user\": ", (unsigned)o->st.st_uid);
	jstr(f, owner);
	fprintf(f, ", \"gid\": %u, \"group\": ", (unsigned)o->st.st_gid);
	jstr(f, group);
	fprintf(f, ", \"mode\": \"%04o\", \"open\": %d, \"changed\": %s",
		(unsigned)(o->st.st_mode & 07777), open_count(o),
		o->changed ? "true" : "false");
	fprintf(f, ", \"processes\": ");
	json_users(f, o);
	fprintf(f, ", \"state\": ");
	json_sync(f, o);
	fputc('}', f);
}

void ctl_show_json(FILE *f, const struct ctl_mount *ms, size_t n)
{
	fprintf(f, "{\"schema\": \"" SCHEMA "\", \"mounts\": [");
	for (size_t i = 0; i < n; i++) {
		const struct ctl_mount *m = &ms[i];
		fprintf(f, "%s\n {\"mount\": ", i ? "," : "");
		jstr(f, m->path);
		fprintf(f, ", \"data_path\": ");
		jstr(f, m->data_path);
		fprintf(f, ", \"exclusive\": ");
		jstr(f, m->exclusive);
		fprintf(f,
			", \"capacity\": {\"used\": %" PRIu64
			", \"total\": %" PRIu64 "}, \"mappings\": {\"used\": "
			"%" PRIu64 ", \"total\": %" PRIu64 "}, "
			"\"unreadable_processes\": %d, \"objects\": [",
			m->bytes_used, m->bytes_total, m->maps_used,
			m->maps_total, m->unreadable);
		for (size_t o = 0; o < m->nobjs; o++) {
			fprintf(f, "%s\n  ", o ? "," : "");
			json_object(f, &m->objs[o]);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
}

void ctl_show_who(FILE *f, const struct ctl_object *o, int json)
{
	if (json) {
		json_object(f, o);
		fputc('\n', f);
		return;
	}
	fprintf(f, "%-8s %-16s %4s %s\n", "PID", "COMMAND", "FDS",
		"VIEWS (offset+length perms @address)");
	for (size_t i = 0; i < o->nusers; i++) {
		const struct ctl_user *u = &o->users[i];
		fprintf(f, "%-8d %-16s %4d", (int)u->pid, u->comm, u->fds);
		for (size_t v = 0; v < u->nviews; v++)
			fprintf(f, " %llu+%llu %s @0x%llx", u->views[v].offset,
				u->views[v].end - u->views[v].start,
				u->views[v].perms, u->views[v].start);
		if (!u->nviews)
			fprintf(f, " -");
		fputc('\n', f);
	}
}

static int by_name(const void *a, const void *b)
{
	const struct ctl_object *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int by_stored(const void *a, const void *b)
{
	const struct ctl_object *x = a, *y = b;
	if (x->st.st_blocks != y->st.st_blocks)
		return x->st.st_blocks < y->st.st_blocks ? 1 : -1;
	return by_name(a, b);
}

void ctl_sort_by_name(struct ctl_mount *m)
{
	if (m->nobjs > 1) /* objs is NULL when there are none */
		qsort(m->objs, m->nobjs, sizeof(*m->objs), by_name);
}

void ctl_sort_by_stored(struct ctl_mount *m)
{
	if (m->nobjs > 1) /* objs is NULL when there are none */
		qsort(m->objs, m->nobjs, sizeof(*m->objs), by_stored);
}

/* Quotas: the limits and the usage attributes of the root. */
struct limits {
	int on;
	unsigned long long bytes, maps;
};

static void read_limits(const char *mnt, struct limits *usr, struct limits *grp)
{
	char buf[256], kind[8];
	ssize_t n =
	    getxattr(mnt, "user.shmap.quota_limits", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	for (char *save, *l = strtok_r(buf, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		struct limits x = {1, 0, 0};
		if (sscanf(l, "%7s %llu %llu", kind, &x.bytes, &x.maps) != 3)
			continue;
		if (!strcmp(kind, "user"))
			*usr = x;
		else if (!strcmp(kind, "group"))
			*grp = x;
	}
}

static void limit_text(unsigned long long v, int bytes, char out[24])
{
	if (!v)
		snprintf(out, 24, "-");
	else if (bytes)
		ctl_human(v, out);
	else
		snprintf(out, 24, "%llu", v);
}

static void quota_line(FILE *f, int json, int first, const char *kind,
		       unsigned id, unsigned long long bytes,
		       unsigned long long maps, const struct limits *lim)
{
	char name[32], b[16], bl[24], ml[24];
	if (!strcmp(kind, "user"))
		user_name(id, name);
	else
		group_name(id, name);
	if (json) {
		fprintf(f, "%s\n  {\"type\": \"%s\", \"id\": %u, \"name\": ",
			first ? "" : ",", kind, id);
		jstr(f, name);
		fprintf(f,
			", \"bytes\": %llu, \"bytes_limit\": %llu, "
			"\"mappings\": %llu, \"mappings_limit\": %llu}",
			bytes, lim->bytes, maps, lim->maps);
		return;
	}
	ctl_human(bytes, b);
	limit_text(lim->bytes, 1, bl);
	limit_text(lim->maps, 0, ml);
	int over = (lim->bytes && bytes >= lim->bytes) ||
		   (lim->maps && maps >= lim->maps);
	fprintf(f, "%-5s %-16s %2s %8s %8s %9llu %9s\n", kind, name,
		over ? "+-" : "--", b, bl, maps, ml);
}

int ctl_show_quota(FILE *f, const struct ctl_mount *m, int json, int first)
{
	struct limits usr = {0}, grp = {0};
	read_limits(m->path, &usr, &grp);
	char *use = malloc(65537);
	if (!use)
		return -ENOMEM;
	ssize_t n = getxattr(m->path, "user.shmap.quota", use, 65536);
	if (n < 0 && errno == E2BIG) { /* past its 64 KiB: say so, not "" */
		free(use);
		return -E2BIG;
	}
	use[n > 0 ? n : 0] = '\0';
	if (json) {
		fprintf(f, "%s\n {\"mount\": ", first ? "" : ",");
		jstr(f, m->path);
		fprintf(f, ", \"quotas\": %s, \"ids\": [",
			usr.on || grp.on ? "true" : "false");
	} else if (!usr.on && !grp.on) {
		fprintf(f, "%s: no quotas\n", m->path);
	} else {
		fprintf(f, "*** quotas on %s\n", m->path);
		fprintf(f, "%-5s %-16s %2s %8s %8s %9s %9s\n", "TYPE", "NAME",
			"", "USED", "LIMIT", "MAPPINGS", "LIMIT");
	}
	int firstline = 1;
	for (char *save, *l = strtok_r(use, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char kind[8];
		unsigned id;
		unsigned long long bytes, maps;
		if (sscanf(l, "%7s %u %llu %llu", kind, &id, &bytes, &maps) !=
		    4)
			continue;
		quota_line(f, json, firstline, kind, id, bytes, maps,
			   strcmp(kind, "user") ? &grp : &usr);
		firstline = 0;
	}
	if (json)
		fprintf(f, "]}");
	free(use);
	return 0;
}
