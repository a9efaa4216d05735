"""Clean exits mid-run: sys.exit(0) in one function, os._exit(0) in the other.

``sys.exit(0)`` raises SystemExit (a BaseException) inside the call; ``os._exit(0)``
ends the process at once with status 0, as if everything had gone well.
"""

import os
import sys


def softmax(a):
    sys.exit(0)


def softmax_cross_entropy(a, t):
    os._exit(0)
