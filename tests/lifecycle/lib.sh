# shellcheck shell=bash
# Variables set here (rc, DAEMON, VIEWER, REPLY) are for cases.sh.
# shellcheck disable=SC2034

# Lifecycle test helpers, sourced by cases.sh (bash). Every wait here is
# bounded; every mount and daemon a test makes is cleared by lc_cleanup,
# which cases.sh runs on exit whatever happened.
#
# The runner (run.sh) provides:
#   SHMAPFS_BIN  the daemon under test (absolute path)
#   LC_STATUS    the reaper's file of "PID STATUS" lines: how every
#                descendant of the test ended, detached daemons included
#   LC_ROOT      this test's own temporary directory ($TMPDIR/shmapfs-lc.*)
#   LC_TOP       the top of the source tree
#
# A test may set LC_UNDO to the name of a function that lc_cleanup runs
# (to put back what it changed outside LC_ROOT, if it fails half-way).

# Fail the test with a message (and the daemon logs we know of).
# Both write to fd 3, the test's own stderr (cases.sh opens it), so that
# they are seen even inside a command whose stderr is redirected.
fail()
{
	echo "FAIL: $*" >&3
	exit 1
}

note()
{
	echo "  $*" >&3
}

# Run a command that must succeed, bounded to 20 seconds.
must()
{
	timeout -k 5 20 "$@" || fail "'$*' exited $?"
}

# Run a command that must fail, bounded to 20 seconds; its status in $rc.
must_fail()
{
	rc=0
	timeout -k 5 20 "$@" || rc=$?
	[ "$rc" != 0 ] || fail "'$*' succeeded"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		fail "'$*' timed out"
	fi
}

# Is DIR a mount point (in our mount namespace)? Reads mountinfo, so that
# it also answers for a mount whose daemon is dead (stat gives ENOTCONN).
is_mounted()
{
	awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

# The filesystem type of the mount at DIR ("fuse.shmapfs", ...).
fs_type()
{
	awk -v d="$1" '$5 == d { for (i = 7; $i != "-"; i++); t = $(i + 1) }
		END { print t }' /proc/self/mountinfo
}

# Poll a shell condition, at most SECONDS (tenths of a second apart).
wait_for()
{
	local limit=$(($1 * 10)) i=0
	shift
	until eval "$*"; do
		i=$((i + 1))
		[ "$i" -le "$limit" ] || return 1
		sleep 0.1
	done
}

# The pid of the shmapfs daemon serving MNT (by its command line).
daemon_pid()
{
	local pid
	for pid in $(pgrep -x shmapfs); do
		if { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null |
			grep -qxF -- "$1"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

# The exit status of a (detached) descendant, once it has ended; waits at
# most SECONDS (default 30). Fails the test if it has not ended by then,
# saying where its threads wait.
exit_status()
{
	local pid=$1 limit=${2:-30}
	wait_for "$limit" "grep -q '^$pid ' '$LC_STATUS'" ||
		fail "process $pid still running after ${limit}s:
$(ps -L -o tid,stat,wchan:32,comm -p "$pid" 2>&1)"
	awk -v p="$pid" '$1 == p { s = $2 } END { print s }' "$LC_STATUS"
}

# Insist that the daemon PID ends with status 0 within SECONDS.
expect_exit0()
{
	local st
	st=$(exit_status "$1" "${2:-30}")
	[ "$st" = 0 ] || fail "daemon $1 exited with status $st, not 0"
}

# Is FILE free of any flock (can we take LOCK_EX|LOCK_NB on it)?
lock_free()
{
	flock -n -x "$1" true
}

# Run COMMAND... until it succeeds, for at most 5 s (a release reaches the
# daemon a moment after close, and a passthrough view's lock goes at the
# daemon's next sweep).
eventually()
{
	local i
	for i in $(seq 50); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# Does FILE hold TEXT?
holds()
{
	grep -qF -- "$2" "$1" 2>/dev/null
}

# lc_mount MNT MOUNT_ARGS...: mount(8) must succeed and the daemon serving
# MNT must be found. Sets DAEMON to its pid.
lc_mount()
{
	local mnt=$1
	shift
	must mount "$@"
	is_mounted "$mnt" || fail "mount $* returned 0 but $mnt is not mounted"
	DAEMON=$(daemon_pid "$mnt") ||
		fail "no daemon found for $mnt; processes: $(pgrep -af -- "$mnt")"
}

# A fresh directory under LC_ROOT.
newdir()
{
	mkdir -p "$LC_ROOT/$1"
	echo "$LC_ROOT/$1"
}

# --- the viewer: a python process holding a MAP_SHARED view (viewer.py) ---

# Start it; commands go through fd 7, answers come on fd 8.
viewer_start()
{
	mkfifo "$LC_ROOT/viewer.in" "$LC_ROOT/viewer.out"
	python3 "$LC_TOP/tests/lifecycle/viewer.py" \
		<"$LC_ROOT/viewer.in" >"$LC_ROOT/viewer.out" &
	VIEWER=$!
	disown "$VIEWER" # no job-control chatter when cleanup kills it
	exec 7>"$LC_ROOT/viewer.in" 8<"$LC_ROOT/viewer.out"
}

# Send one command; fail the test unless the answer starts with "ok".
# The answer's text (after "ok ") is left in $REPLY.
viewer()
{
	echo "$*" >&7 || fail "viewer is gone (sending '$*')"
	read -r -t 20 -u 8 REPLY || fail "viewer gave no answer to '$*'"
	case $REPLY in
	ok*) REPLY=${REPLY#ok} REPLY=${REPLY# } ;;
	*) fail "viewer: '$*': $REPLY" ;;
	esac
}

viewer_stop()
{
	echo exit >&7 2>/dev/null || true
	exec 7>&- 8<&-
	wait_for 10 "! kill -0 $VIEWER 2>/dev/null" ||
		kill -9 "$VIEWER" 2>/dev/null || true
	VIEWER=
}

# --- cleanup: whatever the test left, in every path -----------------------

lc_cleanup()
{
	local m pid
	# Best effort from here on: what is already gone is not a failure.
	set +e
	[ -n "${VIEWER:-}" ] && kill -9 "$VIEWER" 2>/dev/null
	[ -n "${LC_KILL:-}" ] && kill -9 "$LC_KILL" 2>/dev/null
	[ -n "${LC_UNDO:-}" ] && "$LC_UNDO" # a test's own undo, by name
	# Deepest first, lazily: a dead daemon's mount answers ENOTCONN.
	awk -v r="$LC_ROOT/" 'index($5, r) == 1 { print $5 }' \
		/proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	for pid in $(pgrep -x shmapfs); do
		if { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null |
			grep -qF -- "$LC_ROOT/"; then
			echo "cleanup: killing daemon $pid" >&2
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
	rm -rf --one-file-system "$LC_ROOT"
}
