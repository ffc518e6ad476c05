#!/bin/bash
# The cluster test (make check-cluster): two "hosts" on one real
# distributed filesystem. A single-node GlusterFS volume on the loopback
# range (gluster.sh) is mounted twice by its FUSE client, as host A and
# host B, and each host runs its own file-backed shmapfs over the same
# directory of the volume. Per data path, with times measured:
#
#   visible   a mapping A makes and writes shows on B, with A's data,
#             within the revalidation bound (actimeo)
#   busy      while A has a mapping open, then only mapped, B's open of it
#             fails with EBUSY and B's daemon logs the lock; B's other
#             mappings work; once A unmaps it, B opens it and sees A's data
#   reopen    a host opens at once what it has just written and closed
#   removed   a mapping removed on one host vanishes on the other
#   killed    A's daemon is SIGKILLed holding a mapping: B opens it once
#             the lock is released, and sees what A had flushed
#   host      host A dies whole (its daemon, its programs, its gluster
#             client): B opens the mapping A held once gluster frees the lock
#   bench     warm mapped reads (shmapbench warm-mmap) on a shmapfs over
#             the volume against one over a local directory (a figure, not
#             an assertion)
#
#   SHMAPFS_BIN=fs/shmapfs SHMAPBENCH=build/normal/tests/bench/shmapbench \
#       tests/cluster/run.sh
#
# SHMAPFS_TEST_DATA_PATHS (default "passthrough nopassthrough"): the data
# paths to run. CLUSTER_ACTIMEO (default 1): the daemons' actimeo=, the
# bound the visibility checks hold them to (plus CLUSTER_SLACK_S, default 3,
# for a loaded machine). CLUSTER_OPTS (default shared,actimeo=$CLUSTER_ACTIMEO):
# the daemons' options. CLUSTER_TRACE=1 runs under bash -x.
#
# Everything runs in a mount namespace of its own (no other program's
# namespace can copy our mounts and keep them alive); every mount, daemon
# and gluster process is cleared on every path by cleanup (EXIT trap).
# Nothing is skipped: a step that cannot be done fails the test.
set -u
export LC_ALL=C
[ -n "${CLUSTER_TRACE:-}" ] && set -x

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${SHMAPFS_BIN:?set SHMAPFS_BIN to the daemon under test}"
: "${SHMAPBENCH:?set SHMAPBENCH to the shmapbench binary}"
SHMAPFS_BIN=$(realpath "$SHMAPFS_BIN")
SHMAPBENCH=$(realpath "$SHMAPBENCH")
DATA_PATHS=${SHMAPFS_TEST_DATA_PATHS:-passthrough nopassthrough}
ACTIMEO=${CLUSTER_ACTIMEO:-1}
SLACK_S=${CLUSTER_SLACK_S:-3}
BASE_OPTS=${CLUSTER_OPTS-shared,actimeo=$ACTIMEO}
VIEWER=$top/tests/lifecycle/viewer.py

[ "$(id -u)" = 0 ] || {
	echo "cluster: runs glusterd and mounts: run as root" >&2
	exit 1
}
if [ -z "${CLUSTER_ISOLATED:-}" ]; then
	CLUSTER_ISOLATED=1 exec unshare --mount --propagation private \
		"$0" "$@"
fi
# One run at a time per machine: glusterd's port is the machine's.
mkdir -p /run/lock
exec 9>/run/lock/shmapfs-cluster.lock
flock -w 600 9 || {
	echo "cluster: another cluster run holds the lock" >&2
	exit 1
}

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

# Poll a shell condition, at most SECONDS (hundredths of a second apart).
wait_for()
{
	local limit=$(($1 * 100)) i=0
	shift
	until eval "$*"; do
		i=$((i + 1))
		[ "$i" -le "$limit" ] || return 1
		sleep 0.01
	done
}

