#!/bin/bash
# Build each example program of the README's libshmap section as it stands
# (cc example.c $(pkg-config --cflags --libs shmap), PKG_CONFIG_PATH=lib)
# and run them against a fresh memory-backed mount, insisting that they and
# the daemon exit 0. With INSTALLED=DESTDIR (a `make install-lib
# PREFIX=/usr DESTDIR=...` tree), build against that installed copy; with
# INSTALLED=/ against the system's (after a plain `make install`), exactly
# as the README says. SHMAPFS_TEST_DATA_PATH=nopassthrough mounts with
# -o nopassthrough (see tests/harness/mount.h).
#   tests/lib/readme-example.sh [FILE]   (default README.md)
set -eu
cd "$(dirname "$0")/../.."
daemon=${SHMAPFS_BIN:-fs/shmapfs}

# The Nth ```c block after the "## libshmap" heading, before the next.
extract() {
	awk -v n="$2" '/^## libshmap/ { s = 1; next }
	     s && /^## / { exit }
	     s && /^```c$/ { k++; c = k == n; next }
	     c && /^```$/ { exit }
	     c { print }' "$1"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmapfs-test.XXXXXX")
pid=""
cleanup() {
	if mountpoint -q "$tmp/mnt" 2>/dev/null; then
		umount -l "$tmp/mnt" || true
	fi
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

file=${1:-README.md}
examples=0
while [ -f "$file" ] && extract "$file" $((examples + 1)) \
	>"$tmp/example$((examples + 1)).c" &&
	[ -s "$tmp/example$((examples + 1)).c" ]; do
	examples=$((examples + 1))
done
if [ "$examples" = 0 ]; then
	echo "readme-example: no \`\`\`c block under '## libshmap' in $file" >&2
	exit 1
fi
echo "readme-example: $examples examples from $file"

installed=${INSTALLED:-}
if [ "$installed" = / ]; then
	flags=$(pkg-config --cflags --libs shmap)
	echo "readme-example: built against the installed library: $flags"
elif [ -n "$installed" ]; then
	flags=$(PKG_CONFIG_SYSROOT_DIR=$installed \
		PKG_CONFIG_LIBDIR=$installed/usr/lib/pkgconfig \
		pkg-config --cflags --libs shmap)
	export LD_LIBRARY_PATH=$installed/usr/lib
	echo "readme-example: built against $installed: $flags"
else
	flags=$(PKG_CONFIG_PATH=lib pkg-config --cflags --libs shmap)
fi
for i in $(seq "$examples"); do
	# shellcheck disable=SC2086 # the flags are words
	cc -Wall -Wextra -Werror -o "$tmp/example$i" "$tmp/example$i.c" $flags
done

mkdir "$tmp/mnt"
opts=()
if [ "${SHMAPFS_TEST_DATA_PATH:-}" = nopassthrough ]; then
	opts=(-o nopassthrough)
fi
"$daemon" -f "${opts[@]}" "$tmp/mnt" 2>"$tmp/daemon.log" &
pid=$!
for _ in $(seq 200); do
	mountpoint -q "$tmp/mnt" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
if ! mountpoint -q "$tmp/mnt"; then
	echo "readme-example: cannot mount $daemon" >&2
	cat "$tmp/daemon.log" >&2
	exit 1
fi

echo "readme-example: $(grep -h 'data path' "$tmp/daemon.log")"
for i in $(seq "$examples"); do
	echo "readme-example: example $i"
	SHMAP_DIR=$tmp/mnt timeout 60 "$tmp/example$i"
done

umount "$tmp/mnt"
rc=0
wait "$pid" || rc=$?
pid=""
if [ "$rc" != 0 ]; then
	echo "readme-example: shmapfs exited $rc" >&2
	cat "$tmp/daemon.log" >&2
	exit 1
fi
echo "readme-example: ok"
