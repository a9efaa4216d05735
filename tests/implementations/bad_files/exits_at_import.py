"""Calls sys.exit(0) at import time (a script-style submission that "finishes"
after its own checks). The functions are never defined from the grader's point of
view if the exit is honoured; an exit status of 0 must not be taken as success.
"""
import sys

import numpy as np

print("all my tests passed")
sys.exit(0)


def mean_squared_error(y, t):
    return 0.5 * np.sum((np.asarray(y) - np.asarray(t)) ** 2)
