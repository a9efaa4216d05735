"""Labs as data: one ``lab.toml`` per folder, plus a handout and fixture files.

Loading checks the whole schema and reports the first problem as a
:class:`LabError` naming the file and the field, so a lab author can fix a broken
lab without reading a traceback. Adding a lab is adding a folder: no code change.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 on a student's machine
    import tomli as tomllib

from grader.grading.runner import RunLimits

VISIBILITIES = ("public", "hidden", "randomised")
RETURN_KINDS = ("scalar", "array")
SCALAR_FORMS = ("python", "numpy", "array0d")
NAN_POLICIES = ("fail", "match")


class LabError(Exception):
    """A lab definition is broken; the message names the file and the field."""


@dataclass(frozen=True)
class Policy:
    """How a returned value is compared with the expected one.

    ``|got - expected| <= atol + rtol * |expected|`` elementwise. ``nan="fail"``
    rejects any NaN or infinity in a result; ``"match"`` accepts them where the
    expected value has the same non-finite value.
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    nan: str = "fail"
    scalar_forms: tuple[str, ...] = SCALAR_FORMS
    list_for_array: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {
            "rtol": self.rtol,
            "atol": self.atol,
            "nan": self.nan,
            "scalar_forms": list(self.scalar_forms),
            "list_for_array": self.list_for_array,
        }


@dataclass(frozen=True)
class FunctionSpec:
    """A function students must write."""

    name: str
    signature: str
    returns: str
    reference: str
    summary: str
    policy: Policy


@dataclass(frozen=True)
class FixtureSpec:
    """One fixture as written in its file (inputs may still be generators)."""

    name: str
    function: str
    visibility: str
    category: str
    description: str
    points: float
    args: tuple[Any, ...]
    expected: Any
    policy: Policy
    check_unmodified: bool
    hint: str
    hint_when: tuple[str, ...]
    dims: dict[str, Any]
    source: str  # "file.toml: fixture[3]", for messages

    @property
    def has_literal_expected(self) -> bool:
        """Whether the fixture file gives the expected value itself."""
        return self.expected is not None


