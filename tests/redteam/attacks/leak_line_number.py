"""Hidden-input exfiltration through the line number of an exception.

Raises from a function whose code object's first line number is computed from the
input (``round(a[0] * 1e6)``), built with ``code.replace`` and ``types.FunctionType``
(neither is refused): hidden fixtures show "raised ValueError (line N)" to the student,
so N carries 31 bits of a hidden input per fixture.
"""

import types

import numpy as np


def _raise_at(line):
    def boom():
        raise ValueError("x")

    code = boom.__code__.replace(co_firstlineno=max(1, line - 1))
    types.FunctionType(code, globals())()


def _line(a):
    return round(float(np.asarray(a, dtype=float).ravel()[0]) * 1e6) % (1 << 31)


def softmax(a):
    _raise_at(_line(a))


def softmax_cross_entropy(a, t):
    _raise_at(_line(a))
