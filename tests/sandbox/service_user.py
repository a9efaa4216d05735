"""An unprivileged service user for tests and the benchmark: the account, an interpreter and a
virtual environment it can read, and a copy of the project it can read.

CI runs as root, and the project's own interpreter may live under ``/root`` (pyenv), where no
other user can run it. So the service user gets a virtual environment made from
``/usr/bin/python3`` with the project's dependencies (not the project itself: its code comes
from a readable copy on ``PYTHONPATH``), kept in :data:`CACHE` between runs under a name that
changes with the dependencies, so that only the first run pays for the install.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the service runs on 3.11+
    import tomli as tomllib

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The account the service runs as in these tests (a system user, no home, no login, no extra groups).
SERVICE_USER = "lossgrader-ci"
#: The interpreter every user can run (Debian's).
SYSTEM_PYTHON = "/usr/bin/python3"
#: Where the service user's virtual environments are kept (root's, world-readable).
CACHE = Path("/var/cache/lossgrader-ci")
#: Test tools the copied suites need besides the service's dependencies.
TEST_REQUIREMENTS = ("pytest>=8", "hypothesis>=6")
#: What a copy of the project leaves out.
_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.pyc", "site", "node_modules", "test-artifacts", "screenshots", ".ruff_cache"
)


#: Changes when the way the environment is built changes (a new cache entry then).
_LAYOUT = "venv --without-pip, pip --python"


class ServiceUserUnavailable(RuntimeError):
    """The unprivileged set-up cannot be made here (the message says why)."""


def why_unavailable() -> str | None:
    """Why the unprivileged set-up cannot be made on this machine, or None if it can."""
    if sys.platform != "linux":
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root to create the service user (CI runs as root)"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} is missing"
    if shutil.which("useradd") is None:
        return "useradd is missing"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import venv"], capture_output=True)
    if probe.returncode:
        return f"{SYSTEM_PYTHON} has no venv module"
    return None


def ensure_user(name: str = SERVICE_USER) -> pwd.struct_passwd:
    """The system account ``name``, created if missing (no home, no shell, no supplementary groups)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    options = ("--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent")
    subprocess.run(
        ["useradd", *options, "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(name)


def requirements() -> list[str]:
    """The service's dependencies (base and the server extra) and the test tools, from pyproject.toml."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["server"], *TEST_REQUIREMENTS]


def ensure_venv() -> Path:
    """A virtual environment from /usr/bin/python3 with :func:`requirements`, readable by everyone
    (installed by this interpreter's pip: the venv itself has none).

    Built once per set of requirements (under a lock; a file "ready" marks it complete),
    then reused: the first run takes a minute or so, later ones nothing.
    """
    wanted = requirements()
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
    key = hashlib.sha256("\n".join([_LAYOUT, version.stdout, *wanted]).encode()).hexdigest()[:12]
    target = CACHE / f"venv-{key}"
    if (target / "ready").is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    CACHE.chmod(0o755)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "ready").is_file():
            return target
        # A venv records its own path, so it is built where it stays; "ready" marks it complete.
        # Without pip: Debian's ensurepip is a package of its own (python3-venv); this
        # interpreter's pip installs into it instead (pip --python).
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(target)], check=True, capture_output=True)
        pip = [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python")]
        result = subprocess.run(
            [*pip, "install", "--quiet", "--disable-pip-version-check", *wanted],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            shutil.rmtree(target, ignore_errors=True)
            raise ServiceUserUnavailable(f"pip install failed: {result.stderr.strip()[-500:]}")
        _readable_by_all(target)
        (target / "ready").write_text("\n".join(wanted) + "\n")
        for old in CACHE.glob("venv-*"):  # older sets of requirements
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
    return target


def copy_project(destination: Path) -> Path:
    """A copy of the project's code, labs and tests at ``destination/lossgrader``, readable by everyone."""
    root = destination / "lossgrader"
    root.mkdir(parents=True)
    for name in ("grader", "reference", "labs", "tests", "migrations", "bench", "deploy"):
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, root / name, ignore=_IGNORE)
    for name in ("pyproject.toml", "alembic.ini"):
        if (PROJECT_ROOT / name).is_file():
            shutil.copy2(PROJECT_ROOT / name, root / name)
    for folder in [destination, *destination.parents]:
        if folder == Path("/"):
            break
        if not os.access(folder, os.X_OK, effective_ids=False) or (folder.stat().st_mode & 0o001) == 0:
            raise ServiceUserUnavailable(f"{folder} cannot be entered by other users; use another temporary folder")
    _readable_by_all(destination)
    return root


def _readable_by_all(top: Path) -> None:
    """chmod a+rX, recursively."""
    for folder, _dirs, files in os.walk(top):
        os.chmod(folder, os.stat(folder).st_mode | 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def service_environment(project: Path, **extra: str) -> dict[str, str]:
    """A clean environment for the service user: the copy on PYTHONPATH, nothing of root's."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(project),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": "/nonexistent",
    }
    env.update(extra)
    return env


def run_as(user: pwd.struct_passwd, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``user`` (its uid and group, no supplementary groups)."""
    return subprocess.run(argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], text=True, **kwargs)  # type: ignore[call-overload]
