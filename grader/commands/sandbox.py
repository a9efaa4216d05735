"""``lossgrader sandbox doctor``: which protections are active here, and why any is not."""

from __future__ import annotations

import sys

import click


@click.group()
def sandbox() -> None:
    """The sandbox that runs student code on the server."""


@sandbox.command()
def doctor() -> None:
    """Probe every protection on a live sandboxed child and print a table.

    Exit status 0 when every required protection is active, 1 otherwise.
    """
    from grader.sandbox.doctor import REQUIRED, check, format_report

    protections = check()
    click.echo(format_report(protections))
    sys.exit(0 if all(p.active for p in protections if p.name in REQUIRED) else 1)


commands = [sandbox]
