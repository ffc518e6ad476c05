# Tests: Check unit tests of the core (tests/unit, no mount) and mount
# tests (tests/mount) that run the real daemon against a real mountpoint.
# Each check_*.c is one Check program; tests/run-tests.sh runs them with a
# time limit, clears any mount a crashed test left, and prints one summary.

# Every mount test runs once per data path: FUSE passthrough (what a root
# daemon gets on Linux 6.9 and later) and the fallback (what every other
# daemon gets). run-tests.sh reports which path the daemons took.
DATA_PATHS ?= passthrough nopassthrough
RUN_MOUNT_TESTS = SHMAPFS_TEST_DATA_PATHS="$(DATA_PATHS)" tests/run-tests.sh

HARNESS_OBJ := $(BUILD)/tests/harness/mount.o $(BUILD)/tests/harness/util.o
UNIT_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/unit/check_*.c))
MOUNT_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/mount/check_*.c))
TEST_HELPERS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/mount/helpers/*.c))
# LD_PRELOAD shims that tests run the daemon or shmapctl under, beside the
# helpers: built without the sanitizers (a sanitized program finds their
# runtime behind the shim).
TEST_SHIMS := $(patsubst tests/shims/%.c,$(BUILD)/tests/mount/helpers/%.so,\
	$(wildcard tests/shims/*.c))

$(BUILD)/tests/%.o: CFLAGS += $(PKGS_CHECK) -Itests/harness -Ifs/core -Ifs \
	-Ilib

$(BUILD)/tests/unit/check_%: $(BUILD)/tests/unit/check_%.o $(CORE_OBJS) \
		$(HARNESS_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK)

# The glue outside the core that has unit tests of its own.
$(BUILD)/tests/unit/check_reader: $(BUILD)/fs/reader.o
$(BUILD)/tests/unit/check_exclusive: $(BUILD)/fs/exclusive.o \
		$(BUILD)/fs/fan_thread.o
# The registry's unit tests, one program per group, share a fixture.
REGISTRY_GROUPS := lifetime namespace attributes capacity data xattr faults \
	concurrency differential flags
$(patsubst %,$(BUILD)/tests/unit/check_%,$(REGISTRY_GROUPS)): \
	$(BUILD)/tests/unit/registry_fixture.o

$(BUILD)/tests/mount/check_%: $(BUILD)/tests/mount/check_%.o $(HARNESS_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK) -lrt

$(BUILD)/tests/mount/helpers/%: $(BUILD)/tests/mount/helpers/%.o
	$(CC) $(LDFLAGS) -o $@ $^ -lrt

$(BUILD)/tests/mount/helpers/%.so: tests/shims/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE -O2 -fPIC -shared -o $@ $< -ldl

# Tests that run a program under a shim.
$(BUILD)/tests/mount/check_transport: \
	| $(BUILD)/tests/mount/helpers/fuse_eio.so
$(BUILD)/tests/mount/check_killpriv: \
	| $(BUILD)/tests/mount/helpers/fail_chmod.so
$(BUILD)/tests/ctl/check_shmapctl: \
	| $(BUILD)/tests/mount/helpers/change_on_read.so

.PHONY: check-unit check-mount
check-unit: $(UNIT_TESTS)
	tests/run-tests.sh $(UNIT_TESTS)

check-mount: $(MOUNT_TESTS) $(TEST_HELPERS) $(TEST_SHIMS) $(SHMAPFS)
	SHMAPFS_BIN=$(SHMAPFS) TEST_HELPERS=$(BUILD)/tests/mount/helpers \
		$(RUN_MOUNT_TESTS) $(MOUNT_TESTS)

CHECKS += check-unit check-mount

# First contact: make mount and make check on a machine without the
# project's packages (simulated; see tests/fresh/run.sh). Once per make
# check: it builds a copy of the tree, sanitizers or not.
.PHONY: check-fresh
check-fresh:
	tests/fresh/run.sh
ifeq ($(SANITIZE),)
CHECKS += check-fresh
endif
