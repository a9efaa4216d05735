"""Imports a module the grader does not have (tensorflow, as in the Chinese notes'
demo). Loading fails with ModuleNotFoundError on line 5.
"""
import numpy as np
import tensorflow as tf


def mean_squared_error(y, t):
    return float(tf.keras.losses.MeanSquaredError()(t, y)) * np.size(y) / 2


def cross_entropy_error(y, t):
    return float(tf.keras.losses.categorical_crossentropy(t, y))
