"""Recursion bomb: lift the recursion limit and recurse through C until the stack breaks.

``sys.setrecursionlimit(10**7)`` and a ``__repr__`` that calls ``repr`` on itself: each
level is a C frame, so the C stack overflows.
"""

import sys

sys.setrecursionlimit(10**7)


class Loop:
    def __repr__(self):
        return repr(self)


def softmax(a):
    return repr(Loop())


def softmax_cross_entropy(a, t):
    return softmax(a)
