#!/usr/bin/env python3
"""shmapfs benchmark driver (issues 5 and 22).

Mounts the backends under one temporary directory -- a fresh tmpfs,
libfuse's passthrough_ll over a tmpfs, shmapfs memory-backed and
file-backed (over a tmpfs) on the default data path (passthrough for a
root daemon on Linux 6.9+), the same two on the fallback path
(-o nopassthrough), the memory-backed fallback run by an unprivileged
user (a user mount through fusermount3), and a memory-backed mount with
usrquota -- then runs every workload of tests/bench/shmapbench on each,
interleaved (workload by workload, the backends' order rotating from run
to run), RUNS times. Prints one table of medians with the ratios to tmpfs
and to passthrough_ll and the issues' targets (issue 5's for the default
path, issue 22's for the fallback), plus the daemons' memory, and writes
it with the machine's description to --out.

It runs in a mount namespace of its own (unshare). Every mount wait,
workload and unmount is bounded; everything mounted is taken down on any
exit (signals included). Exit status 0 only if every
backend mounted, every workload ran and read back what it stored, and
every daemon exited 0 after its unmount.
"""

import argparse
import ctypes
import os
import platform
import pwd
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time

BACKENDS = {
    "tmpfs": "tmpfs",
    "pt": "passthrough_ll",
    "mem": "shmapfs mem",
    "file": "shmapfs file",
    "fbmem": "fallback mem",  # -o nopassthrough
    "fbfile": "fallback file",
    "wbc": "fallback mem, writeback_cache",
    "user": "fallback mem, unprivileged",  # a user mount (fusermount3)
    "quota": "fallback mem usrquota",
    "alt": "shmapfs mem alt",  # memory-backed with --alt-opts, for A/B
}
SHMAPFS_BACKENDS = ("mem", "file", "fbmem", "fbfile", "wbc", "user", "quota",
                    "alt")
# Whose targets a backend is judged by: issue 5's for the default path
# (passthrough for a root daemon), issue 22's for the fallback, and the
# quota case of issue 22 against the same mount without quotas.
GROUP = {"mem": "pt", "file": "pt", "fbmem": "fb", "fbfile": "fb",
         "wbc": "fb", "user": "fb", "alt": "fb", "quota": "quota"}
# The options that make each shmapfs backend what it is (before
# --shmapfs-opts); alt takes --alt-opts alone.
BACKEND_OPTS = {"mem": "", "file": "", "fbmem": "nopassthrough",
                "fbfile": "nopassthrough", "wbc": "writeback_cache",
                "user": "", "quota": "usrquota"}
FILE_BACKED = ("file", "fbfile")
# The quota mount runs only the write workloads (its reads are the
# fallback's); every other backend runs them all.
QUOTA_ONLY = ("dd-4k", "dd-1m", "seq-write", "seq-read", "rand-pwrite")

