"""The one comparison every test module uses, and the results it compares.

Every tolerance is refconv.testing's elementwise round-off bound (or, for a
quantity it does not cover, a bound derived from the same gamma_K and stated
where it is used); a failure names the case, the array, the worst element,
its difference and its bound.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import refconv
from refconv.testing import ARRAYS, Results, compare, reference_and_bounds, results
from tests.cases import Arrays, Case


def readable_id(text: str, length: int) -> str:
    """A test id from a message's words: no brackets (one in a node id breaks selecting that test by it,
    as mutmut does), at most ``length`` characters."""
    return re.sub(r"[^\w=-]+", " ", text).strip()[:length]


def case_results(case: Case, arrays: Arrays | None = None, module: Any = refconv) -> Results:
    """``y, dx, dw, db`` of ``case`` (on its seed-0 arrays unless given) through ``module``'s public API."""
    return results(case.spec(), *(case.arrays() if arrays is None else arrays), module=module)


def assert_close(context: str, name: str, actual: Any, expected: Any, bound: Any) -> None:
    """``actual`` is ``expected`` within ``bound`` (array or scalar), shapes first; else a named failure."""
    verdict = compare(name, actual, expected, bound)
    if not verdict.ok:
        pytest.fail(verdict.report(context), pytrace=False)


def bounds(case: Case, arrays: Arrays | None = None, scale: float = 1.0) -> dict[str, np.ndarray]:
    """The float64 round-off bound of each array of ``case`` (refconv.testing.reference_and_bounds).

    Tolerance: a difference above it cannot be round-off (two correct float64
    results are within it of each other). ``scale`` only for stated reasons.
    """
    x, w, b, dy = case.arrays() if arrays is None else arrays
    return {
        name: scale * bound for name, (_, bound) in reference_and_bounds(case.spec(), x, w, b, dy).items()
    }


def assert_results_close(case: Case, got: Results, want: Results, arrays: Arrays | None = None) -> None:
    """Every array of ``got`` is ``want``'s within its float64 round-off bound (see :func:`bounds`)."""
    limits = bounds(case, arrays)
    for name in ARRAYS:
        assert_close(case.id, name, got[name], want[name], limits[name])
