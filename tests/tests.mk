# Tests: Check unit tests of the core (tests/unit, no mount) and mount
# tests (tests/mount) that run the real daemon against a real mountpoint.
# Each check_*.c is one Check program; tests/run-tests.sh runs them with a
# time limit, clears any mount a crashed test left, and prints one summary.

HARNESS_OBJ := $(BUILD)/tests/harness/mount.o $(BUILD)/tests/harness/util.o
UNIT_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/unit/check_*.c))
MOUNT_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/mount/check_*.c))
TEST_HELPERS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/mount/helpers/*.c))

$(BUILD)/tests/%.o: CFLAGS += $(PKGS_CHECK) -Itests/harness -Ifs/core -Ilib

$(BUILD)/tests/unit/check_%: $(BUILD)/tests/unit/check_%.o $(CORE_OBJS) \
		$(HARNESS_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK)

$(BUILD)/tests/mount/check_%: $(BUILD)/tests/mount/check_%.o $(HARNESS_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK) -lrt

$(BUILD)/tests/mount/helpers/%: $(BUILD)/tests/mount/helpers/%.o
	$(CC) $(LDFLAGS) -o $@ $^ -lrt

.PHONY: check-unit check-mount
check-unit: $(UNIT_TESTS)
	tests/run-tests.sh $(UNIT_TESTS)

check-mount: $(MOUNT_TESTS) $(TEST_HELPERS) $(SHMAPFS)
	SHMAPFS_BIN=$(SHMAPFS) TEST_HELPERS=$(BUILD)/tests/mount/helpers \
		tests/run-tests.sh $(MOUNT_TESTS)

CHECKS += check-unit check-mount
