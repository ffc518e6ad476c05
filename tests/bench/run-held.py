#!/usr/bin/env python3
"""Mappings held open and mapped at once, past the daemon's RLIMIT_NOFILE
(issue 21): a manual measurement, not a test.

Mounts shmapfs (memory- or file-backed, either data path), lowers the
daemon's descriptor limit with prlimit, creates COUNT one-page mappings,
then starts CLIENTS processes that open and map COUNT/CLIENTS of them
each, store a mark through each view and hold them all. Another process
then reads every mark with read() and writes one back, which the clients
check through their views. Prints the time of each phase, the daemon's
descriptors and its memory (VmRSS now, VmHWM at most).

  tests/bench/run-held.py --shmapfs fs/shmapfs --count 100000 [--file]
      [--opts nopassthrough] [--fd-limit 256] [--clients 4]

A file-backed daemon pins each parked backing file with a one-page
mapping: past vm.max_map_count (65530 by default) opens fail with ENOMEM.
"""
import argparse
import mmap
import os
import resource
import select
import struct
import subprocess
import sys
import tempfile
import time


def daemon_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = value.strip()
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/maps") as f:
        out["maps"] = sum(1 for _ in f)
    return out


def wait_mounted(mnt, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.ismount(mnt):
            return
        if proc.poll() is not None:
            sys.exit(f"daemon exited with {proc.returncode}")
        time.sleep(0.01)
    sys.exit("mount did not come up")


def name(mnt, i):
    return os.path.join(mnt, f"m{i:06d}")


def client(mnt, first, count, ready_w, go_r):
    """Hold mappings [first, first+count) open and mapped (Python's mmap
    keeps a descriptor of each, dup()ed); exit 0 if every view shows what
    the other process wrote back."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    for i in range(first, first + count):
        fd = os.open(name(mnt, i), os.O_RDWR)
        view = mmap.mmap(fd, 4096, mmap.MAP_SHARED)
        os.close(fd)  # the mmap object holds a descriptor of its own
        view[200:204] = struct.pack("i", i * 7 + 1)
        held.append(view)
    os.write(ready_w, b"r")
    os.read(go_r, 1)
    bad = sum(
        1
        for k, view in enumerate(held)
        if struct.unpack("i", view[300:304])[0] != (first + k) * 13 + 5
    )
    os._exit(1 if bad else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shmapfs", default="fs/shmapfs")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=4, help="at least")
    ap.add_argument("--fd-limit", type=int, default=256)
    ap.add_argument("--file", action="store_true", help="file-backed")
    ap.add_argument("--opts", default="", help="extra -o options")
    ap.add_argument("--dir", default=None, help="where to mount (a new directory in it)")
    a = ap.parse_args()

    top = os.path.abspath(tempfile.mkdtemp(prefix="held.", dir=a.dir))
    # Each client holds what its own hard limit allows (without
    # CAP_SYS_RESOURCE it cannot raise it).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    a.clients = max(a.clients, -(-a.count // max(hard - 64, 1)))
    mnt = os.path.join(top, "mnt")
    os.mkdir(mnt)
    source = "none"
    opts = "size=2g,nr_mappings=%d" % (a.count + 16)
    if a.file:
        source = os.path.join(top, "backing")
        os.mkdir(source)
        opts = ""
    if a.opts:
        opts = ",".join(x for x in (opts, a.opts) if x)
    args = [os.path.abspath(a.shmapfs), "-f"]
    if opts:
        args += ["-o", opts]
    log = open(os.path.join(top, "daemon.log"), "w+")
    proc = subprocess.Popen(args + [source, mnt], stderr=log)
    try:
        wait_mounted(mnt, proc)
        subprocess.run(
            ["prlimit", f"--pid={proc.pid}", f"--nofile={a.fd_limit}:{a.fd_limit}"],
            check=True,
        )
        t0 = time.monotonic()
        for i in range(a.count):
            fd = os.open(name(mnt, i), os.O_CREAT | os.O_RDWR, 0o644)
            os.ftruncate(fd, 4096)
            os.close(fd)
        t_create = time.monotonic() - t0

        per = a.count // a.clients
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        pids = []
        t0 = time.monotonic()
        for c in range(a.clients):
            pid = os.fork()
            if pid == 0:
                try:
                    client(mnt, c * per, per, ready_w, go_r)
                except Exception as e:
                    print(f"client {c}: {e!r}", file=sys.stderr)
                finally:
                    os._exit(1)
            pids.append(pid)
        os.close(ready_w)  # a client that dies closes its end: EOF
        for _ in pids:
            if not select.select([ready_r], [], [], 600)[0]:
                sys.exit("a client took too long")
            if os.read(ready_r, 1) != b"r":
                sys.exit("a client failed")
        t_hold = time.monotonic() - t0
        held = daemon_status(proc.pid)

        t0 = time.monotonic()
        for i in range(per * a.clients):
            fd = os.open(name(mnt, i), os.O_RDWR)
            mark = struct.unpack("i", os.pread(fd, 4, 200))[0]
            if mark != i * 7 + 1:
                sys.exit(f"mapping {i}: read {mark}, the view stored {i * 7 + 1}")
            os.pwrite(fd, struct.pack("i", i * 13 + 5), 300)
            os.close(fd)
        t_check = time.monotonic() - t0
        os.write(go_w, b"g" * len(pids))
        failed = 0
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            failed += status != 0
        t0 = time.monotonic()
        for i in range(a.count):
            os.unlink(name(mnt, i))
        t_unlink = time.monotonic() - t0
        end = daemon_status(proc.pid)
        print(
            f"{'file' if a.file else 'memory'}-backed, opts '{opts}', "
            f"daemon RLIMIT_NOFILE {a.fd_limit}, {a.clients} clients"
        )
        print(f"  create {a.count}: {t_create:.1f} s")
        print(f"  open+map+store {per * a.clients} at once: {t_hold:.1f} s")
        print(f"  read+write each from another process: {t_check:.1f} s")
        print(f"  unlink all: {t_unlink:.1f} s")
        print(
            f"  daemon while held: {held['fds']} descriptors, "
            f"{held['maps']} maps, VmRSS {held['VmRSS']}; VmHWM {end['VmHWM']}"
        )
        print(f"  clients that saw a wrong value: {failed}")
        return 1 if failed else 0
    finally:
        subprocess.run(["fusermount3", "-u", mnt])
        proc.wait(timeout=60)
        log.seek(0)
        if proc.returncode != 0:
            print(f"daemon exited with {proc.returncode}", file=sys.stderr)
        print(log.read(), end="", file=sys.stderr)
        subprocess.run(["rm", "-rf", top])


if __name__ == "__main__":
    sys.exit(main())
