#!/bin/bash
# Run the lifecycle tests (tests/lifecycle/cases.sh): each test_* function
# in its own bash process, under the reaper (which learns the exit status of
# daemons that detach) and a time limit; print "ok"/"FAIL" per test and a
# closing "N passed, N failed" line; exit non-zero if anything failed.
#
#   SHMAPFS_BIN=fs/shmapfs LC_REAPER=build/normal/tests/lifecycle/reaper \
#       tests/lifecycle/run.sh [NAME_PATTERN]
#
# SHMAPFS_TEST_DATA_PATH=nopassthrough runs every daemon with
# -o nopassthrough (through a wrapper named shmapfs that mount(8)'s helper
# and the tests run instead of the daemon). Temporary files go under
# $TMPDIR (default /tmp).
#
# LC_TRACE=1 runs the cases under bash -x (shown when one fails).
#
# mount(8) must find the helper, so it is installed for real, for the run,
# as /sbin/mount.shmapfs and mount.fuse.shmapfs (pointing at the daemon
# under test) and removed afterwards; whatever was there before is put
# back. A lock serializes concurrent runs on one machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${SHMAPFS_BIN:?set SHMAPFS_BIN to the daemon under test}"
: "${LC_REAPER:?set LC_REAPER to the reaper binary}"
SHMAPFS_BIN=$(realpath "$SHMAPFS_BIN")
LC_REAPER=$(realpath "$LC_REAPER")
pattern=${1:-.}
limit=${LC_TIMEOUT:-60}
sbin=${LC_SBINDIR:-/sbin}
marker="# installed for the run by tests/lifecycle/run.sh"
helpers="mount.shmapfs mount.fuse.shmapfs"

[ "$(id -u)" = 0 ] || {
	echo "run.sh: the lifecycle tests mount and install: run as root" >&2
	exit 1
}

# The lock is the machine's, not TMPDIR's: runs with other TMPDIRs, or a
# private /tmp, install into the same /sbin.
mkdir -p /run/lock
exec 9>/run/lock/shmapfs-lifecycle.lock
flock -w 300 9 || {
	echo "run.sh: another lifecycle run holds the lock" >&2
	exit 1
}

# Put the helpers in place; keep what a real install put there.
install_helpers()
{
	local n
	for n in $helpers; do
		if grep -qsF "$marker" "$sbin/$n"; then
			rm -f "$sbin/$n" # left over by an interrupted run
		elif [ -e "$sbin/$n" ] || [ -L "$sbin/$n" ]; then
			mv "$sbin/$n" "$sbin/$n.lifecycle-saved"
		fi
	done
	{
		sed -n 1p "$top/mount-helpers/mount.shmapfs"
		echo "$marker"
		sed -e 1d -e "s|^installed_daemon=\$|installed_daemon=$SHMAPFS_BIN|" \
			"$top/mount-helpers/mount.shmapfs"
	} >"$sbin/mount.shmapfs"
	chmod 0755 "$sbin/mount.shmapfs"
	ln -s mount.shmapfs "$sbin/mount.fuse.shmapfs"
}

remove_helpers()
{
	local n
	for n in $helpers; do
		rm -f "$sbin/$n"
		if [ -e "$sbin/$n.lifecycle-saved" ] ||
			[ -L "$sbin/$n.lifecycle-saved" ]; then
			mv "$sbin/$n.lifecycle-saved" "$sbin/$n"
		fi
	done
}

tmp=${TMPDIR:-/tmp}
wrapper_dir=
cleanup_run()
{
	remove_helpers
	[ -z "$wrapper_dir" ] || rm -rf "$wrapper_dir"
}
trap cleanup_run EXIT
trap 'exit 1' INT TERM

# The fallback data path: every daemon gets -o nopassthrough first (the
# options mount(8) passes come after it, and none of them names the path).
if [ "${SHMAPFS_TEST_DATA_PATH:-}" = nopassthrough ]; then
	wrapper_dir=$(mktemp -d "$tmp/shmapfs-lc-bin.XXXXXX")
	chmod 755 "$wrapper_dir"
	printf '#!/bin/sh\nexec %s -o nopassthrough "$@"\n' \
		"$SHMAPFS_BIN" >"$wrapper_dir/shmapfs"
	chmod 755 "$wrapper_dir/shmapfs"
	SHMAPFS_BIN=$wrapper_dir/shmapfs
fi
echo "lifecycle: data path asked: ${SHMAPFS_TEST_DATA_PATH:-the default}"
install_helpers

# Private mount namespaces per test (see below), where the machine allows.
isolate="unshare --mount --propagation private"
if ! $isolate true 2>/dev/null; then
	echo "run.sh: no mount namespaces here; tests share the machine's"
	isolate=
fi

tests=$(bash -c ". '$here/cases.sh' --list" | grep -E -- "$pattern" || true)
passed=0
failed=0
failed_names=""
start=$(date +%s)
for t in $tests; do
	# Not shmapfs-test.*: run-tests.sh clears mounts there after each
	# program, and a concurrent run of the other tests would take ours.
	root=$(mktemp -d "$tmp/shmapfs-lc.XXXXXX")
	status=$(mktemp "$tmp/shmapfs-lc-status.XXXXXX")
	log=$(mktemp "$tmp/shmapfs-lc-log.XXXXXX")
	t0=$(date +%s%N)
	rc=0
	# A detached daemon's stderr is /dev/null: sanitizer reports go to
	# files (mount(8) passes the environment on), shown if the test fails.
	# Each test runs in a mount namespace of its own: a namespace that
	# another program creates meanwhile (unshare -m in other tests, on a
	# shared machine) would otherwise copy our mounts and keep them, and
	# their daemons, alive after our umount.
	LC_ROOT=$root LC_STATUS=$status LC_TOP=$top SHMAPFS_BIN=$SHMAPFS_BIN \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$log.san \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$log.san \
		$isolate "$LC_REAPER" "$status" timeout -k 5 "$limit" \
		bash ${LC_TRACE:+-x} "$here/cases.sh" "$t" >"$log" 2>&1 || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	secs=$((ms / 1000)).$((ms % 1000 / 100))
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		printf 'ok   %-36s %5ss\n' "$t" "$secs"
		grep -E '^  ' "$log" || true # notes worth reading
	else
		failed=$((failed + 1))
		failed_names="$failed_names $t"
		[ "$rc" = 124 ] && echo "(timed out after ${limit}s)" >>"$log"
		printf 'FAIL %-36s %5ss\n' "$t" "$secs"
		cat "$log" "$log".san.* 2>/dev/null | sed 's/^/     | /'
	fi
	# Belt and braces: the test's own trap should have left nothing.
	awk -v r="$root" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do
		echo "run.sh: $t left $m mounted" >&2
		umount -l "$m" || true
	done
	rm -rf --one-file-system "$root" "$status" "$log" "$log".san.*
done
echo "lifecycle: $(($(date +%s) - start))s"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
