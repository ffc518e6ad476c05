# shmapfs: top-level build.
#
# Each directory keeps its own rules in a fragment included below (fs/fs.mk,
# lib/lib.mk, tests/tests.mk, ...), so that one concern lives in one place.
# Fragments add their test runners to CHECKS, their outputs to CLEAN_FILES
# and their install steps to INSTALL_TARGETS / UNINSTALL_TARGETS.
#
#   make            build the daemon and the library (in the tree)
#   make deps       install the Debian packages the build and tests need
#   make mount      build and mount a memory-backed shmapfs at $(MNT)
#   make unmount    unmount it
#   make check      build and run every test, then again under ASan/UBSan,
#                   and the core's unit tests under ThreadSanitizer
#   make bench      run the benchmark (tests/bench)
#   make check-cluster  two hosts on one GlusterFS volume (tests/cluster;
#                   not in make check, .ci/run runs it)
#   make deb        Debian packages in build/deb (mk/deb.mk); make check-deb
#                   tries them on a fresh Debian chroot (.ci/run does)
#   make format / make format-check
#
# Objects and test binaries go under $(BUILD) (build/normal, or a directory
# named for the sanitizers, e.g. build/address-undefined), so that builds
# never mix. The
# normal build links the daemon and the library in the tree (fs/shmapfs,
# lib/libshmap.so); a sanitized build links them under $(BUILD).

CC ?= cc
SANITIZE ?=
comma := ,
BUILD ?= build/$(if $(SANITIZE),$(subst $(comma),-,$(SANITIZE)),normal)
OUT = $(if $(SANITIZE),$(BUILD)/,)
MNT ?= /run/shmap
PREFIX ?= /usr/local
DESTDIR ?=

# A package's flags are asked of pkg-config when a recipe first needs them,
# then kept; never while make reads the makefiles. On a fresh machine the
# packages arrive only when `deps` runs, in that same make (make mount), and
# flags read before then would be empty for the whole run. Nothing else
# that a package provides may be run at parse time either:
# tests/fresh/run.sh checks this.
pkg_flags = $(shell pkg-config $(1) $(2) 2>/dev/null)
PKGS_FUSE = $(eval PKGS_FUSE := $(call pkg_flags,--cflags,fuse3))$(PKGS_FUSE)
LIBS_FUSE = $(eval LIBS_FUSE := $(call pkg_flags,--libs,fuse3))$(LIBS_FUSE)
PKGS_CHECK = $(eval PKGS_CHECK := $(call pkg_flags,--cflags,check))$(PKGS_CHECK)
LIBS_CHECK = $(eval LIBS_CHECK := $(call pkg_flags,--libs,check))$(LIBS_CHECK)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE \
	-DFUSE_USE_VERSION=314 -pthread
LDFLAGS += -pthread
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

CHECKS :=
CLEAN_FILES :=
INSTALL_TARGETS :=
UNINSTALL_TARGETS :=

.PHONY: all deps mount mount-now unmount check check-run check-san check-tsan clean \
	install \
	uninstall format format-check bench stress fuzz
all:

include mk/deps.mk
include fs/fs.mk
-include lib/lib.mk
include tests/tests.mk
-include tests/bench/bench.mk
-include tests/cluster/cluster.mk
-include tests/stress/stress.mk
-include tests/fuzz/fuzz.mk
-include mount-helpers/helpers.mk
-include lib/ctl/ctl.mk
-include mk/deb.mk

# Keep objects made through chains of rules (make would delete them as
# intermediate, and rebuild them on every run).
.SECONDARY:

# Objects go under $(BUILD), mirroring the source tree.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

# deps first, then the build and the mount in a make of their own, which
# reads the makefiles again with every package in place.
mount: deps
	@$(MAKE) --no-print-directory mount-now

mount-now: all
	@mkdir -p $(MNT)
	@if mountpoint -q $(MNT); then \
		echo "$(MNT) is already a mount point; 'make unmount' first"; \
		exit 1; fi
	fs/shmapfs -o size=50%,mode=1777,allow_other $(MNT)
	@echo
	@echo "shmapfs is mounted at $(MNT) (memory-backed, like tmpfs)."
	@echo "data path: $$(getfattr --absolute-names --only-values -n user.shmap.data_path $(MNT))"
	@echo "  echo hello > $(MNT)/greeting; cat $(MNT)/greeting"
	@echo "  python3 -c 'import mmap,os; f=os.open(\"$(MNT)/m\",os.O_RDWR|os.O_CREAT); os.ftruncate(f,4096); m=mmap.mmap(f,4096); m[:5]=b\"hello\"'"
	@echo "  programs: open(\"$(MNT)/NAME\") and mmap(MAP_SHARED) it; see README.md"
	@echo "Unmount with: make unmount   (or: umount $(MNT))"

unmount:
	fusermount3 -u $(MNT)

# The tests proper, for one build (normal, or sanitized with B=...).
check-run: all $(CHECKS)

# make check: deps, the normal build and its tests, then the same tests
# built and run under AddressSanitizer and UndefinedBehaviorSanitizer.
check: deps format-check
	$(MAKE) check-run
	$(MAKE) check-san
	$(MAKE) check-tsan

check-san:
	$(MAKE) SANITIZE=address,undefined check-run

# The core's unit tests include its concurrency tests (threads racing
# writes, truncates, renames and setattr): run them under TSan too.
check-tsan:
	$(MAKE) SANITIZE=thread check-unit

# The sources git knows; outside a git checkout (a release tarball), every
# C file of the tree.
FORMAT_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find fs lib tests mount-helpers -name '*.[ch]')
format:
	clang-format -i $(FORMAT_SOURCES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SOURCES) && \
		echo "format-check: ok"

install: all $(INSTALL_TARGETS)
uninstall: $(UNINSTALL_TARGETS)

clean:
	rm -rf build $(CLEAN_FILES)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
