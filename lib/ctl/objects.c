/*
 * shmapctl: the objects of a mount. Each regular file is a mapping, or,
 * when its one page begins with a synchronization object's magic, a
 * semaphore, mutex or event, whose state is read from a read-only view of
 * that page: never a lock, never a futex call, so nothing is taken and no
 * waiter is woken. A name that goes away while it is read is left out.
 */
#include "../objects.h"
#include "ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>

#define READ_TRIES 16

const char *ctl_kind_name(enum ctl_kind k)
{
	static const char *const names[] = {"mapping", "semaphore", "mutex",
					    "event"};
	return names[k];
}

/* The words of an object page that its state is made of. */
struct words {
	uint32_t magic, version, state, waiters, multi, extra1, extra2;
};

static void load_words(const volatile uint32_t *p, struct words *w)
{
	w->magic = __atomic_load_n(&p[0], __ATOMIC_SEQ_CST);
	w->version = __atomic_load_n(&p[1], __ATOMIC_SEQ_CST);
	w->state = __atomic_load_n(&p[2], __ATOMIC_SEQ_CST);
	w->waiters = __atomic_load_n(&p[3], __ATOMIC_SEQ_CST);
	w->multi = __atomic_load_n(&p[4], __ATOMIC_SEQ_CST);
	/* p[5]: wait_all's locker; p[6], p[7]: what follows the head. */
	w->extra1 = __atomic_load_n(&p[6], __ATOMIC_SEQ_CST);
	w->extra2 = __atomic_load_n(&p[7], __ATOMIC_SEQ_CST);
}

_Static_assert(offsetof(struct mutex_page, count) == 6 * sizeof(uint32_t),
	       "a mutex's count follows the head");
_Static_assert(offsetof(struct mutex_page, abandoned) == 7 * sizeof(uint32_t),
	       "and its abandoned flag the count");
_Static_assert(offsetof(struct event_page, manual) == 6 * sizeof(uint32_t),
	       "an event's kind follows the head");

/* The thread's process, from /proc/TID/status; 0 if it is gone. */
static pid_t process_of(pid_t tid)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	FILE *f = fopen(path, "re");
	pid_t pid = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &pid) == 1)
			break;
	if (f)
		fclose(f);
	return pid;
}

/* Decode the words of a page of a known kind into o. */
static void decode(struct ctl_object *o, const struct words *w)
{
	struct ctl_sync *s = &o->sync;
	s->waiters = w->waiters + w->multi;
	if (o->kind == CTL_SEMAPHORE) {
		s->value = w->state & ~SEM_MARK;
	} else if (o->kind == CTL_EVENT) {
		s->set = (w->state & EVENT_SET) != 0;
		s->manual = w->extra1 != 0;
	} else {
		s->owner_tid = (pid_t)(w->state & MUTEX_TID);
		s->owner_pid = s->owner_tid ? process_of(s->owner_tid) : 0;
		s->count = s->owner_tid ? w->extra1 : 0;
		s->abandoned = (w->state & FUTEX_OWNER_DIED) || w->extra2;
	}
}

static int kind_of(const struct words *w, enum ctl_kind *k)
{
	if (w->magic == SEM_MAGIC && w->version == SEM_VERSION)
		*k = CTL_SEMAPHORE;
	else if (w->magic == MUTEX_MAGIC && w->version == MUTEX_VERSION)
		*k = CTL_MUTEX;
	else if (w->magic == EVENT_MAGIC && w->version == EVENT_VERSION)
		*k = CTL_EVENT;
	else
		return -EINVAL;
	return 0;
}

/*
 * If o's file is one page that begins with an object's magic, its kind
 * and state. Words are read until two reads in a row agree.
 */
static void read_sync(struct ctl_object *o)
{
	long page = sysconf(_SC_PAGESIZE);
	if (!S_ISREG(o->st.st_mode) || o->st.st_size != page)
		return;
	int fd = open(o->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return; /* its kind stays unknown: shown as a mapping */
	void *p = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	struct words a, b;
	load_words(p, &a);
	if (kind_of(&a, &o->kind) == 0) {
		o->sync.read = 1;
		o->sync.changing = 1;
		for (int i = 0; i < READ_TRIES && o->sync.changing; i++) {
			load_words(p, &b);
			o->sync.changing = memcmp(&a, &b, sizeof(a)) != 0;
			a = b;
		}
		decode(o, &a);
	}
	munmap(p, (size_t)page);
}

static void read_attr(const char *path, const char *name, char *buf,
		      size_t size)
{
	ssize_t n = lgetxattr(path, name, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* The stat fields that say the object moved under us. */
static int moved(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_size != b->st_size ||
	       a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	       a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
	       a->st_ctim.tv_sec != b->st_ctim.tv_sec ||
	       a->st_ctim.tv_nsec != b->st_ctim.tv_nsec;
}

static int add_object(struct ctl_mount *m, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	struct ctl_object *more =
	    realloc(m->objs, (m->nobjs + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	m->objs = more;
	struct ctl_object *o = &m->objs[m->nobjs];
	memset(o, 0, sizeof(*o));
	size_t l = strlen(m->path);
	const char *rel = path + (l > 1 ? l : 0);
	o->path = strdup(path);
	o->name = strdup(*rel == '/' ? rel + 1 : rel);
	if (!o->path || !o->name) {
		free(o->path);
		free(o->name);
		return -ENOMEM;
	}
	o->st = st;
	o->kind = CTL_MAPPING;
	read_attr(path, "user.shmap.protect", o->protect, sizeof(o->protect));
	read_attr(path, "user.shmap.commit", o->commit, sizeof(o->commit));
	read_sync(o);
	struct stat after;
	if (lstat(path, &after) < 0) {
		free(o->path);
		free(o->name);
		return -errno; /* gone while read */
	}
	o->changed = moved(&st, &after);
	o->st = after;
	m->nobjs++;
	return 0;
}

static int walk(struct ctl_mount *m, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int res = 0;
	struct dirent *e;
	while (res == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/%s",
			     strcmp(dir, "/") ? dir : "",
			     e->d_name) >= (int)sizeof(path))
			continue;
		if (e->d_type == DT_DIR)
			res = walk(m, path);
		else if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN)
			res = add_object(m, path);
		/* Gone, or not a file: nothing to show. */
		if (res == -ENOENT || res == -EISDIR || res == -EACCES)
			res = 0;
	}
	closedir(d);
	return res;
}

int ctl_objects_read(struct ctl_mount *m, const char *dir)
{
	return walk(m, dir);
}

int ctl_object_read(struct ctl_mount *m, const char *path)
{
	return add_object(m, path);
}

void ctl_mount_free(struct ctl_mount *m)
{
	for (size_t i = 0; i < m->nobjs; i++) {
		struct ctl_object *o = &m->objs[i];
		for (size_t u = 0; u < o->nusers; u++)
			free(o->users[u].views);
		free(o->users);
		free(o->name);
		free(o->path);
	}
	free(m->objs);
	m->objs = NULL;
	m->nobjs = 0;
}
