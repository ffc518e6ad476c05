#!/usr/bin/env python3
"""shmapfs scale benchmark (issue 12).

For each count of mappings, on a fresh tmpfs, a fresh memory-backed
shmapfs and a fresh file-backed shmapfs (backing directory on a tmpfs):
create COUNT mappings (create, size a page, store a tag, close), stat each,
list the directory, then check and unlink them all (shmapbench scale-fill
and scale-clear). Reports microseconds per operation, and the daemon's
resident memory and open descriptors with the mappings in place, so that
the memory per mapping shows. Then huge pages: cold fault-in (a byte
stored per page of a new mapping) and random word access through a view
of a PAGES_MB mapping, on tmpfs and memory-backed shmapfs, each with
huge=never and huge=always. It runs in a mount namespace of its own, as
run-bench.py does (a test elsewhere that unshares its namespace would copy
our mounts and keep our daemons from exiting after our unmount). Every
mount is taken down on any exit;
exit status 0 only if every step worked and every daemon exited 0.
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

UNMOUNT_WAIT_S = 120


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def stacks(pid):
    """The kernel stacks of a process's threads, for a report."""
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stack" % (pid, t)) as f:
                out.append("%s: %s" % (t, " ".join(f.read().split()[:8])))
        except OSError:
            pass
    return "\n".join(out)


