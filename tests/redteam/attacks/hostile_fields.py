"""Result events with hostile field values: a huge integer "elapsed", a list "status".

Writes, into its result stream, a result event for the current call whose fields are
well-formed JSON of the wrong kind: ``"elapsed": 10**400`` (too large for a float),
``"status": []`` or ``"kind": {}`` (unhashable). The parent must refuse them as a
corrupted stream, not crash on them.
"""

import contextlib
import json
import os
import struct

PARAMS: dict = {}  # filled in by the test


def _hostile():
    event = {"event": "result", "call": 0, "status": "raised"}
    if PARAMS["field"] == "elapsed":
        event["elapsed"] = 10**400
    elif PARAMS["field"] == "status":
        event["status"] = []
    else:
        event["status"], event["kind"] = "ok", {}
    data = json.dumps(event).encode()
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.write(fd, b"J" + struct.pack(">I", len(data)) + data)


def softmax(a):
    _hostile()
    return a


def softmax_cross_entropy(a, t):
    _hostile()
    return 0.0
