/*
 * The watcher: what others change in a file-backed mount's backing
 * directory (a user's cp, rm or chmod there, another shmapfs over the same
 * directory), reported at once. One fanotify group (FAN_CLASS_NOTIF with
 * FAN_REPORT_DFID_NAME: no CAP_SYS_ADMIN needed on Linux 5.13 and later)
 * marks each directory the registry knows (registry_config.mark_dir); a
 * thread reads its events, has the core take each change in
 * (registry_backing_event()), and tells the kernel to forget what it
 * cached of it (fuse_lowlevel_notify_inval_entry / _inode), outside every
 * request and every lock of the core. Events the daemon caused itself
 * are skipped: the core made those changes already.
 *
 * What it sees: names created, removed, renamed or replaced, attributes
 * changed (chmod, chown, utimes, extended attributes), and a file's
 * contents and size once its writer closes it. Not a write by a process
 * that keeps the file open (nor, by design, anything on another host):
 * lookups and opens look at the directory themselves, and actimeo= bounds
 * the rest.
 */
#ifndef SHMAPFS_WATCH_H
#define SHMAPFS_WATCH_H

struct watch;
struct shmapfs;

/*
 * Make the group (before the registry, so that its scan marks the
 * directories). -ENOSYS, -EINVAL, -EPERM: the kernel offers none here.
 *
 * For tests: with SHMAPFS_TEST_NO_WATCH=1 in the environment, it fails
 * with -ENOTSUP, so that the mount relies on revalidation alone.
 */
int watch_new(struct watch **out);

/* registry_config.mark_dir (ctx: the struct watch): mark dirfd's
 * directory for changes of its entries and of itself. */
int watch_dir(void *ctx, int dirfd);

/*
 * Raise no data event for files reached through the mount of fd: the
 * daemon's private clone of the backing directory's mount (main.c), where
 * it opens its stores, and through which the kernel serves passthrough
 * writes. Writes of mappings in use here then cost the watcher nothing.
 * Needs CAP_SYS_ADMIN (a mount mark).
 */
int watch_pass_mount(struct watch *w, int fd);

/* Start the thread, in the daemon's final process (after any fork); it
 * reports to fs->reg and invalidates through fs->se. */
int watch_start(struct watch *w, struct shmapfs *fs);

/* Stop the thread (before the session and the registry go) and close
 * the group. NULL: nothing. */
void watch_free(struct watch *w);

/* Why watch_new() failed with err, in words for the log. */
const char *watch_unavailable_why(int err);

#endif