class Backend:
    """One fresh mount: tmpfs, or shmapfs memory- or file-backed."""

    def __init__(self, kind, root, shmapfs, opts, huge="never"):
        self.kind, self.proc = kind, None
        self.mnt = os.path.join(root, kind)
        self.backing = os.path.join(root, kind + "-backing")
        os.mkdir(self.mnt)
        if kind == "tmpfs":
            subprocess.check_call(["mount", "-t", "tmpfs", "-o",
                                   "size=4g,nr_inodes=0,huge=" + huge,
                                   "tmpfs", self.mnt])
            return
        args = [shmapfs, "-f", "-o",
                ",".join(["size=4g", "huge=" + huge] + opts)]
        if kind == "file":
            os.mkdir(self.backing)
            subprocess.check_call(["mount", "-t", "tmpfs", "-o",
                                   "size=4g,nr_inodes=0", "tmpfs",
                                   self.backing])
            args.append(self.backing)
        self.log = os.path.join(root, kind + ".log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(args + [self.mnt], stderr=log)
        wait_mounted(self.mnt, self.proc)

    def daemon(self):
        return (rss_kib(self.proc.pid), fds(self.proc.pid)) if self.proc \
            else (0, 0)

    def close(self):
        ok = True
        if self.proc or os.path.ismount(self.mnt):
            rc = subprocess.call(["umount", self.mnt])
            if rc != 0:
                print("run-scale: umount %s: exit %d" % (self.mnt, rc),
                      file=sys.stderr)
        if self.proc:
            try:
                code = self.proc.wait(UNMOUNT_WAIT_S)
                ok = code == 0
                if not ok:
                    print("run-scale: %s daemon exit %d" % (self.kind, code),
                          file=sys.stderr)
            except subprocess.TimeoutExpired:
                print("run-scale: %s daemon did not exit:\n%s" % (
                    self.kind, stacks(self.proc.pid)), file=sys.stderr)
                self.proc.kill()
                self.proc.wait()
                ok = False
        if os.path.ismount(self.backing):
            subprocess.call(["umount", self.backing])
        if self.proc:
            with open(self.log) as log:
                if not ok:
                    sys.stderr.write(log.read())
            os.unlink(self.log)
        return ok


def run(bench, workload, mnt, count, gen, extra=()):
    out = subprocess.run([bench, "-n", str(count), "-g", str(gen)] +
                         list(extra) + [workload, mnt],
                         stdout=subprocess.PIPE, text=True, timeout=7200)
    if out.returncode != 0:
        raise RuntimeError("%s on %s: exit %d" % (workload, mnt,
                                                  out.returncode))
    words = out.stdout.split()
    vals = {"value": float(words[0])}
    for w in words[2:]:
        k, v = w.split("=")
        vals[k] = float(v)
    return vals


def measure(args, root, kind, count, gen):
    b = Backend(kind, root, args.shmapfs, args.shmapfs_opts)
    try:
        rss0, _ = b.daemon()
        fill = run(args.bench, "scale-fill", b.mnt, count, gen)
        rss1, nfds = b.daemon()
        clear = run(args.bench, "scale-clear", b.mnt, count, gen)
    finally:
        ok = b.close()
        os.rmdir(b.mnt)
        if os.path.isdir(b.backing):
            os.rmdir(b.backing)
    if not ok:
        raise RuntimeError("%s: the daemon did not exit 0" % kind)
    per = (rss1 - rss0) * 1024.0 / count if b.proc else None
    return {"create": fill["value"], "stat": fill["stat"],
            "readdir": fill["readdir"], "unlink": clear["value"],
            "rss": rss1, "per": per, "fds": nfds}


PAGE_BACKENDS = [("tmpfs", "never"), ("tmpfs", "always"),
                 ("mem", "never"), ("mem", "always")]


def pages(args, root):
    """Median fault-in MB/s and random-access Mops/s per backend."""
    res = {b: ([], []) for b in PAGE_BACKENDS}
    for i in range(args.runs):
        order = PAGE_BACKENDS[i % 4:] + PAGE_BACKENDS[:i % 4]
        for kind, huge in order:
            b = Backend(kind, root, args.shmapfs, args.shmapfs_opts, huge)
            try:
                mb = ["-m", str(args.pages_mb), "-t", "1000"]
                f = run(args.bench, "fault-in", b.mnt, 0, i + 1, mb)
                a = run(args.bench, "rand-access", b.mnt, 0, i + 1, mb)
            finally:
                ok = b.close()
                os.rmdir(b.mnt)
            if not ok:
                raise RuntimeError("%s: the daemon did not exit 0" % kind)
            res[(kind, huge)][0].append(f["value"])
            res[(kind, huge)][1].append(a["value"])
    lines = ["", "Huge pages: a %d MiB mapping, median of %d runs: cold "
             "fault-in (a byte stored per page of a new mapping, through "
             "a view) and random 8-byte load+store through a view." % (
                 args.pages_mb, args.runs), "",
             "| backend | huge= | fault-in MB/s | random access Mops/s |",
             "| --- | --- | ---: | ---: |"]
    for kind, huge in PAGE_BACKENDS:
        f, a = res[(kind, huge)]
        lines.append("| %s | %s | %.0f | %.1f |" % (
            kind, huge, statistics.median(f), statistics.median(a)))
    return lines


def main():
    if not os.environ.get("SHMAPFS_SCALE_NS") and shutil.which("unshare"):
        os.environ["SHMAPFS_SCALE_NS"] = "1"
        sys.stdout.flush()
        os.execvp("unshare", ["unshare", "--mount", "--propagation",
                              "private", sys.executable,
                              os.path.abspath(__file__)] + sys.argv[1:])
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    p.add_argument("--shmapfs", required=True)
    p.add_argument("--counts", default="1000,10000,100000,1000000")
    p.add_argument("--backends", default="tmpfs,mem,file")
    p.add_argument("--shmapfs-opts", default="")
    p.add_argument("--out", default="")
    p.add_argument("--pages-mb", type=int, default=1024)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    args.shmapfs_opts = [o for o in args.shmapfs_opts.split(",") if o]
    counts = [int(c) for c in args.counts.split(",")]
    kinds = args.backends.split(",")
    rows = []
    root = tempfile.mkdtemp(prefix="shmapfs-scale.")
    try:
        for count in counts:
            for kind in kinds:
                r = measure(args, root, kind, count, count)
                rows.append((count, kind, r))
                print("scale: %8d %-5s create %7.2f stat %6.2f readdir "
                      "%6.3f unlink %7.2f us/op%s" % (
                          count, kind, r["create"], r["stat"], r["readdir"],
                          r["unlink"],
                          "" if r["per"] is None else
                          "; daemon %d KiB, %.0f B/mapping, %d fds" %
                          (r["rss"], r["per"], r["fds"])), flush=True)
    finally:
        os.rmdir(root)
    lines = ["# shmapfs scale benchmark", "",
             "%s, %d CPUs, %s; load average at the end %.1f" % (
                 platform.node(), os.cpu_count(), platform.release(),
                 os.getloadavg()[0]), "",
             "Microseconds per operation (create = open O_CREAT, ftruncate "
             "4 KiB, store 8 bytes, close); daemon resident memory and open "
             "descriptors with all mappings in place.", "",
             "| mappings | backend | create | stat | readdir/entry | unlink "
             "| daemon RSS | bytes/mapping | daemon fds |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for count, kind, r in rows:
        lines.append("| %d | %s | %.2f | %.2f | %.3f | %.2f | %s | %s | %s |"
                     % (count, kind, r["create"], r["stat"], r["readdir"],
                        r["unlink"],
                        "-" if r["per"] is None else "%d KiB" % r["rss"],
                        "-" if r["per"] is None else "%.0f" % r["per"],
                        "-" if r["per"] is None else r["fds"]))
    root = tempfile.mkdtemp(prefix="shmapfs-pages.")
    try:
        lines += pages(args, root)
    finally:
        os.rmdir(root)
    write_report("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    run_main(main, "run-scale")
