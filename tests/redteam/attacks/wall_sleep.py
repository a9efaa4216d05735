"""Wall-clock exhaustion: sleep, block on a pipe nobody writes, wait on a lock.

Uses no CPU at all, so only the wall-clock limit can stop it.
"""

import os
import select
import threading
import time


def softmax(a):
    time.sleep(0.2)
    r, _w = os.pipe()
    select.select([r], [], [], 0.2)
    threading.Event().wait(0.2)
    os.read(r, 1)  # blocks forever


def softmax_cross_entropy(a, t):
    time.sleep(3600)
