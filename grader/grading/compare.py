"""Trusted comparison of one returned value with the expected one.

Checks run in a fixed order, each with a message a student understands:
not run → function missing → call raised → no or non-numeric result → scalar/array
form → shape → NaN/inf → within tolerance → inputs left unmodified.

Every verdict has two texts: ``message`` (full detail, for public and randomised
fixtures and for instructors) and ``summary`` (for hidden fixtures: never the inputs,
the expected value, the returned value, the exception's text, or anything else the
child chose — type names, line numbers, shapes, indices — since a submission could
smuggle hidden inputs out through them).
"""

from __future__ import annotations

import builtins
import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.grading.lab import FunctionSpec, Policy
from grader.grading.runner import CallOutcome
from grader.grading.source import sentence


@dataclass
class Verdict:
    """The outcome of checking one fixture."""

    passed: bool
    stage: str
    message: str
    summary: str
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    diagnosis: list[str] = field(default_factory=list)
    advice: str = ""  # general advice, for when nothing more specific is known
    candidates: list[str] = field(default_factory=list)  # keys of the catalogued mistakes that fit
    error_type: str | None = None  # the exception's type when it is a known one (safe for hidden fixtures)
    reason: str = ""  # a grader-chosen refinement of the stage, e.g. "per_sample_mean" or "nan"


@dataclass(frozen=True)
class Diagnostic:
    """A known wrong variant of a function, to explain a wrong value."""

    message: str
    compute: Callable[..., Any]
    key: str = ""


def fmt(value: float) -> str:
    """A float as a student would print it, but short."""
    return f"{value:.10g}"


def fmt_array(array: np.ndarray) -> str:
    """A compact rendering of a result."""
    if array.ndim == 0:
        return fmt(float(array))
    return np.array2string(array, precision=6, threshold=12, edgeitems=3, separator=", ").replace("\n", "")


def parameter_names(signature: str) -> list[str]:
    """``"f(y, t)"`` → ``["y", "t"]``."""
    match = re.search(r"\((.*)\)", signature)
    if not match:
        return []
    return [p.split("=")[0].strip() for p in match.group(1).split(",") if p.strip()]


def _exception_names() -> frozenset[str]:
    """Python's built-in exception classes and NumPy's: the only type names ever shown for
    a hidden fixture (any other name is the child's choice and could carry data)."""
    modules = (builtins, np.exceptions, np.linalg)
    return frozenset(
        name
        for module in modules
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, BaseException)
    )


KNOWN_EXCEPTIONS = _exception_names()


def known_exception_type(error: str | None) -> str | None:
    """The type name of ``"TypeError: message"`` when it is a known exception class, else None."""
    name = (error or "").split(":", 1)[0].strip()
    return name if name in KNOWN_EXCEPTIONS else None


def _safe_exception_name(error: str | None) -> str:
    name = known_exception_type(error)
    return f"`{name}`" if name else "an exception"


