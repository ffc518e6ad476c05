# libshmap: lib/libshmap.so (soname libshmap.so.0; only shmap_* exported)
# and lib/libshmap.a, the pkg-config file, the man page, the library's
# tests (tests/lib) and its install rules.
#
#   make check-lib         Check tests against a real mount (each build)
#   make check-lib-tsan    the threaded tests under ThreadSanitizer (clang)
#   make bench-lib         a small benchmark of the library
#   make check-lib-readme  build and run the README example program, and
#                          check that the man page renders cleanly

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIBSHMAP_SONAME := libshmap.so.0
LIBSHMAP_SO := $(OUT)lib/libshmap.so
LIBSHMAP_A := $(OUT)lib/libshmap.a

$(LIB_OBJS): CFLAGS += -fPIC -fvisibility=hidden

all: $(LIBSHMAP_SO) $(LIBSHMAP_A) lib/shmap.pc

$(OUT)lib/$(LIBSHMAP_SONAME): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIBSHMAP_SONAME) -o $@ $^

$(LIBSHMAP_SO): $(OUT)lib/$(LIBSHMAP_SONAME)
	ln -sf $(LIBSHMAP_SONAME) $@

$(LIBSHMAP_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# In the tree the library and header both live in lib/; the rpath lets a
# program built with PKG_CONFIG_PATH=lib run without LD_LIBRARY_PATH.
, := ,
PC_SED = sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(2)|' \
	-e 's|@INCLUDEDIR@|$(3)|' -e 's|@EXTRA_LIBS@|$(4)|'

lib/shmap.pc: lib/shmap.pc.in lib/lib.mk
	$(call PC_SED,$(CURDIR),$${prefix}/lib,$${prefix}/lib, -Wl$(,)-rpath$(,)$${libdir}) $< > $@

CLEAN_FILES += lib/libshmap.so lib/libshmap.so.0 lib/libshmap.a lib/shmap.pc

# Tests: Check programs that mount a real shmapfs through the harness.
LIB_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/lib/check_*.c))
LIB_TEST_OBJS := $(BUILD)/tests/harness/mount.o $(BUILD)/tests/lib/util.o

$(BUILD)/tests/lib/check_%: $(BUILD)/tests/lib/check_%.o $(LIB_TEST_OBJS) \
		$(LIBSHMAP_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CHECK) -lrt

.PHONY: check-lib check-lib-tsan check-lib-readme
check-lib: $(LIB_TESTS) $(SHMAPFS) $(LIBSHMAP_SO)
	SHMAPFS_BIN=$(SHMAPFS) LIBSHMAP_SO=$(LIBSHMAP_SO) \
		$(RUN_MOUNT_TESTS) $(LIB_TESTS)

# make bench-lib: what semaphores, creation and views cost on a mount.
BENCH_LIB := $(BUILD)/tests/lib/bench_lib
$(BENCH_LIB): $(BUILD)/tests/lib/bench_lib.o $(BUILD)/tests/harness/mount.o \
		$(LIBSHMAP_A)
	$(CC) $(LDFLAGS) -o $@ $^

.PHONY: bench-lib
bench-lib: $(BENCH_LIB) $(SHMAPFS)
	SHMAPFS_BIN=$(SHMAPFS) $(BENCH_LIB)

# ThreadSanitizer: the tests where threads meet (creating, mapping and
# unmapping at once; mutexes, events and multi-object waits), with the
# library and harness built by clang -fsanitize=thread. They run once per
# make check (with the normal build).
TSAN_CC ?= clang
TSAN_DIR := $(BUILD)/tsan
TSAN_NAMES := check_threads check_mutex check_event check_wait
TSAN_TESTS := $(TSAN_NAMES:%=$(TSAN_DIR)/tests/lib/%)
TSAN_COMMON := $(patsubst %.c,$(TSAN_DIR)/%.o,$(LIB_SRCS) \
	tests/harness/mount.c tests/lib/util.c)

