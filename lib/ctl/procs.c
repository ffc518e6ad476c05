/*
 * shmapctl: which processes use a mount's objects, as fuser and lsof find
 * them: the descriptors in /proc/PID/fd and the views in /proc/PID/maps
 * that name the mount's device and an object's inode. A caller without
 * CAP_SYS_PTRACE (not root) may read only its own processes' fds and
 * maps; the others are counted in the mount's `unreadable`.
 */
#include "ctl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static struct ctl_object *object_by_ino(struct ctl_mount *m, ino_t ino)
{
	for (size_t i = 0; i < m->nobjs; i++)
		if (m->objs[i].st.st_ino == ino)
			return &m->objs[i];
	return NULL;
}

/* o's entry for pid, made if need be; NULL without memory. */
static struct ctl_user *user_of(struct ctl_object *o, pid_t pid,
				const char *comm)
{
	for (size_t i = 0; i < o->nusers; i++)
		if (o->users[i].pid == pid)
			return &o->users[i];
	struct ctl_user *more =
	    realloc(o->users, (o->nusers + 1) * sizeof(*more));
	if (!more)
		return NULL;
	o->users = more;
	struct ctl_user *u = &o->users[o->nusers++];
	memset(u, 0, sizeof(*u));
	u->pid = pid;
	snprintf(u->comm, sizeof(u->comm), "%s", comm);
	return u;
}

static int add_view(struct ctl_user *u, const struct ctl_view *v)
{
	struct ctl_view *more =
	    realloc(u->views, (u->nviews + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	u->views = more;
	u->views[u->nviews++] = *v;
	return 0;
}

/* The descriptors of pid that are open on m's objects. */
static int scan_fds(struct ctl_mount *m, pid_t pid, const char *comm)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	size_t l = strlen(m->path);
	struct dirent *e;
	while ((e = readdir(d))) {
		char link[PATH_MAX + 80], target[PATH_MAX];
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, m->path, l) != 0 ||
		    (target[l] != '/' && l > 1))
			continue;
		struct stat st;
		struct ctl_object *o;
		if (stat(link, &st) < 0 || st.st_dev != m->dev ||
		    !(o = object_by_ino(m, st.st_ino)))
			continue;
		struct ctl_user *u = user_of(o, pid, comm);
		if (!u) {
			closedir(d);
			return -ENOMEM;
		}
		u->fds++;
	}
	closedir(d);
	return 0;
}

/* The views of pid on m's objects. */
static int scan_maps(struct ctl_mount *m, pid_t pid, const char *comm)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[PATH_MAX + 128];
	int res = 0;
	while (res == 0 && fgets(line, sizeof(line), f)) {
		struct ctl_view v;
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu", &v.start,
			   &v.end, v.perms, &v.offset, &maj, &min, &ino) != 7)
			continue;
		if (makedev(maj, min) != m->dev)
			continue;
		struct ctl_object *o = object_by_ino(m, (ino_t)ino);
		struct ctl_user *u = o ? user_of(o, pid, comm) : NULL;
		if (o && !u)
			res = -ENOMEM;
		else if (u)
			res = add_view(u, &v);
	}
	fclose(f);
	return res;
}

static void read_comm(pid_t pid, char comm[32])
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	comm[0] = '\0';
	if (f && fgets(comm, 32, f))
		comm[strcspn(comm, "\n")] = '\0';
	if (f)
		fclose(f);
}

int ctl_procs_attach(struct ctl_mount *m)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	pid_t self = getpid();
	int res = 0;
	struct dirent *e;
	m->unreadable = 0;
	while (res == 0 && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid == self)
			continue;
		char comm[32];
		read_comm(pid, comm);
		int r1 = scan_fds(m, pid, comm);
		int r2 = scan_maps(m, pid, comm);
		if (r1 == -EACCES || r2 == -EACCES)
			m->unreadable++;
		if (r1 == -ENOMEM || r2 == -ENOMEM)
			res = -ENOMEM;
	}
	closedir(d);
	return res;
}