def errors(got: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Max absolute and max relative error (relative where expected is non-zero)."""
    return _Gaps(got, expected).errors()


def close(got: np.ndarray, expected: np.ndarray, policy: Policy) -> bool:
    """``|got - expected| <= atol + rtol * |expected|`` everywhere (NaN per policy).

    The same rule as ``np.isclose``: equal values (infinities included) are close, a
    non-finite expected value is matched only exactly, NaN matches NaN if the policy says so.
    """
    return _Gaps(got, expected).close(policy)


class _Gaps:
    """``|got - expected|`` and ``|expected|`` of two same-shape values, computed once for
    both :meth:`errors` and :meth:`close` (a 1,000 × 100 result is checked by both);
    plain floats for the scalars most fixtures return, without array overhead."""

    def __init__(self, got: np.ndarray, expected: np.ndarray) -> None:
        self.got, self.expected = got, expected
        self.scalar = got.ndim == 0 and expected.ndim == 0
        if self.scalar:
            self.g, self.e = float(got), float(expected)
        else:
            with np.errstate(all="ignore"):
                self.diff = np.abs(got - expected)
                self.scale = np.abs(expected)

    def errors(self) -> tuple[float, float]:
        if self.scalar:
            abs_err = abs(self.g - self.e)
            return abs_err, abs_err / abs(self.e) if self.e != 0 else (0.0 if abs_err == 0 else math.inf)
        diff, scale = self.diff, self.scale
        if not diff.size:
            return 0.0, 0.0
        abs_err = float(diff.max())
        nonzero = scale != 0
        with np.errstate(all="ignore"):
            rel_err = float(np.max(diff / scale, where=nonzero, initial=0.0))
        if not nonzero.any() and abs_err != 0:
            rel_err = math.inf
        return abs_err, rel_err

    def close(self, policy: Policy) -> bool:
        if self.scalar:
            g, e = self.g, self.e
            if g == e:
                return True
            if math.isnan(g) or math.isnan(e):
                return policy.nan == "match" and math.isnan(g) and math.isnan(e)
            return math.isfinite(e) and abs(g - e) <= policy.atol + policy.rtol * abs(e)
        got, expected = self.got, self.expected
        with np.errstate(all="ignore"):
            ok = self.diff <= policy.atol + policy.rtol * self.scale
            ok &= np.isfinite(expected)
            ok |= got == expected
            if policy.nan == "match":
                ok |= np.isnan(got) & np.isnan(expected)
        return bool(ok.all())


def check(
    outcome: CallOutcome,
    expected: np.ndarray,
    function: FunctionSpec,
    policy: Policy,
    *,
    check_unmodified: bool = False,
    defined_names: Sequence[str] = (),
    diagnostics: Sequence[Diagnostic] = (),
    args: tuple[Any, ...] = (),
) -> Verdict:
    """Check one call's outcome against the expected value."""
    name = function.name
    if outcome.status == "not_run":
        text = outcome.error or "not run"
        return Verdict(False, "not_run", text, not_run_summary(text))
    if outcome.status == "missing":
        others = [n for n in defined_names if n != name]
        text = f"`{name}` is not defined in your file; the lab expects `{function.signature}`."
        if outcome.type_name:
            text = f"`{name}` is a {outcome.type_name}, not a function; the lab expects `{function.signature}`."
        elif others:
            text += f" Your file defines: {', '.join(others[:8])}."
        # The type name comes from the child; the names defined come from parsing the source.
        summary = f"`{name}` is not a function defined in your file; the lab expects `{function.signature}`."
        return Verdict(False, "missing", text, summary)
    if outcome.status == "raised":
        where = f" (line {outcome.line})" if outcome.line else ""
        error_type = known_exception_type(outcome.error)
        return Verdict(
            False,
            "raised",
            sentence(f"`{name}` raised {outcome.error}{where}"),
            f"`{name}` raised {_safe_exception_name(outcome.error)}.",  # a line number can be forged
            candidates=_raising_mistakes(diagnostics, args, error_type),
            error_type=error_type,
        )
    if outcome.status == "non_numeric" or outcome.value is None:
        return _non_numeric(outcome, function)

    got = outcome.value
    form = _form_problem(outcome, got, expected, function, policy)
    if form:
        text, summary, reason = form
        return Verdict(False, "type", text, summary, reason=reason)
    if got.shape != expected.shape:
        text = f"`{name}` returned shape {got.shape}; expected shape {expected.shape}."
        return Verdict(False, "shape", text, f"`{name}` returned an array of the wrong shape.")

    gaps = _Gaps(got, expected)
    abs_err, rel_err = gaps.errors()
    bad = ~np.isfinite(got) & np.isfinite(expected) if policy.nan == "match" else ~np.isfinite(got)
    if np.any(bad):
        kind = "nan" if np.any(np.isnan(got[bad])) else "inf"
        at = "" if got.ndim == 0 else f" at index {tuple(int(i) for i in np.argwhere(bad)[0])}"
        text = f"`{name}` returned {kind}{at}; expected a finite value."
        diagnosis, candidates = _diagnose(diagnostics, args, got, expected, policy)
        summary = f"`{name}` returned {kind}; expected a finite value."
        advice = _non_finite_advice(kind, function)
        return Verdict(False, "finite", text, summary, abs_err, rel_err, diagnosis, advice, candidates, reason=kind)

    if not gaps.close(policy):
        where = ""
        if got.ndim:
            worst = np.unravel_index(int(np.argmax(gaps.diff)), got.shape)
            where = f"; largest difference at index {tuple(int(i) for i in worst)}"
        text = (
            f"wrong value: expected {fmt_array(expected)}, got {fmt_array(got)} "
            f"(max abs error {fmt(abs_err)}, max rel error {fmt(rel_err)}{where}; "
            f"tolerance rtol={policy.rtol:g}, atol={policy.atol:g})."
        )
        diagnosis, candidates = _diagnose(diagnostics, args, got, expected, policy)
        return Verdict(False, "value", text, "wrong value.", abs_err, rel_err, diagnosis, candidates=candidates)

    if check_unmodified and outcome.mutated:
        names = parameter_names(function.signature)
        changed = ", ".join(names[i] if i < len(names) else f"argument {i + 1}" for i in outcome.mutated)
        text = (
            f"the value is right, but `{name}` changed its input {changed} in place; "
            "a loss function must leave its inputs unchanged (work on a copy: "
            "`a = a - a.max()` instead of `a -= a.max()`)."
        )
        summary = f"the value is right, but `{name}` changed its inputs in place; work on a copy."
        return Verdict(False, "unmodified", text, summary, abs_err, rel_err)
    return Verdict(True, "ok", "passed", "passed", abs_err, rel_err)


def _non_numeric(outcome: CallOutcome, function: FunctionSpec) -> Verdict:
    what = "a number" if function.returns == "scalar" else "an array of numbers"
    if outcome.type_name == "NoneType":
        text = f"`{function.name}` returned None; expected {what}. Did you forget `return`?"
    else:
        text = f"`{function.name}` returned a {outcome.type_name}; expected {what}."
    return Verdict(False, "type", text, f"`{function.name}` did not return {what}.")


_STOPS = (
    ("CPU time limit", "not run: the CPU time limit was exceeded."),
    ("time limit", "not run: the time limit was exceeded."),
    ("memory", "not run: the memory limit was exceeded."),
    ("signal", "not run: the process was killed by a signal."),
    ("corrupted", "not run: the submission corrupted the result stream."),
    ("loaded", "not run: your file raised an exception when loaded."),
)


def not_run_summary(reason: str) -> str:
    """Grader wording for why a hidden fixture did not run: the reason itself may hold child text."""
    for words, summary in _STOPS:
        if words in reason:
            return summary
    return "not run: the process stopped before this fixture."


def _form_problem(
    outcome: CallOutcome,
    got: np.ndarray,
    expected: np.ndarray,
    function: FunctionSpec,
    policy: Policy,
) -> tuple[str, str, str] | None:
    """(message, summary, reason) when the kind of value returned is not acceptable
    (scalar vs array vs list), else None."""
    name = function.name
    if function.returns == "scalar":
        if outcome.kind == "scalar":
            form = "python" if outcome.type_name in ("float", "int") else "numpy"
        elif outcome.kind == "array" and got.ndim == 0:
            form = "array0d"
        else:
            return _array_for_scalar(outcome, got, expected, name, policy)
        if form not in policy.scalar_forms:
            text = f"`{name}` returned a {outcome.type_name}; this lab expects a Python float: return `float(...)`."
            return text, f"`{name}` returned the wrong kind of number; this lab expects a Python float.", "python_float"
        return None
    summary = f"`{name}` returned the wrong kind of value; expected an array."
    if outcome.kind == "scalar" or (outcome.kind == "array" and got.ndim == 0 and expected.ndim > 0):
        text = f"`{name}` returned a single number; expected an array of shape {expected.shape}."
        return text, f"`{name}` returned a single number; expected an array.", "scalar_for_array"
    if outcome.kind == "list" and not policy.list_for_array:
        return f"`{name}` returned a list; expected a NumPy array.", summary, "list_for_array"
    return None


def _array_for_scalar(
    outcome: CallOutcome, got: np.ndarray, expected: np.ndarray, name: str, policy: Policy
) -> tuple[str, str, str]:
    """An array where one number was expected: which reduction of it (if any) is the answer,
    so the advice leads to the lab's formula (the mean over the batch, or the sum)."""
    container = "a list" if outcome.kind == "list" else "an array"
    loose = Policy(rtol=max(policy.rtol, 1e-6), atol=max(policy.atol, 1e-9))
    with np.errstate(all="ignore"):
        total, mean = np.array(np.sum(got)), np.array(np.mean(got)) if got.size else np.array(np.nan)
    shape = f"{container} of shape {got.shape}"
    if got.size == 1 and close(total, expected, loose):
        text = f"`{name}` returned {shape} holding the right value; return a single number: `float(...)`."
        return text, f"`{name}` returned the right value inside an array; return a single number.", "wrapped"
    if got.size > 1 and close(mean, expected, loose):
        advice = (
            "one loss per sample; the lab's loss is their mean over the batch: "
            "sum them and divide by N, the number of rows"
        )
        return f"`{name}` returned {shape}, {advice}.", f"`{name}` returned {advice}.", "per_sample_mean"
    if got.size > 1 and close(total, expected, loose):
        advice = "one value per row; the lab's formula adds them all up: sum over every element"
        return f"`{name}` returned {shape}, {advice}.", f"`{name}` returned {advice}.", "per_sample_sum"
    text = f"`{name}` returned {shape}; expected a single number (reduce as the lab's formula says)."
    return text, f"`{name}` returned {container}; expected a single number.", "array_for_scalar"


def _non_finite_advice(kind: str, function: FunctionSpec) -> str:
    """Where inf or nan usually come from, for this function: advice about logarithms
    and exp would mislead a student whose formula has neither (a sum of squares)."""
    formula = f"{function.name} {function.summary}".lower()
    if not any(word in formula for word in ("ln", "log", "exp", "softmax", "entropy")):
        return "Inf and NaN usually come from a division by zero (a count that is 0) or from an overflow."
    if kind == "inf":
        return "ln(0) is −inf: add a small δ inside the log (ln(y + 1e-7)), or use log-sum-exp from logits."
    return (
        "NaN usually comes from 0·ln(0), inf − inf or exp overflow: add δ inside the log, "
        "and subtract the maximum before exp."
    )


def _diagnose(
    diagnostics: Sequence[Diagnostic], args: tuple[Any, ...], got: np.ndarray, expected: np.ndarray, policy: Policy
) -> tuple[list[str], list[str]]:
    """The message of the known mistake that best reproduces the student's wrong value,
    and the keys of every known mistake that reproduces it, closest first.

    Several variants can agree on one input (δ inside or outside the log, say; on one
    element "no ½" and "mean"); which one explains a submission is decided over all its
    fixtures (:mod:`grader.grading.causes`).
    """
    loose = Policy(rtol=max(policy.rtol, 1e-6), atol=max(policy.atol, 1e-9), nan="match")
    fits: list[tuple[float, int, Diagnostic]] = []
    for index, diagnostic in enumerate(diagnostics):
        try:
            with np.errstate(all="ignore"):
                value = np.array(diagnostic.compute(*copy.deepcopy(args)), dtype=np.float64)
        except Exception:  # a mistake variant may not apply to these inputs
            continue
        if value.shape != got.shape or not close(value, got, loose) or close(value, expected, loose):
            continue
        with np.errstate(all="ignore"):
            gap = np.where(np.isclose(value, got, rtol=0, atol=0, equal_nan=True), 0.0, np.abs(value - got))
        fits.append((float(np.max(gap)) if gap.size else 0.0, index, diagnostic))
    fits.sort(key=lambda fit: (fit[0], fit[1]))
    return [fits[0][2].message] if fits else [], [d.key or d.message for _, _, d in fits]


def _raising_mistakes(diagnostics: Sequence[Diagnostic], args: tuple[Any, ...], error_type: str | None) -> list[str]:
    """Keys of the known mistakes that raise the same (known) exception type on these inputs:
    written literally, some mistakes raise where the student's code raised (labels broadcast
    against one-hot arithmetic, say)."""
    if error_type is None:
        return []
    keys = []
    for diagnostic in diagnostics:
        try:
            with np.errstate(all="ignore"):
                diagnostic.compute(*copy.deepcopy(args))
        except Exception as exc:  # the point: which variants raise here
            if type(exc).__name__ == error_type:
                keys.append(diagnostic.key or diagnostic.message)
    return keys


LARGE_INPUT = 100.0  # |x| at or above which an input counts as large (exp(100) ≈ 2.7e43)


def input_traits(args: Sequence[Any]) -> dict[str, Any]:
    """Facts about a fixture's inputs that explain patterns of failures (trusted side only):
    ``targets`` ("one-hot" when t has y's shape, "labels" when it has one axis less),
    ``rows`` and ``elements`` of the first argument, ``lists`` (a Python list was passed),
    ``zero_probability`` (probabilities with an exact 0) and ``large_inputs``."""
    traits: dict[str, Any] = {}
    if any(isinstance(arg, list) for arg in args):
        traits["lists"] = True
    try:
        y = np.asarray(args[0], dtype=np.float64)
    except (IndexError, TypeError, ValueError):
        return traits
    traits["rows"] = int(y.shape[0]) if y.ndim == 2 else 1
    traits["elements"] = int(y.size)
    if len(args) >= 2 and y.ndim in (1, 2):
        t_shape = np.shape(args[1])
        if t_shape == y.shape:
            traits["targets"] = "one-hot"
        elif t_shape == (() if y.ndim == 1 else (y.shape[0],)):
            traits["targets"] = "labels"
    if y.size and np.isfinite(y).all():
        probabilities = bool((y >= 0).all() and (y <= 1).all() and np.allclose(y.sum(axis=-1), 1.0, atol=1e-2))
        if probabilities:
            traits["zero_probability"] = bool((y == 0).any())
        else:
            traits["large_inputs"] = bool(np.abs(y).max() >= LARGE_INPUT)
    return traits
