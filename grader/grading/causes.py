"""Causes: why a submission lost points, each said once for the fixtures it explains.

Per fixture the comparison says what went wrong and which catalogued mistakes fit;
here the failures of one submission are explained together, most points lost first:

1. a load error explains everything;
2. per function, catalogued mistakes are chosen for the whole submission: the one that
   fits the most fixtures first (on one element "no ½" and "mean" agree; the one that
   fits elsewhere too wins), and never one that also fits a fixture already explained
   by another (two contradicting explanations);
3. code that handles only one target convention (one-hot or integer labels) is told so;
4. wrong values no mistake explains are described by their pattern across fixtures
   (a constant factor, offset or sign, wrong only where a probability is 0, …);
5. the rest is grouped by what happened (exception type, wrong shape, nan, …).

Every message is student-safe Markdown. For hidden fixtures it uses only what the
grader decided (kinds, named constants, known exception types), never a value, a line
or a text the child chose: a numeric factor or offset is printed only when it is a
named constant or the same on a shown fixture of the group.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.grading.result import Cause, Result, TestResult
from grader.grading.source import quote_line, sentence

MISTAKES_MODULE = "reference.mistakes"

#: Stages whose failures a catalogued mistake can explain (by value, or by raising alike).
_MISTAKE_STAGES = ("value", "finite", "raised")
_KINDS = {
    "missing": "missing",
    "raised": "exception",
    "type": "type",
    "shape": "shape",
    "finite": "non_finite",
    "value": "value",
    "unmodified": "modified",
    "not_run": "limit",
}


@functools.cache
def _catalogue() -> Any:
    try:
        return importlib.import_module(MISTAKES_MODULE)
    except ImportError:  # a grader installed without the reference package explains less
        return None


def mistakes_for(function: str) -> list[Any]:
    """The catalogued mistakes of a lab function, in catalogue order (empty if none)."""
    module = _catalogue()
    return module.mistakes_for(function) if module else []


@functools.cache
def _mistake(key: str) -> Any:
    module = _catalogue()
    for mistakes in module.MISTAKES.values() if module else ():
        for mistake in mistakes:
            if mistake.key == key:
                return mistake
    return None


@dataclass
class _Explanation:
    key: str
    kind: str
    message: str
    mistake: str | None = None
    code: str | None = None


def find_causes(result: Result, source: str | None = None, load_code: str | None = None) -> list[Cause]:
    """The causes of a graded result's failures, most points lost first. Sets each failed
    test's ``cause`` to the key of its cause and its ``diagnosis`` to that cause's message
    where the cause is a diagnosis (mistake, convention, pattern, unexplained value), else
    to nothing.

    ``source`` is the submission (to quote the line an exception of a shown fixture names);
    ``load_code`` the quoted line of a load error.
    """
    failed = [t for t in result.tests if not t.passed]
    explained: dict[str, _Explanation] = {}
    if result.submission_error and failed and all(t.stage == "not_run" for t in failed):
        load = _Explanation("load", "load", _capital(sentence(result.submission_error)), code=load_code)
        explained = {t.name: load for t in failed}
    else:
        for function in dict.fromkeys(t.function for t in failed):
            tests = [t for t in result.tests if t.function == function]
            explained.update(_explain_function(function, tests, source))
    causes: dict[str, Cause] = {}
    for test in failed:
        why = explained[test.name]
        cause = causes.get(why.key)
        if cause is None:
            cause = causes[why.key] = Cause(why.key, why.kind, why.message, [], 0.0, why.mistake, why.code)
        cause.fixtures.append(test.name)
        cause.points_lost += test.max_score - test.score
        test.cause = why.key
        # the fixture's own feedback agrees with its cause: a diagnosis the submission-level
        # choice dropped is not repeated there, and a hidden wrong value is never bare
        test.diagnosis = [why.message] if why.kind in ("mistake", "convention", "pattern", "value") else []
    order = list(causes)
    return sorted(causes.values(), key=lambda c: (-c.points_lost, order.index(c.key)))


def _explain_function(function: str, tests: list[TestResult], source: str | None) -> dict[str, _Explanation]:
    """Explanations of one function's failed tests (``tests`` holds its passed ones too)."""
    failed = [t for t in tests if not t.passed]
    explained = _choose_mistakes(function, failed)
    rest = [t for t in failed if t.name not in explained]
    explained.update(_convention(function, tests, rest))
    rest = [t for t in rest if t.name not in explained]
    explained.update(_pattern(function, tests, rest))
    for test in rest:
        if test.name not in explained:
            explained[test.name] = _by_stage(test, rest, source)
    return explained


