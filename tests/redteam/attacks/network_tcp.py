"""Loopback TCP: PostgreSQL on 5432, Redis on 6379, and the test's own listener.

Connects to the grader's database and queue and to a listener the test opened on
127.0.0.1, with ``socket.create_connection``, a plain ``socket.socket`` and the C-level
``_socket.socket``; keeps trying for a while (so that the test can watch the host's
socket tables meanwhile), then connects to the listener without catching the error.
"""

import _socket
import socket
import time

PARAMS: dict = {}  # filled in by the test


_DONE = []


def _attempts():
    if _DONE:
        return _DONE[0]
    errors = []
    _DONE.append(errors)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        for port in (5432, 6379, PARAMS["port"]):
            for make in (
                lambda p=port: socket.create_connection(("127.0.0.1", p), timeout=0.2),
                lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),
                lambda: _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM),
            ):
                try:
                    conn = make()
                    conn.connect(("127.0.0.1", port))
                    conn.sendall(b"PING\r\n")
                    errors.append(f"connected to {port}")
                except Exception as exc:
                    errors.append(f"{port}: {type(exc).__name__}: {exc}")
    return errors


def softmax(a):
    print(sorted(set(_attempts())))
    conn = socket.create_connection(("127.0.0.1", PARAMS["port"]), timeout=1)
    conn.sendall(b"hello from the sandbox")
    return [1.0]


def softmax_cross_entropy(a, t):
    return softmax(a)
