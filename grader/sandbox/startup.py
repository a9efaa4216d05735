"""What ``lossgrader serve`` and ``lossgrader worker`` do first: say loudly when they run as
root, and give the sandbox its per-run cgroups where systemd delegated a cgroup to them.

Nothing that parses HTTP, SQL results or the broker's messages should run as root: a flaw
in any of those parsers would then be a root compromise of the host. As any other user the
sandbox runs in its ``userns`` mode (see :mod:`grader.sandbox.runner`), so root is never
needed; it still works as root (a developer's machine, CI), with this warning.
"""

from __future__ import annotations

import os
import sys

from grader.sandbox import cgroup

_BANNER = "!" * 78


def root_warning(command: str) -> str | None:
    """The warning for ``lossgrader <command>`` run as root, or None when it is not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    return (
        f"{_BANNER}\n"
        f"WARNING: lossgrader {command} is running as ROOT. Every request, database row and\n"
        "broker message it parses is then parsed with root's privileges: a flaw in any parser\n"
        "would be a root compromise of this machine. Run it as an unprivileged user (the\n"
        "sandbox then uses user namespaces); deploy/ has systemd units that do. Root is for\n"
        f"a development machine only.\n{_BANNER}"
    )


def prepare_service(command: str) -> None:
    """Warn on stderr if root; as an unprivileged service in a delegated cgroup, set up per-run cgroups."""
    warning = root_warning(command)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    else:
        cgroup.delegate()
