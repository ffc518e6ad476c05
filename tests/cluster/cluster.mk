# Two hosts on one real distributed filesystem (issue 20): a single-node
# GlusterFS volume on the loopback range, mounted twice as hosts A and B,
# each with a file-backed shmapfs over the same directory of the volume
# (tests/cluster/run.sh says what it checks and measures).
#
#   make check-cluster [DATA_PATHS="passthrough nopassthrough"]
#       [CLUSTER_ACTIMEO=1]
#
# Not part of make check: it runs glusterd, which takes the machine's
# port 24007 and writes under /var/log/glusterfs, and it needs a host name
# that resolves only to 127.x. .ci/run runs it after make check.

CLUSTER_ACTIMEO ?= 1

.PHONY: check-cluster check-cluster-run
check-cluster: deps
	@$(MAKE) --no-print-directory check-cluster-run

check-cluster-run: $(SHMAPFS) $(BENCH_BIN)
	SHMAPFS_BIN=$(SHMAPFS) SHMAPBENCH=$(BENCH_BIN) \
		SHMAPFS_TEST_DATA_PATHS="$(DATA_PATHS)" \
		CLUSTER_ACTIMEO=$(CLUSTER_ACTIMEO) tests/cluster/run.sh
