# shmapctl (lib/ctl): the command that shows every mapping and
# synchronization object of the shmapfs mounts. It lives beside libshmap
# because it reads the objects' pages by the library's own layouts
# (lib/objects.h); it writes nothing and takes no object.
#
#   make shmapctl         (part of make all)
#   make check-ctl        its tests (tests/ctl), on both data paths

CTL_SRCS := $(wildcard lib/ctl/*.c)
CTL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CTL_SRCS))
SHMAPCTL := $(OUT)lib/ctl/shmapctl

all: $(SHMAPCTL)

$(SHMAPCTL): $(CTL_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

CLEAN_FILES += lib/ctl/shmapctl

.PHONY: install-ctl uninstall-ctl
install-ctl: $(SHMAPCTL)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(SHMAPCTL) $(DESTDIR)$(BINDIR)/shmapctl
	install -m 0644 lib/ctl/shmapctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
uninstall-ctl:
	rm -f $(DESTDIR)$(BINDIR)/shmapctl \
		$(DESTDIR)$(PREFIX)/share/man/man1/shmapctl.1
	@rmdir $(DESTDIR)$(PREFIX)/share/man/man1 2>/dev/null || true

INSTALL_TARGETS += install-ctl
UNINSTALL_TARGETS += uninstall-ctl

# Tests: a Check program against a real mount (tests/ctl), on both data
# paths; it runs the shmapctl of this build.
CTL_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/ctl/check_*.c))

$(BUILD)/tests/ctl/check_%: $(BUILD)/tests/ctl/check_%.o \
		$(BUILD)/tests/harness/mount.o $(BUILD)/tests/lib/util.o \
		$(LIBSHMAP_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK) -lrt

.PHONY: check-ctl
check-ctl: $(CTL_TESTS) $(SHMAPCTL) $(SHMAPFS) $(TEST_SHIMS)
	SHMAPFS_BIN=$(SHMAPFS) SHMAPCTL_BIN=$(SHMAPCTL) \
		TEST_HELPERS=$(BUILD)/tests/mount/helpers \
		$(RUN_MOUNT_TESTS) $(CTL_TESTS)
	@out=$$(groff -man -ww -z lib/ctl/shmapctl.1 2>&1) && [ -z "$$out" ] || \
		{ echo "lib/ctl/shmapctl.1: $$out" >&2; exit 1; }

CHECKS += check-ctl
