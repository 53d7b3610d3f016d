"""Forward mode and second order against jax.jvp / torch forward AD, nested jax.vjp / torch double
backward, and central differences (exact here: each function is at most quadratic in the step); with
padding modes, and with complex values in both conventions.

Tolerances: refconv.testing.rounding_bound of the sums of absolute products, which refconv computes
as the same function of the absolute values (every output is a sum of products with coefficients 0
or 1): conv_jvp(|x|, |w|, |b|, |tx|, |tw|, |tb|) and conv_vjp_vjp(|x|, |w|, |dy|, |gx|, |gw|, |gb|).
A tangent sums the products of two convolutions and the bias: 2 K + 1 terms for K of y.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import numpy as np
import pytest

import refconv
from refconv.backends import ORACLES, Unsupported
from refconv.testing import gamma, rounding_bound, terms
from tests.cases import Case, cases, grid_case
from tests.helpers import assert_close, skip_known_bug

MODES = [
    grid_case("2d-reflect-stride2", (2, 3, 7, 6), (4, 3, 3, 2),
         dict(stride=2, padding=(2, 1), padding_mode="reflect")),
    grid_case("1d-circular", (3, 2, 9), (4, 2, 3), dict(padding=[(2, 3)], padding_mode="circular")),
    grid_case("2d-replicate-groups", (2, 4, 5, 6), (6, 2, 2, 3),
         dict(padding=1, groups=2, padding_mode="replicate")),
]  # fmt: skip
CASES = cases(lambda c: c.spec.given_shape("x")[0] > 0) + cases(grid=MODES)


def _tangents(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return (
        rng.standard_normal(case.spec.given_shape("x")),
        rng.standard_normal(case.spec.given_shape("w")),
        rng.standard_normal(case.spec.y_shape[1]),
    )


def _primals(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, w, b, _ = case.arrays()
    return x, w, np.zeros(case.spec.y_shape[1]) if b is None else b


def _jvp_bounds(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """Round-off bounds of y and of its tangent ty (2 K + 1 terms)."""
    absolute = [np.abs(a) for a in (*_primals(case), *_tangents(case))]
    sums_y, sums_ty = refconv.conv_jvp(*absolute, **case.spec.options())
    k = terms(case.spec, "y")
    return rounding_bound(sums_y, k + 1, np.float64), rounding_bound(sums_ty, 2 * k + 1, np.float64)


@pytest.mark.parametrize("case", CASES)
def test_jvp_matches_jax(case: Case) -> None:
    jax = pytest.importorskip("jax")
    skip_known_bug("jax", case)
    primals, tangents = _primals(case), _tangents(case)
    y, ty = jax.jvp(ORACLES["jax"].program(case.spec).forward(), primals, tangents)
    got_y, got_ty = refconv.conv_jvp(*primals, *tangents, **case.spec.options())
    bound_y, bound_ty = _jvp_bounds(case)
    assert_close(case.feature, "y", got_y, y, bound_y)
    assert_close(case.feature, "ty", got_ty, ty, bound_ty)


def _torch_or_skip(case: Case) -> Any:
    try:
        return ORACLES["torch"].program(case.spec).forward()
    except Unsupported as reason:
        pytest.skip(f"torch: {reason}")


# torch's own forward-AD decompositions call the deprecated torch.jit.script on first use
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("case", CASES)
def test_jvp_matches_torch_forward_mode(case: Case) -> None:
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as fwad

    forward = _torch_or_skip(case)
    primals, tangents = _primals(case), _tangents(case)
    with fwad.dual_level():
        duals = [
            fwad.make_dual(torch.tensor(v), torch.tensor(t)) for v, t in zip(primals, tangents, strict=True)
        ]
        y, ty = (part.numpy().copy() for part in fwad.unpack_dual(forward(*duals))[:2])
    got_y, got_ty = refconv.conv_jvp(*primals, *tangents, **case.spec.options())
    bound_y, bound_ty = _jvp_bounds(case)
    assert_close(case.feature, "y", got_y, y, bound_y)
    assert_close(case.feature, "ty", got_ty, ty, bound_ty)


@pytest.mark.parametrize("case", CASES)
def test_jvp_matches_central_differences(case: Case) -> None:
    (x, w, b), (tx, tw, tb) = _primals(case), _tangents(case)

    def y(h: float) -> np.ndarray:
        return refconv.conv(x + h * tx, w + h * tw, b + h * tb, **case.spec.options())

    _, ty = refconv.conv_jvp(x, w, b, tx, tw, tb, **case.spec.options())
    difference = (y(1.0) - y(-1.0)) / 2  # y(h) is quadratic in h: exactly ty, up to round-off
    # round-off: y(1) and y(-1) each within gamma_{K+1} of their sums of absolute products, ty within
    # gamma_{2K+1} of its own; the subtraction and halving add u |difference|
    shifted = [refconv.conv(np.abs(x + h * tx), np.abs(w + h * tw), np.abs(b + h * tb), **case.spec.options())
               for h in (1.0, -1.0)]  # fmt: skip
    sums = (shifted[0] + shifted[1]) / 2 + refconv.conv_jvp(
        *(np.abs(a) for a in (x, w, b, tx, tw, tb)), **case.spec.options()
    )[1]
    bound = rounding_bound(sums, 2 * terms(case.spec, "y") + 1, np.float64, difference)
    assert_close(case.feature, "ty", ty, difference, bound)


def _second_order_inputs(case: Case, complex_: bool = False) -> tuple[np.ndarray, ...]:
    x, w, _, dy = case.arrays()
    arrays = [x, w, dy, *_tangents(case)]
    if complex_:
        rng = np.random.default_rng(12)
        arrays = [a + 1j * rng.standard_normal(a.shape) for a in arrays]
    return tuple(arrays)


def _vjp_vjp_bounds(case: Case, arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Round-off bounds of x_bar (K of dx), w_bar (K of dw) and dy_bar (2 K + 1 of y); 4x for complex."""
    sums = refconv.conv_vjp_vjp(*(np.abs(a) for a in arrays), **case.spec.options())
    s = case.spec
    scale = 4.0 if np.iscomplexobj(arrays[0]) else 1.0
    counts = (terms(s, "dx"), terms(s, "dw"), 2 * terms(s, "y") + 1)
    return tuple(rounding_bound(scale * v, k, np.float64) for v, k in zip(sums, counts, strict=True))


