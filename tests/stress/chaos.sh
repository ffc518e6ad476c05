#!/bin/bash
# The chaos soak: the randomized exerciser (tests/stress/exerciser.c, with
# name churn) on a memory-backed and a file-backed shmapfs at once, per
# data path asked for, while
#   - stress-ng keeps twice as many CPU hogs as there are cores busy,
#   - a driver per daemon SIGSTOPs it and SIGCONTs it at random intervals
#     of 0.1-2 s,
#   - the daemons, and the exercisers, run in two memory cgroups whose
#     limits, set after a warm-up, make the kernel reclaim page cache and
#     slabs (see "The limits" below), and the daemons' limit is lowered
#     for a moment every 0.5-2 s (reclaim pulses),
# then checks every mapping, the names, and that every daemon is alive and
# exits 0 at unmount. It prints the figures and exits 0 only if there were
# no mismatches, no ENOTCONN/ECONNABORTED, no false names and no model
# mismatches, every daemon lived and exited 0, and the file-backed
# mappings' backing files match the model.
#
#   tests/stress/chaos.sh [DURATION_S] [DATA_PATHS]
#   DATA_PATHS: "passthrough", "nopassthrough" or both (default both)
#
# Environment: SHMAPFS_BIN, STRESS_EXERCISER (binaries), STRESS_SEED
# (repeat a run), CHAOS_NAMES (name churners per mount, default 2),
# CHAOS_NR_MAPPINGS (the mounts' nr_mappings, small so that creates are
# refused now and then; default 48).
#
# Everything it starts (stress-ng, the drivers, the exercisers, the
# daemons, the mounts, the cgroup, its directory) is stopped and removed
# on every way out: an EXIT trap, and for a SIGKILLed runner, parent-death
# signals for the processes and the removal of cgroups of runners that
# are gone at the next start. Run it in a private mount namespace (make
# chaos / check-chaos do): its mounts are then nobody else's.
set -u

duration=${1:-60}
paths=${2:-passthrough nopassthrough}
shmapfs=$(realpath "${SHMAPFS_BIN:-fs/shmapfs}")
exerciser=$(realpath "${STRESS_EXERCISER:-build/normal/tests/stress/exerciser}")
names=${CHAOS_NAMES:-2}
nr_mappings=${CHAOS_NR_MAPPINGS:-48}
seed=${STRESS_SEED:-}
warmup=$((duration / 6 > 10 ? 10 : duration / 6 + 1))
# A daemon built with AddressSanitizer keeps freed memory in a quarantine
# (256 MiB by default) that fills long after the warm-up: cap it, and
# leave room for it to fill (a daemon, and the 7 processes of an
# exerciser: itself, 4 workers, 2 name churners).
quarantine_mib=0
if ldd "$shmapfs" 2>/dev/null | grep -q libasan; then
	quarantine_mib=2
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=$quarantine_mib"
fi

say() { echo "chaos: $*"; }

