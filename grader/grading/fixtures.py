"""Turning fixture specs into concrete inputs and expected values.

Inputs are literal values or generators with a fixed seed; randomised fixtures draw
from a seed recorded per submission, so a result can always be reproduced and
hard-coding the published answers does not pay. Expected values come from the
fixture file (document sample values) or from the trusted reference, computed here,
in the grader's process, never in the student's.
"""

from __future__ import annotations

import copy
import functools
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.grading.lab import FixtureSpec, Lab
from grader.grading.runner import Call


@dataclass
class Fixture:
    """A fixture with concrete inputs and its expected value."""

    spec: FixtureSpec
    args: tuple[Any, ...]
    expected: np.ndarray
    seed: int | None = None

    @functools.cached_property
    def inputs(self) -> tuple[str, ...]:
        """The inputs as feedback shows them."""
        return tuple(describe_value(a) for a in self.args)

    @functools.cached_property
    def call(self) -> Call:
        """The call that runs this fixture (its encoded form is kept with it)."""
        return Call(self.spec.name, self.spec.function, self.args, fixed=self.spec.visibility != "randomised")


def _rng(*parts: int) -> np.random.Generator:
    return np.random.default_rng([p % (1 << 64) for p in parts])  # distinct for any |seed| < 2**63


def _name_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _resolve_dims(spec: FixtureSpec, seed: int | None) -> dict[str, int]:
    rng = _rng(seed or 0, _name_key(spec.name), 0xD1)
    dims = {}
    for dim, value in sorted(spec.dims.items()):
        dims[dim] = value if isinstance(value, int) else int(rng.integers(value[0], value[1] + 1))
    return dims


def _shape(raw: list[Any], dims: dict[str, int], where: str) -> tuple[int, ...]:
    shape = []
    for item in raw:
        if isinstance(item, str):
            if item not in dims:
                raise ValueError(f"{where}: shape uses unknown dimension {item!r}")
            shape.append(dims[item])
        else:
            shape.append(int(item))
    return tuple(shape)


def _generate(arg: dict[str, Any], rng: np.random.Generator, dims: dict[str, int], where: str) -> np.ndarray:
    shape = _shape(arg["shape"], dims, where)
    kind = arg["generate"]
    if kind == "uniform":
        return rng.uniform(arg.get("low", 0.0), arg.get("high", 1.0), size=shape)
    if kind == "normal":
        return rng.normal(0.0, arg.get("scale", 1.0), size=shape)
    if kind == "integers":
        return rng.integers(arg.get("low", 0), arg.get("high", 10), size=shape)
    if kind == "probs":
        logits = rng.normal(0.0, arg.get("scale", 2.0), size=shape)
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        zeros = arg.get("zeros", 0.0)
        if zeros:
            probs[rng.uniform(size=shape) < zeros] = 0.0
            probs[..., 0] += probs.sum(axis=-1) == 0  # keep every row a distribution
        return probs / probs.sum(axis=-1, keepdims=True)
    if kind == "labels":
        classes = arg.get("classes", 10)
        if isinstance(classes, str) and classes not in dims:
            raise ValueError(f"{where}: 'classes' uses unknown dimension {classes!r}")
        classes = dims[classes] if isinstance(classes, str) else int(classes)
        return rng.integers(0, classes, size=shape)
    if kind == "onehot":
        labels = rng.integers(0, shape[-1], size=shape[:-1])
        return np.eye(shape[-1])[labels]
    raise ValueError(f"{where}: unknown generator {kind!r}")


def materialise_arg(arg: Any, rng: np.random.Generator, dims: dict[str, int], where: str) -> Any:
    """One concrete argument: an ndarray, a nested list or a Python number."""
    if not isinstance(arg, dict):
        arg = {"value": arg}
    value = _generate(arg, rng, dims, where) if "generate" in arg else np.asarray(arg["value"])
    if "dtype" in arg:
        value = value.astype(arg["dtype"])
    elif value.dtype.kind == "f":
        value = value.astype(np.float64)
    elif value.dtype.kind in "iub":
        value = value.astype(np.int64)
    form = arg.get("as", "array")
    if form == "list":
        return value.tolist()
    if form == "scalar":
        return value.item()
    return value


def materialise(spec: FixtureSpec, seed: int | None) -> tuple[Any, ...]:
    """The fixture's concrete inputs (``seed`` only matters for randomised ones)."""
    run_seed = seed if spec.visibility == "randomised" else 0
    dims = _resolve_dims(spec, run_seed)
    args = []
    for index, arg in enumerate(spec.args):
        fixed = arg.get("seed") if isinstance(arg, dict) else None
        rng = _rng(fixed) if fixed is not None else _rng(run_seed or 0, _name_key(spec.name), index)
        args.append(materialise_arg(arg, rng, dims, f"{spec.source} args[{index}]"))
    return tuple(args)


def as_float_array(value: Any) -> np.ndarray:
    """A trusted value (the reference's or a literal) as a float64 array."""
    return np.array(value, dtype=np.float64)


def build_one(lab: Lab, spec: FixtureSpec, seed: int) -> Fixture:
    """One concrete fixture: its inputs for this seed and its expected value."""
    args = materialise(spec, seed)
    if spec.has_literal_expected:
        expected = as_float_array(spec.expected)
    else:
        expected = as_float_array(lab.reference(spec.function)(*copy.deepcopy(args)))
    return Fixture(spec, args, expected, seed if spec.visibility == "randomised" else None)


def build(lab: Lab, visibilities: tuple[str, ...], seed: int) -> list[Fixture]:
    """Concrete fixtures of the lab for these visibilities and this submission seed.

    Public and hidden fixtures do not depend on the seed: each is built once per lab
    version and shared, its arrays read-only (every user copies before changing
    anything); randomised ones are built for each seed.
    """
    built = []
    for spec in lab.fixtures_by(*visibilities):
        if spec.visibility == "randomised":
            built.append(build_one(lab, spec, seed))
            continue
        key = ("fixture", spec.name)
        fixture = lab.cache.get(key)
        if fixture is None:
            fixture = lab.cache[key] = _frozen(build_one(lab, spec, seed))
        built.append(fixture)
    return built


def _frozen(fixture: Fixture) -> Fixture:
    for value in (*fixture.args, fixture.expected):
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    fixture.call.encoded  # noqa: B018 - encode the inputs once, now
    return fixture


def describe_value(value: Any, limit: int = 12) -> str:
    """A short, readable rendering of an input or output for feedback."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"np.array({value.item()!r})"
        if value.size > limit:
            return f"array of {value.dtype} with shape {value.shape}"
        suffix = "" if value.dtype in (np.float64, np.int64) else f", dtype={value.dtype}"
        return f"np.array({value.tolist()!r}{suffix})"
    if isinstance(value, list):
        flat = np.asarray(value, dtype=object).size if value else 0
        if flat > limit:
            return f"nested list of {len(value)} items ({flat} numbers)"
        return repr(value)
    return repr(value)
