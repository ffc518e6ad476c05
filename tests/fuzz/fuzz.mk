# Fuzzing the core (issue 6, part 4): libFuzzer targets built with clang
# straight from fs/core/*.c (not from the project's gcc objects), under
# ASan, UBSan and LeakSanitizer, into $(BUILD)/fuzz/.
#
#   fuzz_options    options_parse / options_parse_size on arbitrary bytes
#   fuzz_registry   operations on a memory-backed registry (names, offsets,
#                   sizes, flags, xattrs), checked against a model
#   fuzz_backing    the same on a file-backed registry over a temporary
#                   directory planted with hostile entries
#
#   make fuzz                  each target for FUZZ_SECONDS (600) seconds
#   make fuzz FUZZ_TARGETS=fuzz_registry FUZZ_SECONDS=60
#   make check-fuzz            each for CHECK_FUZZ_SECONDS (10), at once;
#                              part of make check (normal build only)
#
# Inputs that once crashed live in tests/fuzz/regressions/TARGET/ and are
# replayed first; those listed in tests/fuzz/regressions/DISABLED (bugs
# not fixed yet) are skipped. Seeds are in tests/fuzz/corpus/TARGET/; new
# inputs go to $(BUILD)/fuzz/corpus/TARGET/, crashes to
# $(BUILD)/fuzz/artifacts/.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
CHECK_FUZZ_SECONDS ?= 10
FUZZ_TARGETS ?= fuzz_options fuzz_registry fuzz_backing
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# The core is the lead's code: a warning only clang gives must not stop
# the fuzzers from building, so -Werror applies to the targets alone.
FUZZ_CFLAGS := -g -O1 $(FUZZ_SAN) -std=gnu11 \
	$(filter-out -Werror,$(WARN)) -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE \
	-pthread -Ifs/core
FUZZ_CORE_OBJS := $(patsubst fs/core/%.c,$(FUZZ_DIR)/core/%.o,$(CORE_SRCS))

# The core's allocations go through tests/fuzz/fuzz_alloc.c, which the
# registry fuzzers make fail on demand.
$(FUZZ_DIR)/core/%.o: fs/core/%.c tests/fuzz/fuzz_alloc.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -include tests/fuzz/fuzz_alloc.h -MMD -MP \
		-c -o $@ $<

$(FUZZ_DIR)/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/fuzz_backing.o: tests/fuzz/fuzz_registry.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -DFUZZ_BACKED=1 -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/fuzz_options: $(FUZZ_DIR)/fuzz_options.o \
		$(FUZZ_DIR)/core/options.o $(FUZZ_DIR)/fuzz_alloc.o
	$(FUZZ_CC) $(FUZZ_SAN) -pthread -o $@ $^

$(FUZZ_DIR)/fuzz_registry $(FUZZ_DIR)/fuzz_backing: $(FUZZ_DIR)/%: \
		$(FUZZ_DIR)/%.o $(FUZZ_CORE_OBJS) $(FUZZ_DIR)/fuzz_alloc.o
	$(FUZZ_CC) $(FUZZ_SAN) -pthread -o $@ $^

$(FUZZ_DIR)/fuzz_backing: $(FUZZ_DIR)/fuzz_backing_dir.o

FUZZ_BINS := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

.PHONY: fuzz check-fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	tests/fuzz/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_DIR) $(FUZZ_TARGETS)

check-fuzz: $(FUZZ_BINS)
	FUZZ_PARALLEL=1 tests/fuzz/run-fuzz.sh $(CHECK_FUZZ_SECONDS) \
		$(FUZZ_DIR) $(FUZZ_TARGETS)

# libFuzzer is built for one sanitizer set; the sanitized pass of make
# check would only run the same fuzzers again.
ifeq ($(SANITIZE),)
CHECKS += check-fuzz
endif
