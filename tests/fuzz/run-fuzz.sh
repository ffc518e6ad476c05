#!/bin/bash
# Run libFuzzer targets: run-fuzz.sh SECONDS BINDIR TARGET...
#
# For each target: replay its regression inputs (tests/fuzz/regressions/
# TARGET/*, except those listed in tests/fuzz/regressions/DISABLED), then
# fuzz for SECONDS from its seeds (tests/fuzz/corpus/TARGET), keeping new
# inputs in BINDIR/corpus/TARGET and crashes in BINDIR/artifacts. Prints
# one line per target with libFuzzer's count of executions, and exits
# non-zero if any target crashed, leaked or broke an invariant.
# FUZZ_PARALLEL=1 runs the targets at once (make check).
set -eu

if [ $# -lt 3 ]; then
	echo "usage: $0 SECONDS BINDIR TARGET..." >&2
	exit 1
fi
seconds=$1
bindir=$2
shift 2
here=$(dirname "$0")
disabled="$here/regressions/DISABLED"

max_len() {
	case $1 in
	fuzz_options) echo 512 ;;
	*) echo 4096 ;;
	esac
}

# Replay the regression inputs of one target that are not disabled.
replay() {
	local target=$1 log=$2 f
	local inputs=()
	for f in "$here/regressions/$target"/*; do
		[ -f "$f" ] || continue
		if [ -f "$disabled" ] &&
			grep -qxF "$target/$(basename "$f")" "$disabled"; then
			echo "$target: skipping disabled regression $(basename "$f")"
			continue
		fi
		inputs+=("$f")
	done
	[ ${#inputs[@]} -gt 0 ] || return 0
	if ! timeout -k 10 300 "$bindir/$target" -timeout=25 "${inputs[@]}" \
		>"$log" 2>&1; then
		echo "$target: FAILED on a regression input (log: $log)"
		tail -n 40 "$log"
		return 1
	fi
	echo "$target: ${#inputs[@]} regression inputs pass"
}

# Fuzz one target for $seconds; print its executions.
fuzz_one() {
	local target=$1
	local log="$bindir/$target.log"
	local work="$bindir/corpus/$target"
	local seeds="$here/corpus/$target"
	mkdir -p "$work" "$bindir/artifacts"
	replay "$target" "$bindir/$target.replay.log" || return 1
	local dirs=("$work")
	[ -d "$seeds" ] && dirs+=("$seeds")
	local rc=0
	timeout -k 10 $((seconds + 120)) "$bindir/$target" \
		-max_total_time="$seconds" -print_final_stats=1 \
		-timeout=25 -rss_limit_mb=2560 -max_len="$(max_len "$target")" \
		-artifact_prefix="$bindir/artifacts/$target-" \
		"${dirs[@]}" >"$log" 2>&1 || rc=$?
	local execs
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -n 1)
	if [ $rc -ne 0 ]; then
		echo "$target: FAILED (exit $rc) after ${execs:-?} executions;" \
			"log: $log"
		grep -E '^(==[0-9]+==|SUMMARY|fuzz_registry|.*invariant)' \
			"$log" | head -n 20 || true
		grep -E 'Test unit written to' "$log" || true
		return 1
	fi
	echo "$target: ${execs:-?} executions in $seconds s, no failure" \
		"(corpus: $(find "$work" -type f | wc -l) inputs)"
}

failed=0
if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
	pids=()
	for t in "$@"; do
		fuzz_one "$t" >"$bindir/$t.summary" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed=1
		cat "$bindir/${*:$((i + 1)):1}.summary"
	done
else
	for t in "$@"; do
		fuzz_one "$t" || failed=1
	done
fi
exit $failed