# Interleaving steps: the workloads in one step run back to back on one
# backend (seq-read reads what seq-write wrote). Per workload: the label,
# which size it uses, and the target (ratio to a baseline).
STEPS = [
    ["cold-mmap"], ["warm-mmap"], ["warm-read"], ["mmap-write"],
    ["two-proc"], ["seq-write", "seq-read"], ["rand-pwrite"],
    ["dd-4k"], ["dd-1m"], ["openmap"], ["meta"],
]
# Per workload: its label, which size it uses, and the targets by group
# (see GROUP): (baseline backend, least ratio to it).
WORKLOADS = {
    "openmap": ("1 open-map cycle (open, mmap 4K, store, close)", "map",
                {"pt": ("tmpfs", 0.25), "fb": ("tmpfs", 0.27)}),
    "cold-mmap": ("2 cold fault-in, a byte per page", "map",
                  {"pt": ("pt", 3.0), "fb": ("tmpfs", 0.9)}),
    "warm-mmap": ("3 warm mmap read, a byte per page", "map",
                  {"pt": ("tmpfs", 1.0)}),
    "warm-read": ("3 warm read(), 1 MiB blocks", "map",
                  {"pt": ("tmpfs", 1.0), "fb": ("tmpfs", 0.95)}),
    "mmap-write": ("4 mmap store per page + msync", "map",
                   {"pt": ("pt", 2.0), "fb": ("tmpfs", 0.9)}),
    "seq-write": ("5 seq write() 1 MiB + fsync", "seq",
                  {"pt": ("pt", 1.5), "fb": ("tmpfs", 0.7)}),
    "seq-read": ("5 seq cold read() 1 MiB", "seq", {}),
    "rand-pwrite": ("6 random 4 KiB pwrite + fsync", "rand",
                    {"pt": ("pt", 5.0), "fb": ("tmpfs", 0.5)}),
    "two-proc": ("7 two procs, disjoint halves + msync", "map", {}),
    "meta": ("8 create, ftruncate 64K, close, unlink", "map",
             {"pt": ("pt", 1.5), "fb": ("pt", 1.2)}),
    "dd-4k": ("10 dd to a new file, 4 KiB write()s + fsync", "rand",
              {"quota": ("fbmem", 0.8)}),
    "dd-1m": ("10 dd to a new file, 1 MiB write()s + fsync", "rand",
              {"quota": ("fbmem", 0.8)}),
}
ORDER = ["openmap", "cold-mmap", "warm-mmap", "warm-read", "mmap-write",
         "seq-write", "seq-read", "rand-pwrite", "two-proc", "meta",
         "dd-4k", "dd-1m"]
MOUNT_WAIT_S = 10
UNMOUNT_WAIT_S = 20


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted("signal %d" % signum)


def die_with_parent():
    """In a daemon child: get SIGTERM if the driver dies (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if line.split()[4] == path:
                return True
    return False


def sh(cmd, timeout=30):
    """Run a command, bounded; returns (exit status, its last line)."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout,
                           check=False)
    except subprocess.TimeoutExpired:
        return -1, "%s: timed out after %d s" % (cmd[0], timeout)
    lines = (p.stdout + p.stderr).strip().splitlines()
    return p.returncode, lines[-1] if lines else ""


