#!/bin/bash
# Lifecycle tests: shmapfs mounted with the real mount(8) (through the
# installed mount.shmapfs helper), from fstab files, and taken down every
# way there is: umount, umount -l, fusermount3 -u, SIGTERM, SIGINT,
# SIGKILL; failures to mount; make install / uninstall. One test_* function
# per case; run.sh runs each in its own process:
#
#   bash tests/lifecycle/cases.sh test_NAME     (LC_* set by run.sh)
#   bash tests/lifecycle/cases.sh --list
#
# The daemon runs detached (no -f), as mount(8) starts it; its exit status
# comes from the reaper run.sh puts above us.
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

# Exit codes the daemon documents (shmapfs(8)).
EXIT_USAGE=1
EXIT_BACKING=2
EXIT_MOUNT=3

# --- make install / uninstall ---------------------------------------------

# Install into DESTDIR with PREFIX, check the list of files, uninstall and
# check that nothing is left.
install_roundtrip()
{
	local prefix=$1 dest f
	dest=$(newdir dest)
	must make -s -C "$LC_TOP" install DESTDIR="$dest" PREFIX="$prefix" \
		>/dev/null
	(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort) >"$LC_ROOT/list"
	note "installed: $(tr '\n' ' ' <"$LC_ROOT/list")"
	for f in "$prefix/bin/shmapfs" "$prefix/share/man/man8/mount.shmapfs.8" \
		"$prefix/share/man/man8/mount.fuse.shmapfs.8" \
		/usr/sbin/mount.shmapfs /usr/sbin/mount.fuse.shmapfs \
		/lib/systemd/system/run-shmap.mount; do
		grep -qxF "$f" "$LC_ROOT/list" || fail "install did not put $f"
	done
	if [ -f "$LC_TOP/fs/shmapfs.8" ]; then
		grep -qxF "$prefix/share/man/man8/shmapfs.8" "$LC_ROOT/list" ||
			fail "install did not put the daemon's man page"
	fi
	if [ -f "$LC_TOP/lib/lib.mk" ]; then
		grep -qE '/libshmap\.so' "$LC_ROOT/list" ||
			fail "install did not put the library"
		grep -qE '/include/.*\.h$' "$LC_ROOT/list" ||
			fail "install did not put the library's header"
		grep -qE '/pkgconfig/.*\.pc$' "$LC_ROOT/list" ||
			fail "install did not put the pkg-config file"
	fi
	[ -x "$dest$prefix/bin/shmapfs" ] || fail "installed daemon not executable"
	[ -x "$dest/usr/sbin/mount.shmapfs" ] || fail "helper not executable"
	[ "$(readlink "$dest/usr/sbin/mount.fuse.shmapfs")" = mount.shmapfs ] ||
		fail "mount.fuse.shmapfs is not a link to mount.shmapfs"
	grep -qx "installed_daemon=$prefix/bin/shmapfs" \
		"$dest/usr/sbin/mount.shmapfs" ||
		fail "installed helper does not point at $prefix/bin/shmapfs"
	must make -s -C "$LC_TOP" uninstall DESTDIR="$dest" PREFIX="$prefix" \
		>/dev/null
	left=$(cd "$dest" && find . ! -type d)
	[ -z "$left" ] || fail "uninstall left: $left"
}

test_install_destdir()
{
	install_roundtrip /usr/local
}

test_install_prefix_usr()
{
	install_roundtrip /usr
}

# What a real install may touch: files and directories, and the loader's
# cache's lines for the library.
system_snapshot()
{
	find /usr/local /usr/sbin /usr/lib/systemd/system -xdev 2>/dev/null |
		sort
	ldconfig -p | grep -F libshmap || true
}

# Put back what was saved under DIR (as DIR/PATH) before an install.
restore_saved()
{
	(cd "$1" && find . ! -type d | sed 's|^\.||') |
		while read -r f; do cp -a "$1$f" "$f"; done
}

# Run by lc_cleanup when test_install_system fails half-way.
undo_system_install()
{
	make -s -C "$LC_TOP" uninstall >/dev/null 2>&1
	restore_saved "$LC_ROOT/saved"
}

