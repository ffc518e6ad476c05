/*
 * Exclusive backing files: while a file-backed mapping is in use (its
 * store open and flock'ed), every open of its backing file by a process
 * other than the daemon is refused with EPERM, root included, as Windows
 * opens the file behind a mapping for exclusive access.
 *
 * One fanotify group (FAN_CLASS_CONTENT, which needs CAP_SYS_ADMIN) and a
 * listener thread. exclusive_guard() marks a store's inode for
 * FAN_OPEN_PERM (every name of it, hard links included, on every mount of
 * its filesystem); the listener allows an open by a thread of the daemon
 * and denies any other.
 *
 * One open is neither: when the daemon answers an OPEN with a passthrough
 * handle, the kernel opens the backing file itself, in the context of the
 * thread that opened the mapping. The daemon reaches its backing directory
 * through a mount nobody else reaches, and exclusive_pass_mount() makes
 * every open through that mount raise no event: its own, and the kernel's
 * passthrough opens of stores opened there. For a store on any other
 * mount (a submount of the backing directory), exclusive_expect() names
 * the thread and the file before the reply goes out, and the listener lets
 * exactly that one open through.
 *
 * The listener takes no lock but its own, held only to look up a token,
 * and never opens anything: a thread that holds the registry's lock while
 * it opens a guarded file cannot deadlock with it. If the daemon dies, the
 * kernel drops the group's marks and allows any open still waiting.
 */
#ifndef SHMAPFS_EXCLUSIVE_H
#define SHMAPFS_EXCLUSIVE_H

#include <sys/types.h>

struct exclusive;

/*
 * Make the group. Returns -EPERM without CAP_SYS_ADMIN, -ENOSYS or -EINVAL
 * where the kernel has no fanotify permission events.
 *
 * For tests only: with SHMAPFS_TEST_FAIL_GUARD=N in the environment, the
 * Nth exclusive_guard() (counting from 1) fails with ENOSPC, as a mark
 * the kernel cannot add (out of memory, or of marks).
 */
int exclusive_new(struct exclusive **out);

/*
 * Start the listener, in the process that will be the daemon (after any
 * fork: a thread does not survive one, and opens of guarded files would
 * wait for it forever). Opens of files guarded before wait until then.
 */
int exclusive_start(struct exclusive *ex);

/* Stop the listener and close the group: every mark goes with it. */
void exclusive_free(struct exclusive *ex);

/* Why exclusive_new() failed with err, in words for the log. */
const char *exclusive_unavailable_why(int err);

/*
 * registry_config.guard_store / unguard_store (ctx: the struct
 * exclusive). guard refuses opens of fd's file by others from now on, or
 * fails with -errno (the kernel would not mark the file): then the file
 * is not guarded, and must not be served as if it were. unguard, called
 * before fd closes, lets others' opens through again.
 */
int exclusive_guard(void *ctx, int fd);
void exclusive_unguard(void *ctx, int fd);

/*
 * Let every open made through the mount of fd pass without an event: fd
 * is a directory on a mount that only the daemon reaches (a private clone
 * of the backing directory's, open_tree(2)). Its own opens, and those the
 * kernel makes for passthrough of stores opened there, then cost nothing.
 */
int exclusive_pass_mount(struct exclusive *ex, int fd);

/*
 * Let thread tid (as FUSE names the caller of a request) make one open of
 * fd's file: the one the kernel makes for a passthrough open. Unused
 * expectations expire after a few seconds.
 */
int exclusive_expect(struct exclusive *ex, pid_t tid, int fd);

#endif
