"""The ``Idempotency-Key`` request header of ``POST /api/v1/labs/<lab_id>/submissions``.

A client that retries a submission (after a timeout, a 503 or a lost connection) sends
the same key with each try; the server stores it with the submission (unique per user)
and answers a retry with the submission the first try created. A key is 1 to 255
printable ASCII characters (a UUID is a good one).
"""

from __future__ import annotations

import re

from flask import request

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY = 255
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY}}}")


class BadIdempotencyKey(ValueError):
    """The header is present but not a usable key (the message says why)."""


def idempotency_key() -> str | None:
    """The request's key; None without the header; :class:`BadIdempotencyKey` when malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not _KEY.fullmatch(key):
        raise BadIdempotencyKey(f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters without spaces.")
    return key
