/*
 * rename(2) with RENAME_WHITEOUT, as overlayfs asks of its upper
 * directory: the rename, then a whiteout (a character device 0:0, owned
 * by the caller) where the old name was, as tmpfs leaves one. Not atomic:
 * between the two steps the old name is absent for a moment; a whiteout
 * that cannot be made (ENOSPC, an unprivileged daemon's backing directory
 * refusing the device) moves the file back (a name it replaced stays
 * gone, as after any failed step of a rename that is not atomic).
 *
 * Calls: namespace.c (rename, mknod, forget) and util.c.
 */
#include "internal.h"

#include <errno.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>

int registry_rename_whiteout(struct registry *r, struct node *dir,
			     const char *name, struct node *newdir,
			     const char *newname, unsigned int flags,
			     const struct caller *c)
{
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	int res = registry_rename(r, dir, name, newdir, newname, flags);
	if (res < 0)
		return res;
	struct node *w = NULL;
	struct stat st;
	res = registry_mknod(r, dir, name, S_IFCHR, makedev(0, 0), c, &w, &st);
	if (res == 0) {
		registry_forget(r, w, 1); /* the kernel looks it up anew */
		return 0;
	}
	if (registry_rename(r, newdir, newname, dir, name, 0) < 0)
		reg_log(r, LOG_ERR,
			"rename with whiteout: no whiteout for %s, and the "
			"rename stays",
			name);
	return res;
}
