# make deps: install the Debian packages that the build, the tests, the
# benchmark and the fuzzers need, where they are missing. Nothing is
# downloaded from anywhere but Debian's archive.

DEB_PACKAGES := build-essential pkg-config libfuse3-dev fuse3 check \
	clang-format clang libclang-rt-14-dev attr util-linux python3 fio \
	valgrind procps psmisc shellcheck groff-base stress-ng e2fsprogs mount \
	libcap2-bin glusterfs-server glusterfs-client

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
			grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make deps: run as root to install$$missing" >&2; \
			exit 1; fi; \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $$missing; \
	fi

# The package list, for tests/fresh/run.sh.
.PHONY: print-deps
print-deps:
	@echo $(DEB_PACKAGES)
