/*
 * Tuning the mount's backing device info; see bdi.h.
 *
 * Why: a FUSE mount's BDI starts with read_ahead_kb 128, so page faults and
 * reads fill the cache 128 KiB per request however large max_readahead is;
 * and with strict_limit and max_ratio 1 a process that dirties a large view
 * is throttled to a trickle long before msync. The daemon serves only its
 * own mapping objects, so it can take the ordinary limits of any disk.
 */
#include "bdi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The MAJ:MIN of the topmost mount at mountpoint, into dev. */
static int find_device(const char *mountpoint, char *dev, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[8192], id[64], where[4096];
	int found = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		/* id parent MAJ:MIN root mountpoint ... */
		if (sscanf(line, "%*s %*s %63s %*s %4095s", id, where) != 2)
			continue;
		unescape(where);
		if (strcmp(where, mountpoint) == 0 && strlen(id) < size) {
			strcpy(dev, id); /* the last one is on top */
			found = 0;
		}
	}
	fclose(f);
	return found;
}

static int write_knob(const char *dev, const char *knob, unsigned value)
{
	char path[128], text[32];
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/%s", dev, knob);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int len = snprintf(text, sizeof(text), "%u\n", value);
	int res = write(fd, text, (size_t)len) == len ? 0 : -errno;
	close(fd);
	return res;
}

int bdi_tune(const char *mountpoint, unsigned read_ahead_kb)
{
	if (geteuid() != 0)
		return -EACCES;
	char dev[64];
	int res = find_device(mountpoint, dev, sizeof(dev));
	if (res < 0)
		return res;
	res = write_knob(dev, "read_ahead_kb", read_ahead_kb);
	/* As any disk: no strict per-device limit, and a quarter of the
	 * system's dirty threshold (not all of it, so that what an unmount
	 * must write out stays bounded). */
	if (res == 0)
		res = write_knob(dev, "strict_limit", 0);
	if (res == 0)
		res = write_knob(dev, "max_ratio", BDI_MAX_RATIO);
	return res;
}
