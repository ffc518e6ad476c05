#!/usr/bin/env python3
"""What exclusive backing files cost (issue 13).

A backing directory on a disk filesystem (a fresh directory under
--dir-in, /var/tmp by default) holds IN_USE mappings, which this script
keeps open through a file-backed shmapfs, and one idle mapping; beside it,
on the same filesystem, an unrelated file. For each configuration (no
mount at all; a mount with -o noexclusive; the default, exclusive; each
mount on both data paths) it measures, with shmapbench:

  unrelated    open+close of the unrelated file (opens/s)
  idle         open+close of the idle mapping's backing file
  in-use       open+close of an in-use backing file (refused when exclusive)
  mount-open   open+close of an in-use mapping through the mount
  mount-cycle  open+close of the idle mapping through the mount: each open
               opens (and guards) its store, each close closes it
  mount-meta   create, ftruncate 64 KiB, close, unlink of new mappings
               through the mount (ops/s)

RUNS rounds, configurations interleaved in each; medians reported, with
the ratio of exclusive to noexclusive on the same data path. It runs in a
mount namespace of its own, as run-bench.py does. Exit status 0 only if
every step worked and every daemon exited 0.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchutil import run_main, wait_mounted, write_report

UNMOUNT_WAIT_S = 60
IN_USE = 8

# (name, mount options or None for no mount)
CONFIGS = [
    ("no mount", None),
    ("noexclusive", "noexclusive"),
    ("exclusive", "exclusive"),
    ("noexclusive, fallback", "noexclusive,nopassthrough"),
    ("exclusive, fallback", "exclusive,nopassthrough"),
]
WORKLOADS = ["unrelated", "idle", "in-use", "mount-open", "mount-cycle",
             "mount-meta"]


class Mount:
    """A file-backed shmapfs over root/backing, its in-use mappings held
    open by us."""

    def __init__(self, shmapfs, root, opts):
        self.mnt = os.path.join(root, "mnt")
        self.log = os.path.join(root, "daemon.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [shmapfs, "-f", "-o", opts, os.path.join(root, "backing"),
                 self.mnt], stderr=log)
        self.fds = []
        try:
            wait_mounted(self.mnt, self.proc)
            self.fds = [os.open(os.path.join(self.mnt, "inuse%d" % i),
                                os.O_RDWR) for i in range(IN_USE)]
        except Exception:
            self.close()
            raise

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        deadline = time.time() + UNMOUNT_WAIT_S
        while os.path.ismount(self.mnt) and time.time() < deadline:
            if subprocess.call(["umount", self.mnt],
                               stderr=subprocess.DEVNULL) == 0:
                break
            time.sleep(0.05)  # releases arrive a moment after close
        try:
            code = self.proc.wait(UNMOUNT_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = -1
        if code != 0:
            with open(self.log) as f:
                sys.stderr.write(f.read())
            raise RuntimeError("daemon exit %d" % code)


def bench(args, workload, path):
    out = subprocess.run(
        [args.bench, "-t", str(args.duration_ms), workload, path],
        check=True, capture_output=True, text=True).stdout.split()
    return float(out[0])


def measure(args, root, opts):
    """One configuration's rates, {workload: ops/s}."""
    backing = os.path.join(root, "backing")
    paths = {
        "unrelated": os.path.join(root, "unrelated"),
        "idle": os.path.join(backing, "idle"),
        "in-use": os.path.join(backing, "inuse0"),
    }
    mount = Mount(args.shmapfs, root, opts) if opts is not None else None
    try:
        res = {w: bench(args, "open-close", p) for w, p in paths.items()}
        if mount:
            res["mount-open"] = bench(args, "open-close",
                                      os.path.join(mount.mnt, "inuse1"))
            res["mount-cycle"] = bench(args, "open-close",
                                       os.path.join(mount.mnt, "idle"))
            res["mount-meta"] = bench(args, "meta", mount.mnt)
    finally:
        if mount:
            mount.close()
    return res


def make_tree(root):
    backing = os.path.join(root, "backing")
    os.mkdir(backing)
    os.mkdir(os.path.join(root, "mnt"))
    names = ["idle"] + ["inuse%d" % i for i in range(IN_USE)]
    for name in names + ["../unrelated"]:
        with open(os.path.join(backing, name), "wb") as f:
            f.write(b"x" * 4096)


def table(rows):
    lines = ["| workload | " + " | ".join(n for n, _ in CONFIGS) +
             " | exclusive / noexclusive | same, fallback |",
             "| --- | " + " | ".join("---:" for _ in CONFIGS) +
             " | ---: | ---: |"]
    for w in WORKLOADS:
        med = {}
        for name, _ in CONFIGS:
            vals = rows[name].get(w, [])
            med[name] = statistics.median(vals) if vals else None
        cells = ["-" if med[n] is None else "%.0f" % med[n]
                 for n, _ in CONFIGS]

        def ratio(a, b):
            return "-" if not med[a] or not med[b] else \
                "%.2f" % (med[a] / med[b])
        lines.append("| %s | %s | %s | %s |" % (
            w, " | ".join(cells), ratio("exclusive", "noexclusive"),
            ratio("exclusive, fallback", "noexclusive, fallback")))
    return lines


def main():
    if not os.environ.get("SHMAPFS_EXCL_NS") and shutil.which("unshare"):
        os.environ["SHMAPFS_EXCL_NS"] = "1"
        sys.stdout.flush()
        os.execvp("unshare", ["unshare", "--mount", "--propagation",
                              "private", sys.executable,
                              os.path.abspath(__file__)] + sys.argv[1:])
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    p.add_argument("--shmapfs", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration-ms", type=int, default=1000)
    p.add_argument("--dir-in", default="/var/tmp")
    p.add_argument("--out", default="")
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="shmapfs-excl.", dir=args.dir_in)
    rows = {name: {} for name, _ in CONFIGS}
    try:
        make_tree(root)
        for run in range(args.runs):
            for name, opts in CONFIGS:
                for w, v in measure(args, root, opts).items():
                    rows[name].setdefault(w, []).append(v)
                print("exclusive: run %d %-22s %s" % (
                    run + 1, name, " ".join(
                        "%s=%.0f" % (w, v[-1])
                        for w, v in rows[name].items())), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    fs = subprocess.run(["stat", "-f", "-c", "%T", args.dir_in],
                        capture_output=True, text=True).stdout.strip()
    lines = ["# exclusive backing files: what they cost", "",
             "%s, %d CPUs, %s; backing directory on %s; load average at "
             "the end %.1f" % (platform.node(), os.cpu_count(),
                               platform.release(), fs, os.getloadavg()[0]),
             "",
             "Opens (open+close) per second, median of %d runs of %d ms; "
             "%d mappings in use through the mount; mount-meta: create, "
             "ftruncate, close, unlink per second. in-use under exclusive "
             "counts refused opens (EPERM)." % (
                 args.runs, args.duration_ms, IN_USE), ""]
    lines += table(rows)
    write_report("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    run_main(main, "run-exclusive")
