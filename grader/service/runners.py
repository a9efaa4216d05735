"""The runner for server-side grading: the sandbox, or a clear refusal.

Students' code is graded on the server only inside :mod:`grader.sandbox`. Without it,
grading falls back to the portable :class:`~grader.grading.runner.SubprocessRunner`
only when the configuration says so (``insecure_sandbox``, or ``testing``);
otherwise :class:`GraderUnavailable` says why nothing can be graded.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

from grader.config import Config
from grader.grading.runner import Runner, SubprocessRunner

log = logging.getLogger(__name__)


class GraderUnavailable(RuntimeError):
    """Submissions cannot be graded on this machine (the message says why and what to do)."""


def _sandbox_factory() -> tuple[Any, type[BaseException]]:
    """``(make_runner, SandboxUnavailable)``; raises ImportError/AttributeError while it is missing."""
    sandbox = importlib.import_module("grader.sandbox")
    unavailable = getattr(sandbox, "SandboxUnavailable", None)
    if not (isinstance(unavailable, type) and issubclass(unavailable, BaseException)):
        unavailable = RuntimeError
    return sandbox.make_runner, unavailable


def server_runner(config: Config) -> Runner:
    """The sandboxed runner; the subprocess runner only if ``insecure_sandbox`` or ``testing`` allows it."""
    try:
        make_runner, unavailable = _sandbox_factory()
    except (ImportError, AttributeError) as exc:
        reason = f"the sandbox is not installed ({exc})"
    else:
        try:
            return make_runner(insecure=False)
        except unavailable as exc:
            reason = str(exc) or type(exc).__name__
    if config.insecure_sandbox or config.testing:
        if not config.testing:
            print(
                f"WARNING: grading WITHOUT the sandbox ({reason}); student code runs with this process's "
                "privileges. Never do this with real students.",
                file=sys.stderr,
                flush=True,
            )
        log.warning("grading with SubprocessRunner, not the sandbox: %s", reason)
        return SubprocessRunner()
    raise GraderUnavailable(
        f"cannot grade: {reason}. Run `lossgrader sandbox doctor` to see what is missing, or set "
        "LOSSGRADER_INSECURE_SANDBOX=1 to grade without the sandbox (development only)."
    )


def check_grading_possible(config: Config) -> None:
    """Raise :class:`GraderUnavailable` unless this machine can grade (sandbox, or the insecure setting)."""
    runner = server_runner(config)
    close = getattr(runner, "close", None)
    if callable(close):
        close()
