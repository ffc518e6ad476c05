# Mount helpers (mount.shmapfs for mount(8), fstab and systemd), the install
# rules for the daemon and the helpers, and the lifecycle tests
# (tests/lifecycle: mount(8), fstab, umount, signals, crashes, install).
#
#   make install [PREFIX=/usr/local] [DESTDIR=] [SBINDIR=/usr/sbin] ...
#   make uninstall      removes exactly the files listed in HELPERS_FILES
#   make check-lifecycle
#
# mount(8) looks for helpers in /sbin (= /usr/sbin on merged-/usr Debian),
# whatever PREFIX is; so do SBINDIR and SYSTEMDUNITDIR by default.

BINDIR ?= $(PREFIX)/bin
MAN8DIR ?= $(PREFIX)/share/man/man8
SBINDIR ?= /usr/sbin
SYSTEMDUNITDIR ?= /lib/systemd/system

HELPERS_UNITS := mount-helpers/run-shmap.mount

# Every file install puts down, without DESTDIR: uninstall removes these.
HELPERS_FILES := $(BINDIR)/shmapfs $(MAN8DIR)/shmapfs.8 \
	$(MAN8DIR)/mount.shmapfs.8 $(MAN8DIR)/mount.fuse.shmapfs.8 \
	$(SBINDIR)/mount.shmapfs \
	$(SBINDIR)/mount.fuse.shmapfs \
	$(addprefix $(SYSTEMDUNITDIR)/,$(notdir $(HELPERS_UNITS)))

.PHONY: install-helpers uninstall-helpers check-lifecycle

# The helper finds the installed daemon through the path sed'ed in here.
install-helpers: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN8DIR) \
		$(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(SHMAPFS) $(DESTDIR)$(BINDIR)/shmapfs
	if [ -f fs/shmapfs.8 ]; then \
		install -m 0644 fs/shmapfs.8 $(DESTDIR)$(MAN8DIR)/shmapfs.8; fi
	install -m 0644 mount-helpers/mount.shmapfs.8 $(DESTDIR)$(MAN8DIR)
	ln -sf mount.shmapfs.8 $(DESTDIR)$(MAN8DIR)/mount.fuse.shmapfs.8
	sed 's|^installed_daemon=$$|installed_daemon=$(BINDIR)/shmapfs|' \
		mount-helpers/mount.shmapfs >$(DESTDIR)$(SBINDIR)/mount.shmapfs
	chmod 0755 $(DESTDIR)$(SBINDIR)/mount.shmapfs
	ln -sf mount.shmapfs $(DESTDIR)$(SBINDIR)/mount.fuse.shmapfs
	install -m 0644 $(HELPERS_UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)

uninstall-helpers:
	rm -f $(addprefix $(DESTDIR),$(HELPERS_FILES))
	@rmdir $(DESTDIR)$(MAN8DIR) 2>/dev/null || true

INSTALL_TARGETS += install-helpers
UNINSTALL_TARGETS += uninstall-helpers

# Lifecycle tests: bash cases under a small C subreaper (it learns the exit
# status of the daemon that mount(8) starts detached). They install the
# helper into $(SBINDIR) for the run, where mount(8) finds it, and remove it.
LIFECYCLE_REAPER := $(BUILD)/tests/lifecycle/reaper

$(LIFECYCLE_REAPER): $(BUILD)/tests/lifecycle/reaper.o
	$(CC) $(LDFLAGS) -o $@ $^

check-lifecycle: all $(LIFECYCLE_REAPER)
	for p in $(DATA_PATHS); do \
		SHMAPFS_TEST_DATA_PATH=$$p SHMAPFS_BIN=$(SHMAPFS) \
		LC_REAPER=$(LIFECYCLE_REAPER) \
			tests/lifecycle/run.sh $(LIFECYCLE_ONLY) || exit 1; \
	done

CHECKS += check-lifecycle
