#!/bin/bash
# Run Check test programs one after another, each with a time limit and in
# a private mount namespace of its own; clear any shmapfs mount or daemon
# that a crashed test left behind; print one closing line
# "N passed, N failed" and exit non-zero if anything failed.
#
# SHMAPFS_TEST_DATA_PATHS="passthrough nopassthrough" runs every program
# once per data path (the harness reads SHMAPFS_TEST_DATA_PATH; see
# tests/harness/mount.h) and reports, per run, which path the daemons
# said they took. Unset: one run, no data path asked for (unit tests).
#
# Temporary files go under $TMPDIR (default /tmp) when every user can
# reach it: tests mount there and run steps as other users. Otherwise
# (a 0700 TMPDIR) they go under /tmp, and the runner says so.
set -u
limit=${TEST_TIMEOUT:-600}
passed=0
failed=0
failed_progs=""

# Whether every user may search every directory on DIR's path.
reachable_by_all() {
	local d
	d=$(realpath -e "$1" 2>/dev/null) || return 1
	while :; do
		[ -n "$(find "$d" -maxdepth 0 -perm -o+x 2>/dev/null)" ] ||
			return 1
		[ "$d" = / ] && return 0
		d=$(dirname "$d")
	done
}

base=/tmp
if [ -n "${TMPDIR:-}" ]; then
	if [ -d "$TMPDIR" ] && [ -w "$TMPDIR" ] && reachable_by_all "$TMPDIR"; then
		base=$TMPDIR
	else
		echo "run-tests: TMPDIR=$TMPDIR is not reachable by" \
			"every user; using /tmp"
	fi
fi

# Mounts of this run live under a directory of its own, so that clearing
# what a crashed test left never touches another run's mounts.
SHMAPFS_TEST_TMP=$(mktemp -d "$base/shmapfs-run.XXXXXX")
chmod 755 "$SHMAPFS_TEST_TMP"
export SHMAPFS_TEST_TMP

clear_leftovers() {
	grep -o " $SHMAPFS_TEST_TMP/[^ ]*" /proc/mounts 2>/dev/null |
		while read -r m; do umount -l "$m" 2>/dev/null; done
}

# The daemons' logs that a failed program's tests left (a failed Check
# assertion ends a test before it unmounts): their last lines say whether a
# daemon died and how. Then the directories go, so that the next failure
# shows only its own.
show_leftover_logs() {
	local log
	for log in "$SHMAPFS_TEST_TMP"/shmapfs-test.*/daemon.log; do
		[ -f "$log" ] || continue
		echo "-- daemon log left by a failed test: $log (last lines)"
		tail -n 30 "$log"
	done
}

remove_leftover_dirs() {
	local d
	for d in "$SHMAPFS_TEST_TMP"/shmapfs-test.*; do
		[ -d "$d" ] || continue
		grep -q " $d/" /proc/mounts 2>/dev/null || rm -rf "$d"
	done
}

# "passthrough in N mounts, fallback in M" from the harness's notes.
paths_taken() {
	local f=$SHMAPFS_TEST_TMP/data-paths
	[ -s "$f" ] || {
		echo "no mount"
		return
	}
	sort "$f" | uniq -c | awk '{ printf "%s%s in %d mounts", sep, $2, $1;
		sep = ", " }'
	echo
}

# A test may turn a global setting off for a while (fs.leases-enable:
# tests/mount/check_exclusive.c) and gives it back itself; this also covers
# a program killed on the way.
restore_leases() {
	local f=/proc/sys/fs/leases-enable
	[ -n "$1" ] && [ "$(cat $f 2>/dev/null)" != "$1" ] &&
		echo "$1" >$f 2>/dev/null
	return 0
}

run_one() {
	local prog=$1 label=$2 out rc line c f e leases
	echo "== $label$prog"
	leases=$(cat /proc/sys/fs/leases-enable 2>/dev/null)
	out=$(mktemp)
	# Each program in a mount namespace of its own: a namespace that a
	# test makes copies every mount there is, and would keep another
	# program's mounts (and daemons) alive after their unmount.
	timeout -k 10 "$limit" unshare --mount --propagation private -- \
		"$prog" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	# Check prints "NN%: Checks: C, Failures: F, Errors: E".
	line=$(grep -E '^[0-9]+%: Checks: ' "$out" | tail -n 1)
	rm -f "$out"
	restore_leases "$leases"
	if [ -n "$line" ]; then
		c=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + c - f - e))
		failed=$((failed + f + e))
	fi
	if [ "$rc" != 0 ] || [ -z "$line" ]; then
		[ -z "$line" ] && failed=$((failed + 1))
		failed_progs="$failed_progs $label$prog"
		show_leftover_logs
	fi
	clear_leftovers
	remove_leftover_dirs
}

report=""
for path in ${SHMAPFS_TEST_DATA_PATHS:--}; do
	if [ "$path" = - ]; then
		unset SHMAPFS_TEST_DATA_PATH
		label=""
	else
		export SHMAPFS_TEST_DATA_PATH=$path
		label="[$path] "
	fi
	rm -f "$SHMAPFS_TEST_TMP/data-paths"
	for prog in "$@"; do
		run_one "$prog" "$label"
	done
	if [ "$path" != - ]; then
		report="$report
data path asked: $path; taken: $(paths_taken)"
	fi
done
rm -rf "$SHMAPFS_TEST_TMP"
[ -n "$report" ] && echo "${report#?}"
[ -n "$failed_progs" ] && echo "failed programs:$failed_progs"
echo "$passed passed, $failed failed"
[ -z "$failed_progs" ]