# A plain `make install` (no DESTDIR, the default PREFIX), then the README's
# example built as the README says (cc example.c $(pkg-config --cflags
# --libs shmap)) must run as it stands; `make uninstall` must then leave the
# system as it found it, the loader's cache included. Whatever the install
# overwrites (run.sh's helpers in /usr/sbin, a real install) is put back.
test_install_system()
{
	local dest saved f
	# What a user installs: the normal build, whatever make runs us (make
	# passes its command line on in the environment too).
	unset MAKEFLAGS MFLAGS MAKELEVEL SANITIZE BUILD
	dest=$(newdir dest)
	saved=$(newdir saved)
	must make -s -C "$LC_TOP" install DESTDIR="$dest" >/dev/null
	(cd "$dest" && find . ! -type d | sed 's|^\.||') >"$LC_ROOT/files"
	while read -r f; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			mkdir -p "$saved$(dirname "$f")"
			cp -a "$f" "$saved$f"
		fi
	done <"$LC_ROOT/files"
	system_snapshot >"$LC_ROOT/before"

	LC_UNDO=undo_system_install # whatever happens from here on
	must make -s -C "$LC_TOP" install >/dev/null
	ldconfig -p | grep -qF 'libshmap.so.0 ' ||
		fail "make install left libshmap.so.0 out of the loader's cache"
	INSTALLED=/ SHMAPFS_BIN=/usr/local/bin/shmapfs \
		timeout -k 5 120 "$LC_TOP/tests/lib/readme-example.sh" \
		"$LC_TOP/README.md" >"$LC_ROOT/example.log" 2>&1 ||
		fail "the README's example against the installed library:
$(cat "$LC_ROOT/example.log")"
	LC_UNDO=
	must make -s -C "$LC_TOP" uninstall >/dev/null
	restore_saved "$saved"
	system_snapshot >"$LC_ROOT/after"
	diff "$LC_ROOT/before" "$LC_ROOT/after" >"$LC_ROOT/diff" ||
		fail "make uninstall did not leave the system as it was:
$(cat "$LC_ROOT/diff")"
}

# --- the helper on its own --------------------------------------------------

# What the helper would run, with "echo" standing in for the daemon.
helper_says()
{
	SHMAPFS_DAEMON="echo" "$LC_TOP/mount-helpers/mount.shmapfs" "$@"
}

test_helper_options()
{
	local out
	out=$(helper_says none /m -o rw,defaults,auto,noauto,nofail,_netdev,user,users,nouser,owner,group,comment=x,x-systemd.requires=a.mount,x-gvfs-show,size=1g,mode=1777,nosuid)
	[ "$out" = "-o size=1g,mode=1777,nosuid,fsname=none /m" ] ||
		fail "memory-backed: got '$out'"
	out=$(helper_says memory /m)
	[ "$out" = "-o fsname=memory /m" ] || fail "memory: got '$out'"
	out=$(helper_says shmapfs /m -o defaults,fsname=mine)
	[ "$out" = "-o fsname=mine /m" ] || fail "shmapfs spec: got '$out'"
	out=$(cd / && helper_says var/b m -s -n -o ro -t fuse.shmapfs)
	[ "$out" = "-o ro /var/b /m" ] || fail "relative paths: got '$out'"
	out=$(helper_says /b /m -oro,noatime -o allow_other)
	[ "$out" = "-o ro,noatime,allow_other /b /m" ] ||
		fail "several -o: got '$out'"
	# -f: fake (says, with -v, what it would run, runs nothing).
	out=$(helper_says /b /m -fv -o size=1m 2>&1)
	case $out in
	*"echo -o size=1m /b /m") ;;
	*) fail "-fv: got '$out'" ;;
	esac
	out=$(helper_says none /m -fv -o remount,ro,size=1g,nosuid 2>&1)
	case $out in
	*": mount -i -o remount,ro,nosuid /m") ;;
	*) fail "remount: got '$out'" ;;
	esac
	# Which daemon: in the source tree, the one in ../fs; none found: 4.
	out=$(env -u SHMAPFS_DAEMON "$LC_TOP/mount-helpers/mount.shmapfs" \
		none /m -fv 2>&1)
	case $out in
	*"/mount-helpers/../fs/shmapfs -o fsname=none /m") ;;
	*) fail "daemon in the tree: got '$out'" ;;
	esac
	cp "$LC_TOP/mount-helpers/mount.shmapfs" "$LC_ROOT/"
	if PATH=/usr/bin:/bin command -v shmapfs >/dev/null; then
		note "a shmapfs is installed on PATH: 'no daemon' not checked"
	else
		must_fail env -u SHMAPFS_DAEMON PATH=/usr/bin:/bin \
			"$LC_ROOT/mount.shmapfs" none /m -f 2>"$LC_ROOT/err"
		[ "$rc" = 4 ] || fail "no daemon: exit $rc, not 4"
		grep -q "cannot find the shmapfs daemon" "$LC_ROOT/err" ||
			fail "no daemon: said '$(cat "$LC_ROOT/err")'"
	fi
	must_fail "$LC_TOP/mount-helpers/mount.shmapfs" 2>/dev/null
	[ "$rc" = "$EXIT_USAGE" ] || fail "no arguments: exit $rc, not 1"
	must_fail "$LC_TOP/mount-helpers/mount.shmapfs" none 2>/dev/null
	must_fail "$LC_TOP/mount-helpers/mount.shmapfs" none /m -q 2>/dev/null
}

