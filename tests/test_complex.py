"""Complex inputs: conjugate=False is jax.vjp's plain transpose, conjugate=True torch's conj(vjp(conj(g)))."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.oracles import ORACLES, Unsupported
from refconv.testing import conv_error_bounds
from tests.cases import Case, cases
from tests.helpers import params

CASES = cases(lambda c: c.x_shape[0] > 0 and math.prod(c.x_shape) <= 2000)


def _complex_arrays(case: Case) -> tuple[Any, ...]:
    rng = np.random.default_rng(3)
    x, w, b, dy = case.arrays()
    shift = [None if a is None else a + 1j * rng.standard_normal(a.shape) for a in (x, w, b, dy)]
    return tuple(shift)


def _bounds(case: Case, x: Any, w: Any, b: Any, dy: Any) -> dict[str, float]:
    # each part of a K-term complex dot product is a 2K-term real one (first order: 4x the K-term bound)
    real = conv_error_bounds(np.abs(x), np.abs(w), np.abs(dy), params(case), None if b is None else np.abs(b))
    return {name: 4 * value for name, value in real.items()}


def _results(module: Any, case: Case, arrays: tuple[Any, ...], conjugate: bool) -> dict[str, np.ndarray]:
    x, w, b, dy = arrays
    dx, dw, db = module.conv_vjp(x, w, dy, conjugate=conjugate, **case.keywords)
    return {"y": module.conv(x, w, b, **case.keywords), "dx": dx, "dw": dw, "db": db}


def _assert_match(got: dict[str, np.ndarray], want: dict[str, Any], bounds: dict[str, float]) -> None:
    for name, bound in bounds.items():
        expected = np.asarray(want[name])
        assert got[name].shape == expected.shape, name
        assert float(np.max(np.abs(got[name] - expected), initial=0.0)) <= bound, name


@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_jax_without_conjugation(case: Case) -> None:
    pytest.importorskip("jax")
    arrays = _complex_arrays(case)
    want = ORACLES["jax"](*arrays, params(case))
    _assert_match(_results(refconv, case, arrays, conjugate=False), want, _bounds(case, *arrays))


@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_torch_with_conjugation(case: Case) -> None:
    pytest.importorskip("torch")
    arrays = _complex_arrays(case)
    try:
        want = ORACLES["torch"](*arrays, params(case))
    except Unsupported as reason:
        pytest.skip(f"torch: {reason}")
    _assert_match(_results(refconv, case, arrays, conjugate=True), want, _bounds(case, *arrays))


@pytest.mark.parametrize("conjugate", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_naive(case: Case, conjugate: bool) -> None:
    arrays = _complex_arrays(case)
    want = _results(naive, case, arrays, conjugate)
    _assert_match(_results(refconv, case, arrays, conjugate), want, _bounds(case, *arrays))


def test_conventions_differ_by_conjugating_the_partner() -> None:
    case = CASES[0].values[0]
    x, w, _, dy = _complex_arrays(case)
    plain = refconv.conv_input_vjp(x.shape, w, dy, **case.keywords)
    torch_style = refconv.conv_input_vjp(x.shape, w, dy, conjugate=True, **case.keywords)
    np.testing.assert_allclose(torch_style, refconv.conv_input_vjp(x.shape, np.conj(w), dy, **case.keywords))
    assert np.max(np.abs(plain - torch_style)) > 1.0  # the two conventions really differ