class Backend:
    """One mounted backend: its directory, and its daemon if it has one."""

    def __init__(self, key, root):
        self.key = key
        self.root = root
        self.mnt = os.path.join(root, key)
        self.src = None  # the tmpfs below a FUSE backend, if any
        self.proc = None
        self.log = os.path.join(root, key + ".log")
        self.tmpfs = []  # tmpfs mounts to take down, innermost last
        self.exit_status = None
        self.started = False  # mounted: its exit status is worth a report
        self.own_peak = 0  # peak RssAnon + RssFile seen, bytes
        self.threads_peak = 0  # the daemon's peak thread count seen

    def mount_tmpfs(self, path):
        os.makedirs(path, exist_ok=True)
        if sh(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs",
               path])[0] != 0:
            raise RuntimeError("cannot mount a tmpfs at " + path)
        self.tmpfs.append(path)

    def start(self, args):
        os.makedirs(self.mnt)
        if self.key == "tmpfs":
            self.mount_tmpfs(self.mnt)
            return
        cmd = self.daemon_cmd(args)
        as_user = {}
        if self.key == "user":
            # fusermount3 mounts only where the user may write
            os.chown(self.mnt, args.uid, args.gid)
            as_user = user_kwargs(args)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         preexec_fn=die_with_parent,
                                         **as_user)
        deadline = time.monotonic() + MOUNT_WAIT_S
        while not mounted(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %d before mounting: %s" % (
                    BACKENDS[self.key], self.proc.returncode,
                    self.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not mount in %d s: %s" % (
                    BACKENDS[self.key], MOUNT_WAIT_S, self.log_tail()))
            time.sleep(0.05)
        self.started = True

    def daemon_cmd(self, args):
        if self.key == "pt":
            self.src = os.path.join(self.root, "pt-src")
            self.mount_tmpfs(self.src)
            opts = ",".join(o for o in ["source=" + self.src, args.pt_opts]
                            if o)
            return [args.passthrough, "-f", "-o", opts, self.mnt]
        alt = self.key == "alt" and args.alt_shmapfs
        daemon = args.alt_shmapfs if alt else args.shmapfs
        if self.key == "user":
            daemon = args.user_shmapfs
        cmd = [daemon, "-f"]
        if self.key == "alt":
            opts = args.alt_opts
        else:
            opts = ",".join(o for o in [BACKEND_OPTS[self.key],
                                        args.shmapfs_opts] if o)
        if opts:
            cmd += ["-o", opts]
        if self.key in FILE_BACKED:
            self.src = os.path.join(self.root, "file-src")
            self.mount_tmpfs(self.src)
            return cmd + [self.src, self.mnt]
        return cmd + [self.mnt]

    def log_tail(self):
        try:
            with open(self.log) as f:
                lines = f.read().strip().splitlines()
            return lines[-1] if lines else "(no output)"
        except OSError:
            return "(no log)"

    def status(self):
        """The daemon's /proc status fields in bytes ({} if none)."""
        if not self.proc or self.proc.poll() is not None:
            return {}
        out = {}
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if v.strip().endswith(" kB"):
                        out[k] = int(v.split()[0]) * 1024
                    elif k == "Threads":
                        out[k] = int(v)
        except OSError:
            return {}
        own = out.get("RssAnon", 0) + out.get("RssFile", 0)
        self.own_peak = max(self.own_peak, own)
        self.threads_peak = max(self.threads_peak, out.get("Threads", 0))
        return out

    def store_bytes(self, name):
        """Bytes the backend holds for file @name, outside the page cache
        of a FUSE inode: the tmpfs file, the backing file, or the memory
        daemon's stores (memfds and other regular files it holds open,
        and what its private tmpfs holds; @name is then the only file
        there at the memory phase)."""
        if self.key == "tmpfs":
            return os.stat(os.path.join(self.mnt, name)).st_blocks * 512
        total = 0
        if self.src:
            total += os.stat(os.path.join(self.src, name)).st_blocks * 512
        if self.key in SHMAPFS_BACKENDS and self.proc and not self.src:
            total += self.daemon_store_bytes()
        return total

    def daemon_store_bytes(self):
        """What a memory-backed daemon's stores hold: its private tmpfs
        (mounted nowhere; a root daemon opens the stores there by name
        only while in use), and every other regular file it holds open
        (memfds), each counted once."""
        fds = "/proc/%d/fd" % self.proc.pid
        root_dev = os.stat("/").st_dev
        dirs, files = {}, {}
        for fd in os.listdir(fds):
            try:
                path = os.path.join(fds, fd)
                st = os.stat(path)
                if stat.S_ISREG(st.st_mode):
                    files[(st.st_dev, st.st_ino)] = st.st_blocks * 512
                elif stat.S_ISDIR(st.st_mode) and st.st_dev != root_dev:
                    sv = os.statvfs(path)
                    dirs[st.st_dev] = (sv.f_blocks - sv.f_bfree) * sv.f_frsize
            except OSError:
                pass
        return sum(dirs.values()) + sum(b for (dev, _), b in files.items()
                                        if dev not in dirs)

    def bdi(self, knobs):
        """Set /sys/class/bdi knobs (name=value,...) of this FUSE mount."""
        if not knobs or self.key in ("tmpfs", "user"):
            return  # root may not even stat a user mount
        dev = os.stat(self.mnt).st_dev
        path = "/sys/class/bdi/%d:%d" % (os.major(dev), os.minor(dev))
        for kv in knobs.split(","):
            k, _, v = kv.partition("=")
            with open(os.path.join(path, k), "w") as f:
                f.write(v)

    def stop(self, errors):
        """Unmount, reap the daemon (bounded), take the tmpfs mounts down."""
        if self.proc:
            umount = (0, "")
            if mounted(self.mnt):
                umount = sh(["fusermount3", "-u", self.mnt],
                            timeout=UNMOUNT_WAIT_S)
            if umount[0] != 0:
                errors.append("%s: fusermount3 -u: %s" % (
                    BACKENDS[self.key], umount[1]))
            try:
                self.exit_status = self.proc.wait(timeout=UNMOUNT_WAIT_S)
            except subprocess.TimeoutExpired:
                errors.append("%s: still running %d s after its unmount "
                              "(%s); sent SIGTERM" % (
                                  BACKENDS[self.key], UNMOUNT_WAIT_S,
                                  "still mounted" if mounted(self.mnt)
                                  else "no longer mounted"))
                self.proc.terminate()
                try:
                    self.exit_status = self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    self.exit_status = -1
            if self.exit_status != 0 and self.started:
                errors.append("%s exited %s after unmount: %s" % (
                    BACKENDS[self.key], self.exit_status, self.log_tail()))
            if mounted(self.mnt):
                sh(["umount", "-l", self.mnt])
        for path in reversed(self.tmpfs):
            if mounted(path):
                sh(["umount", "-l", path])