# --- cgroup: our own memory cgroup's directory, v1 or v2 ---------------
cg_parent=""
cg_v2=0
if [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
	own=$(sed -n 's/^[0-9]*:[^:]*\bmemory\b[^:]*://p' /proc/self/cgroup)
	cg_parent=/sys/fs/cgroup/memory${own%/}
elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	own=$(sed -n 's/^0:://p' /proc/self/cgroup)
	cg_parent=/sys/fs/cgroup${own%/}
	cg_v2=1
fi
if [ -z "$cg_parent" ] || [ ! -d "$cg_parent" ]; then
	say "no memory cgroup hierarchy found"; exit 1
fi
cg=$cg_parent/shmapfs-chaos-$$
# Two cgroups below it, each with a limit of its own: the daemons, and
# the exercisers (the clients); see "The limits" below.
groups=(daemons clients)

cg_file() { # group v1-name v2-name
	if [ $cg_v2 = 1 ]; then echo "$cg/$1/$3"; else echo "$cg/$1/$2"; fi
}
cg_stat() { # group key (v1 memory.stat's total_KEY, v2's KEY)
	local k=$2
	[ $cg_v2 = 1 ] || k=total_$2
	awk -v k="$k" '$1 == k { print $2 }' "$cg/$1/memory.stat"
}

# Remove a runner's cgroups, killing what still runs in them (bounded).
remove_cgroups() { # dir
	local d t
	for d in "$1"/*/ "$1"; do
		[ -d "$d" ] || continue
		for ((t = 0; t < 200; t++)); do
			rmdir "$d" 2>/dev/null && break
			xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null
			sleep 0.05 # the killed die: polled, bounded
		done
		[ -d "$d" ] && say "could not remove cgroup $d"
	done
}

# Cgroups of runners that were SIGKILLed (their pid is gone).
remove_stale_cgroups() {
	local d pid
	for d in "$cg_parent"/shmapfs-chaos-*; do
		[ -d "$d" ] || continue
		pid=${d##*-}
		kill -0 "$pid" 2>/dev/null && continue
		remove_cgroups "$d"
	done
}

# --- what we start, for cleanup ---------------------------------------
tmp=""
stress_pid=""
driver_pids=()
exerciser_pids=()
daemon_pids=()
mounts=()
cleaned=0

wait_gone() { # pid timeout_s: poll until it is gone (bounded)
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# Abort the FUSE connection of mountpoint m (fusectl, mounted in our own
# directory): a daemon that cannot answer any more (stuck, or dead with a
# thread left) must not keep its mount, and the processes waiting on it,
# hanging.
abort_connection() { # m
	local dev
	dev=$(awk -v m="$1" '$5 == m { split($3, d, ":"); print d[2] }' \
		/proc/self/mountinfo | head -n 1)
	[ -n "$dev" ] || return 0
	mkdir -p "$tmp/fusectl"
	mountpoint -q "$tmp/fusectl" ||
		mount -t fusectl none "$tmp/fusectl" 2>/dev/null || return 0
	[ -e "$tmp/fusectl/$dev/abort" ] && echo 1 >"$tmp/fusectl/$dev/abort"
	say "aborted the connection of $1"
}

# Unmount m, bounded: a plain umount (the daemon then exits), else abort
# its connection and detach it.
# shellcheck disable=SC2317 # reached through the trap
unmount() { # m
	local t r
	for ((t = 0; t < 200; t++)); do
		mountpoint -q "$1" || return 0
		timeout -k 2 10 umount "$1" 2>/dev/null
		r=$?
		[ $r = 0 ] && return 0
		[ $r -ge 124 ] && break # umount itself hung: no answer
		sleep 0.05 # EBUSY a moment after the exerciser: polled, bounded
	done
	abort_connection "$1"
	umount -l "$1" 2>/dev/null
	return 1
}

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	[ "$cleaned" = 1 ] && return
	cleaned=1
	local p m
	for p in "${driver_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${driver_pids[@]}"; do wait "$p" 2>/dev/null; done
	for p in "${daemon_pids[@]}"; do kill -CONT "$p" 2>/dev/null; done
	[ -n "$stress_pid" ] && kill -TERM -- -"$stress_pid" 2>/dev/null
	# each exerciser with its workers is a process group of its own
	for p in "${exerciser_pids[@]}"; do kill -KILL -- -"$p" 2>/dev/null; done
	for m in "${mounts[@]}"; do unmount "$m"; done
	for p in "${daemon_pids[@]}"; do
		wait_gone "$p" 20 || kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$stress_pid" ]; then
		wait_gone "$stress_pid" 10 ||
			kill -KILL -- -"$stress_pid" 2>/dev/null
	fi
	[ -d "$cg" ] && remove_cgroups "$cg"
	[ -n "$tmp" ] && { umount "$tmp/fusectl" 2>/dev/null; rm -rf "$tmp"; }
}
trap cleanup EXIT
trap 'trap "" INT TERM HUP; say interrupted; exit 1' INT TERM HUP

remove_stale_cgroups
mkdir "$cg" "$cg/daemons" "$cg/clients" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmapfs-chaos.XXXXXX") || exit 1
chmod 755 "$tmp"

# Run a command in a cgroup, with a signal for it when the runner dies.
in_cgroup() { # group signal command...
	local group=$1 sig=$2
	shift 2
	# shellcheck disable=SC2016 # the inner shell expands them
	setpriv --pdeathsig "$sig" -- sh -c \
		'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' \
		sh "$cg/$group" "$@"
}

# --- mounts ------------------------------------------------------------
kinds=()  # memory / file, per mount
dpaths=() # data path asked, per mount
taken=()  # data path taken, per mount
n=0
for path in $paths; do
	case $path in
	passthrough) extra="" ;;
	nopassthrough) extra=",nopassthrough" ;;
	*) say "unknown data path $path"; exit 1 ;;
	esac
	for kind in memory file; do
		d=$tmp/$n
		mkdir -p "$d/mnt" "$d/expect"
		src=memory
		if [ $kind = file ]; then mkdir "$d/backing"; src=$d/backing; fi
		# SIGTERM when the runner dies: the daemon unmounts itself.
		in_cgroup daemons TERM "$shmapfs" -f \
			-o "nr_mappings=$nr_mappings$extra" "$src" "$d/mnt" \
			>"$d/daemon.log" 2>&1 &
		daemon_pids+=($!)
		mounts+=("$d/mnt")
		kinds+=("$kind")
		dpaths+=("$path")
		n=$((n + 1))
	done
done

# Wait for every mount to answer (bounded), noting the path taken.
for ((i = 0; i < n; i++)); do
	d=$tmp/$i
	for ((t = 0; t < 200; t++)); do
		mountpoint -q "$d/mnt" && break
		kill -0 "${daemon_pids[$i]}" 2>/dev/null || break
		sleep 0.05
	done
	if ! mountpoint -q "$d/mnt"; then
		say "mount $i (${kinds[$i]}, ${dpaths[$i]}) did not come up:"
		tail -n 20 "$d/daemon.log"
		exit 1
	fi
	for ((t = 0; t < 200; t++)); do
		grep -q "data path:" "$d/daemon.log" && break
		sleep 0.05
	done
	taken[i]=$(sed -n 's/^shmapfs: data path: \([a-z]*\).*/\1/p' \
		"$d/daemon.log" | head -n 1)
done

# --- chaos ---------------------------------------------------------------
cores=$(nproc)
# A session (and process group) of its own, so that its hogs go with it.
setpriv --pdeathsig TERM -- setsid stress-ng --cpu $((2 * cores)) \
	--timeout $((duration + 120))s --quiet >"$tmp/stress-ng.log" 2>&1 &
stress_pid=$!

# Stop and continue pid at random intervals of 0.1-2 s until told to end;
# count the stops in file.
stop_cont() { # pid file
	local pid=$1 file=$2 stops=0
	trap 'kill -CONT $pid 2>/dev/null; echo $stops >"$file"; exit 0' TERM
	rand_s() {
		local ms=$((100 + RANDOM % 1901))
		printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
	}
	while kill -0 "$pid" 2>/dev/null; do
		sleep "$(rand_s)" & wait $!
		kill -STOP "$pid" 2>/dev/null && stops=$((stops + 1))
		echo $stops >"$file"
		sleep "$(rand_s)" & wait $!
		kill -CONT "$pid" 2>/dev/null
	done
}
for ((i = 0; i < n; i++)); do
	stop_cont "${daemon_pids[$i]}" "$tmp/$i/stops" &
	driver_pids+=($!)
done

seed_args=()
[ -n "$seed" ] && seed_args=(--seed "$seed")
t_start=$(date +%s)
for ((i = 0; i < n; i++)); do
	d=$tmp/$i
	in_cgroup clients KILL setsid \
		timeout -k 10 $((duration + 600)) "$exerciser" \
		--dir "$d/mnt" --files 3 --duration "$duration" \
		--names "$names" --expect "$d/expect" "${seed_args[@]}" \
		>"$d/exerciser.log" 2>&1 &
	exerciser_pids+=($!)
done

# The limits. During a warm-up the runner samples each cgroup every
# 0.2 s: its usage, and what of it is not page cache on the file LRUs
# (anonymous memory; shmem: the memory-backed stores, the exercisers'
# models; kernel memory: inodes, dentries, FUSE requests). The daemons'
# limit is their most not-page-cache plus 16 MiB: under load a daemon's
# workers touch more of their 1 MiB request buffers, and its memory-backed
# stores grow (up to 6 MiB a mount); 8 MiB got a daemon OOM-killed. The
# clients' limit is their most not-page-cache plus 24 MiB: with
# passthrough a client that first touches a memory-backed store's page is
# charged for it, and those stores and the clients' slabs grow past what
# the warm-up saw (measured: up to 15 MiB more in 60 s, with older
# daemons too; 8 and 16 MiB of room got an exerciser OOM-killed). So no OOM kill, yet the kernel must reclaim
# page cache (the
# backing files', the FUSE inodes' on the fallback path, written back
# through the daemons) and shrink the slabs whenever they grow; "limit
# hit" in the
# report counts it.
#
# Why two cgroups: with the exercisers in the daemons' cgroup (v1), a
# daemon's own allocation (a page fault while it serves a read) entered
# reclaim and waited for the writeback of a dirty page of a FUSE mount,
# writeback that only a daemon can finish: the daemon, and the mount,
# hung for good (seen with the sanitized build; a killed daemon stayed a
# zombie with that thread in D state until its connection was aborted).
# A FUSE daemon must never share a memory limit with its mount's writers;
# the writers' own reclaim may wait for the daemons, which is the point.
most_usage=(0 0)
most_fixed=(0 0)
for ((t = 0; t < warmup * 5; t++)); do
	sleep 0.2 # sampling for a time, not waiting for a state
	for g in 0 1; do
		usage=$(cat "$(cg_file "${groups[$g]}" memory.usage_in_bytes \
			memory.current)")
		fixed=$((usage - $(cg_stat "${groups[$g]}" active_file) -
			$(cg_stat "${groups[$g]}" inactive_file)))
		((usage > most_usage[g])) && most_usage[g]=$usage
		((fixed > most_fixed[g])) && most_fixed[g]=$fixed
	done
done
for g in 0 1; do
	if [ $g = 0 ]; then # daemons
		limit[g]=$((most_fixed[g] + ((16 + n * quarantine_mib) << 20)))
	else
		extra=$((n * 7 * quarantine_mib << 20))
		limit[g]=$((most_fixed[g] + extra + (24 << 20)))
	fi
	echo "${limit[$g]}" >"$(cg_file "${groups[$g]}" memory.limit_in_bytes \
		memory.max)" || exit 1
	say "warm-up ${warmup} s, ${groups[$g]}: usage up to" \
		"$((most_usage[g] >> 20)) MiB, not page cache up to" \
		"$((most_fixed[g] >> 20)) MiB; limit set to $((limit[g] >> 20)) MiB"
done

# Reclaim pulses on the daemons. Their limit must leave room for what they
# cannot give back (request buffers, memory-backed stores: 8 MiB of room
# got a daemon OOM-killed), so their usage alone seldom reaches it. Every
# 0.5-2 s the runner lowers the limit to halfway between what is not page
# cache and the usage, then puts it back: the kernel reclaims the daemons'
# page cache and slabs before the write returns. A v1 limit written below
# the usage reclaims or fails with EBUSY, never OOM-kills; v2 has
# memory.reclaim for it. The file gets "pulses bytes" taken back.
reclaim_pulses() { # file
	local file=$1 pulses=0 freed=0 usage fixed target after ms
	local lim=$cg/daemons/memory.limit_in_bytes
	restore() { [ $cg_v2 = 1 ] || echo "${limit[0]}" >"$lim" 2>/dev/null; }
	trap 'restore; echo "$pulses $freed" >"$file"; exit 0' TERM
	while :; do
		ms=$((500 + RANDOM % 1501))
		sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))" & wait $!
		usage=$(cat "$(cg_file daemons memory.usage_in_bytes \
			memory.current)")
		fixed=$((usage - $(cg_stat daemons active_file) -
			$(cg_stat daemons inactive_file)))
		((usage - fixed >= 1 << 20)) || continue
		target=$((fixed + (usage - fixed) / 2))
		if [ $cg_v2 = 1 ]; then
			echo $((usage - target)) >"$cg/daemons/memory.reclaim" \
				2>/dev/null || continue
		else
			echo "$target" >"$lim" 2>/dev/null || continue
			echo "${limit[0]}" >"$lim"
		fi
		after=$(cat "$(cg_file daemons memory.usage_in_bytes \
			memory.current)")
		pulses=$((pulses + 1))
		((usage > after)) && freed=$((freed + usage - after))
		echo "$pulses $freed" >"$file"
	done
}
reclaim_pulses "$tmp/pulses" &
driver_pids+=($!)

