"""Forward mode and second order against jax.jvp / torch forward AD, nested jax.vjp / torch double
backward, and central differences (exact here: each function is at most quadratic in the step)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import refconv
from refconv.oracles import Unsupported, torch_conv_vjp
from refconv.testing import dot_error_bound
from tests.cases import Case, cases
from tests.helpers import params

CASES = cases(lambda c: c.x_shape[0] > 0)


def _tangents(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return (
        rng.standard_normal(case.x_shape),
        rng.standard_normal(case.w_shape),
        rng.standard_normal(case.w_shape[0]),
    )


def _bound(case: Case, scale: float = 1.0) -> float:
    """Round-off of a sum of C_in/G * prod(kernel) + 1 products of standard normals (|v| < 6), two sums."""
    terms = case.w_shape[1] * math.prod(case.w_shape[2:]) + 1
    return 2 * dot_error_bound(terms, 36.0 * scale)


def _close(got: np.ndarray, want: Any, bound: float) -> None:
    want = np.asarray(want)
    assert got.shape == want.shape
    assert float(np.max(np.abs(got - want), initial=0.0)) <= bound


def _torch_expressible(case: Case) -> bool:
    x, w, b, dy = case.arrays()
    try:
        torch_conv_vjp(x[:1], w, b, dy[:1], params(case))  # cheap probe of what torch can express
    except Unsupported:
        return False
    return True


@pytest.mark.parametrize("case", CASES)
def test_jvp_matches_jax(case: Case) -> None:
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    x, w, b, _ = case.arrays()
    b = np.zeros(w.shape[0]) if b is None else b
    tx, tw, tb = _tangents(case)
    p = params(case)

    def forward(x: Any, w: Any, b: Any) -> Any:
        y = lax.conv_general_dilated(
            x, w, p.stride, p.padding, p.input_dilation, p.dilation, feature_group_count=p.groups,
            batch_group_count=p.batch_groups, precision=lax.Precision.HIGHEST,
        )  # fmt: skip
        return y + b.reshape((1, -1) + (1,) * (x.ndim - 2))

    y, ty = jax.jvp(forward, (x, w, b), (tx, tw, tb))
    got_y, got_ty = refconv.conv_jvp(x, w, b, tx, tw, tb, **case.keywords)
    _close(got_y, y, _bound(case))
    _close(got_ty, ty, 2 * _bound(case))


# torch's own forward-AD decompositions call the deprecated torch.jit.script on first use
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("case", CASES)
def test_jvp_matches_torch_forward_mode(case: Case) -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    if not _torch_expressible(case):
        pytest.skip("torch cannot express this configuration (see refconv.oracles)")
    x, w, b, _ = case.arrays()
    b = np.zeros(w.shape[0]) if b is None else b
    tx, tw, tb = _tangents(case)
    p = params(case)
    pads = [v for lo, hi in reversed(p.padding) for v in (lo, hi)]
    convolve = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.ndim - 2]

    def forward(x: Any, w: Any, b: Any) -> Any:
        padded = F.pad(F.pad(x, [max(v, 0) for v in pads]), [min(v, 0) for v in pads])
        return convolve(padded, w, b, stride=p.stride, dilation=p.dilation, groups=p.groups)

    import torch.autograd.forward_ad as fwad

    with fwad.dual_level():
        duals = [fwad.make_dual(torch.tensor(v), torch.tensor(t)) for v, t in ((x, tx), (w, tw), (b, tb))]
        y, ty = (part.numpy().copy() for part in fwad.unpack_dual(forward(*duals))[:2])
    got_y, got_ty = refconv.conv_jvp(x, w, b, tx, tw, tb, **case.keywords)
    _close(got_y, y, _bound(case))
    _close(got_ty, ty, 2 * _bound(case))


@pytest.mark.parametrize("case", CASES)
def test_jvp_matches_central_differences(case: Case) -> None:
    x, w, b, _ = case.arrays()
    tx, tw, tb = _tangents(case)
    b = np.zeros(w.shape[0]) if b is None else b

    def y(h: float) -> np.ndarray:
        return refconv.conv(x + h * tx, w + h * tw, b + h * tb, **case.keywords)

    _, ty = refconv.conv_jvp(x, w, b, tx, tw, tb, **case.keywords)
    # y(h) is quadratic in h, so (y(1) - y(-1)) / 2 is exactly ty; magnitudes grow to |x + tx| < 12
    _close(ty, (y(1.0) - y(-1.0)) / 2, 4 * _bound(case, scale=4.0))


def _second_order_inputs(case: Case) -> tuple[np.ndarray, ...]:
    x, w, _, dy = case.arrays()
    gx, gw, gb = _tangents(case)
    return x, w, dy, gx, gw, gb


@pytest.mark.parametrize("case", CASES)
def test_vjp_vjp_matches_nested_jax_vjp(case: Case) -> None:
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    x, w, dy, gx, gw, gb = _second_order_inputs(case)
    p = params(case)

    def first_order(x: Any, w: Any, dy: Any) -> Any:
        def forward(x: Any, w: Any, b: Any) -> Any:
            y = lax.conv_general_dilated(
                x, w, p.stride, p.padding, p.input_dilation, p.dilation, feature_group_count=p.groups,
                batch_group_count=p.batch_groups, precision=lax.Precision.HIGHEST,
            )  # fmt: skip
            return y + b.reshape((1, -1) + (1,) * (x.ndim - 2))

        return jax.vjp(forward, x, w, jax.numpy.zeros(w.shape[0]))[1](dy)

    _, pullback = jax.vjp(first_order, x, w, dy)
    want = pullback((gx, gw, gb))
    got = refconv.conv_vjp_vjp(x, w, dy, gx, gw, gb, **case.keywords)
    for g, v in zip(got, want, strict=True):
        _close(g, v, 4 * _bound(case, scale=max(1, np.prod(dy.shape[2:]))))


@pytest.mark.parametrize("case", CASES)
def test_vjp_vjp_matches_torch_double_backward(case: Case) -> None:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    if not _torch_expressible(case):
        pytest.skip("torch cannot express this configuration (see refconv.oracles)")
    x, w, dy, gx, gw, gb = _second_order_inputs(case)
    p = params(case)
    xt, wt, dyt = (torch.tensor(a, requires_grad=True) for a in (x, w, dy))
    bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    pads = [v for lo, hi in reversed(p.padding) for v in (lo, hi)]
    padded = F.pad(F.pad(xt, [max(v, 0) for v in pads]), [min(v, 0) for v in pads])
    convolve = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.ndim - 2]
    y = convolve(padded, wt, bt, stride=p.stride, dilation=p.dilation, groups=p.groups)
    dx, dw, db = torch.autograd.grad(y, (xt, wt, bt), dyt, create_graph=True)
    loss = (dx * torch.tensor(gx)).sum() + (dw * torch.tensor(gw)).sum() + (db * torch.tensor(gb)).sum()
    want = torch.autograd.grad(loss, (xt, wt, dyt), allow_unused=True)
    got = refconv.conv_vjp_vjp(x, w, dy, gx, gw, gb, **case.keywords)
    for g, v, shape in zip(got, want, (x.shape, w.shape, dy.shape), strict=True):
        _close(
            g,
            np.zeros(shape) if v is None else v.numpy(),
            4 * _bound(case, scale=max(1, np.prod(dy.shape[2:]))),
        )


@pytest.mark.parametrize("case", CASES)
def test_vjp_vjp_matches_central_differences_of_the_vjp(case: Case) -> None:
    x, w, dy, gx, gw, gb = _second_order_inputs(case)
    rng = np.random.default_rng(11)
    vx, vw, vdy = rng.standard_normal(x.shape), rng.standard_normal(w.shape), rng.standard_normal(dy.shape)

    def pairing(h: float) -> float:
        dx, dw, db = refconv.conv_vjp(x + h * vx, w + h * vw, dy + h * vdy, **case.keywords)
        return float(np.sum(dx * gx) + np.sum(dw * gw) + np.sum(db * gb))

    x_bar, w_bar, dy_bar = refconv.conv_vjp_vjp(x, w, dy, gx, gw, gb, **case.keywords)
    directional = float(np.sum(x_bar * vx) + np.sum(w_bar * vw) + np.sum(dy_bar * vdy))
    # the pairing is quadratic in h: the central difference is exact up to round-off of sums over
    # every (input, weight, cotangent) product, magnitudes < 12 each
    terms = dy.size * w.shape[1] * math.prod(w.shape[2:]) * 3
    assert abs((pairing(1.0) - pairing(-1.0)) / 2 - directional) <= 4 * dot_error_bound(terms, 12.0**3)
