"""Fork bomb with the audit hook gone: os.fork, libc fork and clone in a loop.

Disables the audit hook (see the prelude), then forks forever with ``os.fork`` (each
child would fork again); the first failure is raised.
"""

import os

from _prelude import raw, unhook  # inlined by the test


def softmax(a):
    unhook()
    while True:
        if os.fork() == 0:
            continue


def softmax_cross_entropy(a, t):
    return softmax(a)


assert raw