# --- mounting with mount(8) -------------------------------------------------

# mount -o remount: no second daemon; the generic flags change in place
# (also with fstab's own options, size= and all, merged in by mount(8)).
test_remount()
{
	local mnt tab=$LC_ROOT/fstab
	mnt=$(newdir mnt)
	echo "none $mnt shmapfs size=8m,mode=1777,nofail 0 0" >"$tab"
	lc_mount "$mnt" -T "$tab" "$mnt"
	echo a >"$mnt/a"
	must mount -T "$tab" -o remount,ro "$mnt"
	[ "$(grep -c " $mnt " /proc/self/mountinfo)" = 1 ] ||
		fail "remount mounted a second shmapfs"
	[ "$(daemon_pid "$mnt")" = "$DAEMON" ] || fail "another daemon runs"
	! (echo b >"$mnt/b") 2>/dev/null || fail "writable after remount,ro"
	[ "$(cat "$mnt/a")" = a ] || fail "unreadable after remount,ro"
	must mount -T "$tab" -o remount,rw "$mnt"
	echo c >"$mnt/c" || fail "read-only after remount,rw"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
}

# mount -N: the helper mounts in another mount namespace, not in ours.
test_mount_namespace()
{
	local mnt ns
	mnt=$(newdir mnt)
	unshare --mount --propagation private sleep 60 &
	ns=$!
	LC_KILL=$ns # its namespace, and our mount there, go with it
	wait_for 5 "[ \"\$(readlink /proc/$ns/ns/mnt)\" != \"\$(readlink /proc/self/ns/mnt)\" ]" ||
		fail "no new mount namespace"
	must mount -N "$ns" -t shmapfs none "$mnt" -o size=4m
	! is_mounted "$mnt" || fail "mounted in our namespace, not in $ns's"
	grep -q " $mnt " "/proc/$ns/mountinfo" ||
		fail "not mounted in the namespace of $ns"
	DAEMON=$(daemon_pid "$mnt") || fail "no daemon"
	must nsenter --target "$ns" --mount umount "$mnt"
	expect_exit0 "$DAEMON"
}

test_mount_memory()
{
	local mnt
	mnt=$(newdir mnt)
	lc_mount "$mnt" -t shmapfs none "$mnt" -o size=16m,mode=1777
	[ "$(findmnt -rn -o SOURCE "$mnt")" = none ] ||
		fail "source shows as $(findmnt -rn -o SOURCE "$mnt"), not none"
	case $(fs_type "$mnt") in
	fuse.shmapfs) ;;
	*) fail "type $(fs_type "$mnt")" ;;
	esac
	[ "$(stat -c %a "$mnt")" = 1777 ] ||
		fail "mode of the root is $(stat -c %a "$mnt"), not 1777"
	echo hello >"$mnt/greeting"
	[ "$(cat "$mnt/greeting")" = hello ] || fail "read back"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
	! is_mounted "$mnt" || fail "still mounted"
	[ ! -e "$mnt/greeting" ] || fail "memory-backed file outlived the mount"
	# The generic flags ("user" in fstab implies them) reach the kernel.
	lc_mount "$mnt" -t shmapfs memory "$mnt" -o nosuid,nodev,noexec
	grep " $mnt " /proc/self/mountinfo | grep -q noexec ||
		fail "noexec did not reach the mount"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
}

