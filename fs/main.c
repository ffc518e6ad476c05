/*
 * shmapfs: the daemon's entry point. Parses the command line, checks the
 * mountpoint and the backing directory, builds the registry, mounts, and
 * runs the multi-threaded FUSE loop. A dedicated thread sweeps the
 * registry every second (registry_sweep()) and takes SIGTERM and SIGINT: it
 * syncs the mount (so pages dirty in other processes' views reach the daemon),
 * then unmounts it, which ends the loop; every file-backed mapping is then
 * written out before the daemon exits. It does the same, and the daemon
 * exits 4, when reading requests keeps failing (SIGUSR2 from the
 * transport; see reader.h): only an unmount ends serving otherwise.
 *
 * Exit codes (documented in shmapfs.8):
 *   0 success, 1 usage or option error, 2 backing directory unusable,
 *   3 mount failed, 4 internal error (including a failed write-out).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bdi.h"
#include "fuse_ops.h"
#include "memlimit.h"
#include "options.h"
#include "passthrough.h"
#include "store_dir.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_BACKING = 2,
	EXIT_MOUNT = 3,
	EXIT_INTERNAL = 4,
};

/* How long the kernel keeps entries and attributes where nothing changes
 * them unseen: a day. */
#define LONG_TIMEOUT_S 86400.0

#define WORKERS_MAX  16
#define WORKERS_IDLE WORKERS_MAX /* no churn: see run_loop() */

struct cmdline {
	int foreground;
	int debug;
	const char *backing; /* NULL: memory-backed */
	char mountpoint[PATH_MAX];
	struct shmapfs_options opts;
};

struct logger {
	int use_syslog; /* once detached */
};

struct signal_thread {
	pthread_t thread;
	const char *mountpoint;
	struct logger *log;
	struct registry *reg;	 /* swept every second meanwhile */
	struct fuse_session *se; /* told to exit after a give-up */
	atomic_int *gave_up;	 /* the transport gave up (fuse_io.h) */
};

/* How long a give-up waits for the mount's dirty pages: the requests that
 * write them back may fail to arrive as the others did. */
#define GIVE_UP_SYNC_S 10

static void log_msg(void *ctx, int level, const char *msg)
{
	struct logger *lg = ctx;
	if (lg->use_syslog)
		syslog(level, "%s", msg);
	else
		fprintf(stderr, "shmapfs: %s\n", msg);
}

static void logf_(struct logger *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(struct logger *lg, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(lg, level, msg);
}

static void usage(FILE *to)
{
	fprintf(to, "usage: shmapfs [-f] [-d] [-o OPT[,OPT...]] "
		    "[BACKING_DIR|none|memory] MOUNTPOINT\n"
		    "\n"
		    "  -f    stay in the foreground\n"
		    "  -d    log every request (implies -f)\n");
	options_usage(to);
	fprintf(to, "  -o allow_other, and libfuse's other mount options\n"
		    "\nSee shmapfs(8).\n");
}

static uint64_t ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);
	return pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize
				      : (uint64_t)1 << 30;
}

static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
	const char *pos[3];
	int npos = 0;
	char err[256];
	uint64_t ram = ram_bytes();
	options_init(&cl->opts, ram, getuid(), getgid());
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(EXIT_OK);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("shmapfs 0.1 (libfuse %s)\n", fuse_pkgversion());
			exit(EXIT_OK);
		} else if (!strcmp(a, "-f")) {
			cl->foreground = 1;
		} else if (!strcmp(a, "-d")) {
			cl->debug = cl->foreground = 1;
		} else if (!strncmp(a, "-o", 2)) {
			const char *list = a[2] ? a + 2 : argv[++i];
			if (!list) {
				fprintf(stderr, "shmapfs: -o needs options\n");
				return -EINVAL;
			}
			if (options_parse(&cl->opts, list, ram, err,
					  sizeof(err)) < 0) {
				fprintf(stderr, "shmapfs: %s\n", err);
				return -EINVAL;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "shmapfs: unknown option '%s'\n", a);
			return -EINVAL;
		} else if (npos < 3) {
			pos[npos++] = a;
		} else {
			npos++;
		}
	}
	if (npos < 1 || npos > 2) {
		fprintf(stderr, "shmapfs: expected [BACKING_DIR] MOUNTPOINT "
				"(try --help)\n");
		return -EINVAL;
	}
	const char *mnt = pos[npos - 1];
	if (npos == 2 && strcmp(pos[0], "none") && strcmp(pos[0], "memory"))
		cl->backing = pos[0];
	struct mount_facts facts = {.file_backed = cl->backing != NULL,
				    .privileged = passthrough_privileged()};
	if (options_check(&cl->opts, &facts, err, sizeof(err)) < 0) {
		fprintf(stderr, "shmapfs: %s\n", err);
		return -EINVAL;
	}
	if (strlen(mnt) >= sizeof(cl->mountpoint)) {
		fprintf(stderr, "shmapfs: mountpoint name too long\n");
		return -EINVAL;
	}
	strcpy(cl->mountpoint, mnt);
	return 0;
}

