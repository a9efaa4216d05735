"""Lab 01 - mean squared error with plain Python loops.

CORRECT: E = 1/2 * sum((y - t)^2). Inputs (NumPy arrays or nested lists, 1-D or 2-D)
are normalised with .tolist() and copied into new flat Python lists, so nothing the
caller passed is modified. Only plain Python arithmetic is used for the loss itself.
"""


def _flatten(x):
    """Return a new flat list of Python numbers from an array, list or nested list."""
    if hasattr(x, "tolist"):          # NumPy array (or NumPy scalar)
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        return [x]
    out = []
    for item in x:
        if hasattr(item, "tolist"):
            item = item.tolist()
        if isinstance(item, (list, tuple)):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


def mean_squared_error(y, t):
    ys = _flatten(y)
    ts = _flatten(t)
    if len(ys) != len(ts):
        raise ValueError("y and t must have the same number of elements")
    total = 0.0
    for a, b in zip(ys, ts):
        d = float(a) - float(b)
        total += d * d
    return 0.5 * total