def user_kwargs(args):
    """Popen arguments that run a process as the unprivileged user."""
    return {"user": args.uid, "group": args.gid, "extra_groups": []}


def run_workload(args, backend, name, gen):
    """Run one workload; returns (value, unit, note) or raises RuntimeError."""
    mb = {"map": args.size_mb, "seq": args.seq_mb,
          "rand": args.rand_mb}[WORKLOADS[name][1] if name in WORKLOADS
                                else "map"]
    # A user mount lets in its own user only, root included: the
    # workload runs as that user, from a copy of the binary it can reach.
    user = backend.key == "user"
    cmd = [args.user_bench if user else args.bench, "-m", str(mb),
           "-t", str(args.duration_ms), "-g", str(gen), name, backend.mnt]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=args.timeout, check=False,
                           **(user_kwargs(args) if user else {}))
    except subprocess.TimeoutExpired as e:
        raise RuntimeError("%s on %s: timed out after %d s" % (
            name, BACKENDS[backend.key], args.timeout)) from e
    if p.returncode != 0:
        msg = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])
        raise RuntimeError("%s on %s: %s" % (name, BACKENDS[backend.key],
                                              msg[-1]))
    tok = p.stdout.split()
    return float(tok[0]), tok[1], " ".join(tok[2:])


def run_all(args, backends, results, errors):
    for b in backends.values():
        run_workload(args, b, "prep", 0)
    keys = list(backends)
    for run in range(args.runs):
        order = keys[run % len(keys):] + keys[:run % len(keys)]
        for step in STEPS:
            if args.only and not set(step) & set(args.only):
                continue
            for key in order:
                b = backends[key]
                if key == "quota" and not set(step) & set(QUOTA_ONLY):
                    continue
                for name in step:
                    try:
                        v, unit, note = run_workload(args, b, name, run + 1)
                    except RuntimeError as e:
                        errors.append(str(e))
                        continue
                    results.setdefault((name, key), []).append(v)
                    results[("unit", name)] = unit
                    if note:
                        results.setdefault(("note", name, key),
                                           []).append(note)
                b.status()


def memory_phase(args, backends, mem, errors):
    """What each backend holds for the data file, cached and dropped."""
    size = args.size_mb << 20
    for key, b in backends.items():
        try:
            cached, _, left = run_workload(args, b, "memory", 0)
            # a tmpfs's page cache is its store, counted once below
            cached, left = (0, 0) if key == "tmpfs" else (cached, int(left))
            st = b.status()
            own = st.get("RssAnon", 0) + st.get("RssFile", 0)
            store = b.store_bytes("data")
            mem[key] = {
                "hwm": st.get("VmHWM"),
                "own_peak": b.own_peak if b.proc else None,
                "threads": b.threads_peak if b.proc else None,
                "cached": (store + cached + own) / size,
                "dropped": (store + left + own) / size,
            }
        except (RuntimeError, OSError, ValueError) as e:
            errors.append("memory on %s: %s" % (BACKENDS[key], e))


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ops/s":
        return "%.1fk" % (v / 1e3) if v < 1e6 else "%.2fM" % (v / 1e6)
    return "%.0f" % v


def ratio(v, base):
    return "%.2f" % (v / base) if v is not None and base else "-"


TARGET_GROUPS = (("pt", "target, default path"), ("fb", "target, fallback"),
                 ("quota", "target, usrquota"))


