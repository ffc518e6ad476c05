/*
 * Shared by the /dev/shm helper programs: become another user before doing
 * anything else, so that the rest of each helper is a plain POSIX program
 * that knows nothing of users, mounts or shmapfs.
 */
#ifndef SHMAPFS_HELPER_BECOME_H
#define SHMAPFS_HELPER_BECOME_H

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exit status of a helper that could not become the user it was asked to. */
#define HELPER_NOT_RUN 252

/*
 * Drop every privilege and become user (a name; "-" stays as we are), with
 * the user's primary group as the only group. umask 0, so that the modes
 * the helpers pass to shm_open and sem_open are the modes the files get.
 * Returns 0 or -errno.
 */
static inline int become(const char *user)
{
	umask(0);
	if (strcmp(user, "-") == 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return -ENOENT;
	if (setgroups(1, &pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	/* Make sure there is no way back: a test of permissions that ran as
	 * root would prove nothing. */
	if (geteuid() != pw->pw_uid || getegid() != pw->pw_gid ||
	    (pw->pw_uid != 0 && setresuid(0, 0, 0) == 0))
		return -EPERM;
	return 0;
}

#endif
