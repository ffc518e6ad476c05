# The benchmark (issues 5 and 22): tests/bench/shmapbench runs one workload
# against one directory; tests/bench/run-bench.py mounts the backends
# (tmpfs; libfuse's passthrough_ll over a tmpfs; shmapfs memory-backed and
# file-backed over a tmpfs on the default data path, passthrough for a root
# daemon; the same two on the fallback path, -o nopassthrough; the
# memory-backed fallback with -o writeback_cache, and run by BENCH_USER,
# a user mount through fusermount3; and a memory-backed mount with
# usrquota), runs every
# workload on each, interleaved, RUNS times, and prints one table (also
# written to BENCH_OUT) with issue 5's targets for the default path and
# issue 22's for the fallback.
#
#   make bench [SIZE_MB=512] [SEQ_MB=1024] [RAND_MB=256] [RUNS=5]
#              [BENCH_MS=500] [BENCH_OUT=tests/bench/RESULTS.md]
#              [SHMAPFS_OPTS=...] [PT_OPTS=...]
#              [BACKENDS=tmpfs,pt,mem,file,fbmem,fbfile,wbc,user,quota]
#              [BENCH_ONLY=workload,...] [BENCH_BDI=max_ratio=100,...]
#              [BENCH_USER=nobody]
#              [ALT_OPTS=nopassthrough] [ALT_SHMAPFS=other/shmapfs]
#              (alt, not in the default list: shmapfs memory-backed with
#              ALT_OPTS and the ALT_SHMAPFS build, for an A/B of two
#              builds or option sets)
#
# Then the scale section (issue 12, tests/bench/run-scale.py): create,
# stat, readdir and unlink per operation at SCALE_COUNTS mappings on
# tmpfs and shmapfs, and the daemon's memory per mapping
# (SCALE_OUT=tests/bench/RESULTS-scale.md); then huge pages: cold
# fault-in and random access through a view of a PAGES_MB mapping on tmpfs
# and shmapfs with huge=never and huge=always. Alone: make bench-scale.
#
# Then exclusive backing files (issue 13, tests/bench/run-exclusive.py):
# opens per second beside and through a file-backed mount that guards its
# in-use backing files, with and without -o noexclusive and with no mount
# (EXCL_OUT=tests/bench/RESULTS-exclusive.md). Alone: make bench-exclusive.
#
# make check runs it once on tiny sizes (check-bench, normal build only):
# it fails if a backend does not mount, a workload errors or reads back
# wrong data, or a daemon does not exit 0.

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(BENCH_SRCS))
BENCH_BIN := $(BUILD)/tests/bench/shmapbench
PASSTHROUGH_LL := $(BUILD)/bench/passthrough_ll
FUSE_EXAMPLES ?= /usr/share/doc/libfuse3-dev/examples

SIZE_MB ?= 512
SEQ_MB ?= $(shell echo $$(( $(SIZE_MB) * 2 )))
RAND_MB ?= $(shell echo $$(( ($(SIZE_MB) + 1) / 2 )))
RUNS ?= 5
BENCH_MS ?= 500
BENCH_OUT ?= tests/bench/RESULTS.md
# fbmem/fbfile: the fallback path (-o nopassthrough) that every
# unprivileged daemon, every kernel before 6.9 and every mount with quotas
# gets; wbc: the memory-backed fallback with -o writeback_cache; user: the same run by BENCH_USER (the driver copies the binaries
# where that user can run them, and opens /dev/fuse to all for the run if
# it is not); quota: -o usrquota, the write workloads only.
BACKENDS ?= tmpfs,pt,mem,file,fbmem,fbfile,wbc,user,quota
BENCH_USER ?= nobody
SHMAPFS_OPTS ?=
PT_OPTS ?=
BENCH_ONLY ?=
ALT_OPTS ?= nopassthrough
ALT_SHMAPFS ?=
BENCH_BDI ?=
SCALE_COUNTS ?= 1000,10000,100000,1000000
SCALE_OUT ?= tests/bench/RESULTS-scale.md
PAGES_MB ?= 1024
EXCL_OUT ?= tests/bench/RESULTS-exclusive.md
EXCL_MS ?= 1000

