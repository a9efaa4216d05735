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

    The mode follows who runs it: as root the root mode, as any other user (the
    service's, say: ``sudo -u lossgrader lossgrader sandbox doctor``) the unprivileged
    mode with a user namespace per run. Exit status 0 when every protection required
    in that mode is active, 1 otherwise.
    """
    from grader.sandbox import cgroup
    from grader.sandbox.doctor import check, format_report

    cgroup.delegate()  # in a delegated cgroup (systemd-run -p Delegate=yes), probe per-run cgroups too
    protections = check()
    click.echo(format_report(protections))
    sys.exit(0 if all(p.active for p in protections if p.required) else 1)


commands = [sandbox]
