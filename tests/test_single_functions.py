"""Each public function on its own, through its own signature, against refconv.naive and jax."""

from __future__ import annotations

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.backends import ORACLES
from tests.cases import Case, cases
from tests.helpers import assert_close, bounds, skip_known_bug


@pytest.mark.parametrize("case", cases())
def test_output_shape_matches_naive_window_count(case: Case) -> None:
    assert refconv.conv_output_shape(
        case.spec.given_shape("x"), case.spec.given_shape("w"), **case.spec.options()
    ) == naive.conv_output_shape(
        case.spec.given_shape("x"), case.spec.given_shape("w"), **case.spec.options()
    )


@pytest.mark.parametrize("case", cases())
def test_input_vjp_matches_naive(case: Case) -> None:
    _, w, _, dy = case.arrays()
    got = refconv.conv_input_vjp(case.spec.given_shape("x"), w, dy, **case.spec.options())
    want = naive.conv_input_vjp(case.spec.given_shape("x"), w, dy, **case.spec.options())
    assert_close(case.feature, "dx", got, want, bounds(case)["dx"])


@pytest.mark.parametrize("case", cases())
def test_weight_vjp_matches_naive(case: Case) -> None:
    x, _, _, dy = case.arrays()
    got = refconv.conv_weight_vjp(x, case.spec.given_shape("w"), dy, **case.spec.options())
    want = naive.conv_weight_vjp(x, case.spec.given_shape("w"), dy, **case.spec.options())
    assert_close(case.feature, "dw", got, want, bounds(case)["dw"])


@pytest.mark.parametrize("case", cases())
def test_bias_vjp_matches_naive(case: Case) -> None:
    dy = case.arrays()[3]
    assert_close(case.feature, "db", refconv.conv_bias_vjp(dy), naive.conv_bias_vjp(dy), bounds(case)["db"])


@pytest.mark.parametrize("case", cases())
def test_input_and_weight_vjp_match_jax(case: Case) -> None:
    jax = pytest.importorskip("jax")
    skip_known_bug("jax", case)
    x, w, _, dy = case.arrays()
    forward = ORACLES["jax"].program(case.spec).forward()
    _, pullback = jax.vjp(lambda x, w: forward(x, w, np.zeros(case.spec.y_shape[1])), x, w)
    dx, dw = (np.asarray(a) for a in pullback(dy))
    limits = bounds(case)
    assert_close(
        case.feature,
        "dx",
        refconv.conv_input_vjp(case.spec.given_shape("x"), w, dy, **case.spec.options()),
        dx,
        limits["dx"],
    )
    assert_close(
        case.feature,
        "dw",
        refconv.conv_weight_vjp(x, case.spec.given_shape("w"), dy, **case.spec.options()),
        dw,
        limits["dw"],
    )