def target_text(t):
    if not t:
        return ""
    base = {"tmpfs": "tmpfs", "pt": "pt"}.get(t[0], BACKENDS.get(t[0], t[0]))
    return "≥%g× %s" % (t[1], base)


def verdict(med, name, k):
    """Whether backend k meets its group's target for workload name."""
    target = WORKLOADS[name][2].get(GROUP.get(k))
    if not target:
        return ""
    v, base = med.get((name, k)), med.get((name, target[0]))
    if v is None or not base:
        return "-"
    return "yes" if v / base >= target[1] else "NO"


def table(args, backends, results, mem):
    keys = list(backends)
    shm = [k for k in keys if k in SHMAPFS_BACKENDS]
    groups = [g for g in TARGET_GROUPS if any(GROUP[k] == g[0] for k in shm)]
    med = {}
    for (name, key), vals in [(k, v) for k, v in results.items()
                              if len(k) == 2 and k[0] != "unit"]:
        med[(name, key)] = statistics.median(vals)
    head = ["workload", "unit"] + [BACKENDS[k] for k in keys]
    for k in shm:
        head += ["%s ×tmpfs" % k, "%s ×pt" % k]
    head += [g[1] for g in groups] + ["%s meets" % k for k in shm]
    rows = [head]
    for name in ORDER:
        label, _, targets = WORKLOADS[name]
        unit = results.get(("unit", name), "")
        row = [label, unit] + [fmt(med.get((name, k)), unit) for k in keys]
        for k in shm:
            v = med.get((name, k))
            row += [ratio(v, med.get((name, "tmpfs"))),
                    ratio(v, med.get((name, "pt")))]
        row += [target_text(targets.get(g[0])) for g in groups]
        rows.append(row + [verdict(med, name, k) for k in shm])
    rows += memory_rows(args, keys, shm, len(groups), mem)
    return rows


def memory_rows(args, keys, shm, ntargets, mem):
    mib = 1 << 20
    limit = 64 * mib + 0.01 * ((args.size_mb + args.seq_mb) << 20)

    def col(k, field, f):
        v = mem.get(k, {}).get(field)
        return f(v) if v is not None else "-"

    def pad(vals, verdicts, target):
        extra = ["", ""] * len(shm)
        targets = [target] + [""] * (ntargets - 1) if ntargets else []
        return vals + extra + targets + verdicts

    def meets(k):
        v = mem.get(k, {}).get("own_peak")
        return "-" if v is None else ("yes" if v <= limit else "NO")

    def held(field, most):
        """Issue 22's bound on memory held per byte, for the fallback."""
        def check(k):
            v = mem.get(k, {}).get(field)
            if GROUP.get(k) != "fb":
                return ""
            return "-" if v is None else ("yes" if v <= most else "NO")
        return [check(k) for k in shm]

    return [
        pad(["9 daemon peak RSS (VmHWM)", "MiB"] +
            [col(k, "hwm", lambda v: "%.1f" % (v / mib)) for k in keys],
            ["" for _ in shm], ""),
        pad(["9 daemon own memory (peak RssAnon+RssFile)", "MiB"] +
            [col(k, "own_peak", lambda v: "%.1f" % (v / mib))
             for k in keys], [meets(k) for k in shm],
            "≤64 MiB + 1%% of %d MiB" % (args.size_mb + args.seq_mb)),
        pad(["9 daemon threads (peak seen)", "-"] +
            [col(k, "threads", str) for k in keys],
            ["" for _ in shm], ""),
        pad(["9 held per byte of mapped data, cached", "B/B"] +
            [col(k, "cached", lambda v: "%.2f" % v) for k in keys],
            held("cached", 2.0), "fallback ≤2.0"),
        pad(["9 held per byte, page cache dropped", "B/B"] +
            [col(k, "dropped", lambda v: "%.2f" % v) for k in keys],
            held("dropped", 1.05), "fallback ≤1.05"),
    ]