@dataclass
class Lab:
    """A loaded, schema-checked lab."""

    id: str
    title: str
    path: Path
    handout: str
    reference_module: str
    functions: list[FunctionSpec]
    fixtures: list[FixtureSpec]
    limits: RunLimits
    version: str
    due: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Hidden fixture files named in lab.toml but absent from this copy (a copy for
    #: students): such a lab checks public and randomised fixtures but never grades.
    withheld: tuple[str, ...] = ()
    #: Values derived from this definition and nothing else (built fixed fixtures, say);
    #: a changed lab is a new Lab, with an empty cache.
    cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def function(self, name: str) -> FunctionSpec:
        """The spec of one required function."""
        for spec in self.functions:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def reference(self, name: str) -> Callable[..., Any]:
        """The trusted reference implementation of a required function."""
        spec = self.function(name)
        module = importlib.import_module(self.reference_module)
        return getattr(module, spec.reference)

    def fixtures_by(self, *visibilities: str) -> list[FixtureSpec]:
        """Fixtures of the given visibilities, in file order."""
        return [f for f in self.fixtures if f.visibility in visibilities]

    @property
    def max_score(self) -> float:
        """Total points of every fixture."""
        return sum(f.points for f in self.fixtures)


def _fail(where: str, message: str) -> LabError:
    return LabError(f"{where}: {message}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise LabError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"{path}: cannot be read ({exc})") from None


class _Fields:
    """Typed access to a TOML table that reports errors by file and field."""

    def __init__(self, table: Any, where: str) -> None:
        if not isinstance(table, dict):
            raise _fail(where, "expected a table")
        self.table = table
        self.where = where
        self.used: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, what: str = "") -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise _fail(self.where, f"missing required field '{key}'")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise _fail(self.where, f"field '{key}' must be {what or _kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise _fail(self.where, f"field '{key}' must be {what or _kind_name(kinds)}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in options:
            raise _fail(self.where, f"field '{key}' must be one of {', '.join(options)}; got {value!r}")
        return value

    def positive_int(self, key: str, default: int) -> int:
        value = self.get(key, int, default, what="a positive integer")
        if value <= 0:
            raise _fail(self.where, f"field '{key}' must be a positive integer")
        return value

    def positive(self, key: str, default: Any) -> float:
        value = self.get(key, (int, float), default, what="a positive number")
        if not value > 0:
            raise _fail(self.where, f"field '{key}' must be a positive number")
        return value

    def no_unknown(self, extra_allowed: tuple[str, ...] = ()) -> None:
        unknown = set(self.table) - self.used - set(extra_allowed)
        if unknown:
            raise _fail(self.where, f"unknown field '{sorted(unknown)[0]}'")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a table",
        bool: "true or false",
    }
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _forgiving_load(fields: _Fields) -> bool:
    """``[load] forgiving`` (default true): top-level statements that raise while the
    file loads (an import the grader does not have, reading a data set, plotting, a
    test call) are skipped and listed as warnings, as a notebook runs on past a failing
    cell, and the functions are graded; false: the first one stops the load and
    every fixture fails."""
    forgiving = fields.get("forgiving", bool, True)
    fields.no_unknown()
    return forgiving


def _limits(top: _Fields, toml_path: Path) -> RunLimits:
    """``[limits]`` and ``[load]``: what every run of the lab gets."""
    limits_fields = _Fields(top.get("limits", dict, {}), f"{toml_path} [limits]")
    default_limits = RunLimits()
    limits = RunLimits(
        wall_seconds=float(limits_fields.positive("wall_seconds", default_limits.wall_seconds)),
        cpu_seconds=float(limits_fields.positive("cpu_seconds", default_limits.cpu_seconds)),
        memory_mib=limits_fields.positive_int("memory_mib", default_limits.memory_mib),
        output_bytes=limits_fields.positive_int("output_bytes", default_limits.output_bytes),
        forgiving_load=_forgiving_load(_Fields(top.get("load", dict, {}), f"{toml_path} [load]")),
    )
    limits_fields.no_unknown()
    return limits


def _policy(fields: _Fields, base: Policy) -> Policy:
    """Read comparison overrides (rtol, atol, nan, scalar_forms, list_for_array)."""
    rtol = fields.get("rtol", (int, float), base.rtol, what="a number")
    atol = fields.get("atol", (int, float), base.atol, what="a number")
    if rtol < 0 or atol < 0:
        raise _fail(fields.where, "fields 'rtol' and 'atol' must not be negative")
    nan = fields.choice("nan", NAN_POLICIES, base.nan)
    forms = fields.get("scalar_forms", list, list(base.scalar_forms))
    for form in forms:
        if form not in SCALAR_FORMS:
            raise _fail(
                fields.where,
                f"field 'scalar_forms' has unknown form {form!r}; use {', '.join(SCALAR_FORMS)}",
            )
    lists = fields.get("list_for_array", bool, base.list_for_array)
    return Policy(float(rtol), float(atol), nan, tuple(forms), lists)


def _lab_files(path: Path) -> list[Path]:
    """Every file of the lab folder, sorted (bytecode caches left out)."""
    found = []
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        found.extend(file for name in files if (file := Path(folder, name)).is_file())  # not a broken link
    return sorted(found)


def lab_version(path: Path, reference_module: str) -> str:
    """A short hash of every file of the lab and of the reference module's source.

    Stored with each result, so a regrade after a fixture fix is traceable.
    """
    digest = hashlib.sha256()
    for file in _lab_files(path):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    origin = _module_file(reference_module)
    if origin is not None:  # else reported by load_lab
        digest.update(Path(origin).read_bytes())
    return digest.hexdigest()[:16]


def _module_file(name: str) -> str | None:
    """The source file of module ``name``, found without importing it or its packages
    (listing labs must not import the reference, nor NumPy through it)."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
    else:
        spec = None
        try:
            for part in name.split("."):
                if spec is None:
                    spec = importlib.machinery.PathFinder.find_spec(part)
                elif spec.submodule_search_locations is not None:
                    spec = importlib.machinery.PathFinder.find_spec(part, spec.submodule_search_locations)
                else:
                    return None
                if spec is None:
                    return None
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    return origin if origin and os.path.isfile(origin) else None


def load_lab(path: str | os.PathLike[str], *, check_reference: bool = True) -> Lab:
    """Load and schema-check the lab in folder ``path``.

    ``check_reference=False`` neither imports the reference module nor checks that its
    functions exist (``lossgrader labs``: listing labs must not import NumPy).
    """
    path = Path(path)
    if not path.is_dir():
        raise LabError(f"{path}: not a lab folder")
    toml_path = path / "lab.toml"
    top = _Fields(_read_toml(toml_path), str(toml_path))
    lab_id = top.get("id", str)
    if lab_id != path.name:
        raise _fail(top.where, f"field 'id' is {lab_id!r} but the folder is named {path.name!r}")
    title = top.get("title", str)
    handout_name = top.get("handout", str, "handout.md")
    handout_path = path / handout_name
    if not handout_path.is_file():
        raise _fail(top.where, f"field 'handout': file {handout_name!r} not found")
    handout = handout_path.read_text(encoding="utf-8")
    reference_module = top.get("reference", str, "reference.losses")
    module = None
    if check_reference:
        try:
            module = importlib.import_module(reference_module)
        except ImportError as exc:
            raise _fail(top.where, f"field 'reference': cannot import {reference_module!r} ({exc})") from None
    due = top.get("due", str, None)

    limits = _limits(top, toml_path)

    lab_policy = _policy(_Fields(top.get("compare", dict, {}), f"{toml_path} [compare]"), Policy())

    functions = []
    function_tables = top.get("functions", list)
    if not function_tables:
        raise _fail(top.where, "field 'functions' must list at least one function")
    for index, table in enumerate(function_tables):
        fields = _Fields(table, f"{toml_path} functions[{index}]")
        name = fields.get("name", str)
        if not name.isidentifier():
            raise _fail(fields.where, f"field 'name': {name!r} is not a Python identifier")
        reference = fields.get("reference", str, name)
        if module is not None and not callable(getattr(module, reference, None)):
            raise _fail(fields.where, f"field 'reference': {reference_module}.{reference} does not exist")
        spec = FunctionSpec(
            name=name,
            signature=fields.get("signature", str, f"{name}(...)"),
            returns=fields.choice("returns", RETURN_KINDS, "scalar"),
            reference=reference,
            summary=fields.get("summary", str, ""),
            policy=_policy(fields, lab_policy),
        )
        fields.no_unknown()
        functions.append(spec)
    by_name = {f.name: f for f in functions}

    fixtures: list[FixtureSpec] = []
    withheld: list[str] = []
    for index, table in enumerate(top.get("fixture_sets", list)):
        fields = _Fields(table, f"{toml_path} fixture_sets[{index}]")
        file_name = fields.get("file", str)
        visibility = fields.choice("visibility", VISIBILITIES, "public")
        fields.no_unknown()
        if not (path / file_name).is_file():
            if visibility == "hidden":  # left out of a students' copy on purpose
                withheld.append(file_name)
                continue
            raise _fail(fields.where, f"field 'file': {file_name!r} not found")
        fixtures.extend(_load_fixture_file(path / file_name, visibility, by_name))
    top.no_unknown(("extra",))
    if not fixtures:
        raise _fail(top.where, "the lab has no fixtures")
    seen: set[str] = set()
    for fixture in fixtures:
        if fixture.name in seen:
            raise _fail(fixture.source, f"duplicate fixture name {fixture.name!r}")
        seen.add(fixture.name)

    return Lab(
        id=lab_id,
        title=title,
        path=path,
        handout=handout,
        reference_module=reference_module,
        functions=functions,
        fixtures=fixtures,
        limits=limits,
        version=lab_version(path, reference_module),
        due=due,
        extra=top.table.get("extra", {}),
        withheld=tuple(withheld),
    )


def _load_fixture_file(path: Path, visibility: str, functions: dict[str, FunctionSpec]) -> Iterator[FixtureSpec]:
    top = _Fields(_read_toml(path), str(path))
    tables = top.get("fixture", list)
    top.no_unknown()
    for index, table in enumerate(tables):
        name_hint = table.get("name", "?") if isinstance(table, dict) else "?"
        fields = _Fields(table, f"{path}: fixture[{index}] ({name_hint})")
        name = fields.get("name", str)
        if not name or any(c.isspace() for c in name):
            raise _fail(fields.where, "field 'name' must be a non-empty string without spaces")
        function_name = fields.get("function", str, next(iter(functions)) if len(functions) == 1 else ...)
        if function_name not in functions:
            raise _fail(fields.where, f"field 'function': {function_name!r} is not a function of this lab")
        spec = functions[function_name]
        args = fields.get("args", list)
        for arg_index, arg in enumerate(args):
            _check_arg(arg, f"{fields.where} args[{arg_index}]", visibility)
        expected = fields.get("expected", (int, float, list), None)
        dims = fields.get("dims", dict, {})
        for dim, value in dims.items():
            if not _is_dim(value):
                raise _fail(
                    fields.where,
                    f"field 'dims.{dim}' must be a positive integer or a [low, high] pair with 1 <= low <= high",
                )
        if visibility == "randomised" and expected is not None:
            raise _fail(fields.where, "randomised fixtures cannot have a literal 'expected'")
        fixture = FixtureSpec(
            name=name,
            function=function_name,
            visibility=visibility,
            category=fields.get("category", str, "general"),
            description=fields.get("description", str, ""),
            points=float(fields.get("points", (int, float), 1)),
            args=tuple(args),
            expected=expected,
            policy=_policy(fields, spec.policy),
            check_unmodified=fields.get("check_unmodified", bool, False),
            hint=fields.get("hint", str, ""),
            hint_when=_stages(fields),
            dims=dims,
            source=fields.where,
        )
        if fixture.points < 0:
            raise _fail(fields.where, "field 'points' must not be negative")
        fields.no_unknown()
        yield fixture


STAGES = ("missing", "raised", "type", "shape", "finite", "value", "unmodified", "not_run")


def _stages(fields: _Fields) -> tuple[str, ...]:
    """The failure stages that show the fixture's hint (default: all of them)."""
    stages = fields.get("hint_when", list, list(STAGES))
    for stage in stages:
        # "mistake:KEY": the value fits that catalogued mistake; "raised:TypeError": that exception type
        head, _, detail = str(stage).partition(":")
        if not (stage in STAGES or (head in ("mistake", "raised") and detail)):
            raise _fail(
                fields.where,
                f"field 'hint_when' has unknown stage {stage!r}; use {', '.join(STAGES)}, "
                "'mistake:KEY' or 'raised:ExceptionType'",
            )
    return tuple(stages)


_ARG_KEYS = {
    "value",
    "as",
    "dtype",
    "generate",
    "shape",
    "seed",
    "low",
    "high",
    "scale",
    "classes",
    "zeros",
    "near_zero_target",  # probs: the index of the targets argument (see fixtures.py)
}
GENERATORS = ("uniform", "normal", "integers", "probs", "labels", "onehot")
DTYPES = ("float64", "float32", "int64", "int32")
ARG_FORMS = ("array", "list", "scalar")


def _is_dim(value: Any) -> bool:
    def positive(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    if isinstance(value, list):
        return len(value) == 2 and all(map(positive, value)) and value[0] <= value[1]
    return positive(value)


def _check_arg(arg: Any, where: str, visibility: str) -> None:
    if not isinstance(arg, dict):
        if isinstance(arg, (int, float, list)) and not isinstance(arg, bool):
            return
        raise _fail(where, "an argument must be a number, a list or an inline table")
    unknown = set(arg) - _ARG_KEYS
    if unknown:
        raise _fail(where, f"unknown field '{sorted(unknown)[0]}'")
    if ("value" in arg) == ("generate" in arg):
        raise _fail(where, "give exactly one of 'value' or 'generate'")
    if arg.get("as", "array") not in ARG_FORMS:
        raise _fail(where, f"field 'as' must be one of {', '.join(ARG_FORMS)}")
    if "dtype" in arg and arg["dtype"] not in DTYPES:
        raise _fail(where, f"field 'dtype' must be one of {', '.join(DTYPES)}")
    if "generate" in arg:
        if arg["generate"] not in GENERATORS:
            raise _fail(where, f"field 'generate' must be one of {', '.join(GENERATORS)}")
        if not isinstance(arg.get("shape"), list):
            raise _fail(where, "field 'shape' is required with 'generate' and must be a list")
        if visibility == "randomised" and "seed" in arg:
            raise _fail(where, "randomised fixtures take their seed from the submission; remove 'seed'")
        seed = arg.get("seed")
        if visibility != "randomised" and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise _fail(where, "a generated input of a public or hidden fixture needs an integer 'seed'")
        for item in arg["shape"]:
            if not (isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool) and item >= 0)):
                raise _fail(where, "field 'shape' must list non-negative integers or dimension names")


