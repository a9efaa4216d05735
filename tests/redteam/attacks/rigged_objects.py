"""Rigged return values: objects whose comparisons and conversions always agree.

Returns, fixture after fixture, an object whose ``__eq__``, ``__lt__``... say True,
whose ``__float__``, ``__array__``, ``__len__`` and ``__getitem__`` say whatever is asked,
a float subclass equal to everything, a list of such objects, a dict, a string of the
right number, ``NotImplemented``, a generator and ``True``.
"""

import numpy as np


class Agreeable:
    def __eq__(self, other):
        return True

    __le__ = __ge__ = __lt__ = __gt__ = __eq__

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0

    def __float__(self):
        return float("nan")

    def __array__(self, dtype=None, copy=None):
        return np.full(3, 1 / 3)

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return 1 / 3

    def __bool__(self):
        return True


class Equal(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


_RETURNS = [
    lambda a: Agreeable(),
    lambda a: Equal(0.0),
    lambda a: [Agreeable(), Agreeable(), Agreeable()],
    lambda a: {"value": 1.0},
    lambda a: "0.3333333333",
    lambda a: NotImplemented,
    lambda a: (x for x in range(3)),
    lambda a: True,
]
_K = [0]


def _next(a):
    make = _RETURNS[_K[0] % len(_RETURNS)]
    _K[0] += 1
    return make(a)


def softmax(a):
    return _next(a)


def softmax_cross_entropy(a, t):
    return _next(a)