test_mount_backed()
{
	local mnt back
	mnt=$(newdir mnt)
	back=$(newdir back)
	echo before >"$back/old"
	lc_mount "$mnt" -t shmapfs "$back" "$mnt"
	[ "$(cat "$mnt/old")" = before ] || fail "existing backing file not seen"
	# Locked while a process has the mapping open, free while it is idle.
	exec 9<"$mnt/old"
	lock_free "$back/old" && fail "backing file of an open mapping is not locked"
	exec 9<&-
	echo new >"$mnt/new"
	[ -f "$back/new" ] || fail "no backing file for a new mapping"
	eventually lock_free "$back/new" ||
		fail "backing file of an idle mapping still locked"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
	holds "$back/new" new || fail "written data not in the backing file"
	lock_free "$back/new" || fail "lock still held after the daemon exited"
}

test_mount_fuse_type()
{
	local mnt back
	mnt=$(newdir mnt)
	back=$(newdir back)
	lc_mount "$mnt" -t fuse.shmapfs none "$mnt" -o size=8m
	echo x >"$mnt/x"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
	lc_mount "$mnt" -t fuse.shmapfs "$back" "$mnt" -o defaults,nofail
	echo y >"$mnt/y"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
	holds "$back/y" y || fail "file-backed via fuse.shmapfs: data lost"
}

test_fstab()
{
	local m1 m2 m3 back tab d1 d2
	m1=$(newdir m1)
	m2=$(newdir m2)
	m3=$(newdir m3)
	back=$(newdir back)
	tab=$LC_ROOT/fstab
	cat >"$tab" <<-EOF
		# a temporary fstab: never the machine's own
		none $m1 shmapfs size=8m,mode=1777,defaults,nofail,_netdev,x-systemd.requires=local-fs.target,comment=test 0 0
		$back $m2 fuse.shmapfs defaults,nofail 0 0
		none $m3 shmapfs noauto,size=8m 0 0
	EOF
	must mount -T "$tab" "$m1"
	is_mounted "$m1" || fail "mount -T FILE $m1 did not mount"
	[ "$(stat -c %a "$m1")" = 1777 ] || fail "fstab options not passed"
	d1=$(daemon_pid "$m1") || fail "no daemon for $m1"
	must mount -a -T "$tab"
	is_mounted "$m2" || fail "mount -a did not mount $m2"
	! is_mounted "$m3" || fail "mount -a mounted a noauto line"
	d2=$(daemon_pid "$m2") || fail "no daemon for $m2"
	# Again: what is mounted is seen as such, not mounted twice.
	must mount -a -T "$tab"
	[ "$(grep -c " $m1 " /proc/self/mountinfo)" = 1 ] ||
		fail "mount -a mounted $m1 a second time"
	[ "$(grep -c " $m2 " /proc/self/mountinfo)" = 1 ] ||
		fail "mount -a mounted $m2 a second time"
	echo kept >"$m2/f"
	must umount "$m1"
	must umount "$m2"
	expect_exit0 "$d1"
	expect_exit0 "$d2"
	holds "$back/f" kept || fail "fstab file-backed mount lost data"
	# noauto lines still mount by name.
	must mount -T "$tab" "$m3"
	DAEMON=$(daemon_pid "$m3") || fail "no daemon for $m3"
	must umount "$m3"
	expect_exit0 "$DAEMON"
}