def labs_dir() -> Path:
    """Where labs live: ``$LOSSGRADER_LABS``, the installed copy, or the source tree."""
    env = os.environ.get("LOSSGRADER_LABS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_labs", here.parent / "labs"):
        if candidate.is_dir():
            return candidate
    return here.parent / "labs"


def available_labs(root: Path | None = None) -> list[str]:
    """Ids of the labs in ``root`` (folders with a ``lab.toml``)."""
    root = root or labs_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "lab.toml").is_file())


_loaded: dict[Path, tuple[tuple[Any, ...], Lab]] = {}


_recent: dict[str, tuple[float, Lab]] = {}  # lab argument → (when its files were last checked, the lab)


def find_lab(lab: str, *, recheck_seconds: float = 0.0) -> Lab:
    """Load a lab by id, or by folder path.

    The same Lab object comes back while none of the lab's files changed, so what is
    derived from it (built fixtures, encoded inputs) is computed once per version.
    ``recheck_seconds``: look at the files again only when they were last looked at
    longer ago than this (the service grades many submissions a second).
    """
    if recheck_seconds > 0:
        recent = _recent.get(lab)
        if recent is not None and time.monotonic() - recent[0] < recheck_seconds:
            return recent[1]
    found = _find_lab(lab)
    _recent[lab] = (time.monotonic(), found)
    return found


