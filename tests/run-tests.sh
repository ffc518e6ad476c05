#!/bin/bash
# Run Check test programs one after another, each with a time limit and in
# a private mount namespace of its own; clear
# any shmapfs mount or daemon that a crashed test left behind; print one
# closing line "N passed, N failed" and exit non-zero if anything failed.
set -u
limit=${TEST_TIMEOUT:-600}
passed=0
failed=0
failed_progs=""

# Mounts of this run live under a directory of its own, so that clearing
# what a crashed test left never touches another run's mounts.
SHMAPFS_TEST_TMP=$(mktemp -d /tmp/shmapfs-run.XXXXXX)
chmod 755 "$SHMAPFS_TEST_TMP"
export SHMAPFS_TEST_TMP

clear_leftovers() {
	grep -o " $SHMAPFS_TEST_TMP/[^ ]*" /proc/mounts 2>/dev/null |
		while read -r m; do umount -l "$m" 2>/dev/null; done
}

for prog in "$@"; do
	echo "== $prog"
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
	if [ -n "$line" ]; then
		c=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + c - f - e))
		failed=$((failed + f + e))
	fi
	if [ "$rc" != 0 ] || [ -z "$line" ]; then
		[ -z "$line" ] && failed=$((failed + 1))
		failed_progs="$failed_progs $prog"
	fi
	clear_leftovers
done
rm -rf "$SHMAPFS_TEST_TMP"
[ -n "$failed_progs" ] && echo "failed programs:$failed_progs"
echo "$passed passed, $failed failed"
[ -z "$failed_progs" ]
