"""Output flood: write to stdout and stderr as fast as possible, from Python and raw fds.

Never returns: ``print``, ``sys.stderr.write`` and ``os.write`` on descriptors 1 and 2,
64 KiB at a time, forever.
"""

import os
import sys

_BLOCK = "flood " * 10000


def softmax(a):
    while True:
        print(_BLOCK)
        sys.stderr.write(_BLOCK)
        os.write(1, _BLOCK.encode())
        os.write(2, _BLOCK.encode())


def softmax_cross_entropy(a, t):
    return softmax(a)