static void warn_lowered(const char *opt, uint64_t given, uint64_t fit,
			 uint64_t limit)
{
	fprintf(stderr,
		"shmapfs: %s=%llu lowered to %llu: the cgroup's memory "
		"limit is %llu bytes\n",
		opt, (unsigned long long)given, (unsigned long long)fit,
		(unsigned long long)limit);
}

/*
 * Fit size= and nr_mappings= to the memory limit of our cgroup, so that a
 * full mount refuses creates (ENOSPC) before the kernel's OOM killer takes
 * the daemon (memlimit.h). Said on stderr: the daemon has not detached.
 */
static void fit_memory_limit(struct cmdline *cl)
{
	struct shmapfs_options *o = &cl->opts;
	uint64_t limit =
	    memlimit_read("/proc/self/cgroup", "/proc/self/mountinfo");
	if (limit == MEMLIMIT_NONE)
		return;
	struct memlimit_fit fit = memlimit_fit(limit, !cl->backing, o->size,
					       o->size_given, o->nr_mappings);
	if (fit.size_cut && o->size_given)
		warn_lowered("size", o->size, fit.size, limit);
	if (fit.nr_cut && o->nr_mappings_given)
		warn_lowered("nr_mappings", o->nr_mappings, fit.nr_mappings,
			     limit);
	o->size = fit.size;
	o->nr_mappings = fit.nr_mappings;
}

/* The mountpoint must be an existing directory; make its name absolute. */
static int check_mountpoint(struct cmdline *cl)
{
	char abs[PATH_MAX];
	struct stat st;
	if (stat(cl->mountpoint, &st) < 0 || !realpath(cl->mountpoint, abs)) {
		fprintf(stderr, "shmapfs: mountpoint %s: %s\n", cl->mountpoint,
			strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "shmapfs: mountpoint %s is not a directory\n",
			cl->mountpoint);
		return -ENOTDIR;
	}
	strcpy(cl->mountpoint, abs);
	return 0;
}

/* Open the backing directory; apply mode=/uid=/gid= to it if given. */
static int open_backing(const struct cmdline *cl, int *out)
{
	int fd = open(cl->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "shmapfs: backing directory %s: %s\n",
			cl->backing, strerror(errno));
		return -errno;
	}
	struct statvfs sv;
	if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY) &&
	    !cl->opts.read_only) {
		fprintf(stderr,
			"shmapfs: backing directory %s is on a read-only "
			"filesystem (mount with -o ro to serve it read-only)\n",
			cl->backing);
		close(fd);
		return -EROFS;
	}
	const struct shmapfs_options *o = &cl->opts;
	if (o->root_attrs_set && !o->read_only &&
	    (fchmod(fd, o->mode) < 0 ||
	     (geteuid() == 0 && fchown(fd, o->uid, o->gid) < 0))) {
		fprintf(stderr, "shmapfs: backing directory %s: %s\n",
			cl->backing, strerror(errno));
		close(fd);
		return -errno;
	}
	*out = fd;
	return 0;
}

/*
 * Reach the backing directory (fd) through a mount of our own, a clone
 * nobody else can reach, and let every open made through it pass without
 * an event: ours, and those the kernel makes for passthrough, which it
 * makes in the opener's thread (exclusive.h); and let writes through it
 * raise no event for the watcher (watch.h). Where that cannot be had,
 * fd stays, and those opens are told apart one by one. Returns the
 * directory to use.
 */
