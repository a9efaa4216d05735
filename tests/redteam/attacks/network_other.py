"""Other ways out: UDP, IPv6, unix sockets (PostgreSQL's), netlink, and stolen descriptors.

Sends UDP to 127.0.0.1 and ``::1``, connects over IPv6 to ``::1`` 5432/6379, to
PostgreSQL's unix socket ``/var/run/postgresql/.s.PGSQL.5432``, to an abstract unix
socket, opens netlink and packet sockets and a socketpair, and tries to adopt each
inherited descriptor as a socket (``socket.socket(fileno=fd)``, ``socket.fromfd``).
Finally connects to PostgreSQL's unix socket without catching the error.
"""

import socket

PARAMS: dict = {}  # filled in by the test

PG_UNIX = "/var/run/postgresql/.s.PGSQL.5432"


def _try(what, action):
    try:
        return f"{what}: {action()!r}"
    except Exception as exc:
        return f"{what}: {type(exc).__name__}: {exc}"


def _attempts():
    port = PARAMS["port"]
    found = [
        _try("udp4", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", port))),
        _try("udp6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", ("::1", port))),
        _try("tcp6 pg", lambda: socket.create_connection(("::1", 5432), timeout=0.2)),
        _try("tcp6 redis", lambda: socket.create_connection(("::1", 6379), timeout=0.2)),
        _try("unix pg", lambda: socket.socket(socket.AF_UNIX).connect(PG_UNIX)),
        _try("abstract", lambda: socket.socket(socket.AF_UNIX).connect("\0lossgrader")),
        _try("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)),
        _try("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)),
        _try("pair", lambda: socket.socketpair()),
        _try("getaddrinfo", lambda: socket.getaddrinfo("localhost", 5432)),
    ]
    for fd in range(0, 16):
        found.append(_try(f"adopt {fd}", lambda f=fd: socket.socket(fileno=f).getpeername()))
        found.append(_try(f"fromfd {fd}", lambda f=fd: socket.fromfd(f, socket.AF_UNIX, socket.SOCK_STREAM)))
    return found


def softmax(a):
    print("\n".join(_attempts()))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(PG_UNIX)
    return [1.0]


def softmax_cross_entropy(a, t):
    return softmax(a)
