"""conv_transpose and its VJPs against F.conv_transpose{1,2,3}d autograd, jax.vjp of the forward
convolution, refconv.naive's scatter loops, the adjoint identity, and the duality with conv."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import _normalize as norm
from refconv import naive
from refconv._ops import transpose_kernel
from refconv.geometry import transpose_conv_params
from refconv.oracles import TRANSPOSE_ORACLES, Unsupported
from refconv.testing import conv_error_bounds, dot_error_bound


@dataclass(frozen=True)
class TCase:
    id: str
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]  # (C_in, C_out // groups, *kernel)
    keywords: dict[str, Any] = field(default_factory=dict)
    bias: bool = True

    def arrays(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        rng = np.random.default_rng(seed)
        x, w = rng.standard_normal(self.x_shape), rng.standard_normal(self.w_shape)
        b = rng.standard_normal(self.w_shape[1] * self.keywords.get("groups", 1)) if self.bias else None
        dy = rng.standard_normal(refconv.conv_transpose(x, w, **self.keywords).shape)
        return x, w, b, dy

    def bounds(self) -> dict[str, float]:
        """The round-off bounds of the general convolution this transposed one is."""
        x, w, b, dy = self.arrays()
        t = norm.checked_transpose_params(x.shape, w.shape, **self.keywords)
        return conv_error_bounds(
            x, transpose_kernel(w, t.groups), dy, transpose_conv_params(w.shape[2:], t), b
        )


TCASES = [
    pytest.param(c, id=c.id)
    for c in [
        TCase("1d-stride2", (3, 4, 7), (4, 5, 3), dict(stride=2)),
        TCase("1d-stride3-output-padding2", (2, 3, 6), (3, 4, 2), dict(stride=3, output_padding=2), False),
        TCase(
            "1d-dilation3-output-padding-above-stride",
            (2, 3, 5),
            (3, 2, 3),
            dict(dilation=3, output_padding=2),
        ),
        TCase(
            "2d-stride2-pad1-output-padding1",
            (2, 3, 5, 6),
            (3, 4, 3, 3),
            dict(stride=2, padding=1, output_padding=1),
        ),
        TCase("2d-asym-pad", (2, 3, 5, 4), (3, 2, 3, 2), dict(stride=(2, 3), padding=((1, 0), (0, 2)))),
        TCase(
            "2d-negative-pad", (2, 3, 4, 5), (3, 2, 2, 3), dict(stride=2, padding=((-1, 1), (2, -2))), False
        ),
        TCase("2d-groups3-dilation", (2, 6, 5, 4), (6, 2, 3, 2), dict(stride=2, groups=3, dilation=(1, 2))),
        TCase(
            "2d-depthwise", (2, 4, 6, 5), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4, output_padding=1)
        ),
        TCase(
            "2d-output-shape", (2, 3, 5, 6), (3, 4, 3, 3), dict(stride=2, padding=1, output_shape=(10, 11))
        ),
        TCase(
            "3d",
            (2, 3, 3, 4, 2),
            (3, 2, 2, 3, 2),
            dict(stride=(2, 1, 3), padding=((0, 1), (1, 0), (0, 0)), output_padding=(1, 0, 2)),
        ),
        TCase("4d", (2, 2, 3, 2, 3, 2), (2, 3, 2, 2, 2, 2), dict(stride=2), False),
        TCase("empty-batch", (0, 3, 5, 4), (3, 2, 2, 2), dict(stride=2)),
    ]
]


def _results(module: Any, case: TCase, arrays: tuple[Any, ...] | None = None) -> dict[str, np.ndarray]:
    x, w, b, dy = case.arrays() if arrays is None else arrays
    dx, dw, db = module.conv_transpose_vjp(x, w, dy, **case.keywords)
    return {"y": module.conv_transpose(x, w, b, **case.keywords), "dx": dx, "dw": dw, "db": db}


def _assert_match(case: TCase, got: dict[str, np.ndarray], want: dict[str, Any]) -> None:
    for name, bound in case.bounds().items():
        expected = np.asarray(want[name])
        assert got[name].shape == expected.shape, name
        assert float(np.max(np.abs(got[name] - expected), initial=0.0)) <= bound, name


@pytest.mark.parametrize("case", TCASES)
def test_conv_transpose_and_vjps_match_naive(case: TCase) -> None:
    _assert_match(case, _results(refconv, case), _results(naive, case))


@pytest.mark.parametrize("oracle", sorted(TRANSPOSE_ORACLES))
@pytest.mark.parametrize("case", TCASES)
def test_conv_transpose_and_vjps_match_oracle(case: TCase, oracle: str) -> None:
    pytest.importorskip(oracle)
    x, w, b, dy = case.arrays()
    t = norm.checked_transpose_params(x.shape, w.shape, **case.keywords)
    try:
        want = TRANSPOSE_ORACLES[oracle](x, w, b, dy, t)
    except Unsupported as reason:
        pytest.skip(f"{oracle}: {reason}")
    _assert_match(case, _results(refconv, case), want)


@pytest.mark.parametrize("case", TCASES)
def test_adjoint_identity_holds_for_conv_transpose(case: TCase) -> None:
    x, w, _, dy = case.arrays()
    dx, dw, _ = refconv.conv_transpose_vjp(x, w, dy, **case.keywords)
    forward = float(np.sum(refconv.conv_transpose(x, w, **case.keywords) * dy))
    terms = max(dy.size * w.shape[1] * int(np.prod(w.shape[2:])) * 4, 1)  # C_in/G <= 4 per output element
    bound = dot_error_bound(terms, 36.0**1.5)  # standard normals: |x|, |w|, |dy| < 6
    assert abs(forward - float(np.sum(x * dx))) <= bound
    assert abs(forward - float(np.sum(w * dw))) <= bound


@pytest.mark.parametrize("case", TCASES)
def test_conv_transpose_is_the_input_vjp_of_conv_and_its_input_vjp_is_conv(case: TCase) -> None:
    x, w, _, dy = case.arrays()
    kw = {k: v for k, v in case.keywords.items() if k not in ("output_padding", "output_shape")}
    t = norm.checked_transpose_params(x.shape, w.shape, **case.keywords)
    if any(o >= s for o, s in zip(t.output_padding, t.stride, strict=True)):
        pytest.skip("output_padding >= stride: no convolution of that output size has x's shape")
    y = refconv.conv_transpose(x, w, **case.keywords)
    bounds = case.bounds()
    assert np.max(np.abs(y - refconv.conv_input_vjp(y.shape, w, x, **kw)), initial=0) <= bounds["y"]
    dx, _, _ = refconv.conv_transpose_vjp(x, w, dy, **case.keywords)
    assert np.max(np.abs(dx - refconv.conv(dy, w, **kw)), initial=0) <= bounds["dx"]


MISUSES = [
    (
        dict(stride=2, output_padding=2),
        r"output_padding=\(2, 2\) must be smaller than max\(stride, dilation\)=\(2, 2\)",
    ),
    (dict(output_padding=-1), r"output_padding=-1 must be >= 0"),
    (
        dict(stride=2, output_padding=1, output_shape=(9, 9)),
        r"give output_padding=1 or output_shape=\(9, 9\), not both",
    ),
    (
        dict(stride=2, output_shape=(7, 12)),
        r"output_shape=\(7, 12\) is smaller than the smallest output \(9, 9\)",
    ),
    (dict(stride=2, output_shape=(11, 9)), r"output_padding=\(2, 0\) must be smaller"),
    (
        dict(stride=2, output_shape=(9,)),
        r"output_shape=\(9,\) must be 2 spatial sizes or the full shape \(2, 4\)",
    ),
    (dict(groups=2), r"groups=2 must divide in_channels=3"),
    (dict(w=np.ones((4, 4, 3, 3))), r"w has shape \(4, 4, 3, 3\); expected .* with C_in=3"),
    (dict(padding=5), r"padding=\(\(5, 5\), \(5, 5\)\) leaves no output"),
    (dict(padding="same"), r"padding='same' is not supported"),
]


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(("keywords", "pattern"), MISUSES, ids=[m[1][:30] for m in MISUSES])
def test_conv_transpose_misuse_names_the_parameter(
    module: Any, keywords: dict[str, Any], pattern: str
) -> None:
    keywords = dict(keywords)
    x, w = np.ones((2, 3, 4, 4)), keywords.pop("w", np.ones((3, 4, 3, 3)))
    with pytest.raises(ValueError, match=pattern):
        module.conv_transpose(x, w, **keywords)
    with pytest.raises(ValueError, match=pattern):
        module.conv_transpose_vjp(x, w, np.ones((2, 4, 9, 9)), **keywords)


def test_output_shape_picks_the_output_padding() -> None:
    x, w = np.ones((1, 2, 4)), np.ones((2, 3, 3))
    a = refconv.conv_transpose(x, w, stride=3, output_shape=(14,))  # (4 - 1) * 3 + 3 = 12, plus 2
    b = refconv.conv_transpose(x, w, stride=3, output_padding=2)
    assert a.shape == (1, 3, 14)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(refconv.conv_transpose(x, w, stride=3, output_shape=(1, 3, 14)), b)
