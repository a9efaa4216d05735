"""Exit while being loaded: os._exit(0) at module level, before any fixture runs.

The harness has not even said "loaded": the process ends with status 0 and nothing
reported.
"""

import os

os._exit(0)


def softmax(a):
    return a


def softmax_cross_entropy(a, t):
    return 0.0
