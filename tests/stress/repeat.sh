#!/bin/sh
# Run one make target N times in a row and stop at the first failure, for
# tests that fail rarely (a race under load): prints how many runs passed
# and failed, and the failed run's output. Exit status 0 if all passed.
#
#   tests/stress/repeat.sh N TARGET [MAKE_ARGS...]
#   e.g. tests/stress/repeat.sh 100 check-valgrind
#
# Load the machine beside it to shake out races, e.g. stress-ng --cpu 4.
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 N TARGET [MAKE_ARGS...]" >&2
	exit 2
fi
n=$1
target=$2
shift 2
log=$(mktemp "${TMPDIR:-/tmp}/repeat.XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT
passed=0
failed=0
i=0
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	if make --no-print-directory "$target" "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "run $i of $n passed"
	else
		failed=1
		echo "run $i of $n failed; its output:"
		cat "$log"
		break
	fi
done
echo "$target: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
