"""Network with the audit hook gone: raw sockets and ``syscall(SYS_socket)`` via ctypes.

Disables the friendly audit hook (see the prelude), then tries ``socket.socket`` for
TCP, UDP, IPv6 and unix, ``ctypes`` ``socket()``, ``syscall(41, ...)`` and
``syscall(53, ...)`` (socketpair) through libc, and connects to PostgreSQL, Redis and
the test's listener with whatever it got. Ends by raising the error of creating a plain
TCP socket: seccomp and the empty network namespace are the walls here.
"""

import ctypes
import socket

from _prelude import raw, unhook  # inlined by the test

PARAMS: dict = {}  # filled in by the test


def _attempts():
    found = [f"unhooked {unhook()}"]
    libc = ctypes.CDLL(None, use_errno=True)
    for family, kind in ((2, 1), (2, 2), (10, 1), (1, 1), (16, 3)):
        fd = libc.socket(family, kind, 0)
        found.append(f"libc socket({family},{kind}) = {fd} errno {ctypes.get_errno()}")
        fd = libc.syscall(41, family, kind, 0)
        found.append(f"syscall socket({family},{kind}) = {fd} errno {ctypes.get_errno()}")
    pair = (ctypes.c_int * 2)()
    found.append(f"socketpair = {libc.syscall(53, 1, 1, 0, pair)} errno {ctypes.get_errno()}")
    for port in (5432, 6379, PARAMS["port"]):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2)
            found.append(f"CONNECTED {port}")
        except OSError as exc:
            found.append(f"{port}: {exc}")
    return found


def softmax(a):
    print("\n".join(_attempts()))
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    return [1.0]


def softmax_cross_entropy(a, t):
    return softmax(a)


assert raw
