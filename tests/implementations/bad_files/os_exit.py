"""Loads fine; every contract function calls os._exit(0), killing the process
mid-run with status 0 and without flushing anything. The grader must report the
calls as not run / crashed, not as passed.
"""
import os


def mean_squared_error(y, t):
    os._exit(0)


def cross_entropy_error(y, t):
    os._exit(0)


def softmax(a):
    os._exit(0)


def softmax_cross_entropy(a, t):
    os._exit(0)