def markdown(rows):
    out = ["| " + " | ".join(rows[0]) + " |",
           "|" + "|".join(["---"] * len(rows[0])) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memkb = int(f.readline().split()[1])
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10,
                             check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        rev = ""
    return ("%d CPUs (nproc), %s; Linux %s; %.1f GiB RAM; %s; commit %s"
            % (os.cpu_count(), model, platform.release(), memkb / 2**20,
               time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               rev or "?"))


def report(args, backends, results, mem, errors):
    notes = []
    for (tag, *rest), vals in results.items():
        if tag == "note":
            uniq = sorted(set(vals))
            notes.append("%s on %s: %s" % (rest[0], BACKENDS[rest[1]], ", ".join(
                "%s (%d×)" % (v, vals.count(v)) for v in uniq)))
    text = ["# shmapfs benchmark results", "",
            "Machine: " + machine() + ".", "",
            ("Load average (1 min) %s at the start, %s at the end: on a "
             "busy machine only the ratios within this run mean anything."
             % (args.load_start, loadavg())), "",
            ("Sizes: mapping %d MiB, sequential %d MiB, random %d MiB; "
             "%d runs (medians), timed loops %d ms; MB = 10^6 bytes. "
             "shmapfs options: '%s'; passthrough_ll options: '%s'; "
             "BDI knobs: '%s'%s.") % (
                 args.size_mb, args.seq_mb, args.rand_mb, args.runs,
                 args.duration_ms, args.shmapfs_opts, args.pt_opts,
                 args.bdi, "; alt options: '%s'" % args.alt_opts
                 if "alt" in args.backends else ""),
            "",
            ("Backends: shmapfs mem/file take the default data path "
             "(passthrough for a root daemon on Linux 6.9+); fallback "
             "mem/file add -o nopassthrough; writeback_cache is "
             "memory-backed with -o writeback_cache (the fallback, with "
             "write() buffered); the unprivileged one is "
             "memory-backed, its daemon and workloads run as %s (a user "
             "mount through fusermount3); usrquota is memory-backed with "
             "-o usrquota (runs the write workloads only). Targets: issue "
             "5's for the default path, issue 22's for the fallback and "
             "usrquota.") % args.user,
            "",
            markdown(table(args, backends, results, mem)), ""]
    if notes:
        text += ["Notes (cold runs: share of the file still in the page "
                 "cache after dropping it):", ""]
        text += ["- " + n for n in notes] + [""]
    if errors:
        text += ["ERRORS:", ""] + ["- " + e for e in errors] + [""]
    text = "\n".join(text)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print("written to %s" % args.out)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bench", required=True)
    p.add_argument("--shmapfs", default="fs/shmapfs")
    p.add_argument("--passthrough", required=True)
    p.add_argument("--backends",
                   default="tmpfs,pt,mem,file,fbmem,fbfile,wbc,user,quota")
    p.add_argument("--shmapfs-opts", default="")
    p.add_argument("--pt-opts", default="")
    p.add_argument("--alt-opts", default="nopassthrough",
                   help="options of the 'alt' backend (shmapfs mem)")
    p.add_argument("--alt-shmapfs", default="",
                   help="daemon binary of the 'alt' backend (an A/B of "
                   "two builds); default: --shmapfs")
    p.add_argument("--user", default="nobody",
                   help="the unprivileged user who runs the 'user' "
                   "backend's daemon (a user mount) and its workloads")
    p.add_argument("--bdi", default="",
                   help="knob=value,... for the FUSE mounts' BDIs")
    p.add_argument("--size-mb", type=int, default=512)
    p.add_argument("--seq-mb", type=int, default=1024)
    p.add_argument("--rand-mb", type=int, default=256)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration-ms", type=int, default=500)
    p.add_argument("--timeout", type=int, default=300,
                   help="seconds one workload may take")
    p.add_argument("--only", default="",
                   help="workload,... to run (default: all)")
    p.add_argument("--out", default="tests/bench/RESULTS.md")
    args = p.parse_args()
    for name in ("bench", "shmapfs", "passthrough", "alt_shmapfs"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    args.backends = [k for k in args.backends.split(",") if k]
    args.only = [w for w in args.only.split(",") if w]
    if any(w not in WORKLOADS for w in args.only):
        p.error("workloads are: " + ",".join(ORDER))
    if any(k not in BACKENDS for k in args.backends):
        p.error("backends are: " + ",".join(BACKENDS))
    return args


def enter_private_namespace():
    """Re-run in a mount namespace of our own, whose mounts propagate
    nowhere: a process elsewhere that unshares its namespace (as some tests
    do) would otherwise copy our mounts, keep their superblocks alive after
    our unmount, and keep our daemons from exiting."""
    if os.environ.get("SHMAPFS_BENCH_NS") or not shutil.which("unshare"):
        return
    os.environ["SHMAPFS_BENCH_NS"] = "1"
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                          sys.executable, os.path.abspath(__file__)] +
              sys.argv[1:])


