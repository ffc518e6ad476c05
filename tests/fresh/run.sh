#!/bin/bash
# First contact on a fresh machine: `make mount` and `make check` must
# install what is missing (make deps) before they use anything a package
# provides. This machine has every package already, so the test makes a
# copy of the tree believe it is on a fresh one:
#
#   - dpkg-query, first on PATH, knows none of the project's packages, and
#     apt-get "installs" them by writing a marker file (it installs nothing);
#   - every command of those packages (pkg-config, clang-format,
#     fusermount3, ...; not those of Debian's essential packages) is hidden
#     behind a stand-in that fails as a missing command would, and logs the
#     call, until the marker is there.
#
# Then `make mount` must install, build, mount (at a temporary mountpoint)
# and say how to use the mount, and the part of `make check` that runs
# before its sub-makes (deps, format-check) must pass. A build that asked
# pkg-config for flags while make read the makefiles (as it did: the fuse3
# flags were empty for the whole run) fails here, and so does anything else
# that runs a package's command before `deps` has run.
#
#   tests/fresh/run.sh        as root, from anywhere
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmapfs-fresh.XXXXXX")
tree=$tmp/tree
shims=$tmp/shims
marker=$tmp/installed
log=$tmp/early-calls
mnt=$tmp/mnt

cleanup()
{
	if mountpoint -q "$mnt" 2>/dev/null; then
		umount -l "$mnt" || true
	fi
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

fail()
{
	echo "fresh: FAIL: $*" >&2
	exit 1
}

# The tree as a clone would have it: tracked and untracked files that git
# does not ignore (no build outputs), and the git directory (format-check
# asks git which files are sources).
copy_tree()
{
	mkdir "$tree"
	(cd "$top" && {
		git ls-files -z --cached --others --exclude-standard
		printf '.git\0'
	} | tar --null --no-recursion -T - -cf - 2>/dev/null) |
		tar -xf - -C "$tree"
	(cd "$top" && tar -cf - .git) | tar -xf - -C "$tree"
	[ -f "$tree/Makefile" ] || fail "could not copy the tree"
}

# A stand-in for command NAME (whose real path is REAL): the real one once
# the marker exists, else an entry in the log and "command not found".
shim()
{
	local name=$1 real=$2
	cat >"$shims/$name" <<EOF
#!/bin/sh
if [ -e '$marker' ]; then exec '$real' "\$@"; fi
echo "$name \$*" >>'$log'
echo "$name: command not found (its package is not installed yet)" >&2
exit 127
EOF
	chmod 755 "$shims/$name"
}

# The project's packages and what they depend on directly (pkg-config is
# pkgconf's, clang is clang-14's), less libraries.
packages()
{
	local pkgs
	pkgs=$(make -s -C "$top" --no-print-directory print-deps)
	[ -n "$pkgs" ] || fail "make print-deps named no package"
	# shellcheck disable=SC2086 # the names are words
	{
		printf '%s\n' $pkgs
		dpkg-query -W -f='${Depends}\n' $pkgs 2>/dev/null |
			sed -E 's/[,|]/\n/g' | sed -E 's/\(.*\)//; s/:any//; s/ //g'
	} | grep -v -e '^lib' -e '^$' | sort -u
}

# Commands a fresh machine has: Debian's essential packages', and make and
# git, which the README has the user install first.
kept()
{
	case $1 in
	make | git) return 0 ;;
	esac
	[ "$(dpkg-query -W -f='${Essential}' "$2" 2>/dev/null)" = yes ]
}

make_shims()
{
	local pkg f name
	mkdir "$shims"
	for pkg in $(packages); do
		dpkg -L "$pkg" 2>/dev/null | grep -E '^(/usr)?/s?bin/[^/]+$' |
			while read -r f; do
				name=$(basename "$f")
				if [ -x "$f" ] && [ ! -d "$f" ] &&
					! kept "$name" "$pkg"; then
					shim "$name" "$f"
				fi
			done
	done
	# The compiler comes with build-essential; cc is an alternative that
	# no package owns.
	for name in cc gcc c++ g++; do
		if f=$(command -v "$name"); then
			shim "$name" "$f"
		fi
	done
	for name in pkg-config clang-format cc fusermount3; do
		[ -x "$shims/$name" ] || fail "$name was not hidden"
	done
	cat >"$shims/dpkg-query" <<EOF
#!/bin/sh
if [ -e '$marker' ]; then exec /usr/bin/dpkg-query "\$@"; fi
exit 1
EOF
	cat >"$shims/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>'$tmp/apt-calls'
case " \$* " in *" install "*) touch '$marker' ;; esac
exit 0
EOF
	chmod 755 "$shims/dpkg-query" "$shims/apt-get"
}

# Run make in the copy with the stand-ins first on PATH.
fresh_make()
{
	(cd "$tree" && PATH=$shims:$PATH timeout -k 10 600 make "$@")
}

expect_no_early_calls()
{
	if [ -s "$log" ]; then
		fail "$1 ran commands of packages before make deps:
$(sort -u "$log")"
	fi
	grep -q ' install ' "$tmp/apt-calls" 2>/dev/null ||
		fail "$1 did not install the missing packages"
}

copy_tree
make_shims

# 1. make mount, as the README's first command.
mkdir "$mnt"
out=$(fresh_make mount MNT="$mnt" 2>&1) ||
	fail "make mount failed:
$out"
expect_no_early_calls "make mount"
[ "$(findmnt -n -o FSTYPE --target "$mnt")" = fuse.shmapfs ] ||
	fail "make mount did not mount shmapfs at $mnt"
grep -q "Unmount with" <<<"$out" ||
	fail "make mount did not say how to unmount:
$out"
echo hello >"$mnt/greeting"
[ "$(cat "$mnt/greeting")" = hello ] || fail "the new mount does not work"
fresh_make -s unmount MNT="$mnt" >/dev/null
! mountpoint -q "$mnt" || fail "make unmount left $mnt mounted"
echo "fresh: make mount installed, built, mounted and unmounted"

# 2. make check on a machine just as fresh: its first level (the one make
# started before anything was installed) with the sub-makes left out.
rm -rf "$marker" "$log" "$tmp/apt-calls" "$tree/build"
fresh_make -s clean >/dev/null
out=$(fresh_make check MAKE=true 2>&1) ||
	fail "make check (first level) failed:
$out"
expect_no_early_calls "make check"
echo "fresh: make check installed before it used a package"
echo "fresh: ok"
