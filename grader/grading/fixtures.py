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
    """One concrete argument: an ndarray, a nested list or a Python number.

    On its own, without the fixture's other arguments: ``near_zero_target`` is applied by
    :func:`materialise`.
    """
    return _final_form(arg, _raw_value(arg, rng, dims, where))


def _raw_value(arg: Any, rng: np.random.Generator, dims: dict[str, int], where: str) -> np.ndarray:
    if not isinstance(arg, dict):
        arg = {"value": arg}
    return _generate(arg, rng, dims, where) if "generate" in arg else np.asarray(arg["value"])


def _final_form(arg: Any, value: np.ndarray) -> Any:
    arg = arg if isinstance(arg, dict) else {}
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


#: The probability ``near_zero_target`` gives the true class of one row: log-uniform in
#: this range, so that δ = 1e-7 moves that row's loss by 0.01 (at 1e-5) to 4.6 (at 1e-9).
NEAR_ZERO_PROBABILITY = (1e-9, 1e-5)


def _near_zero_at_target(probs: np.ndarray, targets: np.ndarray, rng: np.random.Generator, where: str) -> np.ndarray:
    """``probs`` with the true class of one random row set to a near-zero probability.

    The rest of that row is rescaled so it still sums to 1. With one such row in every
    draw, a loss without δ (or with δ outside the log) is off by far more than the
    tolerance whatever the seed, instead of by about δ/p, which sits near it.
    """
    if probs.ndim not in (1, 2) or probs.shape[-1] < 2:
        raise ValueError(f"{where}: 'near_zero_target' needs probabilities of shape (K,) or (N, K) with K >= 2")
    rows = np.array(probs, dtype=np.float64).reshape(-1, probs.shape[-1])
    targets = np.asarray(targets)
    if targets.shape == probs.shape:  # one-hot
        labels = targets.reshape(rows.shape).argmax(axis=1)
    elif targets.shape == probs.shape[:-1] and targets.dtype.kind in "iu":
        labels = targets.reshape(-1)
    else:
        raise ValueError(f"{where}: 'near_zero_target' must name one-hot or label targets that fit the probabilities")
    row = int(rng.integers(rows.shape[0]))
    true_class = int(labels[row])
    tiny = float(10 ** rng.uniform(*np.log10(NEAR_ZERO_PROBABILITY)))
    others = np.delete(rows[row], true_class)
    rest = (1.0 - tiny) * (others / others.sum() if others.sum() > 0 else np.full(others.size, 1.0 / others.size))
    rows[row] = np.insert(rest, true_class, tiny)
    return rows.reshape(probs.shape)


def _coupled(args: list[np.ndarray], raw_args: tuple[Any, ...], rngs: list[np.random.Generator], source: str) -> None:
    """Apply ``near_zero_target`` (the only option that reads another argument) in place."""
    for index, arg in enumerate(raw_args):
        if not isinstance(arg, dict) or "near_zero_target" not in arg:
            continue
        where = f"{source} args[{index}]"
        target = arg["near_zero_target"]
        if arg.get("generate") != "probs":
            raise ValueError(f"{where}: 'near_zero_target' only applies to generate = \"probs\"")
        if not isinstance(target, int) or isinstance(target, bool) or not 0 <= target < len(args) or target == index:
            raise ValueError(f"{where}: 'near_zero_target' must be the index of another argument (the targets)")
        args[index] = _near_zero_at_target(args[index], args[target], rngs[index], where)


def materialise(spec: FixtureSpec, seed: int | None) -> tuple[Any, ...]:
    """The fixture's concrete inputs (``seed`` only matters for randomised ones)."""
    run_seed = seed if spec.visibility == "randomised" else 0
    dims = _resolve_dims(spec, run_seed)
    values, rngs = [], []
    for index, arg in enumerate(spec.args):
        fixed = arg.get("seed") if isinstance(arg, dict) else None
        rng = _rng(fixed) if fixed is not None else _rng(run_seed or 0, _name_key(spec.name), index)
        values.append(_raw_value(arg, rng, dims, f"{spec.source} args[{index}]"))
        rngs.append(rng)
    _coupled(values, spec.args, rngs, spec.source)
    return tuple(_final_form(arg, value) for arg, value in zip(spec.args, values, strict=True))


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
