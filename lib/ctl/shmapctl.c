/*
 * shmapctl: see every live mapping and synchronization object of the
 * shmapfs mounts at a glance (ls, top), who uses one (who), and the
 * quotas (quota). Options and commands are parsed here; mounts.c,
 * objects.c and procs.c learn, show.c shows. Errors are one line on
 * stderr and exit code 1.
 */
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
	int json;
	double delay; /* top: seconds between refreshes */
	long rounds;  /* top: refreshes, 0 for no end */
	int argc;     /* the command's operands */
	char **argv;
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "shmapctl: %s: %s\n", what,
		err == -ENOTSUP ? "not a shmapfs path" : strerror(-err));
	return 1;
}

#define USAGE                                                                  \
	"shmapctl [--json] [ls [PATH...] | who NAME | quota [MOUNT...] | "     \
	"top [-d SECONDS] [-n COUNT] [PATH...]]"

static int usage(const char *why)
{
	fprintf(stderr, "shmapctl: %s (usage: " USAGE ")\n", why);
	return 1;
}

/* Learn the mount that holds path, and its objects under path. */
static int learn(const char *path, struct ctl_mount *m)
{
	memset(m, 0, sizeof(*m));
	int res = ctl_mount_of(path, m->path);
	if (res == 0)
		res = ctl_mount_header(m);
	if (res < 0)
		return res;
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	res = S_ISDIR(st.st_mode) ? ctl_objects_read(m, path)
				  : ctl_object_read(m, path);
	if (res == 0)
		res = ctl_procs_attach(m);
	if (res < 0)
		ctl_mount_free(m);
	else
		ctl_sort_by_name(m);
	return res;
}

/* The paths named, or every shmapfs mount if none is. */
static int targets(const struct opts *o, char (**paths)[PATH_MAX], size_t *n)
{
	if (o->argc == 0)
		return ctl_mounts_all(paths, n);
	*paths = calloc((size_t)o->argc, PATH_MAX);
	if (!*paths)
		return -ENOMEM;
	for (int i = 0; i < o->argc; i++)
		snprintf((*paths)[i], PATH_MAX, "%s", o->argv[i]);
	*n = (size_t)o->argc;
	return 0;
}

/* Learn every target: ms and *n, or an error said in one line. */
static int learn_all(const struct opts *o, struct ctl_mount **ms, size_t *n)
{
	char(*paths)[PATH_MAX];
	int res = targets(o, &paths, n);
	if (res < 0)
		return fail("reading the mounts", res);
	*ms = calloc(*n ? *n : 1, sizeof(**ms));
	size_t got = 0;
	for (size_t i = 0; *ms && i < *n; i++) {
		res = learn(paths[i], &(*ms)[got]);
		if (res == 0) {
			got++;
		} else if (o->argc == 0) {
			/* Unmounted meanwhile, or its daemon is gone: the
			 * others are still worth showing. */
			fprintf(stderr, "shmapctl: %s: skipped: %s\n", paths[i],
				strerror(-res));
			res = 0;
		} else {
			fail(paths[i], res);
			for (size_t j = 0; j < got; j++)
				ctl_mount_free(&(*ms)[j]);
			break;
		}
	}
	*n = got;
	free(paths);
	if (!*ms)
		return fail("listing", -ENOMEM);
	if (res < 0) {
		free(*ms);
		return 1;
	}
	return 0;
}

static void free_all(struct ctl_mount *ms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctl_mount_free(&ms[i]);
	free(ms);
}

static int cmd_ls(const struct opts *o)
{
	struct ctl_mount *ms;
	size_t n;
	if (learn_all(o, &ms, &n))
		return 1;
	if (o->json)
		ctl_show_json(stdout, ms, n);
	for (size_t i = 0; !o->json && i < n; i++)
		ctl_show_table(stdout, &ms[i]);
	free_all(ms, n);
	return fflush(stdout) ? 1 : 0;
}

/* NAME as libshmap resolves it: as given if it begins with '/', else
 * under $SHMAP_DIR (default /run/shmap). */
static void resolve(const char *name, char path[PATH_MAX])
{
	const char *dir = getenv("SHMAP_DIR");
	if (name[0] == '/')
		snprintf(path, PATH_MAX, "%s", name);
	else
		snprintf(path, PATH_MAX, "%s/%s",
			 dir && *dir ? dir : "/run/shmap", name);
}

