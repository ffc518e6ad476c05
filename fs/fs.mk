# The daemon: fs/core (no FUSE headers; unit-tested on its own) and the
# glue in fs/: FUSE (main.c, fuse_ops.c, ...), and the transport and OS
# glue the core never calls (reader.c, exclusive.c), each unit-tested on
# its own too (tests/tests.mk).

CORE_SRCS := $(wildcard fs/core/*.c)
CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRCS))
FS_SRCS := $(wildcard fs/*.c)
FS_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(FS_SRCS))
SHMAPFS := $(OUT)fs/shmapfs

$(BUILD)/fs/%.o: CFLAGS += -Ifs/core
$(FS_OBJS): CFLAGS += $(PKGS_FUSE)

all: $(SHMAPFS)

$(SHMAPFS): $(FS_OBJS) $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_FUSE)

CLEAN_FILES += fs/shmapfs
