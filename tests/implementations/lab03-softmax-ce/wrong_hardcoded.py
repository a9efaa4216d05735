"""Lab 03 - returns the numbers printed in the slides.

BUG: computes nothing. softmax returns [0.34, 0.46, 0.2] for [0.9, 1.2, 0.4] and
[0.319, 0.321, 0.36] for [0, 0.006, 0.12] (the slides' rounded values, which are
themselves off by up to 1e-3), and a uniform distribution of the input's shape
otherwise. softmax_cross_entropy returns 1.1363 for the slides' example (logits
[0, 0.006, 0.12], target class 1) and ln(K) (the uniform loss) otherwise. Fails
essentially every fixture, in particular all randomised ones.
"""
import math

import numpy as np

SOFTMAX_EXAMPLES = [
    ([0.9, 1.2, 0.4], [0.34, 0.46, 0.2]),
    ([0.0, 0.006, 0.12], [0.319, 0.321, 0.36]),
]


def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    for x, answer in SOFTMAX_EXAMPLES:
        if a.shape == (3,) and np.allclose(a, x):
            return np.array(answer)
    return np.full(a.shape, 1.0 / a.shape[-1])


def softmax_cross_entropy(a, t):
    a = np.asarray(a, dtype=np.float64)
    t = np.asarray(t)
    if a.shape == (3,) and np.allclose(a, [0.0, 0.006, 0.12]):
        if (t.shape == () and int(t) == 1) or (t.shape == (3,) and list(t) == [0, 1, 0]):
            return 1.1363
    return math.log(a.shape[-1])
