#!/bin/bash
# make check-deb: the Debian packages on a fresh Debian bookworm (a
# debootstrap --variant=minbase chroot under a temporary directory, from
# the Debian mirror this machine's apt uses), with nothing of the project
# installed: apt installs them with their dependencies; mount -t shmapfs
# and an fstab line work; the README's C example builds with pkg-config
# and runs; shmapctl lists a mapping; apt purge (and autoremove) leaves no
# file behind. The chroot, its mounts and any daemon started in it are
# removed on every path. Every step has a time limit.
#
#   mk/check-deb.sh DEB_DIR      (DEB_DIR holds the three .deb files)
# The scripts run in the chroot are single-quoted on purpose.
# shellcheck disable=SC2016
set -euo pipefail

debs=$(cd "${1:?usage: $0 DEB_DIR}" && pwd)
readme=$(cd "$(dirname "$0")/.." && pwd)/README.md
start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmapfs-check-deb.XXXXXX")
root=$tmp/root

say() { echo "check-deb: $*"; }

# Processes whose root is the chroot (a daemon mount(8) started there).
chroot_pids()
{
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] &&
			echo "${p#/proc/}"
	done
	return 0
}

cleanup()
{
	local m pid
	# The innermost first: /run/shmap in the chroot, then /proc, /dev ...
	awk -v r="$root" 'index($2, r) == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" || true
		done
	for pid in $(chroot_pids); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	# Never across a mount left behind: --one-file-system.
	rm -rf --one-file-system "$tmp"
	say "cleaned up $tmp ($((SECONDS - start)) s in all)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_root() { timeout "$1" chroot "$root" /usr/bin/env -i \
	PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive /bin/sh -ec "$2"; }

# The Debian mirror apt already uses here (deb822 or one-line sources).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -Eo 'https?://[^ ]*/debian/?( |$)' | grep -v security |
	head -n1 | tr -d ' ') || true
mirror=${mirror:-http://deb.debian.org/debian}

say "debootstrap --variant=minbase bookworm from $mirror"
timeout 900 debootstrap --variant=minbase bookworm "$root" "$mirror" \
	>"$tmp/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$tmp/debootstrap.log"; exit 1; }
say "chroot ready after $((SECONDS - start)) s"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/tmp/debs"
cp "$debs"/shmapfs_*.deb "$debs"/libshmap0_*.deb "$debs"/libshmap-dev_*.deb \
	"$root/tmp/debs/"

# What the test itself needs (a compiler, pkg-config), before the list
# of files that the purge must return to.
in_root 600 'apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends gcc libc6-dev \
		pkg-config >/dev/null'
files_now()
{
	in_root 120 'find / -xdev \( -path /proc -o -path /sys -o -path /dev \
		-o -path /run -o -path /tmp -o -path /var/cache/apt \
		-o -path /var/lib/apt/lists -o -path /var/log \) -prune -o -print \
		| sort'
}
files_now >"$tmp/before"

say "apt install ./shmapfs_*.deb ./libshmap0_*.deb ./libshmap-dev_*.deb"
in_root 600 'cd /tmp/debs && apt-get install -y -q ./shmapfs_*.deb \
	./libshmap0_*.deb ./libshmap-dev_*.deb >/tmp/install.log ||
	{ cat /tmp/install.log; exit 1; }
	dpkg-query -W -f="\${Status}\n" fuse3 libfuse3-3 |
		grep -c "install ok installed" | grep -qx 2
	echo "dependencies pulled in: fuse3 libfuse3-3"'

say "mount -t shmapfs none /run/shmap"
in_root 60 'mkdir -p /run/shmap
	mount -t shmapfs -o size=64m,mode=1777 none /run/shmap
	grep -q " /run/shmap fuse.shmapfs " /proc/self/mounts
	truncate -s 1M /run/shmap/frame
	echo hello >/run/shmap/greeting
	shmapctl ls /run/shmap | tee /tmp/ls.txt
	grep -q "^frame  *mapping  *1.0M " /tmp/ls.txt
	grep -q "^/run/shmap: data path " /tmp/ls.txt'

say "the README's C example, built with pkg-config"
# The first C program of the README that includes <shmap.h>.
awk '/^```c$/ { c = 1; buf = ""; next }
	/^```$/ && c { if (buf ~ /#include <shmap.h>/) { printf "%s", buf; exit }
		c = 0; next }
	c { buf = buf $0 "\n" }' "$readme" >"$root/tmp/example.c"
grep -q 'shmap_create' "$root/tmp/example.c"
in_root 120 'cd /tmp && cc -o example example.c \
		$(pkg-config --cflags --libs shmap)
	SHMAP_DIR=/run/shmap ./example | tee /tmp/example.out
	grep -qx "counter: 2000" /tmp/example.out
	umount /run/shmap
	! grep -q " /run/shmap " /proc/self/mounts'

say "an fstab line, mount -a and mount /run/shmap"
in_root 60 'cp /etc/fstab /etc/fstab.orig
	echo "none /run/shmap shmapfs size=32m,mode=1777,allow_other 0 0" \
		>>/etc/fstab
	mount -a
	grep -q " /run/shmap fuse.shmapfs " /proc/self/mounts
	shmapctl | grep -q "^/run/shmap: data path "
	umount /run/shmap
	mount /run/shmap
	grep -q " /run/shmap fuse.shmapfs " /proc/self/mounts
	umount /run/shmap
	mv /etc/fstab.orig /etc/fstab
	rmdir /run/shmap'

say "apt purge, then autoremove --purge"
in_root 300 'apt-get purge -y -q shmapfs libshmap0 libshmap-dev >/dev/null
	apt-get autoremove --purge -y -q >/dev/null'
files_now >"$tmp/after"
if ! diff -u "$tmp/before" "$tmp/after" >"$tmp/left"; then
	say "files left behind or lost by the purge:"
	cat "$tmp/left"
	exit 1
fi
say "ok: nothing left behind ($((SECONDS - start)) s)"
