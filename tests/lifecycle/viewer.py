#!/usr/bin/env python3
"""viewer: a process that holds a MAP_SHARED view of a file and obeys
one-line commands on stdin, answering one line on stdout, so that a
lifecycle test can keep a live view (with dirty pages) across an unmount,
a signal or a crash of the daemon.

  open PATH SIZE   open PATH read-write and map SIZE bytes of it
  store OFF TEXT   store TEXT at OFF through the view (no msync)
  load OFF LEN     answer "ok TEXT" with LEN bytes read through the view
  pwrite OFF TEXT  write() TEXT at OFF through the open file descriptor
  msync            flush the view (msync MS_SYNC)
  closefd          close the descriptor, keep the view
  close            unmap and close (dirty pages stay in the page cache)
  exit             leave

Every answer is "ok ..." or "err MESSAGE". A fault on the view (SIGBUS,
when the daemon behind it has gone) kills the process: the test sees no
answer, and says so.
"""
import mmap
import os
import sys


def run(state, words):
    cmd = words[0]
    if cmd == "open":
        state["fd"] = os.open(words[1], os.O_RDWR)
        state["map"] = mmap.mmap(state["fd"], int(words[2]), mmap.MAP_SHARED)
        return "ok"
    if cmd == "store":
        off, text = int(words[1]), words[2].encode()
        state["map"][off:off + len(text)] = text
        return "ok"
    if cmd == "load":
        off, n = int(words[1]), int(words[2])
        return "ok " + state["map"][off:off + n].decode(errors="replace")
    if cmd == "pwrite":
        os.pwrite(state["fd"], words[2].encode(), int(words[1]))
        return "ok"
    if cmd == "msync":
        state["map"].flush()
        return "ok"
    if cmd == "closefd":
        os.close(state.pop("fd"))
        return "ok"
    if cmd == "close":
        state["map"].close()
        if "fd" in state:
            os.close(state.pop("fd"))
        return "ok"
    if cmd == "exit":
        sys.exit(0)
    return "err unknown command " + cmd


def main():
    state = {}
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            answer = run(state, words)
        except (OSError, ValueError, KeyError, IndexError) as e:
            answer = "err " + str(e).replace("\n", " ")
        print(answer, flush=True)


main()