# --- the end ---------------------------------------------------------------
status=0
for ((i = 0; i < n; i++)); do
	wait "${exerciser_pids[$i]}"
	ex_status[i]=$?
	[ "${ex_status[$i]}" = 0 ] || status=1
done
exerciser_pids=()
elapsed=$(($(date +%s) - t_start))
oom_total=0
for g in 0 1; do
	d=$cg/${groups[$g]}
	peak[g]=$(cat "$(cg_file "${groups[$g]}" memory.max_usage_in_bytes \
		memory.peak)" 2>/dev/null || echo 0)
	if [ $cg_v2 = 1 ]; then
		hits[g]=$(awk '$1 == "max" { print $2 }' "$d/memory.events")
		ooms[g]=$(awk '$1 == "oom_kill" { print $2 }' "$d/memory.events")
	else
		hits[g]=$(cat "$d/memory.failcnt")
		ooms[g]=$(awk '$1 == "oom_kill" { print $2 }' \
			"$d/memory.oom_control")
	fi
	oom_total=$((oom_total + ${ooms[$g]:-0}))
done
for p in "${driver_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${driver_pids[@]}"; do wait "$p" 2>/dev/null; done
driver_pids=()
[ -n "$stress_pid" ] && kill -TERM -- -"$stress_pid" 2>/dev/null

