"""Trusted reference implementations of the lab's loss functions.

Imported only on the trusted side of the grader, never inside the sandboxed child.
:mod:`reference.losses` holds the correct functions; :mod:`reference.mistakes` holds a
catalogue of known-wrong variants used to explain a student's wrong value.
"""

from reference.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    cross_entropy_error,
    entropy,
    huber,
    log_softmax,
    mean_absolute_error,
    mean_squared_error,
    mean_squared_error_mean,
    sigmoid,
    softmax,
    softmax_cross_entropy,
)
from reference.mistakes import MISTAKES, Mistake, mistakes_for

__all__ = [
    "MISTAKES",
    "Mistake",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_error",
    "entropy",
    "huber",
    "log_softmax",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_error_mean",
    "mistakes_for",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
]
