"""Lab 01 - correct value, but overwrites the caller's array.

BUG: np.asarray(y, dtype=np.float64) does not copy a float64 array, and the
difference and its square are then computed in place (`y -= t`, `y **= 2`), so the
caller's y is destroyed. The returned value is correct for every input; only
"inputs unmodified" checks on float64 y arrays should fail (int arrays, float32
arrays and Python lists are copied by asarray and so are left alone).
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y, dtype=np.float64)   # no copy when y is already float64
    t = np.asarray(t, dtype=np.float64)
    y -= t                                # in place: saves memory!
    y **= 2
    return 0.5 * float(np.sum(y))
