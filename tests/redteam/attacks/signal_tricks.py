"""Limit evasion with signals: ignore SIGXCPU, raise the soft CPU limit, block signals.

Ignores or handles SIGXCPU, SIGTERM and SIGALRM, arms ``signal.alarm`` and an interval
timer whose handlers swallow everything, raises RLIMIT_CPU's soft limit to the hard
one, blocks every blockable signal, then burns CPU forever.
"""

import resource
import signal


def _ignore(*args):
    return None


def softmax(a):
    for sig in (signal.SIGXCPU, signal.SIGTERM, signal.SIGALRM, signal.SIGVTALRM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _ignore)
    signal.alarm(1)
    signal.setitimer(signal.ITIMER_VIRTUAL, 0.1, 0.1)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
    while True:
        pass


def softmax_cross_entropy(a, t):
    return softmax(a)