test_bad_option()
{
	local mnt err opt
	mnt=$(newdir mnt)
	err=$LC_ROOT/err
	for opt in no_such_option size=lots nr_mappings=-1; do
		must_fail mount -t shmapfs none "$mnt" -o "$opt" 2>"$err"
		note "-o $opt: exit $rc: $(head -n 1 "$err")"
		[ "$rc" = "$EXIT_USAGE" ] || fail "-o $opt: exit $rc, not 1"
		[ -s "$err" ] || fail "-o $opt: nothing said on stderr"
		[ "$(grep -c . "$err")" -le 2 ] || fail "-o $opt: not one clear line: $(cat "$err")"
		! is_mounted "$mnt" || fail "-o $opt: mounted anyway"
		! daemon_pid "$mnt" >/dev/null || fail "-o $opt: daemon left running"
	done
}

# --- orderly ways down: everything written out, lock released, exit 0 ------

# Mount BACK at MNT; write() a file and leave dirty pages from a view that
# a live process has unmapped (umount refuses while a view is mapped).
dirty_after_unmap()
{
	lc_mount "$mnt" -t shmapfs "$back" "$mnt"
	printf 'written-by-write\n' >"$mnt/w"
	truncate -s 8192 "$mnt/v"
	viewer_start
	viewer open "$mnt/v" 8192
	viewer store 0 stored-by-view
	viewer store 4096 second-page
	lock_free "$back/v" && fail "backing file not locked while mapped"
	viewer close
	return 0
}

expect_written_out()
{
	holds "$back/w" written-by-write || fail "write() data not written out"
	holds "$back/v" stored-by-view || fail "stores through a view lost"
	holds "$back/v" second-page || fail "second page of the view lost"
	lock_free "$back/v" || fail "lock on the backing file not released"
	lock_free "$back/w" || fail "lock on the backing file not released"
	! is_mounted "$mnt" || fail "still mounted"
}

test_umount_writes_out()
{
	local mnt back
	mnt=$(newdir mnt)
	back=$(newdir back)
	dirty_after_unmap
	# With a view still mapped, umount must refuse and change nothing.
	viewer open "$mnt/v" 8192
	must_fail umount "$mnt" 2>/dev/null
	viewer load 0 14
	[ "$REPLY" = stored-by-view ] || fail "view after a refused umount"
	viewer close
	must umount "$mnt"
	expect_exit0 "$DAEMON"
	expect_written_out
	viewer_stop
}

test_fusermount_writes_out()
{
	local mnt back
	mnt=$(newdir mnt)
	back=$(newdir back)
	dirty_after_unmap
	must fusermount3 -u "$mnt"
	expect_exit0 "$DAEMON"
	expect_written_out
	viewer_stop
}

# SIGTERM / SIGINT with a view still mapped and dirty in a live process:
# the daemon syncs (the dirty pages reach the backing file while the view
# lives), unmounts lazily, serves the view to its end, and exits 0.
# OPTS: mount options (writeback_cache: write() through the still open
# descriptor is buffered in the page cache too, until the sync). Always
# noexclusive: the backing file is read here while the view lives.
signal_writes_out()
{
	local sig=$1 opts=${2:-defaults},noexclusive mnt back
	mnt=$(newdir mnt)
	back=$(newdir back)
	lc_mount "$mnt" -t shmapfs "$back" "$mnt" -o "$opts"
	printf 'written-by-write\n' >"$mnt/w"
	truncate -s 8192 "$mnt/v"
	viewer_start
	viewer open "$mnt/v" 8192
	viewer store 0 stored-by-view
	viewer store 4096 second-page
	viewer pwrite 8192 written-to-open-fd
	kill -"$sig" "$DAEMON"
	wait_for 20 "holds '$back/v' second-page" ||
		fail "SIG$sig: dirty pages of a live view not written out"
	holds "$back/v" stored-by-view || fail "SIG$sig: first page lost"
	holds "$back/w" written-by-write || fail "SIG$sig: write() data lost"
	wait_for 5 "holds '$back/v' written-to-open-fd" ||
		fail "SIG$sig: write() to a file still open lost"
	wait_for 10 "! is_mounted '$mnt'" || fail "SIG$sig: still mounted"
	# The view keeps working after the (lazy) unmount...
	viewer store 100 after-signal
	viewer load 0 14
	[ "$REPLY" = stored-by-view ] || fail "SIG$sig: view reads '$REPLY'"
	viewer close
	viewer_stop
	# ... and what it stored then is written out too.
	expect_exit0 "$DAEMON"
	holds "$back/v" after-signal || fail "SIG$sig: stores after the signal lost"
	lock_free "$back/v" || fail "SIG$sig: lock not released"
}