def lab_limits(lab: str) -> RunLimits:
    """The run limits of a lab (id or folder) from its ``lab.toml`` alone, without
    loading the lab (no reference module, no fixtures): cheap, so that ``lossgrader
    check`` can start its child before it loads the rest."""
    toml_path = _lab_folder(lab) / "lab.toml"
    return _limits(_Fields(_read_toml(toml_path), str(toml_path)), toml_path)


def _lab_folder(lab: str) -> Path:
    candidate = Path(lab)
    if not (candidate / "lab.toml").is_file():
        root = labs_dir()
        candidate = root / lab
        if not (candidate / "lab.toml").is_file():
            known = ", ".join(available_labs(root)) or "none"
            raise LabError(f"unknown lab {lab!r} (available: {known})")
    return candidate.absolute()


def _find_lab(lab: str) -> Lab:
    folder = _lab_folder(lab)
    # Names, sizes and modification times of the lab's files. (Its reference module is
    # imported once per process: a change to it on disk changes nothing until a restart.)
    stamp = tuple((file, (info := file.stat()).st_size, info.st_mtime_ns) for file in _lab_files(folder))
    cached = _loaded.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loaded = load_lab(folder)
    _loaded[folder] = (stamp, loaded)
    return loaded


def with_limits(lab: Lab, **changes: Any) -> Lab:
    """A copy of the lab with some limits changed (for tests and benchmarks)."""
    return replace(lab, limits=replace(lab.limits, **changes))