@pytest.mark.parametrize("case", CASES)
def test_vjp_vjp_matches_nested_jax_vjp(case: Case) -> None:
    jax = pytest.importorskip("jax")
    skip_known_bug("jax", case)
    x, w, dy, gx, gw, gb = arrays = _second_order_inputs(case)
    forward = ORACLES["jax"].program(case.spec).forward()

    def first_order(x: Any, w: Any, dy: Any) -> Any:
        return jax.vjp(forward, x, w, jax.numpy.zeros(case.spec.y_shape[1]))[1](dy)

    want = jax.vjp(first_order, x, w, dy)[1]((gx, gw, gb))
    got = refconv.conv_vjp_vjp(x, w, dy, gx, gw, gb, **case.spec.options())
    for name, g, v, bound in zip(
        ("x_bar", "w_bar", "dy_bar"), got, want, _vjp_vjp_bounds(case, arrays), strict=True
    ):
        assert_close(case.feature, name, g, v, bound)


def _torch_double_backward(case: Case, arrays: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """torch.autograd.grad of (dx, dw, db) with grad_outputs (gx, gw, gb), w.r.t. (x, w, dy)."""
    import torch

    forward = _torch_or_skip(case)
    x, w, dy, gx, gw, gb = arrays
    xt, wt, dyt = (torch.tensor(a, requires_grad=True) for a in (x, w, dy))
    bt = torch.zeros(case.spec.y_shape[1], dtype=xt.dtype, requires_grad=True)
    first = torch.autograd.grad(forward(xt, wt, bt), (xt, wt, bt), dyt, create_graph=True)
    cotangents = tuple(torch.tensor(a) for a in (gx, gw, gb))
    want = torch.autograd.grad(first, (xt, wt, dyt), cotangents, allow_unused=True)
    return [
        np.zeros(a.shape, a.dtype) if v is None else v.numpy() for v, a in zip(want, (x, w, dy), strict=True)
    ]


@pytest.mark.parametrize("case", CASES)
def test_vjp_vjp_matches_torch_double_backward(case: Case) -> None:
    pytest.importorskip("torch")
    arrays = _second_order_inputs(case)
    want = _torch_double_backward(case, arrays)
    got = refconv.conv_vjp_vjp(*arrays, **case.spec.options())
    for name, g, v, bound in zip(
        ("x_bar", "w_bar", "dy_bar"), got, want, _vjp_vjp_bounds(case, arrays), strict=True
    ):
        assert_close(case.feature, name, g, v, bound)


@pytest.mark.parametrize(
    "case",
    cases(lambda c: c.spec.given_shape("x")[0] > 0 and math.prod(c.spec.given_shape("x")) <= 1000)
    + cases(grid=MODES),
)
def test_complex_vjp_vjp_matches_torch_with_conjugation_and_jax_without(case: Case) -> None:
    """PyTorch's double backward conjugates gx and gw in x_bar and w_bar (refconv.conv_vjp_vjp's Notes)."""
    arrays = _second_order_inputs(case, complex_=True)
    limits = _vjp_vjp_bounds(case, arrays)
    names = ("x_bar", "w_bar", "dy_bar")
    if importlib.util.find_spec("torch") is not None:
        want = _torch_double_backward(case, arrays)
        got = refconv.conv_vjp_vjp(*arrays, conjugate=True, **case.spec.options())
        for name, g, v, bound in zip(names, got, want, limits, strict=True):
            assert_close(f"{case.feature} torch", name, g, v, bound)
    if importlib.util.find_spec("jax") is not None:
        import jax

        x, w, dy, gx, gw, gb = arrays
        forward = ORACLES["jax"].program(case.spec).forward()

        def first_order(x: Any, w: Any, dy: Any) -> Any:
            return jax.vjp(forward, x, w, jax.numpy.zeros(case.spec.y_shape[1], complex))[1](dy)

        want = jax.vjp(first_order, x, w, dy)[1]((gx, gw, gb))
        for name, g, v, bound in zip(
            names, refconv.conv_vjp_vjp(*arrays, **case.spec.options()), want, limits, strict=True
        ):
            assert_close(f"{case.feature} jax", name, g, v, bound)


@pytest.mark.parametrize("case", CASES)
def test_vjp_vjp_matches_central_differences_of_the_vjp(case: Case) -> None:
    x, w, dy, gx, gw, gb = _second_order_inputs(case)
    rng = np.random.default_rng(11)
    vx, vw, vdy = rng.standard_normal(x.shape), rng.standard_normal(w.shape), rng.standard_normal(dy.shape)

    def pairing(h: float) -> float:
        dx, dw, db = refconv.conv_vjp(x + h * vx, w + h * vw, dy + h * vdy, **case.spec.options())
        return float(np.sum(dx * gx) + np.sum(dw * gw) + np.sum(db * gb))

    x_bar, w_bar, dy_bar = refconv.conv_vjp_vjp(x, w, dy, gx, gw, gb, **case.spec.options())
    directional = float(np.sum(x_bar * vx) + np.sum(w_bar * vw) + np.sum(dy_bar * vdy))
    # the pairing is quadratic in h: the central difference is exact up to round-off of sums over every
    # (input, weight, cotangent) product, of magnitude < 12 each (standard normals, shifted by one more);
    # a padding mode's copies multiply the products by at most prod(1 + lo + hi)
    s = case.spec
    copies = 1 if s.padding_mode == "zeros" else math.prod(1 + lo + hi for lo, hi in s.padding)
    count = dy.size * w.shape[1] * math.prod(w.shape[2:]) * 3 * copies
    bound = 4 * 2 * gamma(count, 2.0**-53) * count * 12.0**3
    assert_close(
        case.feature, "directional derivative", (pairing(1.0) - pairing(-1.0)) / 2, directional, bound
    )


@pytest.mark.parametrize("case", CASES[:6])
def test_complex_vjp_vjp_conventions_from_the_first_order_vjps(case: Case) -> None:
    """Without a framework: x_bar is the input VJP of gw and w_bar the weight VJP of gx (JAX's default),
    or of their conjugates with conjugate=True (PyTorch's), as refconv.conv_vjp_vjp's Notes derive.

    The first-order VJPs are checked against jax and torch elsewhere; this pins which of the two
    conventions is the default. Tolerance: the float64 round-off bounds of x_bar and w_bar.
    """
    x, w, dy, gx, gw, _ = arrays = _second_order_inputs(case, complex_=True)
    limits = _vjp_vjp_bounds(case, arrays)
    kw = case.spec.options()
    for conjugate, (cx, cw) in ((False, (gx, gw)), (True, (np.conj(gx), np.conj(gw)))):
        vjp_vjp: Any = refconv.conv_vjp_vjp  # the default (no conjugate keyword) is what is pinned
        x_bar, w_bar, _ = vjp_vjp(*arrays, **kw) if not conjugate else vjp_vjp(*arrays, conjugate=True, **kw)
        assert_close(case.feature, f"x_bar conjugate={conjugate}", x_bar,
                     refconv.conv_input_vjp(x.shape, cw, dy, **kw), limits[0])  # fmt: skip
        assert_close(case.feature, f"w_bar conjugate={conjugate}", w_bar,
                     refconv.conv_weight_vjp(cx, w.shape, dy, **kw), limits[1])  # fmt: skip


def test_an_absent_second_order_tangent_gives_zeros_of_its_array() -> None:
    """gw absent: x_bar is zeros of x's shape and result dtype; gx absent: w_bar likewise (both as if
    the tangent were zeros)."""
    case = grid_case("2d", (2, 3, 6, 5), (4, 3, 3, 2), dict(stride=(2, 1), padding=1))
    x, w, dy, gx, gw, gb = _second_order_inputs(case)
    for absent in ("gx", "gw"):
        given = {"gx": gx, "gw": gw, absent: None}
        zeros = {"gx": gx, "gw": gw, absent: np.zeros_like(gx if absent == "gx" else gw)}
        got = refconv.conv_vjp_vjp(x, w, dy, given["gx"], given["gw"], gb, **case.spec.options())
        want = refconv.conv_vjp_vjp(x, w, dy, zeros["gx"], zeros["gw"], gb, **case.spec.options())
        for g, v in zip(got, want, strict=True):
            assert (g.dtype, g.shape) == (v.dtype, v.shape)
            np.testing.assert_array_equal(g, v)  # the zero tangent contributes exact zeros