$(TSAN_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(CFLAGS) -fsanitize=thread $(PKGS_CHECK) -Ilib \
		-Itests/harness -MMD -MP -c -o $@ $<

$(TSAN_DIR)/tests/lib/check_%: $(TSAN_DIR)/tests/lib/check_%.o $(TSAN_COMMON)
	$(TSAN_CC) $(LDFLAGS) -fsanitize=thread -o $@ $^ $(LIBS_CHECK) -lrt

check-lib-tsan: $(TSAN_TESTS) $(SHMAPFS)
	SHMAPFS_BIN=$(SHMAPFS) TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
		$(RUN_MOUNT_TESTS) $(TSAN_TESTS)

# The README example builds and runs; the man page renders without a
# warning.
# It builds against the in-tree library, then against an installed copy.
LIB_TEST_DESTDIR := $(CURDIR)/$(BUILD)/tests/lib/destdir
check-lib-readme: $(LIBSHMAP_SO) lib/shmap.pc $(SHMAPFS)
	for p in $(DATA_PATHS); do \
		SHMAPFS_TEST_DATA_PATH=$$p SHMAPFS_BIN=$(SHMAPFS) \
			tests/lib/readme-example.sh || exit 1; \
	done
	rm -rf $(LIB_TEST_DESTDIR)
	$(MAKE) --no-print-directory install-lib PREFIX=/usr \
		DESTDIR=$(LIB_TEST_DESTDIR) >/dev/null
	SHMAPFS_BIN=$(SHMAPFS) INSTALLED=$(LIB_TEST_DESTDIR) \
		tests/lib/readme-example.sh
	rm -rf $(LIB_TEST_DESTDIR)
	@out=$$(groff -man -ww -z lib/shmap.3 2>&1) && [ -z "$$out" ] || \
		{ echo "lib/shmap.3: $$out" >&2; exit 1; }
	@echo "lib/shmap.3: renders without warnings"

CHECKS += check-lib
ifeq ($(SANITIZE),)
CHECKS += check-lib-tsan check-lib-readme
endif

# Install: the library, header, pkg-config file and man page, with a
# page per function that sources shmap.3 (so that man shmap_map works).
LIB_DEST = $(DESTDIR)$(PREFIX)
LIB_FUNCS := $(shell sed -n \
	's/^SHMAP_EXPORT .*[ *]\(shmap_[a-z_]*\)([^)]*.*/\1/p' lib/shmap.h)
.PHONY: install-lib uninstall-lib
install-lib: $(LIBSHMAP_SO) $(LIBSHMAP_A)
	install -d $(LIB_DEST)/lib/pkgconfig $(LIB_DEST)/include \
		$(LIB_DEST)/share/man/man3
	install -m 755 $(OUT)lib/$(LIBSHMAP_SONAME) $(LIB_DEST)/lib/
	ln -sf $(LIBSHMAP_SONAME) $(LIB_DEST)/lib/libshmap.so
	install -m 644 $(LIBSHMAP_A) $(LIB_DEST)/lib/
	install -m 644 lib/shmap.h $(LIB_DEST)/include/
	$(call PC_SED,$(PREFIX),$${prefix}/lib,$${prefix}/include,) \
		lib/shmap.pc.in > $(LIB_DEST)/lib/pkgconfig/shmap.pc
	install -m 644 lib/shmap.3 $(LIB_DEST)/share/man/man3/
	for f in $(LIB_FUNCS); do \
		echo '.so man3/shmap.3' > $(LIB_DEST)/share/man/man3/$$f.3; \
	done
	$(LDCONFIG_AFTER)

uninstall-lib:
	rm -f $(LIB_DEST)/lib/$(LIBSHMAP_SONAME) $(LIB_DEST)/lib/libshmap.so \
		$(LIB_DEST)/lib/libshmap.a $(LIB_DEST)/include/shmap.h \
		$(LIB_DEST)/lib/pkgconfig/shmap.pc \
		$(LIB_DEST)/share/man/man3/shmap.3 \
		$(LIB_FUNCS:%=$(LIB_DEST)/share/man/man3/%.3)
	@rmdir $(LIB_DEST)/lib/pkgconfig $(LIB_DEST)/share/man/man3 2>/dev/null || true
	$(LDCONFIG_AFTER)

# A real install (no DESTDIR) updates the loader's cache, so that programs
# built against the library run at once, and uninstall takes it out again.
# Not for a staged install, nor where we may not (not root): then say so.
LDCONFIG_AFTER = @if [ -n "$(DESTDIR)" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then ldconfig; \
	else echo "run ldconfig as root to update the loader's cache"; fi

INSTALL_TARGETS += install-lib
UNINSTALL_TARGETS += uninstall-lib