static int cmd_who(const struct opts *o)
{
	if (o->argc != 1)
		return usage("who takes one NAME");
	char path[PATH_MAX];
	resolve(o->argv[0], path);
	struct stat st;
	if (stat(path, &st) < 0)
		return fail(o->argv[0], -errno);
	if (!S_ISREG(st.st_mode))
		return fail(o->argv[0], -EISDIR);
	struct ctl_mount m;
	int res = learn(path, &m);
	if (res < 0)
		return fail(o->argv[0], res);
	ctl_show_who(stdout, &m.objs[0], o->json);
	ctl_mount_free(&m);
	return fflush(stdout) ? 1 : 0;
}

static int cmd_quota(const struct opts *o)
{
	char(*paths)[PATH_MAX];
	size_t n;
	int res = targets(o, &paths, &n);
	if (res < 0)
		return fail("reading the mounts", res);
	if (o->json)
		printf("{\"schema\": \"shmapctl-quota/1\", \"mounts\": [");
	int shown = 0;
	for (size_t i = 0; res == 0 && i < n; i++) {
		struct ctl_mount m = {0};
		res = ctl_mount_of(paths[i], m.path);
		if (res == 0)
			res = ctl_mount_header(&m);
		if (res == 0)
			res = ctl_show_quota(stdout, &m, o->json, !shown++);
		if (res < 0 && o->argc == 0 && res != -ENOMEM) {
			/* Gone meanwhile: as ls, show the others. */
			fprintf(stderr, "shmapctl: %s: skipped: %s\n", paths[i],
				strerror(-res));
			res = 0;
		} else if (res == -E2BIG) {
			fprintf(stderr,
				"shmapctl: %s: too many ids to list: "
				"user.shmap.quota holds at most 64 KiB (some "
				"3,000 ids); the quotas still hold\n",
				paths[i]);
		} else if (res < 0) {
			fail(paths[i], res);
		}
	}
	if (o->json && res == 0)
		printf("]}\n");
	free(paths);
	return res < 0 || fflush(stdout) ? 1 : 0;
}

static int cmd_top(const struct opts *o)
{
	struct timespec pause = {
	    (time_t)o->delay,
	    (long)((o->delay - (double)(time_t)o->delay) * 1e9)};
	for (long round = 0; !o->rounds || round < o->rounds; round++) {
		if (round)
			nanosleep(&pause, NULL);
		struct ctl_mount *ms;
		size_t n;
		if (learn_all(o, &ms, &n))
			return 1;
		fputs("\033[H\033[2J", stdout); /* home, clear */
		for (size_t i = 0; i < n; i++) {
			ctl_sort_by_stored(&ms[i]);
			ctl_show_table(stdout, &ms[i]);
		}
		free_all(ms, n);
		if (fflush(stdout))
			return 1;
	}
	return 0;
}

/* Options may come before or after the command. */
static int parse(int argc, char **argv, struct opts *o, const char **cmd)
{
	*o = (struct opts){.delay = 2};
	*cmd = NULL;
	o->argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!o->argv)
		return usage("out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end = NULL;
		if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
			o->json = 1;
		} else if (!strcmp(a, "-d") && i + 1 < argc) {
			o->delay = strtod(argv[++i], &end);
			if (*end || o->delay < 0.1 || o->delay > 3600)
				return usage("-d takes 0.1 to 3600 seconds");
		} else if (!strcmp(a, "-n") && i + 1 < argc) {
			o->rounds = strtol(argv[++i], &end, 10);
			if (*end || o->rounds < 1)
				return usage("-n takes a count of 1 or more");
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			*cmd = "help";
			return 0;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "shmapctl: unknown option %s\n", a);
			return 1;
		} else if (!*cmd) {
			*cmd = a;
		} else {
			o->argv[o->argc++] = argv[i];
		}
	}
	if (!*cmd)
		*cmd = "ls";
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	const char *cmd;
	signal(SIGPIPE, SIG_DFL);
	int res = parse(argc, argv, &o, &cmd);
	if (res == 0) {
		if (!strcmp(cmd, "help"))
			res = printf("usage: " USAGE "\nsee shmapctl(1)\n") < 0;
		else if (!strcmp(cmd, "ls"))
			res = cmd_ls(&o);
		else if (!strcmp(cmd, "who"))
			res = cmd_who(&o);
		else if (!strcmp(cmd, "quota"))
			res = cmd_quota(&o);
		else if (!strcmp(cmd, "top"))
			res = cmd_top(&o);
		else
			res = fprintf(
				  stderr,
				  "shmapctl: unknown command %s (usage: " USAGE
				  ")\n",
				  cmd) > 0;
	}
	free(o.argv);
	return res;
}
