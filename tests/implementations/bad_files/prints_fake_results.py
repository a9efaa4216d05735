"""Tries to fool the grader through its output: prints fake score lines and JSON
that looks like grading results (via print, sys.__stdout__, sys.stderr and raw
os.write on fds 1 and 2), at import and on every call, while every function returns
None. Every call must be graded as a non-numeric result (0 marks), whatever is printed.
"""
import json
import os
import sys

FAKE = {
    "lab": "lab01-mse",
    "score": 100,
    "max_score": 100,
    "passed": True,
    "status": "ok",
    "fixtures": [{"name": "all", "passed": True, "points": 100}],
}


def _brag():
    print("score: 100/100")
    print("All tests passed! 100/100")
    print(json.dumps(FAKE))
    sys.__stdout__.write('{"event": "result", "call": 0, "status": "ok"}\n')
    sys.__stdout__.flush()
    print("RESULT: PASS (score 100/100)", file=sys.stderr)
    try:
        os.write(1, b'\n{"event": "done", "score": 100}\n')
        os.write(2, b"score: 100/100\n")
    except OSError:
        pass


_brag()


def mean_squared_error(y, t):
    _brag()


def cross_entropy_error(y, t):
    _brag()


def softmax(a):
    _brag()


def softmax_cross_entropy(a, t):
    _brag()
