"""``lossgrader``: a thin command line over the grading core.

Exit codes: 0 done (for ``check``: every fixture passed), 1 ``check`` found failing
fixtures or ``lab validate`` found problems, 2 the command could not do its job (bad
arguments, unknown lab, unreadable file), with a one-line message and no traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

if TYPE_CHECKING:
    import threading

    from rich.console import Console

    from grader.grading.lab import Lab
    from grader.grading.result import Result
    from grader.grading.runner import Runner, SubprocessRunner

# Start-up matters (``--help`` within ~50 ms of the interpreter's own): this module imports
# click only. Rich, NumPy, the grading engine and the service's modules are imported by
# the commands that use them, and the service's commands are listed from LAZY_COMMANDS
# without importing them.


def _console(name: str) -> Console:
    """``out`` (stdout) or ``err`` (stderr, one error a line), made on first use."""
    console = globals().get(name)
    if console is None:
        from rich.console import Console

        if name == "out":
            console = Console(highlight=False, soft_wrap=False)
        else:
            console = Console(stderr=True, highlight=False, soft_wrap=True)  # one error, one line
        globals()[name] = console  # later lookups find it without this function
    return console


def __getattr__(name: str) -> Any:
    """``grader.cli.out`` and ``grader.cli.err`` (the command modules' consoles), made on first use."""
    if name in ("out", "err"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class UserError(click.ClickException):
    """A problem the user can fix; printed as one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        """Print ``error: message`` on stderr."""
        _console("err").print(f"[red]error:[/red] {_escape(self.format_message())}")


def _lab(lab: str) -> Lab:
    from grader.grading.lab import LabError, find_lab

    try:
        return find_lab(lab)
    except LabError as exc:
        raise UserError(str(exc)) from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files as given; folders become the ``.py`` files and Jupyter notebooks inside them, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in (".py", ".ipynb")
                and p.is_file()
                and not any(part.startswith((".", "__pycache__")) for part in p.relative_to(path).parts)
            )
            if not found:
                raise UserError(f"no .py files (nor .ipynb notebooks) in folder {path}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"no such file or folder: {path}")
    return files


class LazyCommand(NamedTuple):
    """A command listed by name and help, its module imported only when it runs."""

    module: str
    #: The command's help up to its first blank line, as its docstring says it (a test
    #: checks that they agree): ``--help`` shortens it as click would.
    help: str
    #: Packages it needs that only the ``server`` extra installs: without them, it is not listed.
    needs: tuple[str, ...] = ()


#: Packages of the ``server`` extra (a missing one means the extra is not installed).
_SERVER_PACKAGES = {"sqlalchemy", "alembic", "psycopg", "dramatiq", "redis", "flask", "werkzeug", "pyseccomp"}
_SERVICE = ("sqlalchemy",)

#: The commands of ``grader.commands.*``: name → where it is and its help.
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "db": LazyCommand("grader.commands.db", "Create and migrate the database schema.", _SERVICE),
    "user": LazyCommand("grader.commands.users", "Manage users and their API tokens.", _SERVICE),
    "course": LazyCommand(
        "grader.commands.courses", "Courses: create, edit, list, add labs, copy to a new term, enrol.", _SERVICE
    ),
    "roster": LazyCommand("grader.commands.course", "The course roster.", _SERVICE),
    "regrade": LazyCommand(
        "grader.commands.course",
        "Regrade a lab's submissions with its current definition; prints old → new scores.",
        _SERVICE,
    ),
    "export": LazyCommand("grader.commands.course", "Export data.", _SERVICE),
    "extension": LazyCommand("grader.commands.course", "Per-student due dates.", _SERVICE),
    "worker": LazyCommand(
        "grader.commands.worker",
        "Grade submissions from the broker (LOSSGRADER_BROKER_URL) and re-dispatch lost ones.",
        _SERVICE,
    ),
    "sandbox": LazyCommand("grader.commands.sandbox", "The sandbox that runs student code on the server.", _SERVICE),
    "serve": LazyCommand(
        "grader.commands.web",
        "Run the web service (database schema, labs and a demo course are set up first).",
        _SERVICE,
    ),
    "demo": LazyCommand(
        "grader.commands.web",
        "(Re)create the demo course: demo-instructor, demo-student1..3 (new passwords), due dates.",
        _SERVICE,
    ),
    "submit": LazyCommand("grader.commands.submit", "Submit FILE to the course server and show the graded result."),
}
#: Subcommands of ``lossgrader lab`` defined elsewhere.
LAZY_LAB_COMMANDS: dict[str, LazyCommand] = {
    "set": LazyCommand(
        "grader.commands.course",
        "Change a lab's due date and policies in a course; records old → new and recomputes scores.",
        _SERVICE,
    ),
}


class LazyGroup(click.Group):
    """A click group that lists ``lazy`` commands from their table and imports a command's
    module only when that command runs (or is asked for its own help)."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command: those defined here and the installed lazy ones, sorted."""
        lazy = (name for name, entry in self.lazy.items() if _installed(entry.needs) and _exists(entry.module))
        return sorted({*self.commands, *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported first if it is a lazy one."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self._load(cmd_name)
        return self.commands.get(cmd_name)

    def _load(self, name: str) -> None:
        entry = self.lazy[name]
        needs_extra = f"'{name}' needs the server extra (pip install 'lossgrader[server]')"
        if not _installed(entry.needs):  # refused before it fails deep inside
            raise UserError(f"{needs_extra}: {', '.join(entry.needs)} is not installed")
        try:
            module = importlib.import_module(entry.module)
        except ModuleNotFoundError as exc:
            if exc.name == entry.module:
                return  # not in this copy: "No such command"
            if (exc.name or "").split(".")[0] in _SERVER_PACKAGES:
                raise UserError(f"{needs_extra}: {exc}") from None
            raise
        if name not in self.commands:  # not registered on this group by a decorator on import
            for command in module.commands:
                if command.name == name:
                    self.add_command(command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, but lazy ones from their table: nothing is imported."""
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or click.Command(name, help=self.lazy[name].help)
            if not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in commands])


def _exists(module: str) -> bool:
    """Whether ``module`` is there, found without importing it or its packages: a command
    module not in this copy yet (or left out of it) is not listed."""
    from importlib.machinery import PathFinder

    if module in sys.modules:
        return True
    top, *parts = module.split(".")
    package = sys.modules.get(top)
    spec = package.__spec__ if package is not None else PathFinder.find_spec(top)
    for part in parts:
        if spec is None or spec.submodule_search_locations is None:
            return False
        spec = PathFinder.find_spec(part, spec.submodule_search_locations)
    return spec is not None


def _installed(packages: tuple[str, ...]) -> bool:
    """Whether every package can be imported (looked up, not imported)."""
    if not packages:
        return True
    from importlib.util import find_spec

    return all(find_spec(package) is not None for package in packages)


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lossgrader")
def main() -> None:
    """lossgrader: grade loss-function labs, and check your own work before you submit."""


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lab", "lab_id", required=True, help="Lab id, e.g. lab01-mse.")
@click.option("--seed", type=int, default=None, help="Seed for the randomised fixtures (default: new).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--details", "-v", is_flag=True, help="Show every failed fixture's call, expected and returned value.")
def check(file: Path, lab_id: str, seed: int | None, as_json: bool, details: bool) -> None:
    """Check FILE locally on the public and randomised fixtures.

    Exit status 0 only if every fixture passes. Needs no server and no sandbox.
    """
    global _quick_exit
    _quick_exit = True  # it opens nothing that outlives it: its child ends with the runner
    source = _read(file)
    with _prestarted_runner(lab_id) as runner:  # its child starts while the engine is imported
        lab = _lab(lab_id)
        from grader.grading.engine import grade

        # The terminal's modules (rich) load while the child runs: this process only waits
        # then. Nothing else imports them, so the two threads never wait on each other's imports.
        printing = None if as_json else _import_in_background("grader.terminal")
        try:
            result = grade(source, lab, seed, runner=runner, visibilities=("public", "randomised"))
        finally:
            if printing is not None:
                printing.join()
    hidden = lab.fixtures_by("hidden")
    if as_json:
        from grader.grading.result import strict_json

        view = result.student_view()
        view["hidden_fixtures_on_server"] = None if lab.withheld and not hidden else len(hidden)
        click.echo(strict_json(view, indent=2))
    else:
        from grader.grading.result import fmt_points

        _print_result(result, file, details=details, reproduce=check_command(file, lab_id))
        out = _console("out")
        if hidden:
            points = fmt_points(sum(f.points for f in hidden))
            out.print(
                f"The server will also run {len(hidden)} hidden fixtures ({points} points): "
                "you will see their names and whether they passed."
            )
        elif lab.withheld:
            out.print("The server will also run hidden fixtures: you will see their names and whether they passed.")
    if result.status != "graded":
        raise UserError(result.error or "grading failed")
    sys.exit(0 if result.all_passed else 1)


def _import_in_background(module: str) -> threading.Thread:
    """Import ``module`` in a thread; a failure is left for the import where it is used."""
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    thread = threading.Thread(target=load, name=f"import {module}", daemon=True)
    thread.start()
    return thread


def _prestarted_runner(lab_id: str) -> SubprocessRunner:
    """A SubprocessRunner whose child is already starting under the lab's limits (read
    from its lab.toml alone); a plain one when they cannot be read (``_lab`` says why)."""
    from grader.grading.lab import LabError, lab_limits
    from grader.grading.runner import SubprocessRunner

    try:
        limits = lab_limits(lab_id)
    except LabError:
        return SubprocessRunner()
    return SubprocessRunner.prestarted(limits, fork=True)  # before any fixture or the reference is loaded


def server_runner() -> Runner:
    """The sandboxed runner for server-side grading; refuses when the sandbox is missing.

    ``LOSSGRADER_INSECURE_SANDBOX=1`` (development only) falls back to a plain
    subprocess, with a loud warning.
    """
    from grader.sandbox import SandboxUnavailable, make_runner

    try:
        return make_runner()
    except SandboxUnavailable as exc:
        raise UserError(
            f"{exc}; refusing to run untrusted code without it "
            "(LOSSGRADER_INSECURE_SANDBOX=1 allows it for development)"
        ) from None


@main.command(name="grade")
@click.argument("paths", nargs=-1, required=True)
@click.option("--lab", "lab_id", required=True, help="Lab id, e.g. lab01-mse.")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for the randomised fixtures (default: new per file).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Gradescope-style JSON on stdout (an array for several files).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Files graded at once (default: CPUs).",
)
@click.option("--details", "-v", is_flag=True, help="Show every failed fixture's call and the comparison's message.")
def grade_command(
    paths: tuple[str, ...], lab_id: str, seed: int | None, as_json: bool, jobs: int | None, details: bool
) -> None:
    """Grade files (or folders of .py files) with every fixture, hidden ones included.

    Exit status 0 when grading completed, whatever the scores.
    """
    from grader.grading.result import fmt_points, strict_json

    lab = _lab(lab_id)
    files = expand_paths(paths)
    sources = [_read(f) for f in files]
    runner = server_runner()
    try:
        results = _grade_many(sources, lab, seed, runner, jobs or os.cpu_count() or 1, show_progress=len(files) > 1)
    finally:
        close = getattr(runner, "close", None)
        if close:
            close()
    if as_json:
        docs = []
        for file, result in zip(files, results, strict=True):
            doc = result.to_gradescope()
            doc["extra_data"]["file"] = str(file)
            docs.append(doc)
        click.echo(strict_json(docs[0] if len(docs) == 1 else docs, indent=2))
    elif len(files) == 1:
        again = f"lossgrader grade {shlex.quote(str(files[0]))} --lab {shlex.quote(lab_id)} --seed {{seed}}"
        _print_result(results[0], files[0], details=details, instructor=True, reproduce=again)
    else:
        from rich.table import Table

        from grader import terminal

        table = Table(title=f"{lab.id} · {len(files)} files")
        table.add_column("file", overflow="fold")
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("summary: the cause that cost most")
        for file, result in zip(files, results, strict=True):
            table.add_row(
                _escape(str(file)),
                f"{fmt_points(result.score)}/{fmt_points(result.max_score)}",
                terminal.headline(result),
            )
        _console("out").print(table)
    errors = [r for r in results if r.status != "graded"]
    if errors:
        raise UserError(f"{len(errors)} of {len(results)} files could not be graded: {errors[0].error}")


def _grade_many(
    sources: list[bytes], lab: Lab, seed: int | None, runner: Runner, jobs: int, show_progress: bool
) -> list[Result]:
    """Grade concurrently, keeping the argument order; progress on stderr."""
    from concurrent.futures import ThreadPoolExecutor

    from grader.grading.engine import grade

    def one(source: bytes) -> Result:
        return grade(source, lab, seed, runner=runner)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        if not show_progress:
            return list(pool.map(one, sources))
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=_console("err"), transient=True) as progress:
            task = progress.add_task("grading", total=len(sources))
            futures = [pool.submit(one, s) for s in sources]
            for future in futures:
                future.add_done_callback(lambda _: progress.advance(task))
            return [f.result() for f in futures]


def _print_result(
    result: Result,
    file: Path,
    *,
    details: bool = False,
    instructor: bool = False,
    reproduce: str | None = None,
) -> None:
    """The result as the result page lays it out (see :mod:`grader.terminal`)."""
    from grader import terminal

    terminal.print_result(
        _console("out"),
        result,
        f"{file} · {result.lab_id}",
        instructor=instructor,
        details=details,
        reproduce=reproduce,
    )


def check_command(file: Path, lab_id: str) -> str:
    """``lossgrader check FILE --lab LAB --seed {seed}``, quoted for a shell where needed."""
    return f"lossgrader check {shlex.quote(str(file))} --lab {shlex.quote(lab_id)} --seed {{seed}}"


@main.command()
def labs() -> None:
    """List the available labs."""
    from rich import box
    from rich.table import Table

    from grader.grading.lab import LabError, available_labs, labs_dir, load_lab
    from grader.grading.result import fmt_points

    root = labs_dir()
    names = available_labs(root)
    if not names:
        raise UserError(f"no labs found in {root}")
    table = Table(
        title=f"labs in {root}",
        caption="fixtures: public + hidden + randomised",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("id", no_wrap=True)  # what --lab takes: never cut short
    table.add_column("title", overflow="fold")
    table.add_column("functions", overflow="fold")  # one per line, folded rather than cut
    table.add_column("fixtures", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    for name in names:
        try:  # without importing its reference (and NumPy): check and lab validate do
            lab = load_lab(root / name, check_reference=False)
        except LabError as exc:
            raise UserError(str(exc)) from None
        counts = [str(len(lab.fixtures_by(v))) for v in ("public", "hidden", "randomised")]
        if lab.withheld and counts[1] == "0":
            counts[1] = "(not here)"  # a students' copy: the server has them
        table.add_row(
            lab.id,
            _escape(lab.title),
            _escape("\n".join(f.signature for f in lab.functions)),
            " + ".join(counts),
            fmt_points(lab.max_score),
        )
    _console("out").print(table)


@main.group(cls=LazyGroup, lazy=LAZY_LAB_COMMANDS)
def lab() -> None:
    """Work with lab definitions."""


@lab.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def validate(path: Path) -> None:
    """Check the lab in PATH: schema, every fixture, and the reference passes them all.

    Every catalogued mistake is also run on each randomised fixture over many seeds: one
    that passes on some seeds and fails on others is an error (exit 1), one whose error
    comes within 10× of the tolerance a warning.
    """
    from grader.grading.validate import STABILITY_SEEDS, validate_lab

    out, err = _console("out"), _console("err")
    found = validate_lab(path)
    for warning in found.warnings:
        err.print(f"[yellow]warning:[/yellow] {_escape(warning)}")
    if found.ok:
        assert found.lab is not None
        counts = ", ".join(f"{len(found.lab.fixtures_by(v))} {v}" for v in ("public", "hidden", "randomised"))
        out.print(
            f"[green]ok[/green] {found.lab.id}: {counts}; "
            f"{found.fixtures_checked} fixture runs checked; {found.mistake_pairs_checked} catalogued "
            f"mistake × randomised fixture pairs give one verdict over {len(STABILITY_SEEDS)} seeds; "
            f"version {found.lab.version}"
        )
        return
    for problem in found.problems:
        err.print(f"[red]error:[/red] {_escape(problem)}")
    sys.exit(1)


@lab.command()
@click.argument("lab_id")
def handout(lab_id: str) -> None:
    """Print a lab's handout."""
    click.echo(_lab(lab_id).handout.rstrip("\n"))  # verbatim: no re-wrapping, so it can be redirected


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; unexpected errors become one line."""
    try:
        main.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.UsageError as exc:
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _console("err").print(f"[red]error:[/red] {_escape(exc.format_message())}{_escape(where)}")
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        _console("err").print("aborted")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:
        if os.environ.get("LOSSGRADER_DEBUG"):
            raise
        _console("err").print(
            f"[red]internal error:[/red] {_escape(type(exc).__name__)}: {_escape(str(exc))} "
            "(LOSSGRADER_DEBUG=1 shows the traceback)"
        )
        return 2
    return 0


def _tolerate_unencodable_output() -> None:
    """Print what the terminal's encoding lacks (Σ, ·, − in messages) as "?" instead of
    failing: output redirected on Windows is cp1252, under PYTHONIOENCODING=ascii ASCII."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="replace")


#: Set by commands that leave nothing to close (no log handlers, connections or files of
#: their own): the process then ends without the interpreter's teardown of every module,
#: which takes ~18 ms once NumPy and rich are loaded (``check`` starts within 2.5 × an
#: ``import numpy``: bench/cli_startup.py).
_quick_exit = False


def entry() -> None:
    """Console-script entry point."""
    _tolerate_unencodable_output()
    code = run()
    if _quick_exit:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
                stream.flush()
        os._exit(code)
    sys.exit(code)
