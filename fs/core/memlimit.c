/*
 * The memory limit of the daemon's cgroup, and mount options that fit in
 * it; see memlimit.h.
 */
#include "memlimit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One number from a file, "max" meaning none; MEMLIMIT_NONE if absent. */
static uint64_t read_limit_file(const char *dir, const char *name)
{
	char path[PATH_MAX], text[64];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return MEMLIMIT_NONE;
	FILE *f = fopen(path, "re");
	if (!f)
		return MEMLIMIT_NONE;
	char *got = fgets(text, sizeof(text), f);
	fclose(f);
	if (!got || text[0] < '0' || text[0] > '9')
		return MEMLIMIT_NONE; /* "max", or nothing */
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	return errno || (*end && *end != '\n') ? MEMLIMIT_NONE : v;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The least limit of dir and its parents up to the mount point mnt. */
static uint64_t least_limit_up(char *dir, size_t mnt_len, int v2)
{
	uint64_t least = MEMLIMIT_NONE;
	for (;;) {
		if (v2) {
			least =
			    min_u64(least, read_limit_file(dir, "memory.max"));
			least =
			    min_u64(least, read_limit_file(dir, "memory.high"));
		} else {
			least = min_u64(
			    least,
			    read_limit_file(dir, "memory.limit_in_bytes"));
		}
		char *slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < mnt_len)
			return least;
		*slash = '\0';
	}
}

/* Whether a comma-separated list (controllers, or a mount's super
 * options) names the memory controller. */
static int has_memory_opt(const char *opts)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", opts);
	for (char *save, *o = strtok_r(buf, ",", &save); o;
	     o = strtok_r(NULL, ",", &save))
		if (!strcmp(o, "memory"))
			return 1;
	return 0;
}

/*
 * This process's cgroup path in the hierarchy: the v1 one with the memory
 * controller (v2 0), or the v2 one ("0::"). 0 or -ENOENT.
 */
static int own_cgroup(const char *proc_cgroup, int v2, char *out, size_t len)
{
	FILE *f = fopen(proc_cgroup, "re");
	if (!f)
		return -ENOENT;
	char line[PATH_MAX + 64];
	int res = -ENOENT;
	while (res < 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctl = strchr(line, ':');
		char *path = ctl ? strchr(ctl + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		*ctl++ = '\0'; /* line: the hierarchy's number */
		int match =
		    v2 ? !strcmp(line, "0") && !*ctl : has_memory_opt(ctl);
		if (match && strlen(path) < len) {
			strcpy(out, path);
			res = 0;
		}
	}
	fclose(f);
	return res;
}

/*
 * The least limit below one hierarchy's mounts (v1 with memory, or v2)
 * for the cgroup path cg: each mount whose root holds cg.
 */
static uint64_t limit_in_hierarchy(const char *mountinfo, const char *cg,
				   int v2)
{
	FILE *f = fopen(mountinfo, "re");
	if (!f)
		return MEMLIMIT_NONE;
	uint64_t least = MEMLIMIT_NONE;
	char line[2 * PATH_MAX];
	while (fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], mnt[PATH_MAX], type[64], opts[512];
		const char *dash = strstr(line, " - ");
		if (!dash ||
		    sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash, " - %63s %*s %511s", type, opts) != 2)
			continue;
		if (v2 ? strcmp(type, "cgroup2")
		       : strcmp(type, "cgroup") || !has_memory_opt(opts))
			continue;
		/* cg as seen from this mount's root */
		size_t rlen = strcmp(root, "/") ? strlen(root) : 0;
		if (strncmp(cg, root, rlen) || (cg[rlen] && cg[rlen] != '/'))
			continue;
		char dir[2 * PATH_MAX];
		if (snprintf(dir, sizeof(dir), "%s%s", mnt, cg + rlen) >=
		    (int)sizeof(dir))
			continue;
		size_t len = strlen(dir);
		if (len > 1 && dir[len - 1] == '/')
			dir[len - 1] = '\0';
		least = min_u64(least, least_limit_up(dir, strlen(mnt), v2));
	}
	fclose(f);
	return least;
}

uint64_t memlimit_read(const char *proc_cgroup, const char *mountinfo)
{
	uint64_t least = MEMLIMIT_NONE;
	char cg[PATH_MAX];
	for (int v2 = 0; v2 <= 1; v2++)
		if (own_cgroup(proc_cgroup, v2, cg, sizeof(cg)) == 0)
			least = min_u64(least,
					limit_in_hierarchy(mountinfo, cg, v2));
	return least;
}

struct memlimit_fit memlimit_fit(uint64_t limit, int memory_backed,
				 uint64_t size, int size_given,
				 uint64_t nr_mappings)
{
	struct memlimit_fit fit = {.size = size, .nr_mappings = nr_mappings};
	uint64_t avail = limit > 2 * (uint64_t)MEMLIMIT_RESERVE_BYTES
			     ? limit - MEMLIMIT_RESERVE_BYTES
			     : limit / 2;
	uint64_t share = avail;
	if (memory_backed) {
		uint64_t most_data = size_given ? avail / 4 * 3 : avail / 2;
		if (fit.size > most_data) {
			fit.size = most_data;
			fit.size_cut = 1;
		}
		share = avail - fit.size;
	}
	uint64_t most_maps =
	    share / (memory_backed ? MEMLIMIT_MEMORY_MAPPING_BYTES
				   : MEMLIMIT_FILE_MAPPING_BYTES);
	if (most_maps < 1)
		most_maps = 1;
	if (fit.nr_mappings > most_maps) {
		fit.nr_mappings = most_maps;
		fit.nr_cut = 1;
	}
	return fit;
}