# --------------------------------------------------------------------------- catalogued mistakes


def _choose_mistakes(function: str, failed: list[TestResult]) -> dict[str, _Explanation]:
    """Catalogued mistakes chosen for the whole submission, greedily by fixtures explained.

    A mistake must fit at least one value (raising alike alone proves little); one that
    also fits a fixture an earlier choice explains would contradict it and is dropped.
    """
    catalogue_order = {m.key: i for i, m in enumerate(mistakes_for(function))}
    fits: dict[str, set[str]] = {}
    by_value: dict[str, set[str]] = {}
    candidates = {t.name: set(t.candidates) for t in failed if t.stage in _MISTAKE_STAGES}
    for test in failed:
        if test.stage not in _MISTAKE_STAGES:
            continue
        for key in test.candidates:
            fits.setdefault(key, set()).add(test.name)
            if test.stage != "raised":
                by_value.setdefault(key, set()).add(test.name)
    explained: dict[str, _Explanation] = {}
    dropped: set[str] = set()
    while True:
        open_keys = [k for k in by_value if k not in dropped and by_value[k] - explained.keys()]
        if not open_keys:
            return explained
        key = max(open_keys, key=lambda k: (len(fits[k] - explained.keys()), -catalogue_order.get(k, 999)))
        dropped.add(key)
        if any(key in candidates[name] for name in explained):
            continue  # it fits a fixture another mistake explains: the two would contradict
        why = _mistake_explanation(key)
        for name in fits[key] - explained.keys():
            explained[name] = why


def _mistake_explanation(key: str) -> _Explanation:
    mistake = _mistake(key)
    if mistake is None:  # a diagnostic without a catalogue entry (tests): its key is its message
        return _Explanation(f"mistake:{key}", "mistake", key)
    kind = "convention" if getattr(mistake, "kind", "mistake") == "convention" else "mistake"
    return _Explanation(f"mistake:{key}", kind, mistake.message, mistake=key)


# --------------------------------------------------------------------------- target convention


def _convention(function: str, tests: list[TestResult], rest: list[TestResult]) -> dict[str, _Explanation]:
    """Code right with one target convention and wrong with the other, said in one sentence."""
    by_targets = {"labels": [], "one-hot": []}
    for test in tests:
        if test.traits.get("targets") in by_targets:
            by_targets[test.traits["targets"]].append(test)
    open_failures = [t for t in rest if t.stage in ("value", "finite", "raised", "type", "shape")]
    for wrong, right in (("labels", "one-hot"), ("one-hot", "labels")):
        failing = [t for t in open_failures if t.traits.get("targets") == wrong]
        others = [t for t in open_failures if t.traits.get("targets") != wrong]
        if failing and not others and any(t.passed for t in by_targets[right]):
            what = _what_happened(failing)
            if wrong == "labels":
                message = (
                    f"`{function}` handles one-hot targets only: with integer class labels (targets with one "
                    f"axis less than the first argument) it {what}, while one-hot targets pass. Accept labels "
                    "too: they are class indices, so take each row's entry at its label, `x[np.arange(N), t]`."
                )
            else:
                message = (
                    f"`{function}` handles integer class labels only: with one-hot targets (the first "
                    f"argument's shape) it {what}, while labels pass. Accept one-hot targets too: turn them "
                    "into labels with `t.argmax(axis=-1)`, or use the one-hot formula −Σ t·ln(…)."
                )
            why = _Explanation(f"convention:{function}:{right}-only", "convention", message)
            return {t.name: why for t in failing}
    return {}