ok_sum() { # \1 or \2: operations or checks of the exercisers' last lines
	sed -n "s/^exerciser: ok .* \([0-9]*\) operations, \([0-9]*\) checks.*/$1/p" \
		"$tmp"/*/exerciser.log | awk '{ s += $1 } END { print s + 0 }'
}
ops=$(ok_sum '\1')
checks=$(ok_sum '\2')
mismatches=$(cat "$tmp"/*/exerciser.log | grep -c MISMATCH)
lost=$(cat "$tmp"/*/exerciser.log | grep -c "CONNECTION LOST")
name_sum() { # field: nth number of the names lines
	cat "$tmp"/*/exerciser.log | sed -n 's/^exerciser: names: //p' |
		awk -v f="$1" '{ s += $f } END { print s + 0 }'
}
name_ops=$(name_sum 3)
refused=$(name_sum 5)
full_checks=$(name_sum 8)
false_names=$(name_sum 11)
model=$(name_sum 14)
named_lines=$(cat "$tmp"/*/exerciser.log | grep -c "^exerciser: names: ")

# Every daemon must be alive now, and exit 0 at unmount.
for ((i = 0; i < n; i++)); do
	pid=${daemon_pids[$i]}
	st=$(ps -o stat= -p "$pid" 2>/dev/null | tr -d ' ')
	case $st in "" | Z*) alive[i]=no; status=1 ;; *) alive[i]=yes ;; esac
done
for ((i = 0; i < n; i++)); do
	d=$tmp/$i
	unmount "$d/mnt"
	if wait_gone "${daemon_pids[$i]}" 30; then
		wait "${daemon_pids[$i]}"
		exit_code[i]=$?
	else
		kill -KILL "${daemon_pids[$i]}"
		exit_code[i]=killed
	fi
	[ "${exit_code[$i]}" = 0 ] || status=1
	backing_ok[i]=-
	if [ "${kinds[$i]}" = file ] && [ "${ex_status[$i]}" = 0 ]; then
		backing_ok[i]=yes
		for f in "$d"/expect/map*; do
			cmp -s "$f" "$d/backing/${f##*/}" || backing_ok[i]=NO
		done
		[ "${backing_ok[$i]}" = yes ] || status=1
	fi
