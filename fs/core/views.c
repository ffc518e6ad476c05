/*
 * Views that outlive their open, found in /proc/PID/maps; see views.h.
 * Calls nothing else in the core.
 */
#include "views.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

int views_mount_dev(const char *mountpoint, dev_t *out)
{
	char want[PATH_MAX];
	if (!realpath(mountpoint, want))
		return -errno;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int res = -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		unsigned maj, min;
		char where[PATH_MAX + 1];
		if (sscanf(line, "%*u %*u %u:%u %*s %4096s", &maj, &min,
			   where) != 3)
			continue;
		unescape(where);
		if (strcmp(where, want) != 0)
			continue;
		*out = makedev(maj, min); /* the last one is on top */
		res = 0;
	}
	free(line);
	fclose(f);
	return res;
}

/* What views_find() looks for: inos sorted, each with its index. */
struct wanted {
	uint64_t ino;
	size_t index;
};

static int wanted_cmp(const void *a, const void *b)
{
	const struct wanted *x = a, *y = b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

struct search {
	dev_t dev;
	struct wanted *w;
	size_t n;
	unsigned char *found;
	size_t nfound;
};

/* Parse an unsigned number in base 10 or 16 at *p, moving past it. */
static uint64_t number(const char **p, const char *end, int base)
{
	uint64_t v = 0;
	for (; *p < end; (*p)++) {
		char c = **p;
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : 99;
		if (d >= base)
			break;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	return v;
}

/* Skip n fields separated by spaces at *p. */
static void skip_fields(const char **p, const char *end, int n)
{
	while (n-- > 0) {
		while (*p < end && **p != ' ')
			(*p)++;
		while (*p < end && **p == ' ')
			(*p)++;
	}
}

/* One line of maps: "start-end perms offset major:minor inode path". */
static void look_at_line(struct search *s, const char *p, const char *end)
{
	skip_fields(&p, end, 3);
	unsigned maj = (unsigned)number(&p, end, 16);
	if (p == end || *p++ != ':')
		return;
	unsigned min = (unsigned)number(&p, end, 16);
	if (makedev(maj, min) != s->dev)
		return;
	skip_fields(&p, end, 1);
	struct wanted key = {.ino = number(&p, end, 10)};
	struct wanted *hit =
	    bsearch(&key, s->w, s->n, sizeof(*s->w), wanted_cmp);
	if (hit && !s->found[hit->index]) {
		s->found[hit->index] = 1;
		s->nfound++;
	}
}

/* Read one process's maps (fd) through. 0, or -errno. */
static int look_at_maps(struct search *s, int fd)
{
	char buf[65536];
	size_t have = 0;
	for (;;) {
		ssize_t len = read(fd, buf + have, sizeof(buf) - have);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return errno == ESRCH ? 0 : -errno; /* it exited */
		if (len == 0)
			return 0;
		have += (size_t)len;
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			look_at_line(s, line, nl);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		if (have == sizeof(buf)) /* a line longer than any can be */
			have = 0;
		memmove(buf, line, have);
	}
}

/* Whether name is a process's directory in /proc. */
static int is_pid(const char *name)
{
	if (!*name)
		return 0;
	for (; *name; name++)
		if (*name < '0' || *name > '9')
			return 0;
	return 1;
}

/*
 * Whether a failed open of a process's maps (err) means a process we need
 * not look at: gone, or one that root with CAP_SYS_PTRACE may not inspect,
 * which lives outside the daemon's user namespace (a container's host,
 * its init): fuser(1) passes them by too.
 */
static int process_out_of_sight(int err)
{
	return err == ENOENT || err == ESRCH || err == EACCES || err == EPERM;
}

static int look_everywhere(struct search *s)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return -errno;
	char self[32];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	int res = 0;
	struct dirent *e;
	while (res == 0 && s->nfound < s->n && (e = readdir(proc))) {
		if (!is_pid(e->d_name) || !strcmp(e->d_name, self))
			continue;
		char path[sizeof(e->d_name) + 8];
		snprintf(path, sizeof(path), "%s/maps", e->d_name);
		int fd = openat(dirfd(proc), path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (!process_out_of_sight(errno))
				res = -errno; /* cannot tell */
			continue;
		}
		res = look_at_maps(s, fd);
		close(fd);
	}
	closedir(proc);
	return res;
}

/* Look for inos on dev: in every process's maps (fd -1), or in
 * the maps open at fd. */
static int search(dev_t dev, const uint64_t *inos, size_t n,
		  unsigned char *found, int fd)
{
	memset(found, 0, n);
	if (n == 0)
		return 0;
	if (dev == 0)
		return -ENODEV; /* the mount's device is not known */
	struct search s = {.dev = dev, .n = n, .found = found};
	s.w = malloc(n * sizeof(*s.w));
	if (!s.w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		s.w[i] = (struct wanted){inos[i], i};
	qsort(s.w, n, sizeof(*s.w), wanted_cmp);
	int res = fd < 0 ? look_everywhere(&s) : look_at_maps(&s, fd);
	free(s.w);
	return res;
}

int views_find(dev_t dev, const uint64_t *inos, size_t n, unsigned char *found)
{
	return search(dev, inos, n, found, -1);
}

int views_find_in(int fd, dev_t dev, const uint64_t *inos, size_t n,
		  unsigned char *found)
{
	return search(dev, inos, n, found, fd);
}
