"""Returns an object built to fool a careless comparison: __eq__ always True,
__ne__ always False, ordering always "close enough", __abs__ returns 0, repr looks
like a number, while __float__, __int__, __index__ and __array__ raise. Must be
graded as non-numeric (and must not crash the grader).
"""


class AlwaysRight:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    __le__ = __lt__
    __gt__ = __lt__
    __ge__ = __lt__

    def __hash__(self):
        return 0

    def __bool__(self):
        return True

    def __abs__(self):
        return 0

    def __sub__(self, other):
        return self

    __rsub__ = __sub__

    def __float__(self):
        raise RuntimeError("nice try")

    def __int__(self):
        raise RuntimeError("nice try")

    def __index__(self):
        raise RuntimeError("nice try")

    def __array__(self, *args, **kwargs):
        raise RuntimeError("nice try")

    def __repr__(self):
        return "0.0067"

    __str__ = __repr__


def mean_squared_error(y, t):
    return AlwaysRight()


def cross_entropy_error(y, t):
    return AlwaysRight()


def softmax(a):
    return AlwaysRight()


def softmax_cross_entropy(a, t):
    return AlwaysRight()
