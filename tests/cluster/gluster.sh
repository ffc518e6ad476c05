# shellcheck shell=bash
# A single-node GlusterFS volume on this machine, for the cluster test
# (tests/cluster/run.sh sources this): glusterd with its working, run and
# log directories under GL_ROOT, one brick there, the volume mounted by
# the FUSE client at as many mount points as the test wants ("hosts").
# Every address is on the loopback range: glusterd and the brick listen on
# 127.0.0.1 only, and the volume is named by a host name that resolves to
# 127.x and nothing else (glusterd refuses a literal loopback address).
#
# Every wait is bounded; gluster_down clears everything gluster_up made,
# whatever state it was left in, and is safe to call twice.
#
# The caller provides fail MESSAGE (never returns) and wait_for SECONDS
# CONDITION (polls a shell condition).

GL_VOLUME=shmapfs-cluster
GL_PORT=24007
GL_ROOT=
GL_HOST=
GL_CLIENTS=() # "PID MOUNTPOINT" of each FUSE client we started
GL_PID=       # the client gluster_mount started last
GL_LEFT=()    # files the brick makes outside GL_ROOT (its socket, its log)

# The volume's CLI, talking to our glusterd only (through its socket).
gl()
{
	timeout -k 5 60 gluster --mode=script \
		--glusterd-sock="$GL_ROOT/run/glusterd.socket" \
		--log-file="$GL_ROOT/log/cli.log" "$@"
}

# A host name for the brick that resolves to 127.x and to nothing else,
# so that no byte of the volume's traffic leaves the loopback range.
gl_loopback_host()
{
	local name addrs
	for name in $(hostname) $(hostname -f 2>/dev/null); do
		addrs=$(getent ahostsv4 "$name" | awk '{ print $1 }' | sort -u)
		[ -n "$addrs" ] || continue
		if ! grep -qv '^127\.' <<<"$addrs"; then
			echo "$name"
			return 0
		fi
	done
	return 1
}

# Is something already listening on glusterd's port?
gl_port_busy()
{
	ss -Hltn "sport = :$GL_PORT" | grep -q .
}

