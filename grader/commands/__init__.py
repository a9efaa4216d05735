"""Command groups of the service (database, users, course operations, workers).

Each module exposes ``commands``, a list of click commands that ``grader.cli`` adds to
``lossgrader``. They need the ``server`` extra; the student CLI works without it.
"""

# The commands import shared pieces from grader.cli, and grader.cli imports the commands
# when it loads: load grader.cli first, whichever module is imported first.
import grader.cli  # noqa: F401
