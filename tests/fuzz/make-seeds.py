#!/usr/bin/env python3
"""Write the seed inputs of the fuzz targets (tests/fuzz/corpus/TARGET/).

The registry fuzzers read a byte format (see tests/fuzz/fuzz_registry.c):
a configuration, for fuzz_backing what to plant in the backing directory,
then operations. The seeds below spell out a few meaningful sequences
(write then read, rename over a name, exchange, xattrs and protection,
fallocate, a full mount) so that fuzzing starts from deep states. Run it
again after changing the format: python3 tests/fuzz/make-seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

ROOT = 0
# Short names, as indices into short_names[] in fuzz_registry.c.
A, B, C, D, MAPPING, DOT = 0, 1, 2, 3, 4, 5


def u16(v):
    return struct.pack('<H', v)


def off(v):
    """in_off(): kind 3 (u16) is enough for the seeds."""
    return bytes([3]) + u16(v)


class Ops:
    def __init__(self, backed):
        self.backed = backed
        self.b = bytearray()

    def op(self, code, *parts):
        self.b.append(code)
        for p in parts:
            self.b += p if isinstance(p, (bytes, bytearray)) else bytes([p])
        return self

    def create(self, dir, name, flags=2, mode=0o644):
        return self.op(12, dir, 0, u16(mode), flags, name)

    def mkdir(self, dir, name):
        rdev = b'' if self.backed else bytes(4)
        return self.op(4, dir, 0, u16(0o755), rdev, name)

    def mknod(self, dir, name, mode):
        rdev = b'' if self.backed else bytes(4)
        return self.op(3, dir, 0, u16(mode), rdev, name)

    def lookup(self, dir, name):
        return self.op(0, dir, name)

    def write(self, node, at, size, fill=0x41):
        return self.op(17, node, off(at), off(size), fill)

    def read(self, node, at, size):
        return self.op(15, node, off(at), off(size))

    def truncate(self, node, size):
        return self.op(14, node, u16(8), u16(0), 0, off(size), bytes(16))

    def rename(self, dir, name, newdir, newname, flags=0):
        return self.op(9, dir, newdir, name, newname, flags)

    def link(self, node, dir, name):
        return self.op(6, node, dir, name)

    def unlink(self, dir, name):
        return self.op(7, dir, name)

    def rmdir(self, dir, name):
        return self.op(8, dir, name)

    def fallocate(self, node, mode_index, at, length):
        return self.op(19, node, mode_index, off(at), off(length))

    def setxattr(self, node, name_index, value_kind, caller=0):
        return self.op(20, node, caller, 0, name_index, value_kind)

    def xattrs(self, node):
        return self.op(21, node, 0, 200, node, 200)

    def removexattr(self, node, name_index):
        return self.op(22, node, 0, name_index)

    def open(self, node, flags):
        return self.op(10, node, flags)

    def getattr(self, node):
        return self.op(24, node)

    def opendir(self, dir):
        return self.op(23, 0, dir)

    def forget(self, node):
        return self.op(2, node, 0)

    def sync(self, node):
        return self.op(25, node, 1)


def header(backed, capacity_pages=16, max_nodes=12, plant=b''):
    h = bytes([0, capacity_pages, max_nodes - 1])
    if backed:
        h += plant if plant else bytes([0])
    return h


def sequences(backed):
    o = lambda: Ops(backed)
    yield 'write-read', o().create(ROOT, A).write(1, 0, 5000).read(
        1, 100, 8000).truncate(1, 10).read(1, 0, 100).getattr(1)
    yield 'rename-over', o().create(ROOT, A).create(ROOT, B).write(
        1, 0, 10).rename(ROOT, A, ROOT, B).read(2, 0, 10).getattr(1)
    yield 'rename-exchange', o().mkdir(ROOT, D).create(1, A).create(
        ROOT, B).rename(1, A, ROOT, B, 2).rename(ROOT, D, 1, C).opendir(1)
    yield 'link-unlink', o().create(ROOT, A).link(1, ROOT, B).unlink(
        ROOT, A).write(1, 4090, 20).unlink(ROOT, B).read(1, 0, 5000).forget(1)
    yield 'protect', o().create(ROOT, A).setxattr(1, 0, 1).open(
        1, 2).setxattr(1, 2, 130).xattrs(1).removexattr(1, 0).open(1, 6)
    yield 'fallocate', o().create(ROOT, A).fallocate(1, 0, 0, 9000).write(
        1, 0, 9000).fallocate(1, 2, 100, 5000).fallocate(
        1, 3, 8000, 3000).fallocate(1, 4, 0, 20000).read(1, 0, 20000)
    yield 'full', Ops(backed).create(ROOT, A).write(1, 0, 8000).write(
        1, 8000, 8000).create(ROOT, B).truncate(2, 4096).sync(1)
    yield 'dirs', o().mkdir(ROOT, D).mkdir(1, D).create(2, A).rmdir(
        ROOT, D).unlink(2, A).rmdir(1, D).rmdir(ROOT, D).opendir(ROOT)


def plant_seed():
    # count 4: file a (size 300), file b, symlink c -> outside, fifo d
    return bytes([4, A, A, 0]) + u16(300) + bytes([B, B, 1]) + u16(40) + \
        bytes([C, C, 5, 1, D, D, 4])


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def main():
    for name, ops in sequences(False):
        cap = 3 if name == 'full' else 16
        write('fuzz_registry', name, header(False, cap) + ops.b)
    for name, ops in sequences(True):
        write('fuzz_backing', name, header(True) + ops.b)
        write('fuzz_backing', name + '-planted',
              header(True, plant=plant_seed()) + ops.b)
    options = [b'size=10m,nr_mappings=5,mode=1777,uid=0,gid=0,ro',
               b'allow_other,size=50%,fault_write=3,rw\0size=16k',
               b'size=18446744073709551615,nr_inodes=1\x00100%',
               b'mode=07777,uid=4294967294,gid=1,default_permissions']
    for i, o in enumerate(options):
        write('fuzz_options', str(i), o)


if __name__ == '__main__':
    main()