def _what_happened(tests: list[TestResult]) -> str:
    """ "raised `ValueError`", "returned wrong values" or both: grader words and known types only."""
    types = sorted({f"`{t.error_type}`" if t.error_type else "an exception" for t in tests if t.stage == "raised"})
    parts = [f"raised {' or '.join(types)}"] if types else []
    if any(t.stage != "raised" for t in tests):
        parts.append("returned wrong values")
    return " or ".join(parts)


# --------------------------------------------------------------------------- numeric patterns

_LN10, _LN2 = math.log(10.0), math.log(2.0)
#: (factor, key, message) for got = factor · expected.
_NAMED_FACTORS: tuple[tuple[float, str, str], ...] = (
    (-1.0, "sign", "Your value has the right size but the wrong sign: check the minus sign of the formula."),
    (
        1 / _LN10,
        "factor-log10",
        "Your value is the expected one divided by ln 10 ≈ 2.303: that is a logarithm in base 10. "
        "Use the natural logarithm, `np.log`.",
    ),
    (
        1 / _LN2,
        "factor-log2",
        "Your value is the expected one divided by ln 2 ≈ 0.693: that is a logarithm in base 2. "
        "Use the natural logarithm, `np.log`.",
    ),
    (
        _LN10,
        "factor-ln10",
        "Your value is ln 10 ≈ 2.303 times the expected one: check the base of your logarithm (`np.log` is ln).",
    ),
    (2.0, "factor-2", "Your value is twice the expected one: check the factors of ½ and 2 in the formula."),
    (0.5, "factor-half", "Your value is half the expected one: check the factors of ½ and 2 in the formula."),
)


@dataclass
class _Pair:
    test: TestResult
    got: np.ndarray
    expected: np.ndarray


def _pattern(function: str, tests: list[TestResult], rest: list[TestResult]) -> dict[str, _Explanation]:
    """A description of the wrong values no catalogued mistake explains, when they share a pattern."""
    wrong = [t for t in rest if t.stage in ("value", "finite")]
    if not wrong:
        return {}
    for trait, key, message in (
        (
            "zero_probability",
            "zeros",
            "Your value is wrong only where a probability is exactly 0, and right everywhere else: "
            "`np.log(0)` is −inf (and 0·ln 0 is nan). Add δ inside the logarithm: `np.log(y + delta)`.",
        ),
        (
            "large_inputs",
            "large-inputs",
            "Your value is wrong only for large inputs (some entries of 100 or more), and right everywhere "
            "else: `np.exp` overflows there. Subtract the row maximum before `np.exp` (log-sum-exp for the loss).",
        ),
    ):
        only_there = all(t.traits.get(trait) for t in wrong)
        passes_elsewhere = any(t.passed and t.traits.get(trait) is False for t in tests)
        if only_there and passes_elsewhere:
            why = _Explanation(f"pattern:{function}:{key}", "pattern", message)
            return {t.name: why for t in wrong}
    pairs = [p for p in (_pair(t) for t in wrong if t.stage == "value") if p is not None]
    if len(pairs) < len(wrong) or not pairs:
        return {}  # some values are not at hand (non-finite or too large to keep): no pattern claimed
    found = _factor_pattern(pairs) or _other_pattern(pairs)
    if found is None:
        return {}
    key, message = found
    why = _Explanation(f"pattern:{function}:{key}", "pattern", message)
    return {p.test.name: why for p in pairs}


def _pair(test: TestResult) -> _Pair | None:
    if test.got is None or test.expected is None:
        return None
    got = np.asarray(test.got, dtype=np.float64)
    expected = np.asarray(test.expected, dtype=np.float64)
    if got.shape != expected.shape or not (np.isfinite(got).all() and np.isfinite(expected).all()):
        return None
    return _Pair(test, got, expected)


