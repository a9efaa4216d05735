"""``lossgrader worker``: Dramatiq grading workers for the configured broker, plus the reconciler.

Needs ``LOSSGRADER_BROKER_URL`` (without a broker the service grades in its own
process and no worker is needed). Checks before starting that submissions can be
graded here (the sandbox) and that the database is reachable, so a misconfigured
worker stops with one line instead of failing every submission.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError

from grader.cli import UserError, out
from grader.config import Config

WORKER_APP = "grader.service.worker_app"


def _preflight(config: Config) -> None:
    """Fail with one line if grading cannot work here; release everything before forking."""
    from grader.service.context import open_services
    from grader.service.runners import GraderUnavailable, check_grading_possible

    try:
        check_grading_possible(config)
    except GraderUnavailable as exc:
        raise UserError(str(exc)) from None

    class _NoDispatch:
        def dispatch(self, submission_id: int) -> None:
            raise RuntimeError("not dispatching during the worker's checks")

    try:
        services = open_services(config, migrate=True, dispatcher=_NoDispatch())
    except DBAPIError as exc:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"database not usable: {first}") from None
    services.close()


@click.command()
@click.option("--processes", "-p", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--threads",
    "-t",
    type=click.IntRange(1, 64),
    default=None,
    help="Submissions graded at once per process (default: LOSSGRADER_WORKERS).",
)
def worker(processes: int, threads: int | None) -> None:
    """Grade submissions from the broker (LOSSGRADER_BROKER_URL) and re-dispatch lost ones."""
    try:
        config = Config.from_env()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not config.broker_url:
        raise UserError(
            "no broker configured: set LOSSGRADER_BROKER_URL (e.g. redis://localhost:6379/0); "
            "without one the service grades submissions in its own process"
        )
    from grader.sandbox.startup import prepare_service

    prepare_service("worker")  # warns loudly as root; per-run cgroups where delegated
    _preflight(config)
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    argv = [
        WORKER_APP,
        "--processes",
        str(processes),
        "--threads",
        str(threads or config.workers),
        "--fork-function",
        f"{WORKER_APP}:reconcile_forever",
        "--worker-shutdown-timeout",
        "120000",
    ]
    shape = f"{processes} process(es) × {threads or config.workers} thread(s)"
    out.print(f"lossgrader worker: {shape}, plus the reconciler", soft_wrap=True)
    sys.exit(dramatiq_main(make_argument_parser().parse_args(argv)))


commands = [worker]
