"""Memory exhaustion in pure Python: lists, strings and dicts until the limit.

No NumPy: many small objects (the allocator's arenas), then one big bytes object.
"""

_HOARD = []


def softmax(a):
    if _HOARD:
        return len(b"x" * (1 << 34))
    try:
        while True:
            _HOARD.append([float(i) for i in range(100000)])
            _HOARD.append("x" * (1 << 20))
            _HOARD.append({i: str(i) for i in range(10000)})
    except MemoryError:
        del _HOARD[1:]  # so that the harness can still report the MemoryError
        raise


def softmax_cross_entropy(a, t):
    return len(b"x" * (1 << 34))
