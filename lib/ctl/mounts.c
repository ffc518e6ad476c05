/*
 * shmapctl: which mounts are shmapfs (/proc/self/mountinfo), and each
 * mount's header: its data path and exclusive state (the root's
 * attributes), its capacity and mapping counts (statfs).
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#define FSTYPE "fuse.shmapfs"

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *out = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] &&
		    p[3]) {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 +
					(p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

/* The mount point of a mountinfo line if it is a shmapfs, else NULL. */
static char *shmapfs_point(char *line)
{
	char *sep = strstr(line, " - ");
	if (!sep || strncmp(sep + 3, FSTYPE " ", sizeof(FSTYPE)) != 0)
		return NULL;
	char *save, *f = strtok_r(line, " ", &save);
	for (int i = 0; f && i < 4; i++)
		f = strtok_r(NULL, " ", &save);
	if (!f)
		return NULL;
	unescape(f);
	return f;
}

int ctl_mounts_all(char (**paths)[PATH_MAX], size_t *n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int res = 0;
	*paths = NULL;
	*n = 0;
	while (getline(&line, &cap, f) > 0) {
		char *point = shmapfs_point(line);
		if (!point || strlen(point) >= PATH_MAX)
			continue;
		void *more = realloc(*paths, (*n + 1) * PATH_MAX);
		if (!more) {
			res = -ENOMEM;
			break;
		}
		*paths = more;
		strcpy((*paths)[(*n)++], point);
	}
	free(line);
	fclose(f);
	return res;
}

int ctl_mount_of(const char *path, char mount[PATH_MAX])
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return -errno;
	char(*paths)[PATH_MAX];
	size_t n, best = 0;
	int res = ctl_mounts_all(&paths, &n);
	if (res < 0)
		return res;
	res = -ENOTSUP;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(paths[i]);
		int under = !strncmp(real, paths[i], l) &&
			    (real[l] == '\0' || real[l] == '/' || l == 1);
		if (under && l >= best) {
			best = l;
			strcpy(mount, paths[i]);
			res = 0;
		}
	}
	free(paths);
	/* A later mount of another kind over it hides it. */
	if (res == 0) {
		struct stat a, b;
		if (stat(real, &a) < 0 || stat(mount, &b) < 0)
			return -errno;
		if (a.st_dev != b.st_dev)
			return -ENOTSUP;
	}
	return res;
}

static void root_attr(const char *mnt, const char *name, char *buf, size_t size)
{
	ssize_t n = getxattr(mnt, name, buf, size - 1);
	if (n < 0)
		n = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		n--;
	buf[n] = '\0';
}

int ctl_mount_header(struct ctl_mount *m)
{
	struct statvfs sv;
	struct stat st;
	if (statvfs(m->path, &sv) < 0 || stat(m->path, &st) < 0)
		return -errno;
	m->dev = st.st_dev;
	m->bytes_total = (uint64_t)sv.f_blocks * sv.f_frsize;
	m->bytes_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	m->maps_total = sv.f_files;
	m->maps_used = sv.f_files - sv.f_ffree;
	root_attr(m->path, "user.shmap.data_path", m->data_path,
		  sizeof(m->data_path));
	root_attr(m->path, "user.shmap.exclusive", m->exclusive,
		  sizeof(m->exclusive));
	if (!m->data_path[0])
		strcpy(m->data_path, "unknown");
	return 0;
}