def _same(values: Sequence[float] | np.ndarray, target: float | np.ndarray) -> bool:
    return bool(np.allclose(values, target, rtol=1e-5, atol=1e-12))


def _ratios(pairs: list[_Pair]) -> np.ndarray | None:
    """got / expected per fixture, when that is one number per fixture (None otherwise)."""
    ratios = []
    for pair in pairs:
        nonzero = pair.expected != 0
        if not nonzero.any() or (pair.got[~nonzero] != 0).any():
            return None
        r = pair.got[nonzero] / pair.expected[nonzero]
        if not _same(r, r.flat[0]):
            return None
        ratios.append(float(r.flat[0]))
    return np.array(ratios)


def _factor_pattern(pairs: list[_Pair]) -> tuple[str, str] | None:
    ratios = _ratios(pairs)
    if ratios is None or (ratios == 0).all():
        return None
    rows = np.array([p.test.traits.get("rows", 1) for p in pairs], dtype=np.float64)
    elements = np.array([p.test.traits.get("elements", 1) for p in pairs], dtype=np.float64)
    sized: list[tuple[np.ndarray, str, str]] = [
        (
            rows,
            "factor-n",
            "Your value is N times the expected one, N being the number of rows (samples) in the batch: "
            "divide the sum over the batch by N.",
        ),
        (
            1 / rows,
            "divided-by-n",
            "Your value is the expected one divided by N, the number of rows in the batch: "
            "you divide by the batch size once more than the lab's formula does.",
        ),
        (
            elements,
            "factor-elements",
            "Your value is n times the expected one, n being the number of elements: "
            "the lab's formula has no factor of the array's size.",
        ),
        (
            1 / elements,
            "divided-by-elements",
            "Your value is the expected one divided by the number of elements: "
            "the lab's formula is a sum, not a mean over all elements.",
        ),
    ]
    varies = [(values, key, message) for values, key, message in sized if len(set(values)) > 1]
    constant = [(values, key, message) for values, key, message in sized if len(set(values)) == 1]
    for values, key, message in varies:  # a factor that follows the input's size is the clearer finding
        if _same(ratios, values):
            return key, message
    for factor, key, message in _NAMED_FACTORS:
        if _same(ratios, factor):
            return key, message
    for values, key, message in constant:
        if values[0] != 1 and _same(ratios, values):
            return key, message
    if len(pairs) > 1 and _same(ratios, ratios[0]):
        # the number printed is a shown fixture's own: never one only hidden fixtures show
        shown = [r for r, p in zip(ratios, pairs, strict=True) if p.test.visibility != "hidden"]
        number = f" (×{shown[0]:.4g})" if shown else ""
        return (
            "factor",
            f"Your value is off from the expected one by the same constant factor{number} on all these fixtures: "
            "look for a constant your formula multiplies or divides by that the lab's does not.",
        )
    return None


def _other_pattern(pairs: list[_Pair]) -> tuple[str, str] | None:
    """Reciprocal, constant offset or one constant answer (two fixtures at least for the last two)."""
    if all(p.got.size == 1 for p in pairs):
        got = np.array([float(p.got.flat[0]) for p in pairs])
        expected = np.array([float(p.expected.flat[0]) for p in pairs])
        if (expected != 0).all() and _same(got * expected, 1.0):
            return (
                "reciprocal",
                "Your value is the reciprocal (1/x) of the expected one: check what you divide by what.",
            )
        # numbers printed are a shown fixture's own: never one only hidden fixtures show
        shown = [i for i, p in enumerate(pairs) if p.test.visibility != "hidden"]
        if len(pairs) > 1 and _same(got, got[0]) and not _same(expected, expected[0]):
            number = f" ({got[shown[0]]:.6g})" if shown else ""
            return (
                "constant",
                f"Your function returns the same value{number} whatever the input: it does not compute the "
                "loss from `y` and `t` (a value copied from an example?).",
            )
        offsets = got - expected
        if len(pairs) > 1 and _same(offsets, offsets[0]) and offsets[0] != 0:
            number = f" ({offsets[shown[0]]:+.4g})" if shown else ""
            return (
                "offset",
                f"Your value is off from the expected one by the same constant amount{number} on all these "
                "fixtures: look for a term added to (or missing from) the formula.",
            )
    return None


