"""Complex inputs: conjugate=False is jax.vjp's plain transpose, conjugate=True torch's conj(vjp(conj(g)))."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.backends import ORACLES, Unsupported
from tests.cases import TRANSPOSED, Arrays, Case, cases
from tests.helpers import assert_close, assert_results_close, bounds

CASES = cases(lambda c: c.x_shape[0] > 0 and math.prod(c.x_shape) <= 2000) + cases(
    lambda c: c.x_shape[0] > 0, grid=TRANSPOSED
)


def _complex_arrays(case: Case) -> Arrays:
    rng = np.random.default_rng(3)
    x, w, b, dy = case.arrays()
    return (
        x + 1j * rng.standard_normal(x.shape),
        w + 1j * rng.standard_normal(w.shape),
        None if b is None else b + 1j * rng.standard_normal(b.shape),
        dy + 1j * rng.standard_normal(dy.shape),
    )


def _results(module: Any, case: Case, arrays: Arrays, conjugate: bool) -> dict[str, np.ndarray]:
    x, w, b, dy = arrays
    forward, vjp = (module.conv_transpose, module.conv_transpose_vjp) if case.transposed else (
        module.conv, module.conv_vjp)  # fmt: skip
    dx, dw, db = vjp(x, w, dy, conjugate=conjugate, **case.keywords)
    return {"y": forward(x, w, b, **case.keywords), "dx": dx, "dw": dw, "db": db}


# Tolerance: refconv.testing's bound for complex values, four times the sums of absolute products
# (a complex product is four real ones and two sums), from refconv.testing.reference_and_bounds.


@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_jax_without_conjugation(case: Case) -> None:
    pytest.importorskip("jax")
    arrays = _complex_arrays(case)
    try:
        want = ORACLES["jax"](case.spec(), *arrays)
    except Unsupported as reason:
        pytest.skip(f"jax: {reason}")
    assert_results_close(case, _results(refconv, case, arrays, conjugate=False), want, arrays)


@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_torch_with_conjugation(case: Case) -> None:
    pytest.importorskip("torch")
    arrays = _complex_arrays(case)
    try:
        want = ORACLES["torch"](case.spec(), *arrays)
    except Unsupported as reason:
        pytest.skip(f"torch: {reason}")
    assert_results_close(case, _results(refconv, case, arrays, conjugate=True), want, arrays)


@pytest.mark.parametrize("conjugate", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_naive(case: Case, conjugate: bool) -> None:
    arrays = _complex_arrays(case)
    want = _results(naive, case, arrays, conjugate)
    assert_results_close(case, _results(refconv, case, arrays, conjugate), want, arrays)


def test_conventions_differ_by_conjugating_the_partner() -> None:
    case = CASES[0].values[0]
    arrays = _complex_arrays(case)
    x, w, _, dy = arrays
    plain = refconv.conv_input_vjp(x.shape, w, dy, **case.keywords)
    torch_style = refconv.conv_input_vjp(x.shape, w, dy, conjugate=True, **case.keywords)
    partner = refconv.conv_input_vjp(x.shape, np.conj(w), dy, **case.keywords)
    limit = bounds(case, arrays)["dx"]
    assert_close(case.id, "dx(conjugate=True) - dx(conj(w))", torch_style, partner, limit)
    assert np.max(np.abs(plain - torch_style)) > 1.0  # the two conventions really differ
