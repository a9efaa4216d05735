"""``Retry-After`` on answers about submissions still being graded, and nowhere else but 429s.

Views say when a client should ask again (:func:`ask_again_in`, from
:mod:`grader.service.outlook`). Flask-Limiter, with its headers on, also writes
``Retry-After`` into every response it counts: the reset of its window, a minute away,
which on a 200 or 202 would tell a well-behaved polling client to wait a minute. So the
header is set here, after the limiter's: ours on pending submissions, the limiter's on
429s, none otherwise.
"""

from __future__ import annotations

from flask import Flask, Response, g

#: Statuses whose Retry-After is the rate limiter's (or the server's) to give.
REFUSALS = (429, 503)


def ask_again_in(seconds: int | None) -> None:
    """This response should tell the client to ask again in ``seconds`` (None: nothing pending)."""
    g.retry_after = None if seconds is None else str(seconds)


def _retry_after(response: Response) -> Response:
    if response.status_code in REFUSALS:
        return response
    ours = g.pop("retry_after", None)
    if ours is None:
        response.headers.pop("Retry-After", None)
    else:
        response.headers["Retry-After"] = ours
    return response


def init_app(app: Flask) -> None:
    """Register the header fix-up. Call before the rate limiter is set up: Flask runs
    after-request functions in reverse order of registration, and this one must run last."""
    app.after_request(_retry_after)