# --------------------------------------------------------------------------- by stage


def _by_stage(test: TestResult, rest: list[TestResult], source: str | None) -> _Explanation:
    """The explanation of a failure no diagnosis covers, grouped by what happened."""
    kind = _KINDS.get(test.stage, test.stage)
    shown = test.visibility != "hidden"
    hint = _hints([t for t in rest if t.stage == test.stage])
    describe: dict[str, Callable[[], _Explanation]] = {
        "raised": lambda: _exception(test, rest, source),
        "missing": lambda: _Explanation(f"missing:{test.function}", kind, test.message if shown else test.summary),
        "not_run": lambda: _Explanation(f"limit:{test.summary}", kind, _capital(test.summary)),
    }
    if test.stage in describe:
        why = describe[test.stage]()
    elif test.stage == "type":
        text = test.message if shown and test.reason == "" else test.summary
        why = _Explanation(f"type:{test.function}:{test.reason or 'value'}", kind, text)
    elif test.stage == "shape":
        example = next((t for t in rest if t.stage == "shape" and t.visibility != "hidden"), None)
        text = test.summary + (f" On fixture {example.name}: {example.message}" if example else "")
        why = _Explanation(f"shape:{test.function}", kind, text)
    elif test.stage == "finite":
        advice = "" if hint else f" {test.advice}" if test.advice else ""
        why = _Explanation(f"non_finite:{test.function}:{test.reason}", kind, test.summary + advice)
    elif test.stage == "value":
        why = _Explanation(
            f"value:{test.function}",
            kind,
            f"`{test.function}` returns wrong values here, with no pattern the grader recognises (not a "
            "known mistake, a constant factor, offset or sign): compare your code with the lab's formula "
            "step by step on a public fixture.",
        )
    else:
        why = _Explanation(f"{kind}:{test.function}", kind, test.summary)
    if hint and test.stage != "not_run":
        why.message = f"{sentence(why.message)} Hint: {hint}"
    why.message = _capital(sentence(why.message))
    return why


def _exception(test: TestResult, rest: list[TestResult], source: str | None) -> _Explanation:
    """One cause per exception type (and line, for shown fixtures); hidden fixtures join a
    shown group of the same type when there is exactly one, and only ever show the type."""
    name = test.error_type or "exception"
    shown_lines = sorted(
        {
            t.error_line or 0
            for t in rest
            if t.stage == "raised" and t.visibility != "hidden" and t.error_type == test.error_type
        }
    )
    line = (test.error_line or 0) if test.visibility != "hidden" else (shown_lines[0] if len(shown_lines) == 1 else -1)
    example = next(
        (
            t
            for t in rest
            if t.stage == "raised"
            and t.visibility != "hidden"
            and t.error_type == test.error_type
            and (t.error_line or 0) == line
        ),
        None,
    )
    key = f"exception:{test.function}:{name}" + (f":{line}" if example else "")
    if example is None:
        typed = f"`{test.error_type}`" if test.error_type else "an exception"
        return _Explanation(key, "exception", f"`{test.function}` raised {typed}.")
    code = quote_line(source, example.error_line) if source and example.error_line else None
    return _Explanation(key, "exception", example.message, code=code)


def _hints(tests: list[TestResult]) -> str:
    """The hint of the first of these tests that has one, shown fixtures first (fixture
    files often word one hint slightly differently: said once, not three times)."""
    hints = [sentence(t.hint) for t in sorted(tests, key=lambda t: t.visibility == "hidden") if t.hint]
    return hints[0] if hints else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text
