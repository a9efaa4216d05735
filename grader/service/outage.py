"""Outages of the database (or broker) as the service's users meet them: told apart from
bugs, described in one line, and logged once when they begin and once when they end.

The web (503 answers, :mod:`grader.web.errors`) and the reconciler (its sweeps,
:mod:`grader.service.dispatch`) each keep an :class:`Outage` of their own, with their own
words; the rules are the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (an outage, not a bug)."""
    from grader.service.context import is_transient

    return isinstance(exc, PoolTimeout) or (isinstance(exc, DBAPIError) and is_transient(exc))


def error_line(exc: BaseException) -> str:
    """The first line of the error's message, at most 200 characters ("" if it has none); for
    a database error, the driver's message, without the SQL and its parameters."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [""])[0][:200]


def describe_error(exc: BaseException) -> str:
    """``Class: first line of its message`` (the class alone when it has none)."""
    line = error_line(exc)
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


class Outage:
    """One outage at a time: ``begins`` is logged (a warning, ``%s`` the reason) when the first
    failure opens it, ``ends(seconds, failures)`` when a success closes it; nothing in between."""

    def __init__(self, logger: logging.Logger, begins: str, ends: Callable[[float, int], str]) -> None:
        self.logger = logger
        self.begins = begins
        self.ends = ends
        self.since: float | None = None  # monotonic time the open outage began
        self.failures = 0  # counted in the open outage
        self._lock = threading.Lock()

    def begin(self, reason: str, *, count: bool = True) -> bool:
        """A failure (counted unless ``count`` is false); True, and the warning, if it opens an outage."""
        with self._lock:
            self.failures += int(count)
            if self.since is not None:
                return False
            self.since = time.monotonic()
        self.logger.warning(self.begins, reason)
        return True

    def end(self) -> None:
        """A success: close the open outage, if there is one, with its one line."""
        with self._lock:
            if self.since is None:
                return
            lasted, failures = time.monotonic() - self.since, self.failures
            self.since, self.failures = None, 0
        self.logger.warning(self.ends(lasted, failures))