gl_brick_pids()
{
	cat "$GL_ROOT"/run/vols/*/*.pid 2>/dev/null
}

# The files a brick process names on its command line (-S SOCKET, -l LOG)
# that are not under GL_ROOT: gluster_down removes them.
gl_note_brick_files()
{
	local pid arg prev=
	for pid in $(gl_brick_pids); do
		while IFS= read -r -d '' arg; do
			case "$prev" in -S | -l)
				[[ "$arg" == "$GL_ROOT"/* ]] || GL_LEFT+=("$arg") ;;
			esac
			prev=$arg
		done <"/proc/$pid/cmdline"
	done
}

# gluster_up ROOT: glusterd, then the volume (one brick under ROOT),
# started, with its brick process up.
gluster_up()
{
	GL_ROOT=$1
	mkdir -p "$GL_ROOT"/{work,run,log,brick}
	GL_HOST=$(gl_loopback_host) ||
		fail "no host name of this machine resolves only to 127.x" \
			"(getent ahostsv4 $(hostname): $(getent ahostsv4 \
				"$(hostname)" | head -1)); add one to /etc/hosts"
	gl_port_busy &&
		fail "port $GL_PORT is in use (another glusterd?):" \
			"$(ss -Hltnp "sport = :$GL_PORT")"
	cat >"$GL_ROOT/glusterd.vol" <<-EOF
		volume management
		    type mgmt/glusterd
		    option working-directory $GL_ROOT/work
		    option run-directory $GL_ROOT/run
		    option logging-directory $GL_ROOT/log
		    option glusterd-sockfile $GL_ROOT/run/glusterd.socket
		    option transport-type socket
		    option transport.address-family inet
		    option transport.socket.bind-address 127.0.0.1
		    option transport.socket.listen-port $GL_PORT
		    option ping-timeout 0
		    option event-threads 1
		end-volume
	EOF
	glusterd -N -f "$GL_ROOT/glusterd.vol" \
		-l "$GL_ROOT/log/glusterd.log" -p "$GL_ROOT/glusterd.pid" \
		>"$GL_ROOT/log/glusterd.out" 2>&1 &
	echo $! >"$GL_ROOT/glusterd.pid.ours"
	wait_for 120 "gl volume list >/dev/null 2>&1" ||
		fail "glusterd did not answer within 120 s:
$(tail -5 "$GL_ROOT/log/glusterd.log")"
	# The brick is on the root filesystem: 'force' says we mean it.
	gl volume create "$GL_VOLUME" "$GL_HOST:$GL_ROOT/brick" force \
		>/dev/null || fail "gluster volume create failed:
$(tail -5 "$GL_ROOT/log/glusterd.log")"
	# Gluster's profile for programs that share data through locks
	# (databases): no client-side write-behind nor caches of data and
	# attributes, so what one client wrote and unlocked, the next
	# locker reads. Its working directory has no copy of the groups.
	mkdir -p "$GL_ROOT/work/groups"
	cp /var/lib/glusterd/groups/db-workload "$GL_ROOT/work/groups/" ||
		fail "no /var/lib/glusterd/groups/db-workload (glusterfs-server)"
	gl volume set "$GL_VOLUME" group db-workload >/dev/null ||
		fail "gluster volume set group db-workload failed:
$(tail -5 "$GL_ROOT/log/glusterd.log")"
	gl volume start "$GL_VOLUME" >/dev/null ||
		fail "gluster volume start failed"
	wait_for 120 "gl volume status $GL_VOLUME detail 2>/dev/null |
		grep -q '^Online.*: Y'" ||
		fail "the brick did not come online within 120 s:
$(gl volume status "$GL_VOLUME" 2>&1)"
	gl_note_brick_files
}

# Is DIR a mount point of type TYPE in our mount namespace?
gl_mounted()
{
	awk -v d="$1" -v t="$2" '$5 == d {
		for (i = 7; $i != "-"; i++); if ($(i + 1) == t) found = 1 }
		END { exit !found }' /proc/self/mountinfo
}

# gluster_mount DIR: one more client ("host") of the volume at DIR. The
# client stays in the foreground (-N), a child of this shell, so we hold
# its pid (in GL_PID) and end it at the end whatever its mount became.
gluster_mount()
{
	local dir=$1
	mkdir -p "$dir"
	# No kernel caching of entries and attributes either: the mount
	# above it (shmapfs) states its own bound (actimeo).
	glusterfs -N --volfile-server="$GL_HOST" --volfile-id="$GL_VOLUME" \
		--attribute-timeout=0 --entry-timeout=0 --negative-timeout=0 \
		--log-file="$GL_ROOT/log/client-$(basename "$dir").log" \
		"$dir" >/dev/null 2>&1 &
	GL_PID=$!
	GL_CLIENTS+=("$GL_PID $dir")
	wait_for 120 "gl_mounted '$dir' fuse.glusterfs" ||
		fail "the gluster client did not mount $dir within 120 s:
$(tail -5 "$GL_ROOT/log/client-$(basename "$dir").log")"
}

# gluster_kill_client PID: the client dies as with its host (SIGKILL),
# and its mount, now dead, is taken away.
gluster_kill_client()
{
	local entry
	{ kill -KILL "$1" && wait "$1"; } 2>/dev/null # no "Killed" notice
	for entry in "${GL_CLIENTS[@]}"; do
		[ "${entry%% *}" = "$1" ] && umount -l "${entry#* }" 2>/dev/null
	done
	return 0
}

# Unmount every client, stop and delete the volume, end glusterd and the
# brick, remove GL_ROOT. Bounded; never fails; quiet (errors here are of
# things already gone, and the shell's "Killed" notices).
gluster_down()
{
	[ -n "$GL_ROOT" ] && [ -d "$GL_ROOT" ] || return 0
	local entry pid dir
	for entry in "${GL_CLIENTS[@]}"; do
		pid=${entry%% *} dir=${entry#* }
		gl_mounted "$dir" fuse.glusterfs &&
			{ umount "$dir" 2>/dev/null || umount -l "$dir"; }
		wait_for 10 "! kill -0 $pid 2>/dev/null" ||
			kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	GL_CLIENTS=()
	local bricks
	bricks=$(gl_brick_pids)
	if [ -S "$GL_ROOT/run/glusterd.socket" ]; then
		gl volume stop "$GL_VOLUME" force >/dev/null 2>&1
		gl volume delete "$GL_VOLUME" >/dev/null 2>&1
	fi
	for pid in $bricks; do
		kill -TERM "$pid" 2>/dev/null
		wait_for 10 "! kill -0 $pid 2>/dev/null" ||
			kill -KILL "$pid" 2>/dev/null
	done
	if [ -f "$GL_ROOT/glusterd.pid.ours" ]; then
		pid=$(cat "$GL_ROOT/glusterd.pid.ours")
		kill -TERM "$pid" 2>/dev/null
		wait_for 10 "! kill -0 $pid 2>/dev/null" ||
			kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -f "${GL_LEFT[@]}"
	GL_LEFT=()
	rm -rf "$GL_ROOT"
	GL_ROOT=
	return 0
} 2>/dev/null