# A memory-backed mount goes down on SIGTERM too: unmounted, exit 0.
test_sigterm_memory()
{
	local mnt
	mnt=$(newdir mnt)
	lc_mount "$mnt" -t shmapfs none "$mnt" -o size=4m
	echo gone >"$mnt/f"
	kill -TERM "$DAEMON"
	expect_exit0 "$DAEMON"
	! is_mounted "$mnt" || fail "still mounted after SIGTERM"
}

test_sigterm_writes_out()
{
	signal_writes_out TERM
}

test_sigint_writes_out()
{
	signal_writes_out INT
}

test_sigterm_writeback_cache()
{
	signal_writes_out TERM writeback_cache
}

# umount -l with live views: they keep working, the daemon serves them to
# the end, then writes everything out and exits 0.
test_lazy_umount_live_view()
{
	local mnt back
	mnt=$(newdir mnt)
	back=$(newdir back)
	lc_mount "$mnt" -t shmapfs "$back" "$mnt"
	truncate -s 8192 "$mnt/v"
	viewer_start
	viewer open "$mnt/v" 8192
	viewer store 0 before-lazy
	must umount -l "$mnt"
	! is_mounted "$mnt" || fail "still in the namespace after umount -l"
	sleep 0.3
	kill -0 "$DAEMON" 2>/dev/null || fail "daemon gone while a view lives"
	viewer store 0 after-lazy-
	viewer store 4096 page-two
	viewer pwrite 8192 written-after-lazy
	viewer load 0 11
	[ "$REPLY" = after-lazy- ] || fail "view reads '$REPLY'"
	lock_free "$back/v" && fail "lock released while a view lives"
	viewer close
	viewer_stop
	expect_exit0 "$DAEMON"
	holds "$back/v" after-lazy- || fail "stores after umount -l lost"
	holds "$back/v" page-two || fail "second page after umount -l lost"
	holds "$back/v" written-after-lazy || fail "write() after umount -l lost"
	lock_free "$back/v" || fail "lock not released"
}

# --- SIGKILL: ENOTCONN, umount clears it, remount shows what reached ------
# the daemon: every write(), and stores through views once msync'ed or
# unmapped (or written back by fsync, close, or the kernel's own writeback).

sigkill_then()
{
	local how=$1 mnt back
	mnt=$(newdir mnt)
	back=$(newdir back)
	lc_mount "$mnt" -t shmapfs "$back" "$mnt"
	printf 'written-by-write\n' >"$mnt/w"
	truncate -s 8192 "$mnt/v"
	viewer_start
	viewer open "$mnt/v" 8192
	viewer store 0 msynced-store
	viewer msync
	viewer store 200 unmapped-store
	viewer close
	viewer open "$mnt/v" 8192
	viewer store 4096 dirty-store
	kill -KILL "$DAEMON"
	[ "$(exit_status "$DAEMON" 10)" = 137 ] || fail "daemon not killed"
	local err
	err=$(stat "$mnt/w" 2>&1) && fail "stat on a dead mount succeeded"
	case $err in
	*"not connected"*) ;;
	*) fail "dead mount: expected ENOTCONN, got: $err" ;;
	esac
	viewer_stop
	# shellcheck disable=SC2086 # $how is a command and its flag
	must $how "$mnt"
	! is_mounted "$mnt" || fail "$how did not clear the dead mount"
	lock_free "$back/v" || fail "a killed daemon's lock outlived it"
	lc_mount "$mnt" -t shmapfs "$back" "$mnt"
	holds "$mnt/w" written-by-write || fail "write() data lost to SIGKILL"
	holds "$mnt/v" msynced-store || fail "msync'ed store lost to SIGKILL"
	holds "$mnt/v" unmapped-store || fail "unmapped store lost to SIGKILL"
	if holds "$mnt/v" dirty-store; then
		note "a store never msync'ed survived (written back in time)"
	else
		note "a store never msync'ed was lost with the daemon (expected)"
	fi
	must umount "$mnt"
	expect_exit0 "$DAEMON"
}