done
daemon_pids=()

# --- report ----------------------------------------------------------------
say "$elapsed s on $n mounts, $cores cores with $((2 * cores)) CPU hogs," \
	"daemons stopped and continued every 0.1-2 s"
for ((i = 0; i < n; i++)); do
	d=$tmp/$i
	say "mount $i: ${kinds[$i]}-backed, ${dpaths[$i]} asked," \
		"${taken[$i]:-?} taken; exerciser exit ${ex_status[$i]};" \
		"daemon stopped $(cat "$d/stops" 2>/dev/null || echo 0) times," \
		"alive at the end: ${alive[$i]}, exit ${exit_code[$i]};" \
		"backing files match: ${backing_ok[$i]}"
done
say "operations $ops, checks $checks, mismatches $mismatches," \
	"ENOTCONN/ECONNABORTED seen $lost"
say "names: $name_ops operations, $refused creates refused (ENOSPC)," \
	"$full_checks full checks, false names $false_names, model" \
	"mismatches $model"
for g in 0 1; do
	say "memory, ${groups[$g]}: limit $((limit[g] >> 20)) MiB, peak" \
		"$((peak[g] >> 20)) MiB, limit hit ${hits[$g]} times, OOM kills" \
		"${ooms[$g]:-0}"
done
read -r pulses freed <"$tmp/pulses" 2>/dev/null || pulses=0 freed=0
say "memory, daemons: $pulses reclaim pulses took back" \
	"$((freed >> 20)) MiB in all"
[ "$mismatches" = 0 ] && [ "$lost" = 0 ] && [ "$false_names" = 0 ] &&
	[ "$model" = 0 ] && [ "$oom_total" = 0 ] &&
	[ "$named_lines" = "$n" ] || status=1
if [ $status != 0 ]; then
	for ((i = 0; i < n; i++)); do
		say "--- mount $i exerciser (last lines)"
		grep -v "^exerciser: seed=.*s: .* phases" "$tmp/$i/exerciser.log" |
			tail -n 15
		say "--- mount $i daemon (last lines)"
		tail -n 10 "$tmp/$i/daemon.log"
	done
	say "FAILED"
	exit 1
fi
say "ok"
exit 0
