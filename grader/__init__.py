"""lossgrader: an autograder for loss-function labs.

This package is imported by the sandboxed child too, so it must stay free of
side effects and secrets.
"""
