"""Oracles that need no framework: the adjoint identity and central finite differences.

The convolution is linear in x and in w, so <conv(x, w), dy> = <x, dx> = <w, dw>
and <b, db> = <conv(x, w, b) - conv(x, w), dy> hold exactly in exact
arithmetic; the tolerance is the float64 round-off bound of the triple sum.
Central differences of a linear function are exact for any step, so a step
of 1 keeps round-off (not truncation) the only error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import refconv
from refconv.testing import rounding_bound
from tests.cases import Case, cases
from tests.helpers import assert_close


def _inner(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b))


def _triple_bound(case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dy: np.ndarray) -> float:
    """Round-off of <conv(x, w, b), dy>-type sums: every x[i] w[t] dy[j] (and b[o] dy[j]) product, once.

    Both sides of an identity sum the same products in different orders, so they are within
    rounding_bound of the sum of their absolute values, <conv(|x|, |w|, |b|), |dy|>, over
    dy.size * (C_in/G * prod(kernel) + 1) terms.
    """
    options = case.spec.options()
    absolute = _inner(
        refconv.conv(np.abs(x), np.abs(w), None if b is None else np.abs(b), **options), np.abs(dy)
    )
    count = dy.size * (w.shape[1] * math.prod(w.shape[2:]) + 1)
    return float(rounding_bound(absolute, max(count, 1), np.float64))


@pytest.mark.parametrize("case", cases())
def test_adjoint_identity_holds(case: Case) -> None:
    x, w, b, dy = case.arrays()
    dx, dw, db = refconv.conv_vjp(x, w, dy, **case.spec.options())
    forward = _inner(refconv.conv(x, w, **case.spec.options()), dy)
    bound = _triple_bound(case, x, w, None, dy)
    assert_close(case.feature, "<x, dx>", _inner(x, dx), forward, bound)
    assert_close(case.feature, "<w, dw>", _inner(w, dw), forward, bound)
    if b is not None:
        with_bias = _inner(refconv.conv(x, w, b, **case.spec.options()), dy)
        assert_close(
            case.feature, "<b, db>", _inner(b, db), with_bias - forward, 2 * _triple_bound(case, x, w, b, dy)
        )


@pytest.mark.parametrize(
    "case", cases(lambda c: math.prod(c.spec.given_shape("x")) <= 1000 and c.spec.given_shape("x")[0] > 0)
)
@pytest.mark.parametrize("wrt", ["x", "w", "b"])
def test_vjp_matches_central_differences(case: Case, wrt: str) -> None:
    x, w, _, dy = case.arrays()
    b = np.random.default_rng(1).standard_normal((case.spec.y_shape[1],))  # w.shape[0] is I in an "IO" layout
    inputs: dict[str, np.ndarray] = {"x": x, "w": w, "b": b}
    direction = np.random.default_rng(2).standard_normal(inputs[wrt].shape)

    def moved(shift: float) -> dict[str, np.ndarray]:
        return dict(inputs, **{wrt: inputs[wrt] + shift * direction})

    def loss(shift: float) -> float:
        at = moved(shift)
        return _inner(refconv.conv(at["x"], at["w"], at["b"], **case.spec.options()), dy)

    finite_difference = (loss(1.0) - loss(-1.0)) / 2  # the loss is linear in the shift: exact
    dx, dw, db = refconv.conv_vjp(x, w, dy, **case.spec.options())
    analytic = _inner({"x": dx, "w": dw, "b": db}[wrt], direction)
    # Each loss, and the analytic <grad, direction>, sums products of the shifted (or direction)
    # factors: within _triple_bound of the shifted operands each (three such sums, halved twice)
    bound = sum(_triple_bound(case, at["x"], at["w"], at["b"], dy) for at in (moved(1.0), moved(-1.0)))
    widest = {k: np.abs(a) + (np.abs(direction) if k == wrt else 0.0) for k, a in inputs.items()}
    bound += _triple_bound(case, widest["x"], widest["w"], widest["b"], dy)
    assert_close(case.feature, f"<d{wrt}, direction>", analytic, finite_difference, bound)