# Milliseconds, from the shell's clock.
now_ms()
{
	local us=${EPOCHREALTIME/./}
	echo $((10#$us / 1000))
}

# until_ms T0 SECONDS CONDITION: poll CONDITION for at most SECONDS; set
# ELAPSED to the milliseconds from T0 to when it first held.
until_ms()
{
	local t0=$1 limit=$2
	shift 2
	wait_for "$limit" "$*" || return 1
	ELAPSED=$(($(now_ms) - t0))
}

RESULTS=()
# note NAME MS [WHAT]: a measured time, printed now and again at the end.
note()
{
	local line
	line=$(printf '%-14s %-40s %6s ms' "$CUR_PATH" "$1" "$2")
	echo "  $line${3:+  ($3)}"
	RESULTS+=("$line${3:+  ($3)}")
}

# ---------------------------------------------------------------- daemons

declare -A DAEMON # mount point -> pid of the shmapfs serving it

# shmapfs_start BACKING MNT LOG: a file-backed shmapfs in the foreground
# (our child: we reap it), with this run's options.
shmapfs_start()
{
	local backing=$1 mnt=$2 log=$3 opts="$OPTS"
	mkdir -p "$mnt"
	"$SHMAPFS_BIN" -f ${opts:+-o "$opts"} "$backing" "$mnt" \
		>>"$log" 2>&1 &
	DAEMON[$mnt]=$!
	wait_for 30 "gl_mounted '$mnt' fuse.shmapfs ||
		! kill -0 ${DAEMON[$mnt]} 2>/dev/null"
	gl_mounted "$mnt" fuse.shmapfs ||
		fail "shmapfs did not mount $backing on $mnt:
$(tail -5 "$log")"
}

# shmapfs_stop MNT: unmount (lazily if in use) and reap the daemon; its
# exit status in STATUS.
shmapfs_stop()
{
	local mnt=$1 pid=${DAEMON[$1]:-}
	STATUS=
	gl_mounted "$mnt" fuse.shmapfs &&
		{ umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	if [ -n "$pid" ]; then
		wait_for 30 "! kill -0 $pid 2>/dev/null" ||
			kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		STATUS=$?
	fi
	unset "DAEMON[$mnt]"
	return 0
} 2>/dev/null

# shmapfs_stop_clean MNT LOG: the same, and the daemon must exit 0.
shmapfs_stop_clean()
{
	shmapfs_stop "$1"
	[ "$STATUS" = 0 ] || fail "the daemon of $1 exited with status" \
		"$STATUS, not 0:
$(tail -5 "$2")"
}

# ---------------------------------------------------------------- viewer

VPID=
# A process holding a view (tests/lifecycle/viewer.py), on fds 5 and 6.
viewer_start()
{
	local dir
	dir=$(mktemp -d "$ROOT/viewer.XXXXXX")
	mkfifo "$dir/in" "$dir/out"
	python3 "$VIEWER" <"$dir/in" >"$dir/out" &
	VPID=$!
	exec 5>"$dir/in" 6<"$dir/out"
}

ask()
{
	echo "$*" >&5 || fail "viewer: cannot send '$*'"
	read -r -t 20 REPLY <&6 || fail "viewer: no answer to '$*'"
	[[ $REPLY == ok* ]] || fail "viewer: '$*': $REPLY"
}

viewer_end()
{
	[ -n "$VPID" ] || return 0
	echo exit >&5 2>/dev/null
	exec 5>&- 6<&-
	wait_for 10 "! kill -0 $VPID 2>/dev/null" || kill -KILL "$VPID"
	wait "$VPID" 2>/dev/null
	VPID=
}

# ---------------------------------------------------------------- checks

# Does FILE hold exactly TEXT?
holds()
{
	[ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

# Do the first bytes of FILE (opened for reading) read TEXT?
begins_with()
{
	[ "$(head -c ${#2} "$1" 2>/dev/null)" = "$2" ]
}

# Does page PAGE (4 KiB) of FILE begin with TEXT?
page_begins()
{
	[ "$(dd if="$1" bs=4096 skip="$2" count=1 2>/dev/null |
		head -c ${#3})" = "$3" ]
}

# Is FILE's open refused with EBUSY?
refused_busy()
{
	local err
	err=$(cat "$1" 2>&1 >/dev/null) && return 1
	[[ $err == *"Device or resource busy"* ]]
}

# Does DIR's listing (readdir) hold NAME?
listed()
{
	[ -n "$(find "$1" -mindepth 1 -maxdepth 1 -name "$2" -print -quit)" ]
}

# Does open(FILE, O_WRONLY | O_CREAT) work? An EBUSY is "not yet"; any
# other error fails the test.
create_or_busy()
{
	local err
	err=$({ : >>"$1"; } 2>&1) && return 0
	[[ $err == *"Device or resource busy"* ]] && return 1
	fail "open(O_CREAT) of $1: $err"
}

# Is NAME neither found nor listed in DIR?
gone()
{
	[ ! -e "$1/$2" ] && ! listed "$1" "$2"
}

# What opening FILE and reading gives (for a failure's message).
reads()
{
	head -c 80 "$1" 2>&1 | tr -d '\0'
}

# Within the bound the daemons state (actimeo), with slack for a loaded
# machine?
within_bound()
{
	[ "$1" -le $(((ACTIMEO + SLACK_S) * 1000)) ]
}

# ---------------------------------------------------------------- cases

# The premise: a flock taken through one client of the volume conflicts
# with one through the other (as between machines), and is free again
# once let go.
flock_crosses()
{
	: >"$1/probe" || fail "cannot make a file on the volume"
	wait_for 30 "[ -e '$2/probe' ]" || fail "B's client never saw 'probe'"
	local rc
	# shellcheck disable=SC2016 # expanded by the inner sh
	rc=$(flock -n "$1/probe" sh -c 'flock -n "$0" true; echo $?' \
		"$2/probe") || fail "host A cannot flock 'probe'"
	[ "$rc" = 1 ] ||
		fail "a flock through host A's client does not stop one" \
			"through host B's: the volume does not share locks"
	flock -n "$2/probe" true ||
		fail "host B cannot flock 'probe' after host A let go"
	rm "$1/probe"
}

# A makes and writes a mapping that B had looked up (and found missing):
# B sees it, then its data, within the bound.
case_visible()
{
	local t0 text="from-A-$CUR_PATH"
	[ ! -e "$B/fresh" ] || fail "B sees 'fresh' before A made it"
	printf '%s' "$text" >"$A/fresh" || fail "A cannot write 'fresh'"
	t0=$(now_ms)
	until_ms "$t0" 30 "[ -e '$B/fresh' ]" ||
		fail "A's new mapping never showed on B (30 s)"
	note "visible: A's new name on B" "$ELAPSED"
	within_bound "$ELAPSED" || fail "A's new mapping took $ELAPSED ms" \
		"to show on B; the bound is actimeo=$ACTIMEO s"
	until_ms "$t0" 30 "holds '$B/fresh' '$text'" ||
		fail "B never read A's data in 'fresh':" \
			"'$(cat "$B/fresh" 2>&1)'"
	note "visible: A's data on B" "$ELAPSED" "A wrote and closed"
	within_bound "$ELAPSED" || fail "A's data took $ELAPSED ms to B"
	until_ms "$t0" 30 "listed '$B' fresh" ||
		fail "B never listed A's new mapping"
	note "visible: listed on B" "$ELAPSED"
	within_bound "$ELAPSED" || fail "B took $ELAPSED ms to list it"
	# B creates (O_CREAT, no O_EXCL) a name A has just made, before B
	# has seen it: B opens A's mapping, never ENOENT nor EEXIST (EBUSY
	# while A's release is on its way).
	[ ! -e "$B/racy" ] || fail "B sees 'racy' before A made it"
	printf 'racy-from-A' >"$A/racy" || fail "A cannot write 'racy'"
	t0=$(now_ms)
	until_ms "$t0" 10 "create_or_busy '$B/racy'" ||
		fail "B's open(O_CREAT) of 'racy', just made on A:" \
			"$(create_or_busy "$B/racy" 2>&1)"
	note "visible: B's O_CREAT opens A's" "$ELAPSED"
	holds "$B/racy" racy-from-A ||
		fail "B's open(O_CREAT) of 'racy' did not open A's mapping:" \
			"'$(reads "$B/racy")'"
	rm "$A/racy" || fail "A cannot remove 'racy'"
}

# A holds a mapping (open and mapped, then only mapped): B's open fails
# with EBUSY and B's log names the lock; B's other mappings work. A lets
# go: B opens it and sees everything A stored.
case_busy()
{
	local t0 i
	truncate -s 1M "$A/held" || fail "A cannot make 'held'"
	wait_for 30 "[ -e '$B/held' ]" || fail "'held' never showed on B"
	viewer_start
	ask open "$A/held" 1048576
	ask store 0 held-by-A
	ask msync
	ask store 8192 stored-later # no msync: the unmap writes it back
	refused_busy "$B/held" ||
		fail "B's open of 'held' while A holds it: not EBUSY:" \
			"'$(reads "$B/held")'"
	grep -q "mapping 'held' refused: its backing file is locked" \
		"$LOG_B" || fail "B's log does not name the lock on 'held':
$(tail -3 "$LOG_B")"
	printf 'from-B' >"$B/own" || fail "B cannot make its own mapping"
	holds "$B/own" from-B || fail "B's own mapping does not read back"
	holds "$B/fresh" "from-A-$CUR_PATH" ||
		fail "B cannot read the idle mapping 'fresh' while A holds 'held'"
	ask closefd
	# Only mapped now: A's daemon must keep the lock at its sweeps (one
	# a second), so B stays refused for as long as we look (3 s).
	for i in $(seq 30); do
		refused_busy "$B/held" ||
			fail "B opened 'held' while A still maps it"
		sleep 0.1
	done
	ask close
	t0=$(now_ms)
	until_ms "$t0" 30 "begins_with '$B/held' held-by-A" ||
		fail "B could not open 'held' after A let go (30 s):" \
			"$(reads "$B/held")"
	note "busy: A unmaps -> B opens" "$ELAPSED"
	[ "$ELAPSED" -le 5000 ] ||
		fail "B waited $ELAPSED ms for 'held' after A let go"
	page_begins "$B/held" 2 stored-later ||
		fail "B does not see what A stored through its view and" \
			"unmapped"
	viewer_end
}

# A host writes a mapping, closes it and opens it again at once, 40
# times: never EBUSY from its own lock, gone or going (a FUSE client such
# as GlusterFS's drops a flock at close() only later, asynchronously).
case_reopen()
{
	local n got
	for n in $(seq 40); do
		printf 'again-%s' "$n" >"$B/again$n" ||
			fail "B cannot write 'again$n'"
		got=$(reads "$B/again$n")
		[ "$got" = "again-$n" ] ||
			fail "B's open of 'again$n' right after its close: '$got'"
	done
	for n in $(seq 40); do
		rm "$B/again$n" || fail "B cannot remove 'again$n'"
	done
}

# A name removed on one host vanishes on the other.
case_removed()
{
	local t0
	rm "$A/fresh" || fail "A cannot remove 'fresh'"
	t0=$(now_ms)
	until_ms "$t0" 30 "gone '$B' fresh" ||
		fail "'fresh', removed on A, still shows on B (30 s)"
	note "removed: A's removal on B" "$ELAPSED"
	within_bound "$ELAPSED" || fail "A's removal took $ELAPSED ms to B"
	rm "$B/own" || fail "B cannot remove 'own'"
	t0=$(now_ms)
	until_ms "$t0" 30 "gone '$A' own" ||
		fail "'own', removed on B, still shows on A (30 s)"
	note "removed: B's removal on A" "$ELAPSED"
	within_bound "$ELAPSED" || fail "B's removal took $ELAPSED ms to A"
}

# A's daemon is SIGKILLed while A holds a mapping. Without passthrough
# the lock goes with the daemon. With passthrough, A's view goes on
# storing into the backing file after the kill, and the kernel keeps the
# file (and its lock) for the connection until the dead mount is
# unmounted: B is refused until then, and opens it at once after. Either
# way B then sees what A flushed.
case_killed()
{
	local t0 what
	truncate -s 1M "$A/doomed" || fail "A cannot make 'doomed'"
	wait_for 30 "[ -e '$B/doomed' ]" || fail "'doomed' never showed on B"
	viewer_start
	ask open "$A/doomed" 1048576
	ask store 0 before-kill
	ask msync
	{
		kill -KILL "${DAEMON[$A]}"
		t0=$(now_ms)
		wait "${DAEMON[$A]}"
	} 2>/dev/null
	what="SIGKILL -> B opens, A's view still up"
	if [ "$CUR_PATH" = passthrough ]; then
		refused_busy "$B/doomed" ||
			fail "B opened 'doomed' while A's view still stores into it"
		ask store 4096 after-kill # the view still reaches the file
		ask msync
		viewer_end
		refused_busy "$B/doomed" ||
			fail "B opened 'doomed' while A's dead mount holds it"
		umount "$A" || fail "cannot unmount A's dead mount"
		t0=$(now_ms)
		what="umount of A's dead mount -> B opens"
	fi
	until_ms "$t0" 60 "begins_with '$B/doomed' before-kill" ||
		fail "B could not open 'doomed' within 60 s of A's daemon's" \
			"death: '$(reads "$B/doomed")'"
	note "killed: $what" "$ELAPSED"
	if [ "$CUR_PATH" = passthrough ]; then
		page_begins "$B/doomed" 1 after-kill ||
			fail "B does not see what A's view stored after the kill"
	else
		viewer_end
	fi
	shmapfs_stop "$A"
}

# Host A dies whole: its daemon, the program holding a view, and its
# gluster client, all SIGKILLed at once. B opens the mapping once the
# brick has dropped A's lock.
case_host()
{
	local t0
	shmapfs_start "$GA/$CUR_PATH" "$A" "$LOG_A"
	truncate -s 1M "$A/orphan" || fail "A cannot make 'orphan'"
	wait_for 30 "[ -e '$B/orphan' ]" || fail "'orphan' never showed on B"
	viewer_start
	ask open "$A/orphan" 1048576
	ask store 0 host-A-was-here
	ask msync
	refused_busy "$B/orphan" || fail "B opened 'orphan' while A holds it"
	{ # (no "Killed" notices from the shell)
		kill -KILL "${DAEMON[$A]}" "$VPID" "$GA_PID"
		t0=$(now_ms)
		wait "${DAEMON[$A]}" "$VPID" "$GA_PID"
	} 2>/dev/null
	exec 5>&- 6<&-
	VPID=
	until_ms "$t0" 120 "begins_with '$B/orphan' host-A-was-here" ||
		fail "B could not open 'orphan' within 120 s of host A's death:" \
			"'$(reads "$B/orphan")'"
	note "host: A dies -> B opens" "$ELAPSED" "gluster released the lock"
	shmapfs_stop "$A"
	gluster_kill_client "$GA_PID"
}

# Warm mapped reads through a shmapfs over the volume and over a local
# directory (shmapbench warm-mmap on 64 MiB): a figure to report.
bench()
{
	local local_dir=$ROOT/$CUR_PATH/local local_mnt=$ROOT/$CUR_PATH/L
	local over_gluster over_local
	mkdir -p "$local_dir"
	shmapfs_start "$local_dir" "$local_mnt" "$ROOT/$CUR_PATH/L.log"
	"$SHMAPBENCH" -m 64 prep "$A" >/dev/null ||
		fail "shmapbench prep on A failed"
	"$SHMAPBENCH" -m 64 prep "$local_mnt" >/dev/null ||
		fail "shmapbench prep on the local mount failed"
	over_gluster=$("$SHMAPBENCH" -m 64 warm-mmap "$A") ||
		fail "shmapbench warm-mmap on A failed"
	over_local=$("$SHMAPBENCH" -m 64 warm-mmap "$local_mnt") ||
		fail "shmapbench warm-mmap on the local mount failed"
	RESULTS+=("$(printf '%-14s %-40s %s' "$CUR_PATH" \
		"warm-mmap over gluster" "$over_gluster")")
	RESULTS+=("$(printf '%-14s %-40s %s' "$CUR_PATH" \
		"warm-mmap over a local directory" "$over_local")")
	echo "  warm-mmap: over gluster $over_gluster, local $over_local"
	rm -f "$A/data" "$local_mnt/data"
	shmapfs_stop_clean "$local_mnt" "$ROOT/$CUR_PATH/L.log"
}

# ---------------------------------------------------------------- run

cleanup()
{
	local rc=$? mnt
	trap - EXIT INT TERM HUP
	[ -n "$VPID" ] && { kill -KILL "$VPID" && wait "$VPID"; } 2>/dev/null
	for mnt in "${!DAEMON[@]}"; do
		shmapfs_stop "$mnt"
	done
	gluster_down
	rm -rf --one-file-system "$ROOT"
	exit "$rc"
}

# shellcheck source=tests/cluster/gluster.sh
. "$here/gluster.sh"
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/shmapfs-cluster.XXXXXX")
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

start=$(now_ms)
gluster_up "$ROOT/gluster"
echo "cluster: volume $GL_VOLUME on $GL_HOST ($(getent ahostsv4 \
	"$GL_HOST" | awk 'NR == 1 { print $1 }')) up in $(($(now_ms) - start)) ms"

for CUR_PATH in $DATA_PATHS; do
	case $CUR_PATH in
	passthrough) OPTS=$BASE_OPTS ;;
	nopassthrough) OPTS=$BASE_OPTS,nopassthrough ;;
	*) fail "unknown data path '$CUR_PATH'" ;;
	esac
	OPTS=${OPTS#,}
	GA=$ROOT/$CUR_PATH/ga GB=$ROOT/$CUR_PATH/gb
	A=$ROOT/$CUR_PATH/A B=$ROOT/$CUR_PATH/B
	LOG_A=$ROOT/$CUR_PATH/A.log LOG_B=$ROOT/$CUR_PATH/B.log
	gluster_mount "$GA"
	GA_PID=$GL_PID
	gluster_mount "$GB"
	mkdir "$GA/$CUR_PATH" || fail "cannot make a directory on the volume"
	wait_for 30 "[ -d '$GB/$CUR_PATH' ]" ||
		fail "host B's client never saw host A's directory"
	flock_crosses "$GA/$CUR_PATH" "$GB/$CUR_PATH"
	shmapfs_start "$GA/$CUR_PATH" "$A" "$LOG_A"
	shmapfs_start "$GB/$CUR_PATH" "$B" "$LOG_B"
	echo "cluster: $CUR_PATH: host A $(getfattr --absolute-names \
		--only-values -n user.shmap.data_path "$A"), host B" \
		"$(getfattr --absolute-names --only-values \
			-n user.shmap.data_path "$B") (-o $OPTS)"
	case_visible
	case_busy
	case_reopen
	case_removed
	bench
	case_killed
	case_host
	shmapfs_stop_clean "$B" "$LOG_B"
done

echo "cluster: every case passed in $((($(now_ms) - start) / 1000)) s;" \
	"times measured:"
printf '  %s\n' "${RESULTS[@]}"