test_sigkill_umount()
{
	sigkill_then umount
}

test_sigkill_fusermount()
{
	sigkill_then "fusermount3 -u"
}

# --- refusals: clear error, documented exit code, nothing mounted ----------

# Run the daemon directly (detached) expecting status WANT and one line.
daemon_refuses()
{
	local want=$1 err=$LC_ROOT/err
	shift
	must_fail "$SHMAPFS_BIN" "$@" 2>"$err"
	note "shmapfs $*: exit $rc: $(head -n 1 "$err")"
	[ "$rc" = "$want" ] || fail "shmapfs $*: exit $rc, not $want: $(cat "$err")"
	[ -s "$err" ] || fail "shmapfs $*: nothing on stderr"
}

# Two mounts over one backing directory, by mount(8): both serve it, each
# sees what the other makes and removes, and each exits 0.
test_two_mounts_share()
{
	local m1 m2 back d1
	m1=$(newdir m1)
	m2=$(newdir m2)
	back=$(newdir back)
	lc_mount "$m1" -t shmapfs "$back" "$m1"
	d1=$DAEMON
	echo first >"$m1/f"
	lc_mount "$m2" -t shmapfs "$back" "$m2"
	# The first mount holds f for up to a second after its close.
	wait_for 5 "holds '$m2/f' first" ||
		fail "second mount does not show the first's file"
	echo second >"$m2/g"
	wait_for 5 "holds '$m1/g' second" || fail "first mount does not show g"
	must rm "$m2/f"
	wait_for 5 "[ ! -e '$m1/f' ]" || fail "f removed on one, left on the other"
	must umount "$m1"
	must umount "$m2"
	expect_exit0 "$d1"
	expect_exit0 "$DAEMON"
	holds "$back/g" second || fail "g lost"
}

# umount followed at once by mount over the same backing directory works:
# the new daemon waits (bounded) for the old one to finish writing out.
test_umount_then_mount()
{
	local mnt back i old
	mnt=$(newdir mnt)
	back=$(newdir back)
	for i in $(seq 1 50); do echo "$i" >"$back/f$i"; done
	lc_mount "$mnt" -t shmapfs "$back" "$mnt"
	cat "$mnt"/f* >/dev/null
	echo new >"$mnt/f1"
	old=$DAEMON
	must umount "$mnt"
	lc_mount "$mnt" -t shmapfs "$back" "$mnt"
	expect_exit0 "$old"
	[ "$(cat "$mnt/f1")" = new ] || fail "remount: lost a write"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
}

test_bad_mountpoint()
{
	local back
	back=$(newdir back)
	touch "$LC_ROOT/file"
	daemon_refuses "$EXIT_MOUNT" none "$LC_ROOT/missing"
	daemon_refuses "$EXIT_MOUNT" none "$LC_ROOT/file"
	daemon_refuses "$EXIT_MOUNT" "$back" "$LC_ROOT/missing"
	must_fail mount -t shmapfs none "$LC_ROOT/missing" 2>/dev/null
	[ "$rc" = "$EXIT_MOUNT" ] || fail "mount(8), no mountpoint: exit $rc"
	must_fail mount -t shmapfs none "$LC_ROOT/file" 2>/dev/null
	[ "$rc" = "$EXIT_MOUNT" ] || fail "mount(8) over a file: exit $rc"
	! is_mounted "$LC_ROOT/file" || fail "mounted over a file"
	lock_free "$back" || fail "backing directory left locked"
}

test_bad_backing()
{
	local mnt
	mnt=$(newdir mnt)
	touch "$LC_ROOT/file"
	daemon_refuses "$EXIT_BACKING" "$LC_ROOT/file" "$mnt"
	daemon_refuses "$EXIT_BACKING" "$LC_ROOT/missing" "$mnt"
	must_fail mount -t shmapfs "$LC_ROOT/file" "$mnt" 2>/dev/null
	[ "$rc" = "$EXIT_BACKING" ] || fail "mount(8), file as backing: exit $rc"
	! is_mounted "$mnt" || fail "mounted with a file as backing directory"
	daemon_refuses "$EXIT_USAGE" --no-such-flag "$mnt"
	daemon_refuses "$EXIT_USAGE"
	! is_mounted "$mnt" || fail "something got mounted"
}