# The daemon under test; set BENCH_SHMAPFS (not SHMAPFS, whose rule would
# relink the in-tree objects over it) to measure another build.
BENCH_SHMAPFS ?= $(SHMAPFS)
BENCH_ARGS = --bench $(BENCH_BIN) --shmapfs $(BENCH_SHMAPFS) \
	--passthrough $(PASSTHROUGH_LL) --backends $(BACKENDS) \
	--shmapfs-opts '$(SHMAPFS_OPTS)' --pt-opts '$(PT_OPTS)'
BENCH_RUN_ARGS = --only '$(BENCH_ONLY)' --bdi '$(BENCH_BDI)' \
	--alt-opts '$(ALT_OPTS)' --alt-shmapfs '$(ALT_SHMAPFS)' \
	--user '$(BENCH_USER)'

$(BENCH_BIN): $(BENCH_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

# passthrough_ll from the source libfuse3-dev ships (maybe gzip'ed),
# copied under $(BUILD)/bench/ and built there with its own flags: it is
# libfuse's example, not our code, so our -Werror does not apply to it.
$(PASSTHROUGH_LL):
	@mkdir -p $(dir $@)
	@for f in passthrough_ll.c passthrough_helpers.h; do \
		if [ -f $(FUSE_EXAMPLES)/$$f ]; then \
			cp $(FUSE_EXAMPLES)/$$f $(dir $@)$$f; \
		elif [ -f $(FUSE_EXAMPLES)/$$f.gz ]; then \
			zcat $(FUSE_EXAMPLES)/$$f.gz > $(dir $@)$$f; \
		else \
			echo "bench: $(FUSE_EXAMPLES)/$$f missing" \
				"(is libfuse3-dev installed?)" >&2; \
			exit 1; \
		fi; \
	done
	$(CC) -O2 -g -D_FILE_OFFSET_BITS=64 -pthread $(PKGS_FUSE) \
		-o $@ $(dir $@)passthrough_ll.c $(LIBS_FUSE)

bench: all $(BENCH_BIN) $(PASSTHROUGH_LL)
	python3 tests/bench/run-bench.py $(BENCH_ARGS) $(BENCH_RUN_ARGS) \
		--size-mb $(SIZE_MB) \
		--seq-mb $(SEQ_MB) --rand-mb $(RAND_MB) --runs $(RUNS) \
		--duration-ms $(BENCH_MS) --out $(BENCH_OUT)
	$(MAKE) bench-scale
	$(MAKE) bench-exclusive

.PHONY: bench-scale
bench-scale: all $(BENCH_BIN)
	python3 tests/bench/run-scale.py --bench $(BENCH_BIN) \
		--shmapfs $(BENCH_SHMAPFS) --shmapfs-opts '$(SHMAPFS_OPTS)' \
		--counts $(SCALE_COUNTS) --pages-mb $(PAGES_MB) \
		--runs $(RUNS) --out $(SCALE_OUT)

.PHONY: bench-exclusive
bench-exclusive: all $(BENCH_BIN)
	python3 tests/bench/run-exclusive.py --bench $(BENCH_BIN) \
		--shmapfs $(BENCH_SHMAPFS) --runs $(RUNS) \
		--duration-ms $(EXCL_MS) --out $(EXCL_OUT)

# Tiny sizes, one run, bounded: keeps the benchmark working. The daemon
# under a sanitizer measures nothing useful, so only the normal build.
.PHONY: check-bench
check-bench: $(BENCH_BIN) $(PASSTHROUGH_LL) $(SHMAPFS)
	timeout -k 10 100 python3 tests/bench/run-bench.py $(BENCH_ARGS) \
		--size-mb 8 --seq-mb 16 --rand-mb 4 --runs 1 \
		--duration-ms 100 --out $(BUILD)/bench/RESULTS-check.md
	timeout -k 10 100 python3 tests/bench/run-scale.py \
		--bench $(BENCH_BIN) --shmapfs $(BENCH_SHMAPFS) --counts 200 \
		--pages-mb 8 --runs 1 --out $(BUILD)/bench/RESULTS-scale-check.md
	timeout -k 10 100 python3 tests/bench/run-exclusive.py \
		--bench $(BENCH_BIN) --shmapfs $(BENCH_SHMAPFS) --runs 1 \
		--duration-ms 50 --out $(BUILD)/bench/RESULTS-exclusive-check.md

ifeq ($(SANITIZE),)
CHECKS += check-bench
endif
