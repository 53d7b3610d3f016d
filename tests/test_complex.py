"""Complex inputs: conjugate=False is jax.vjp's plain transpose, conjugate=True torch's conj(vjp(conj(g)))."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.testing import rounding_bound
from tests.cases import TRANSPOSED, Arrays, Case, cases
from tests.helpers import assert_close, assert_results_close, backend_results, bounds

CASES = cases(
    lambda c: c.spec.given_shape("x")[0] > 0 and math.prod(c.spec.given_shape("x")) <= 2000
) + cases(lambda c: c.spec.given_shape("x")[0] > 0, grid=TRANSPOSED)


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
    forward, vjp = (module.conv_transpose, module.conv_transpose_vjp) if case.spec.transposed else (
        module.conv, module.conv_vjp)  # fmt: skip
    dx, dw, db = vjp(x, w, dy, conjugate=conjugate, **case.spec.options())
    return {"y": forward(x, w, b, **case.spec.options()), "dx": dx, "dw": dw, "db": db}


# Tolerance: refconv.testing's bound for complex values, four times the sums of absolute products
# (a complex product is four real ones and two sums), from refconv.testing.reference_and_bounds.


@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_jax_without_conjugation(case: Case) -> None:
    pytest.importorskip("jax")
    arrays, wide = _complex_arrays(case), case.in_dtype(np.complex128)
    want = backend_results("jax", wide, arrays)
    assert_results_close(wide, _results(refconv, case, arrays, conjugate=False), want, arrays)


@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_torch_with_conjugation(case: Case) -> None:
    pytest.importorskip("torch")
    arrays, wide = _complex_arrays(case), case.in_dtype(np.complex128)
    want = backend_results("torch", wide, arrays)
    assert_results_close(wide, _results(refconv, case, arrays, conjugate=True), want, arrays)


@pytest.mark.parametrize("conjugate", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_complex_vjp_matches_naive(case: Case, conjugate: bool) -> None:
    arrays = _complex_arrays(case)
    want = _results(naive, case, arrays, conjugate)
    assert_results_close(
        case.in_dtype(np.complex128), _results(refconv, case, arrays, conjugate), want, arrays
    )


def test_conventions_differ_by_conjugating_the_partner() -> None:
    case = CASES[0].values[0]
    arrays = _complex_arrays(case)
    x, w, _, dy = arrays
    plain = refconv.conv_input_vjp(x.shape, w, dy, **case.spec.options())
    torch_style = refconv.conv_input_vjp(x.shape, w, dy, conjugate=True, **case.spec.options())
    partner = refconv.conv_input_vjp(x.shape, np.conj(w), dy, **case.spec.options())
    limit = bounds(case, arrays)["dx"]
    assert_close(case.feature, "dx(conjugate=True) - dx(conj(w))", torch_style, partner, limit)
    assert np.max(np.abs(plain - torch_style)) > 1.0  # the two conventions really differ


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_every_vjp_by_default_is_the_plain_transpose(module: Any, transposed: bool) -> None:
    """Without a conjugate keyword, each VJP is jax's plain transpose: the bilinear adjoint identity
    sum(f(x, w) * dy) = sum(x * dx) = sum(w * dw), with no conjugation, for complex arrays (torch's
    convention, conjugate=True, misses it by far: its dx pairs with conj(w)). No framework needed."""
    case = (cases(lambda c: c.spec.given_shape("x")[0] > 0, grid=TRANSPOSED) if transposed else CASES)[
        1
    ].values[0]
    x, w, _, dy = _complex_arrays(case)
    kw = case.spec.options()
    forward, vjp = (module.conv_transpose, module.conv_transpose_vjp) if transposed else (
        module.conv, module.conv_vjp)  # fmt: skip
    pairing = complex(np.sum(forward(x, w, **kw) * dy))
    # both sides sum the same products x w dy, complex ones (four real products, two sums each)
    absolute = float(np.sum(forward(np.abs(x), np.abs(w), **kw) * np.abs(dy)))
    terms = max(dy.size * x.shape[1] * math.prod(w.shape[2:]), 1)
    bound = 4 * float(rounding_bound(absolute, terms, np.float64))
    dx, dw, db = vjp(x, w, dy, **kw)
    got = {"<x, dx>": np.sum(x * dx), "<w, dw>": np.sum(w * dw)}
    if not transposed:
        got["<x, dx> (conv_input_vjp)"] = np.sum(x * module.conv_input_vjp(x.shape, w, dy, **kw))
        got["<w, dw> (conv_weight_vjp)"] = np.sum(w * module.conv_weight_vjp(x, w.shape, dy, **kw))
    for name, value in got.items():
        assert abs(complex(value) - pairing) <= bound, (case.feature, name, value, pairing, bound)
    ones = np.ones(dy.shape[1], complex)  # a bias of ones adds sum(dy) per channel to the pairing
    bias_pairing = complex(np.sum((forward(x, w, ones, **kw) - forward(x, w, **kw)) * dy))
    for name, value in [("db", db), ("conv_bias_vjp", module.conv_bias_vjp(dy))]:
        assert abs(complex(np.sum(value)) - bias_pairing) <= bound, (case.feature, name)
    assert abs(complex(np.sum(x * vjp(x, w, dy, conjugate=True, **kw)[0])) - pairing) > 1.0
