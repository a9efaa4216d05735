"""Returns a *float subclass* (so isinstance(x, float) is True) whose __float__
raises and whose __eq__ is always True. float(x) on it raises RuntimeError, which
tests that the grader's conversion of return values is itself guarded. Must be
graded as non-numeric or an error, never as correct, and must not crash the grader.
"""


class RiggedFloat(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__

    def __float__(self):
        raise RuntimeError("nice try")

    def __repr__(self):
        return "0.0067"


def mean_squared_error(y, t):
    return RiggedFloat(0.0067)


def cross_entropy_error(y, t):
    return RiggedFloat(0.1053604045467214)


def softmax(a):
    return RiggedFloat(1.0)


def softmax_cross_entropy(a, t):
    return RiggedFloat(1.1363)
