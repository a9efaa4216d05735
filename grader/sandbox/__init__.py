"""Isolation of untrusted student code (Linux; root or unprivileged user namespaces): see
:mod:`grader.sandbox.runner`.

``from grader.sandbox import SandboxRunner, make_runner, SandboxUnavailable``.
Nothing here is imported by :mod:`grader.grading`, and importing it is harmless on any
OS; whether the sandbox can actually run is for :mod:`grader.sandbox.doctor` to say.
"""

from grader.sandbox.runner import (
    DEFAULT_LIMITS,
    SandboxError,
    SandboxRunner,
    SandboxUnavailable,
)


def make_runner(slots: int | None = None, *, insecure: bool | None = None):  # type: ignore[no-untyped-def]
    """A :class:`SandboxRunner` if every protection works here; see
    :func:`grader.sandbox.doctor.make_runner`."""
    from grader.sandbox.doctor import make_runner as _make_runner

    return _make_runner(slots, insecure=insecure)


__all__ = [
    "DEFAULT_LIMITS",
    "SandboxError",
    "SandboxRunner",
    "SandboxUnavailable",
    "make_runner",
]
