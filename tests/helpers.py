"""The comparisons every test module uses, through refconv's one judge, and the results they compare.

Every tolerance is refconv.testing's elementwise round-off bound (or, for a
quantity it does not cover, a bound derived from the same gamma_K and stated
where it is used); a failure names the case, the array, the worst element,
its difference and its bound. The oracles run in the test process: refconv's
own suite trusts the two frameworks it is checked against (the worker that
trusts nobody has tests of its own, tests/test_conform_worker.py).
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from refconv import ConvSpec
from refconv.backends import BUILTIN, Unsupported
from refconv.cases import Case
from refconv.conform import Judge, Outcome, assess
from refconv.testing import Results, compare, reference_and_bounds, results
from tests.cases import Arrays


def readable_id(text: str, length: int) -> str:
    """A test id from a message's words: no brackets (one in a node id breaks selecting that test by it,
    as mutmut does), at most ``length`` characters."""
    return re.sub(r"[^\w=-]+", " ", text).strip()[:length]


def case_results(case: Case, arrays: Arrays | None = None, module: Any = None) -> Results:
    """``y, dx, dw, db`` of ``case`` (on its own arrays unless given) through ``module``'s public API
    (refconv's by default)."""
    return results(case.spec, *(case.arrays() if arrays is None else arrays), module=module)


def with_seed(case: Case, seed: int) -> Case:
    return replace(case, seed=seed)


def assert_close(context: str, name: str, actual: Any, expected: Any, bound: Any) -> None:
    """``actual`` is ``expected`` within ``bound`` (array or scalar), shapes first; else a named failure."""
    __tracebackhide__ = True
    verdict = compare(name, actual, expected, bound)
    if not verdict.ok:
        pytest.fail(verdict.report(context), pytrace=False)


def bounds(case: Case, arrays: Arrays | None = None, scale: float = 1.0) -> dict[str, np.ndarray]:
    """The float64 round-off bound of each array of ``case`` (refconv.testing.reference_and_bounds).

    Tolerance: a difference above it cannot be round-off (two correct float64
    results are within it of each other). ``scale`` only for stated reasons.
    """
    x, w, b, dy = case.arrays() if arrays is None else arrays
    return {name: scale * bound for name, (_, bound) in reference_and_bounds(case.spec, x, w, b, dy).items()}


def _fail(case: Case, outcome: Outcome) -> None:
    __tracebackhide__ = True
    if outcome.verdict != "agree":
        pytest.fail(f"{case.feature}: {outcome.verdict}: {outcome.detail}\n  {case!r}", pytrace=False)


def assert_results_close(case: Case, got: Results, want: Results, arrays: Arrays | None = None) -> None:
    """Every array of ``got`` is ``want``'s within its float64 round-off bound (see :func:`bounds`),
    judged by refconv's judge (refconv.conform.assess: shapes, dtypes, then values)."""
    __tracebackhide__ = True
    _fail(case, assess(case, got, arrays=arrays, expected=want))


@functools.cache
def known_bug(name: str, s: ConvSpec) -> str | None:
    """Why oracle ``name``, as installed, is known to compute ``s`` wrong, or None.

    jax before 0.10 (0.4.35, the matrix's old end, measured) computes a grouped 0-d convolution
    with the wrong weight element for each product (``x (2, 4)``, ``w (2, 2)``, 2 groups: y
    ``[[7, 22], [23, 46]]`` where ``x[:, 2g:2g+2] @ w[g]`` is ``[[5, 25], [17, 53]]``), and its
    VJPs follow; refconv.naive and jax 0.10.2 agree with refconv. A test that uses jax as an
    oracle skips those cases there, saying so; the frameworks page lists the bug.
    """
    if name == "jax" and s.ndim == 0 and max(s.groups, s.batch_groups) > 1:
        version = importlib.metadata.version("jax")
        if tuple(int(part) for part in version.split(".")[:2]) < (0, 10):
            return (
                f"jax {version} computes grouped 0-d convolutions wrong (fixed by 0.10.2): tests/helpers.py"
            )
    return None


def skip_known_bug(name: str, case: Case) -> None:
    """Skip the test, saying why, where oracle ``name`` is known to compute ``case`` wrong."""
    reason = known_bug(name, case.spec)
    if reason is not None:
        pytest.skip(reason)


def _judge(name: str) -> Judge:
    return Judge(BUILTIN[name], isolate=False)


def judged(name: str, case: Case) -> Outcome:
    """The built-in backend ``name``'s verdict on ``case``, judged in this process."""
    return _judge(name).judge(case)


def assert_backend_agrees(name: str, case: Case) -> None:
    """The built-in backend ``name`` (an oracle) computes ``case`` within round-off; a case its API
    cannot express is skipped, saying why."""
    __tracebackhide__ = True
    skip_known_bug(name, case)
    outcome = judged(name, case)
    if outcome.verdict == "unsupported":
        pytest.skip(f"{name}: {outcome.detail}")
    _fail(case, outcome)


def backend_results(name: str, case: Case, arrays: Arrays) -> Results:
    """The results of backend ``name``'s program for ``case`` on ``arrays`` (not the case's own: a test's
    laid-out or complex arrays), run here; Unsupported skips the test, as a known bug does."""
    skip_known_bug(name, case)
    try:
        program = BUILTIN[name].program(case.spec)
    except Unsupported as reason:
        pytest.skip(f"{name}: {reason}")
    got: Results = program(*arrays)
    return got
