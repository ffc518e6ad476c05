# Reliability and security tests (issue 6).
#
#   tests/stress/exerciser.c    randomized, seeded exerciser (see its header)
#   tests/stress/check_stress   runs it on a memory-backed and a file-backed
#                               mount ($(CHECK_STRESS_DURATION) s each), and
#                               quota_exerciser.c (many users near their
#                               quotas) on a mount with usrquota,grpquota
#   tests/stress/check_faults   killed clients, SIGTERM with dirty views, a
#                               backing filesystem that fills up
#   tests/security/check_*      other users; the backing-directory boundary
#   check-valgrind              one mount test with the daemon under valgrind
#
#   tests/stress/chaos.sh       the chaos soak: the exerciser (with name
#                               churn) on a memory- and a file-backed mount
#                               per data path, CPU oversubscribed, daemons
#                               stopped and continued, memory reclaimed
#   check-chaos                 it for $(CHECK_CHAOS_DURATION) s, both data
#                               paths at once (4 mounts)
#   make stress DURATION=1800   the long run: both mount types at once
#   make chaos DURATION=1800 DATA_PATH=passthrough   the long chaos soak
#   STRESS_SEED=N               repeat a run (the exerciser prints its seed)
#   STRESS_OPTS=OPTS            mount options (e.g. writeback_cache)

STRESS_EXERCISER := $(BUILD)/tests/stress/exerciser
STRESS_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/stress/check_*.c))
SECURITY_TESTS := \
	$(patsubst %.c,$(BUILD)/%,$(wildcard tests/security/check_*.c))
DURATION ?= 1800
CHECK_STRESS_DURATION ?= 10
STRESS_SEED ?=
STRESS_OPTS ?=

$(STRESS_EXERCISER): $(BUILD)/tests/stress/exerciser.o \
		$(BUILD)/tests/stress/names.o
	$(CC) $(LDFLAGS) -o $@ $^

QUOTA_EXERCISER := $(BUILD)/tests/stress/quota_exerciser
$(QUOTA_EXERCISER): $(BUILD)/tests/stress/quota_exerciser.o
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/tests/stress/check_%: $(BUILD)/tests/stress/check_%.o $(HARNESS_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK) -lrt

$(BUILD)/tests/security/check_%: $(BUILD)/tests/security/check_%.o \
		$(HARNESS_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK) -lrt

STRESS_ENV = SHMAPFS_BIN=$(SHMAPFS) STRESS_EXERCISER=$(STRESS_EXERCISER) \
	QUOTA_EXERCISER=$(QUOTA_EXERCISER) \
	STRESS_SEED=$(STRESS_SEED) STRESS_OPTS=$(STRESS_OPTS)

.PHONY: check-stress check-faults check-security check-valgrind
check-stress: $(BUILD)/tests/stress/check_stress $(STRESS_EXERCISER) \
		$(QUOTA_EXERCISER) \
		$(SHMAPFS)
	$(STRESS_ENV) STRESS_DURATION=$(CHECK_STRESS_DURATION) \
		$(RUN_MOUNT_TESTS) $(BUILD)/tests/stress/check_stress

check-faults: $(BUILD)/tests/stress/check_faults $(SHMAPFS)
	SHMAPFS_BIN=$(SHMAPFS) $(RUN_MOUNT_TESTS) $<

check-security: $(SECURITY_TESTS) $(SHMAPFS)
	SHMAPFS_BIN=$(SHMAPFS) $(RUN_MOUNT_TESTS) $(SECURITY_TESTS)

# The daemon under valgrind for one short mount test (the wrapper execs
# valgrind, so signals reach the daemon and its exit status comes back;
# 99 means valgrind found an error or a leak).
check-valgrind: $(BUILD)/tests/stress/check_valgrind $(SHMAPFS)
	SHMAPFS_BIN=tests/stress/valgrind-shmapfs.sh VALGRIND_DAEMON=$(SHMAPFS) \
		$(RUN_MOUNT_TESTS) $<

CHECKS += check-stress check-faults check-security
ifeq ($(SANITIZE),)
CHECKS += check-valgrind
endif

# The long run: both mount types, and a mount with quotas, at once, each
# for $(DURATION) seconds (the programs are run directly: tests/run-tests.sh
# clears every test mount when one program ends, which would hit the
# others). The directory must be reachable by every user: the quota case
# runs as other users, so $TMPDIR must be too. Each in a
# private mount namespace, as run-tests.sh does: a namespace that another
# program makes meanwhile would otherwise copy our mounts and keep their
# daemons alive past our unmount.
STRESS_RUN = $(STRESS_ENV) STRESS_DURATION=$(DURATION) \
	timeout -k 10 $$(( $(DURATION) + 900 )) \
	unshare --mount --propagation private -- \
	$(BUILD)/tests/stress/check_stress
stress: all $(BUILD)/tests/stress/check_stress $(STRESS_EXERCISER) \
		$(QUOTA_EXERCISER)
	@echo "stress: $(DURATION) s on a memory-backed and a file-backed mount," \
		"and a memory-backed one with quotas"
	export SHMAPFS_TEST_TMP=$$(mktemp -d "$${TMPDIR:-/tmp}/shmapfs-stress.XXXXXX"); \
	chmod 755 "$$SHMAPFS_TEST_TMP"; \
	CK_RUN_CASE=memory $(STRESS_RUN) & mem=$$!; \
	CK_RUN_CASE=quota $(STRESS_RUN) & quota=$$!; \
	CK_RUN_CASE=file $(STRESS_RUN); file=$$?; \
	wait $$mem; mem=$$?; wait $$quota; quota=$$?; \
	echo "stress: memory-backed exit $$mem, file-backed exit $$file," \
		"quotas exit $$quota;" \
		"data paths taken:" $$(sort "$$SHMAPFS_TEST_TMP/data-paths"); \
	rm -f "$$SHMAPFS_TEST_TMP/data-paths"; \
	rmdir "$$SHMAPFS_TEST_TMP"; \
	[ $$mem = 0 ] && [ $$file = 0 ] && [ $$quota = 0 ]

# The chaos soak (tests/stress/chaos.sh): in make check for
# $(CHECK_CHAOS_DURATION) s on both data paths at once; make chaos runs it
# for $(DURATION) s on $(DATA_PATH). In a private mount namespace, with a
# time limit past which its traps still clean up.
CHECK_CHAOS_DURATION ?= 60
DATA_PATH ?= $(DATA_PATHS)
CHAOS_RUN = SHMAPFS_BIN=$(SHMAPFS) STRESS_EXERCISER=$(STRESS_EXERCISER) \
	STRESS_SEED=$(STRESS_SEED) timeout -k 60 $$(( $(1) + 900 )) \
	unshare --mount --propagation private -- \
	tests/stress/chaos.sh $(1) "$(2)"

.PHONY: check-chaos chaos
check-chaos: $(STRESS_EXERCISER) $(SHMAPFS)
	$(call CHAOS_RUN,$(CHECK_CHAOS_DURATION),$(DATA_PATHS))

chaos: all $(STRESS_EXERCISER)
	$(call CHAOS_RUN,$(DURATION),$(DATA_PATH))

CHECKS += check-chaos
