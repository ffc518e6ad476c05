/*
 * shmapctl: what it learns of a mount (its header and its objects) and
 * of the processes that use them, and the functions that learn and show
 * it. Every function returns 0 or a negative errno unless it says
 * otherwise; nothing here takes a synchronization object or writes to a
 * mount.
 */
#ifndef SHMAPCTL_H
#define SHMAPCTL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

enum ctl_kind {
	CTL_MAPPING,
	CTL_SEMAPHORE,
	CTL_MUTEX,
	CTL_EVENT
};

/* One view of an object in a process: a line of /proc/PID/maps. */
struct ctl_view {
	unsigned long long start, end; /* addresses in the process */
	unsigned long long offset;     /* in the object */
	char perms[5];		       /* "rw-s" */
};

/* A process that has an object open (fds) or mapped (views). */
struct ctl_user {
	pid_t pid;
	char comm[32];
	int fds;
	size_t nviews;
	struct ctl_view *views;
};

/*
 * A synchronization object's state, read from a read-only view of its
 * page without taking it. changing: the words moved under every attempt
 * to read them whole (shown as read last, and marked).
 */
struct ctl_sync {
	int read;	  /* 0: the page could not be read (see err) */
	int err;	  /* why not, a negative errno */
	int changing;	  /* no two reads agreed */
	uint32_t waiters; /* asleep on it alone, or in wait_any/wait_all */
	uint32_t value;	  /* a semaphore's count */
	int manual, set;  /* an event's kind and state */
	pid_t owner_tid;  /* a mutex's owner thread, or 0 */
	pid_t owner_pid;  /* its process, or 0 if it is gone */
	uint32_t count;	  /* the owner's recursion depth */
	int abandoned;	  /* its owner died holding it, not yet repaired */
};

struct ctl_object {
	char *name; /* relative to the mount */
	char *path; /* absolute */
	enum ctl_kind kind;
	struct stat st;
	char protect[16], commit[16]; /* "" when unknown */
	int changed; /* size, times or identity moved while read */
	struct ctl_sync sync;
	size_t nusers;
	struct ctl_user *users;
};

struct ctl_mount {
	char path[PATH_MAX];
	dev_t dev;
	char data_path[192];
	char exclusive[96];
	uint64_t bytes_used, bytes_total;
	uint64_t maps_used, maps_total;
	int unreadable; /* processes whose fds or maps we may not read */
	size_t nobjs;
	struct ctl_object *objs;
};

/* mounts.c: shmapfs mounts and their headers. */
/* Every shmapfs mount point, from /proc/self/mountinfo; *n of them. */
int ctl_mounts_all(char (**paths)[PATH_MAX], size_t *n);
/* The shmapfs mount that holds path (-ENOTSUP: not a shmapfs path). */
int ctl_mount_of(const char *path, char mount[PATH_MAX]);
/* Fill m's header (path set by the caller). */
int ctl_mount_header(struct ctl_mount *m);

/* objects.c: the objects under dir (the mount, or a directory of it). */
int ctl_objects_read(struct ctl_mount *m, const char *dir);
int ctl_object_read(struct ctl_mount *m, const char *path);
void ctl_mount_free(struct ctl_mount *m);
const char *ctl_kind_name(enum ctl_kind k);

/* procs.c: attach the processes that use each object of m. */
int ctl_procs_attach(struct ctl_mount *m);

/* show.c */
void ctl_show_table(FILE *f, const struct ctl_mount *m);
void ctl_show_json(FILE *f, const struct ctl_mount *ms, size_t n);
void ctl_show_who(FILE *f, const struct ctl_object *o, int json);
int ctl_show_quota(FILE *f, const struct ctl_mount *m, int json, int first);
void ctl_sort_by_name(struct ctl_mount *m);
void ctl_sort_by_stored(struct ctl_mount *m);
void ctl_human(uint64_t bytes, char out[16]);

#endif