def check_memory(args):
    """Refuse to start if the stores alone would not fit: on a shared
    machine an out-of-memory kill hits other people's processes too."""
    # one store per backend (tmpfs, backing tmpfs or memfd); the page
    # cache of the FUSE inodes comes on top but is reclaimable
    need = len(args.backends) * (args.size_mb + args.seq_mb +
                                 args.rand_mb) << 20
    with open("/proc/meminfo") as f:
        avail = next(int(line.split()[1]) << 10 for line in f
                     if line.startswith("MemAvailable:"))
    if need + (1 << 30) > avail:
        sys.exit("bench: needs about %d MiB of memory for its stores plus "
                 "1 GiB, only %d MiB available; use smaller SIZE_MB" % (
                     need >> 20, avail >> 20))


def prepare_user(args, root):
    """For the 'user' backend: the user's ids, and copies of the daemon
    and the bench binary that the user can run (the tree may live under a
    home directory of mode 0700). Returns the directory of the copies."""
    try:
        pw = pwd.getpwnam(args.user)
    except KeyError as e:
        raise RuntimeError("no user %r for the unprivileged mount "
                           "(--user)" % args.user) from e
    if pw.pw_uid == 0:
        raise RuntimeError("--user %s is root" % args.user)
    args.uid, args.gid = pw.pw_uid, pw.pw_gid
    # Debian's udev gives /dev/fuse mode 0666; a bare machine or a
    # container may leave it 0600. Open it for the run; main() puts the
    # old mode back.
    mode = stat.S_IMODE(os.stat("/dev/fuse").st_mode)
    if mode & 0o666 != 0o666:
        os.chmod("/dev/fuse", mode | 0o666)
        args.fuse_mode = mode
    os.chmod(root, 0o755)
    bindir = tempfile.mkdtemp(prefix="shmapfs-bench-bin.")
    os.chmod(bindir, 0o755)
    args.user_shmapfs = shutil.copy(args.shmapfs, bindir)
    args.user_bench = shutil.copy(args.bench, bindir)
    for f in (args.user_shmapfs, args.user_bench):
        os.chmod(f, 0o755)
    return bindir


def main():
    args = parse_args()
    args.load_start = loadavg()
    args.fuse_mode = None  # /dev/fuse's mode, if we changed it
    check_memory(args)
    enter_private_namespace()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    root = tempfile.mkdtemp(prefix="shmapfs-bench.")
    backends = {k: Backend(k, root) for k in args.backends}
    results, mem, errors = {}, {}, []
    bindir = None
    try:
        if "user" in backends:
            bindir = prepare_user(args, root)
        for b in backends.values():
            b.start(args)
            b.bdi(args.bdi)
        run_all(args, backends, results, errors)
        memory_phase(args, backends, mem, errors)
    except (RuntimeError, OSError, Interrupted) as e:
        errors.append(str(e))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for b in backends.values():
            b.stop(errors)
        if not any(mounted(os.path.join(root, d)) for d in os.listdir(root)):
            shutil.rmtree(root, ignore_errors=True)
        if bindir:
            shutil.rmtree(bindir, ignore_errors=True)
        if args.fuse_mode is not None:
            os.chmod("/dev/fuse", args.fuse_mode)
    report(args, backends, results, mem, errors)
    if errors:
        print("bench: %d error(s), see above" % len(errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