test_readonly_backing()
{
	local mnt ro
	mnt=$(newdir mnt)
	ro=$(newdir ro)
	must mount -t tmpfs -o size=1m tmpfs "$ro"
	echo old-data >"$ro/f"
	must mount -o remount,ro "$ro"
	daemon_refuses "$EXIT_BACKING" "$ro" "$mnt"
	! is_mounted "$mnt" || fail "mounted read-write over a read-only fs"
	lc_mount "$mnt" -t shmapfs "$ro" "$mnt" -o ro
	[ "$(cat "$mnt/f")" = old-data ] || fail "-o ro: cannot read"
	# shellcheck disable=SC2188 # the redirection is the write under test
	! (>"$mnt/new") 2>/dev/null || fail "-o ro: could create a file"
	! (echo x >>"$mnt/f") 2>/dev/null || fail "-o ro: could write"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
}

test_nonempty_mountpoint()
{
	local mnt
	mnt=$(newdir mnt)
	echo underneath >"$mnt/old"
	lc_mount "$mnt" -t shmapfs none "$mnt"
	[ ! -e "$mnt/old" ] || fail "the mount does not hide what was there"
	echo on-top >"$mnt/new"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
	[ "$(cat "$mnt/old")" = underneath ] || fail "old content gone"
	[ ! -e "$mnt/new" ] || fail "mount's file left behind"
}

# The shipped mount unit's What=, Type= and Options=, as systemd would pass
# them to mount(8), mounted on a directory of ours instead of /run/shmap.
test_unit_mounts()
{
	local unit=$LC_TOP/mount-helpers/run-shmap.mount mnt what type opts
	mnt=$(newdir mnt)
	what=$(sed -n 's/^What=//p' "$unit")
	type=$(sed -n 's/^Type=//p' "$unit")
	opts=$(sed -n 's/^Options=//p' "$unit")
	lc_mount "$mnt" -t "$type" "$what" "$mnt" -o "$opts"
	[ "$(stat -c %a "$mnt")" = 1777 ] || fail "unit's mode= not applied"
	grep " $mnt " /proc/self/mountinfo | grep -q allow_other ||
		fail "unit's allow_other not applied"
	must umount "$mnt"
	expect_exit0 "$DAEMON"
}

# --- lint: helper, tests, man page, systemd unit --------------------------

test_lint()
{
	local out unit=$LC_TOP/mount-helpers/run-shmap.mount
	if command -v shellcheck >/dev/null; then
		must shellcheck -x "$LC_TOP/mount-helpers/mount.shmapfs" \
			"$here/run.sh" "$here/cases.sh" "$here/lib.sh" \
			"$LC_TOP/tests/run-tests.sh" "$LC_TOP/tests/fresh/run.sh" \
			"$LC_TOP/tests/lib/readme-example.sh"
	else
		note "shellcheck not installed: scripts not linted"
	fi
	if command -v groff >/dev/null; then
		out=$(groff -man -ww -z "$LC_TOP/mount-helpers/mount.shmapfs.8" 2>&1)
		[ -z "$out" ] || fail "man page: $out"
	else
		note "groff not installed: man page not checked"
	fi
	grep -qx 'Where=/run/shmap' "$unit" || fail "unit: no Where="
	grep -qx 'Type=shmapfs' "$unit" || fail "unit: no Type="
	if command -v systemd-analyze >/dev/null; then
		out=$(systemd-analyze verify --man=no "$unit" 2>&1) ||
			fail "systemd-analyze verify: $out"
		[ -z "$out" ] || note "systemd-analyze: $out"
	else
		note "systemd-analyze not installed: unit not verified"
	fi
}

if [ "${1:-}" = --list ]; then
	declare -F | awk '$3 ~ /^test_/ { print $3 }'
	exit 0
fi
exec 3>&2
trap lc_cleanup EXIT
trap 'exit 1' INT TERM
if [ -z "${LC_ROOT:-}" ] || [ ! -d "$LC_ROOT" ]; then
	echo "cases.sh: run through tests/lifecycle/run.sh" >&2
	exit 1
fi
"$1"
