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


@dataclass(frozen=True)
class Diagnostic:
    """A known wrong variant of a function, to explain a wrong value."""

    message: str
    compute: Callable[..., Any]


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


def _safe_exception_name(error: str | None) -> str:
    name = (error or "").split(":", 1)[0].strip()
    obj = getattr(builtins, name, None)
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return name
    return "an exception"


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
        return Verdict(
            False,
            "raised",
            f"`{name}` raised {outcome.error}{where}.",
            f"`{name}` raised {_safe_exception_name(outcome.error)}.",  # a line number can be forged
        )
    if outcome.status == "non_numeric" or outcome.value is None:
        return _non_numeric(outcome, function)

    got = outcome.value
    form = _form_problem(outcome, got, expected, function, policy)
    if form:
        kind = "a single number" if function.returns == "scalar" else "an array"
        return Verdict(False, "type", form, f"`{name}` returned the wrong kind of value; expected {kind}.")
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
        diagnosis = _diagnose(diagnostics, args, got, expected, policy)
        summary = f"`{name}` returned {kind}; expected a finite value."
        return Verdict(False, "finite", text, summary, abs_err, rel_err, diagnosis, _non_finite_advice(kind))

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
        diagnosis = _diagnose(diagnostics, args, got, expected, policy)
        return Verdict(False, "value", text, "wrong value.", abs_err, rel_err, diagnosis)

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
) -> str | None:
    """Whether the kind of value returned is acceptable (scalar vs array vs list)."""
    name = function.name
    if function.returns == "scalar":
        if outcome.kind == "scalar":
            form = "python" if outcome.type_name in ("float", "int") else "numpy"
        elif outcome.kind == "array" and got.ndim == 0:
            form = "array0d"
        else:
            container = "a list" if outcome.kind == "list" else "an array"
            return (
                f"`{name}` returned {container} of shape {got.shape}; expected a single number. "
                "Reduce to a scalar, e.g. `float(np.sum(...))`."
            )
        if form not in policy.scalar_forms:
            return f"`{name}` returned a {outcome.type_name}; this lab expects a Python float."
        return None
    if outcome.kind == "scalar" or (outcome.kind == "array" and got.ndim == 0 and expected.ndim > 0):
        return f"`{name}` returned a single number; expected an array of shape {expected.shape}."
    if outcome.kind == "list" and not policy.list_for_array:
        return f"`{name}` returned a list; expected a NumPy array."
    return None


def _non_finite_advice(kind: str) -> str:
    if kind == "inf":
        return "ln(0) is −inf: add a small δ inside the log (ln(y + 1e-7)), or use log-sum-exp from logits."
    return (
        "NaN usually comes from 0·ln(0), inf − inf or exp overflow: add δ inside the log, "
        "and subtract the maximum before exp."
    )


def _diagnose(
    diagnostics: Sequence[Diagnostic], args: tuple[Any, ...], got: np.ndarray, expected: np.ndarray, policy: Policy
) -> list[str]:
    """The message of the known mistake that best reproduces the student's wrong value.

    Several variants can agree on one input (δ inside or outside the log, say); the
    closest one, then the first in catalogue order, is the one worth reading.
    """
    loose = Policy(rtol=max(policy.rtol, 1e-6), atol=max(policy.atol, 1e-9), nan="match")
    best: tuple[float, str] | None = None
    for diagnostic in diagnostics:
        try:
            with np.errstate(all="ignore"):
                value = np.array(diagnostic.compute(*copy.deepcopy(args)), dtype=np.float64)
        except Exception:  # a mistake variant may not apply to these inputs
            continue
        if value.shape != got.shape or not close(value, got, loose) or close(value, expected, loose):
            continue
        with np.errstate(all="ignore"):
            gap = np.where(np.isclose(value, got, rtol=0, atol=0, equal_nan=True), 0.0, np.abs(value - got))
        distance = float(np.max(gap)) if gap.size else 0.0
        if best is None or distance < best[0]:
            best = (distance, diagnostic.message)
    return [best[1]] if best else []
