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
from refconv.testing import dot_error_bound
from tests.cases import Case, cases


def _inner(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b))


def _triple_bound(case: Case, x: np.ndarray, w: np.ndarray, dy: np.ndarray) -> float:
    """Round-off bound for <x, dx>-type sums: every x[i] w[t] dy[j] product, each summed once.

    Terms: the output elements times the products each one sums (at most
    C_in/G * prod(kernel)), in three nested sums; magnitude max|x| max|w| max|dy|.
    """
    terms = dy.size * w.shape[1] * math.prod(w.shape[2:])
    magnitude = max(np.abs(x).max(initial=0), 1) * np.abs(w).max() * np.abs(dy).max(initial=0)
    return dot_error_bound(max(terms, 1), magnitude)


@pytest.mark.parametrize("case", cases())
def test_adjoint_identity_holds(case: Case) -> None:
    x, w, b, dy = case.arrays()
    dx, dw, db = refconv.conv_vjp(x, w, dy, **case.keywords)
    forward = _inner(refconv.conv(x, w, **case.keywords), dy)
    bound = _triple_bound(case, x, w, dy)
    assert abs(forward - _inner(x, dx)) <= bound
    assert abs(forward - _inner(w, dw)) <= bound
    if b is not None:
        with_bias = refconv.conv(x, w, b, **case.keywords)
        assert abs(_inner(with_bias, dy) - forward - _inner(b, db)) <= bound + dot_error_bound(
            dy.size, np.abs(b).max() * np.abs(dy).max(initial=0)
        )


@pytest.mark.parametrize("case", cases(lambda c: math.prod(c.x_shape) <= 1000 and c.x_shape[0] > 0))
@pytest.mark.parametrize("wrt", ["x", "w", "b"])
def test_vjp_matches_central_differences(case: Case, wrt: str) -> None:
    x, w, _, dy = case.arrays()
    b = np.random.default_rng(1).standard_normal(w.shape[0])
    inputs = {"x": x, "w": w, "b": b}
    direction = np.random.default_rng(2).standard_normal(inputs[wrt].shape)

    def loss(shift: float) -> float:
        moved = dict(inputs, **{wrt: inputs[wrt] + shift * direction})
        return _inner(refconv.conv(moved["x"], moved["w"], moved["b"], **case.keywords), dy)

    finite_difference = (loss(1.0) - loss(-1.0)) / 2
    dx, dw, db = refconv.conv_vjp(x, w, dy, **case.keywords)
    analytic = _inner({"x": dx, "w": dw, "b": db}[wrt], direction)
    # Each loss is a sum of dy.size * (C_in/G * prod(kernel) + 1) products of at most three factors,
    # bounded by the shifted magnitudes; the difference quotient adds at most one such bound, the
    # analytic <grad, direction> (the same products, direction in place of one factor) another.
    shift = np.abs(direction).max()
    size = {name: np.abs(a).max() + (shift if name == wrt else 0) for name, a in inputs.items()}
    terms = dy.size * (w.shape[1] * math.prod(w.shape[2:]) + 1)
    magnitude = max(size["x"] * size["w"], size["b"]) * np.abs(dy).max()
    assert abs(finite_difference - analytic) <= 2 * dot_error_bound(terms, magnitude)