static int private_backing(int fd, struct exclusive *ex, struct watch *w)
{
	int tree = open_tree(fd, "",
			     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				 AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0)
		return fd;
	int priv = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(tree);
	if (priv >= 0 && exclusive_pass_mount(ex, priv) == 0) {
		/* Without it, the watcher still skips them, one by one. */
		if (w)
			(void)watch_pass_mount(w, priv);
		close(fd);
		return priv;
	}
	if (priv >= 0)
		close(priv);
	return fd;
}

static int build_registry(const struct cmdline *cl, struct logger *lg,
			  struct shmapfs *fs, const struct store_dir *sd,
			  struct registry **out)
{
	struct registry_config cfg;
	options_to_config(&cl->opts, &cfg);
	cfg.log = log_msg;
	cfg.log_ctx = lg;
	if (!cl->backing) {
		cfg.store_dirfd = sd->fd;
		cfg.store_dir_capacity = sd->is_capacity;
	}
	cfg.exclusive_state = fs->exclusive_state;
	cfg.data_path = fs->data_path;
	if (fs->exclusive) {
		cfg.guard_store = exclusive_guard;
		cfg.unguard_store = exclusive_unguard;
		cfg.guard_ctx = fs->exclusive;
	}
	if (fs->watch) {
		cfg.mark_dir = watch_dir;
		cfg.watch_ctx = fs->watch;
	}
	/* Without a watcher, local changes are seen within a second. */
	if (cl->backing && !fs->watch && cfg.actimeo_ms < 0)
		cfg.actimeo_ms = 1000;
	fs->timeout =
	    cfg.actimeo_ms < 0 ? LONG_TIMEOUT_S : cfg.actimeo_ms / 1000.0;
	if (fs->io.want_passthrough) {
		cfg.share_store = passthrough_share;
		cfg.unshare_store = passthrough_unshare;
		cfg.share_ctx = fs;
	}
	if (cl->backing && open_backing(cl, &cfg.backing_dirfd) < 0)
		return -EBADF;
	if (fs->exclusive)
		cfg.backing_dirfd = private_backing(cfg.backing_dirfd,
						    fs->exclusive, fs->watch);
	int res = registry_new(&cfg, out);
	if (res < 0)
		fprintf(stderr, "shmapfs: backing directory %s: %s\n",
			cl->backing ? cl->backing : "(memory)", strerror(-res));
	return res;
}

/* Append s to the fuse option string, escaping commas (fuse_opt's \,). */
static void append_escaped(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf);
	for (; *s && len + 3 < size; s++) {
		if (*s == ',' || *s == '\\')
			buf[len++] = '\\';
		buf[len++] = *s;
	}
	buf[len] = '\0';
}

