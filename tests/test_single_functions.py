"""Each public function on its own, through its own signature, against refconv.naive and jax."""

from __future__ import annotations

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.testing import conv_error_bounds
from tests.cases import Case, cases
from tests.helpers import params


def _bounds(case: Case) -> dict[str, float]:
    x, w, b, dy = case.arrays()
    return conv_error_bounds(x, w, dy, params(case), b)


def _assert_close(got: np.ndarray, want: np.ndarray, bound: float) -> None:
    assert got.shape == want.shape
    assert float(np.max(np.abs(got - want), initial=0.0)) <= bound


@pytest.mark.parametrize("case", cases())
def test_output_shape_matches_naive_window_count(case: Case) -> None:
    assert refconv.conv_output_shape(case.x_shape, case.w_shape, **case.keywords) == naive.conv_output_shape(
        case.x_shape, case.w_shape, **case.keywords
    )


@pytest.mark.parametrize("case", cases())
def test_input_vjp_matches_naive(case: Case) -> None:
    _, w, _, dy = case.arrays()
    got = refconv.conv_input_vjp(case.x_shape, w, dy, **case.keywords)
    _assert_close(got, naive.conv_input_vjp(case.x_shape, w, dy, **case.keywords), _bounds(case)["dx"])


@pytest.mark.parametrize("case", cases())
def test_weight_vjp_matches_naive(case: Case) -> None:
    x, _, _, dy = case.arrays()
    got = refconv.conv_weight_vjp(x, case.w_shape, dy, **case.keywords)
    _assert_close(got, naive.conv_weight_vjp(x, case.w_shape, dy, **case.keywords), _bounds(case)["dw"])


@pytest.mark.parametrize("case", cases())
def test_bias_vjp_matches_naive(case: Case) -> None:
    dy = case.arrays()[3]
    _assert_close(refconv.conv_bias_vjp(dy), naive.conv_bias_vjp(dy), _bounds(case)["db"])


@pytest.mark.parametrize("case", cases())
def test_input_and_weight_vjp_match_jax(case: Case) -> None:
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    x, w, _, dy = case.arrays()
    p = params(case)

    def forward(x: object, w: object) -> object:
        return lax.conv_general_dilated(
            x,
            w,
            p.stride,
            p.padding,
            p.input_dilation,
            p.dilation,
            feature_group_count=p.groups,
            batch_group_count=p.batch_groups,
            precision=lax.Precision.HIGHEST,
        )

    _, pullback = jax.vjp(forward, x, w)
    dx, dw = (np.asarray(a) for a in pullback(dy))
    bounds = _bounds(case)
    _assert_close(refconv.conv_input_vjp(case.x_shape, w, dy, **case.keywords), dx, bounds["dx"])
    _assert_close(refconv.conv_weight_vjp(x, case.w_shape, dy, **case.keywords), dw, bounds["dw"])
