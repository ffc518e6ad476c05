#!/bin/sh
# Run the shmapfs daemon under valgrind (memcheck) for a mount test: the
# harness starts this script as $SHMAPFS_BIN with the daemon's arguments.
# exec keeps the process (and its pid): SIGTERM reaches the daemon's own
# handler, PR_SET_PDEATHSIG set by the harness survives, and the exit
# status is the daemon's, or 99 if valgrind found an error or a leak.
set -eu
daemon=${VALGRIND_DAEMON:-fs/shmapfs}
exec valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect --track-fds=no \
	--log-fd=2 "$daemon" "$@"