static struct fuse_session *new_session(const struct cmdline *cl,
					struct shmapfs *fs)
{
	char opts[PATH_MAX + 8192] = "default_permissions,subtype=shmapfs,"
				     "fsname=";
	append_escaped(opts, sizeof(opts),
		       cl->backing ? cl->backing : "shmapfs");
	if (cl->opts.fuse_opts_len) {
		if (strlen(opts) + cl->opts.fuse_opts_len + 2 > sizeof(opts))
			return NULL;
		strcat(opts, ",");
		strcat(opts, cl->opts.fuse_opts);
	}
	char *argv[] = {"shmapfs", "-o", opts, cl->debug ? "-d" : NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(cl->debug ? 4 : 3, argv);
	struct fuse_session *se =
	    fuse_session_new(&args, &shmapfs_ops, sizeof(shmapfs_ops), fs);
	fuse_opt_free_args(&args);
	return se;
}

static void unmount_self(const char *mnt)
{
	if (geteuid() == 0) {
		if (umount2(mnt, 0) < 0)
			umount2(mnt, MNT_DETACH); /* busy: as umount -l */
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", mnt,
		       (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/*
 * Write back the pages that other processes' views dirtied, while the
 * connection still stands (our workers serve the write-back). A child does
 * it (sync -f), never a thread of ours: a thread waiting on its own mount
 * cannot be killed, and if the loop ended first nothing would answer it,
 * so the daemon could never finish exiting (seen: a SIGKILLed daemon left
 * as a zombie whose signal thread waited in open() of its mountpoint, the
 * mount hung with it). A child's wait ends at the latest when our
 * /dev/fuse descriptor (close-on-exec) closes. We stop waiting for it if
 * the loop ends meanwhile (SIGUSR1, in usr1), or after limit_s seconds if
 * limit_s is not 0.
 */
static void sync_mount(const char *mountpoint, const sigset_t *usr1,
		       unsigned limit_s)
{
	char *argv[] = {"sync", "--file-system", (char *)mountpoint, NULL};
	pid_t pid;
	if (posix_spawn(&pid, "/bin/sync", NULL, NULL, argv, environ) != 0)
		return;
	struct timespec tick = {0, 10 * 1000 * 1000}, start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		/* By the clock: on a loaded machine a tick takes longer (a
		 * count of 1000 ticks was seen to last 25 s). */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (limit_s && now.tv_sec - start.tv_sec >= (time_t)limit_s) {
			kill(pid, SIGKILL); /* reaped by waitpid(): no zombie */
			waitpid(pid, NULL, 0);
			return;
		}
		if (sigtimedwait(usr1, NULL, &tick) == SIGUSR1)
			return; /* the child ends with the connection */
	}
}

static void *signal_main(void *arg)
{
	struct signal_thread *st = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	struct timespec second = {1, 0};
	int sig;
	for (;;) {
		sig = sigtimedwait(&set, NULL, &second);
		if (sig < 0)
			registry_sweep(st->reg);
		else if (sig != SIGUSR2 || atomic_load(st->gave_up))
			break; /* a SIGUSR2 of someone else's is ignored */
	}
	if (sig == SIGUSR1) /* the loop ended on its own */
		return NULL;
	int gave_up = sig == SIGUSR2;
	if (gave_up) /* the reader said why */
		logf_(st->log, LOG_ERR,
		      "cannot read requests any more: unmounting %s",
		      st->mountpoint);
	else
		logf_(st->log, LOG_INFO, "%s: unmounting %s", strsignal(sig),
		      st->mountpoint);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sync_mount(st->mountpoint, &usr1, gave_up ? GIVE_UP_SYNC_S : 0);
	unmount_self(st->mountpoint);
	/* A lazy unmount leaves the connection to the last close: a reader
	 * that cannot read would wait for it, so it stops now. */
	if (gave_up)
		fuse_session_exit(st->se);
	return NULL;
}

/* The transport's give-up (fuse_io.h): the signal thread unmounts. */
static void ask_unmount(void *ctx)
{
	(void)ctx;
	kill(getpid(), SIGUSR2);
}

static int run_loop(struct fuse_session *se, const struct cmdline *cl,
		    struct logger *lg, struct shmapfs *fs)
{
	struct signal_thread st = {.mountpoint = cl->mountpoint,
				   .log = lg,
				   .reg = fs->reg,
				   .se = se,
				   .gave_up = &fs->io.gave_up};
	if (pthread_create(&st.thread, NULL, signal_main, &st) != 0)
		return -EAGAIN;
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int res = cfg ? 0 : -ENOMEM;
	if (cfg) {
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		/* Each worker holds a 1 MiB request buffer: 16 keep the
		 * daemon small and are plenty for two cores (more requests
		 * wait in the kernel's queue). Workers are kept once made:
		 * letting idle ones exit churned those buffers through
		 * malloc, which then kept them in per-thread arenas. */
		fuse_loop_cfg_set_idle_threads(cfg, WORKERS_IDLE);
		fuse_loop_cfg_set_max_threads(cfg, WORKERS_MAX);
		res = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/* libfuse 3.14 takes only ENODEV as the end of the mount; the kernel
	 * may also say ECONNABORTED (seen after a lazy unmount). Either way
	 * no request can come any more: write out and exit as usual. */
	if (res == -ECONNABORTED) {
		logf_(lg, LOG_WARNING, "the kernel ended the connection to %s",
		      cl->mountpoint);
		res = 0;
	}
	pthread_kill(st.thread, SIGUSR1);
	pthread_join(st.thread, NULL);
	return res;
}

/* The most descriptors the kernel gives one process (fs.nr_open). */
static rlim_t nr_open(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f && fscanf(f, "%llu", &v) != 1)
		v = 0;
	if (f)
		fclose(f);
	return (rlim_t)v;
}

/*
 * Mappings in use hold a descriptor each up to half the limit, and none
 * past it (residency.c parks them): raise it as far as allowed, so that
 * most keep theirs: to fs.nr_open where the daemon may raise its hard
 * limit (CAP_SYS_RESOURCE), else to the hard limit.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t most = nr_open();
	struct rlimit want = {most, most};
	if (most > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &want) == 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}

/*
 * Exclusive backing files, where asked for and allowed: fs->exclusive, or
 * NULL; fs->exclusive_state says what holds, for the log and the root's
 * user.shmap.exclusive. Its listener starts once the daemon has detached.
 */
static void start_exclusive(const struct cmdline *cl, struct shmapfs *fs)
{
	const char *why = NULL;
	int res = 0;
	if (!cl->backing)
		why = "memory-backed";
	else if (!cl->opts.exclusive)
		why = "noexclusive";
	else
		res = exclusive_new(&fs->exclusive);
	if (why)
		snprintf(fs->exclusive_state, sizeof(fs->exclusive_state),
			 "off (%s)", why);
	else if (res < 0)
		snprintf(fs->exclusive_state, sizeof(fs->exclusive_state),
			 "unavailable (%s)", exclusive_unavailable_why(res));
	else
		snprintf(fs->exclusive_state, sizeof(fs->exclusive_state),
			 "on");
}

/*
 * The watcher of a file-backed mount's backing directory (watch.h), made
 * before the registry so that its scan marks every directory. Without
 * one, the mount looks at the directory again after actimeo (1 s unless
 * given) instead. Logged once mounted.
 */
static void start_watch(const struct cmdline *cl, struct shmapfs *fs,
			char *state, size_t size)
{
	if (!cl->backing) {
		snprintf(state, size, "off (memory-backed)");
		return;
	}
	int res = watch_new(&fs->watch);
	if (res < 0)
		snprintf(state, size, "unavailable (%s)",
			 watch_unavailable_why(res));
	else
		snprintf(state, size, "on");
}

/* Let the sweep see views that outlive their open (registry_watch_views):
 * before fuse_daemonize, which changes directory. */
static void watch_views(const struct cmdline *cl, struct logger *lg,
			struct registry *reg)
{
	int res = cl->backing ? registry_watch_views(reg, cl->mountpoint) : 0;
	if (res < 0)
		logf_(lg, LOG_WARNING,
		      "cannot find %s in /proc/self/mountinfo: %s; mappings "
		      "viewed by passthrough stay locked once used",
		      cl->mountpoint, strerror(-res));
}

static int serve(struct cmdline *cl, struct logger *lg)
{
	struct shmapfs fs = {
	    .writeback_cache = cl->opts.writeback_cache,
	    .log = log_msg,
	    .log_ctx = lg,
	    .io.poll_us = cl->opts.poll_us,
	    .io.give_up = ask_unmount,
	};
	fs.io.want_passthrough = cl->opts.path.passthrough;
	fs.io.no_passthrough_why = cl->opts.path.why;
	struct store_dir sd = {.fd = -1};
	if (!cl->backing) {
		char err[256];
		store_dir_make(&sd, cl->opts.size, cl->opts.nr_mappings,
			       cl->opts.huge, err, sizeof(err));
		if (err[0])
			logf_(lg, LOG_WARNING, "%s", err);
	}
	start_exclusive(cl, &fs);
	char watch_state[128];
	start_watch(cl, &fs, watch_state, sizeof(watch_state));
	if (build_registry(cl, lg, &fs, &sd, &fs.reg) < 0) {
		watch_free(fs.watch);
		exclusive_free(fs.exclusive);
		store_dir_free(&sd);
		return EXIT_BACKING;
	}
	int code = EXIT_OK;
	struct fuse_session *se = new_session(cl, &fs);
	fs.se = se;
	if (!se) {
		code = EXIT_USAGE; /* libfuse said which option, in one line */
	} else if (fuse_session_mount(se, cl->mountpoint) != 0) {
		fprintf(stderr, "shmapfs: cannot mount on %s\n",
			cl->mountpoint);
		code = EXIT_MOUNT;
	} else if (fuse_io_install(se, &fs.io) != 0) {
		fprintf(stderr, "shmapfs: cannot set up /dev/fuse\n");
		fuse_session_unmount(se);
		code = EXIT_INTERNAL;
	} else {
		watch_views(cl, lg, fs.reg);
		if (fuse_daemonize(cl->foreground) != 0)
			code = EXIT_INTERNAL;
		if (!cl->foreground) {
			openlog("shmapfs", LOG_PID, LOG_DAEMON);
			lg->use_syslog = 1;
		}
		logf_(lg, LOG_INFO, "mounted %s on %s",
		      cl->backing ? cl->backing : "memory", cl->mountpoint);
		if (fs.exclusive && exclusive_start(fs.exclusive) < 0)
			snprintf(fs.exclusive_state, sizeof(fs.exclusive_state),
				 "unavailable (cannot start its listener)");
		logf_(lg, LOG_INFO, "exclusive backing files: %s",
		      fs.exclusive_state);
		if (fs.watch && watch_start(fs.watch, &fs) < 0)
			snprintf(watch_state, sizeof(watch_state),
				 "unavailable (cannot start its thread)");
		if (cl->backing)
			logf_(lg, LOG_INFO,
			      "backing directory watch: %s; kernel caches "
			      "kept %.0f s",
			      watch_state, fs.timeout);
		int res = bdi_tune(cl->mountpoint, MAX_REQUEST_KB);
		if (res < 0 && res != -EACCES)
			logf_(lg, LOG_WARNING,
			      "cannot tune %s's read-ahead: %s", cl->mountpoint,
			      strerror(-res));
		int loop = code == EXIT_OK ? run_loop(se, cl, lg, &fs) : 0;
		watch_free(fs.watch); /* no notification after this */
		fs.watch = NULL;
		if (loop != 0) {
			logf_(lg, LOG_ERR, "serving %s ended with error %d",
			      cl->mountpoint, loop);
			code = EXIT_INTERNAL;
		}
		int err = atomic_load(&fs.io.gave_up);
		if (err) {
			logf_(lg, LOG_ERR,
			      "stopped serving %s: reading "
			      "requests failed with %s",
			      cl->mountpoint, strerror(err));
			code = EXIT_INTERNAL;
		}
		fuse_session_unmount(se);
		fuse_io_destroy(&fs.io); /* the workers are gone */
	}
	if (se)
		fuse_session_destroy(se); /* calls destroy: the write-out */
	fs.se = NULL; /* passthrough handles died with the connection */
	if (fs.sync_error) {
		logf_(lg, LOG_ERR, "writing mappings out at unmount: %s",
		      strerror(-fs.sync_error));
		code = EXIT_INTERNAL;
	}
	watch_free(fs.watch);	      /* if the loop never ran */
	registry_free(fs.reg);	      /* empties the store directory */
	exclusive_free(fs.exclusive); /* after the last store is unguarded */
	store_dir_free(&sd);
	if (code == EXIT_OK)
		logf_(lg, LOG_INFO, "unmounted %s", cl->mountpoint);
	return code;
}

int main(int argc, char **argv)
{
	struct cmdline cl = {0};
	struct logger lg = {0};
	if (parse_cmdline(argc, argv, &cl) < 0)
		return EXIT_USAGE;
	fit_memory_limit(&cl);
	if (check_mountpoint(&cl) < 0) {
		options_free(&cl.opts);
		return EXIT_MOUNT;
	}
	umask(0); /* modes of backing files are exactly the callers' */
	/* A fixed threshold: every 1 MiB request buffer is a mapping of its
	 * own, given back whole, never parked in a per-thread arena. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	raise_fd_limit();
	block_signals();
	int code = serve(&cl, &lg);
	options_free(&cl.opts);
	return code;
}
