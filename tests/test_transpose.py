"""conv_transpose and its VJPs against F.conv_transpose{1,2,3}d autograd, jax.vjp of the forward
convolution, refconv.naive's scatter loops, the adjoint identity, and the duality with conv."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.testing import rounding_bound
from tests.cases import TRANSPOSED, Case, cases, grid_case
from tests.helpers import assert_close, bounds, readable_id

# refconv, naive, jax and torch on this grid: tests/test_oracles.py (GRID holds both grids)


@pytest.mark.parametrize("case", cases(grid=TRANSPOSED))
def test_adjoint_identity_holds_for_conv_transpose(case: Case) -> None:
    x, w, _, dy = case.arrays()
    dx, dw, _ = refconv.conv_transpose_vjp(x, w, dy, **case.spec.options())
    forward = float(np.sum(refconv.conv_transpose(x, w, **case.spec.options()) * dy))
    # both sides sum the same products x w dy (each element of y sums at most C_in/G * prod(k) of them)
    absolute = float(np.sum(refconv.conv_transpose(np.abs(x), np.abs(w), **case.spec.options()) * np.abs(dy)))
    terms = max(dy.size * x.shape[1] * math.prod(w.shape[2:]), 1)
    bound = float(rounding_bound(absolute, terms, np.float64))
    assert_close(case.feature, "<x, dx>", float(np.sum(x * dx)), forward, bound)
    assert_close(case.feature, "<w, dw>", float(np.sum(w * dw)), forward, bound)


@pytest.mark.parametrize("case", cases(grid=TRANSPOSED))
def test_conv_transpose_is_the_input_vjp_of_conv_and_its_input_vjp_is_conv(case: Case) -> None:
    x, w, _, dy = case.arrays()
    kw = {k: v for k, v in case.spec.options().items() if k not in ("output_padding", "output_shape")}
    s = case.spec
    if any(o >= st for o, st in zip(s.output_padding, s.stride, strict=True)):
        pytest.skip("output_padding >= stride: no convolution of that output size has x's shape")
    y = refconv.conv_transpose(x, w, **case.spec.options())
    limits = bounds(case)
    assert_close(case.feature, "y", y, refconv.conv_input_vjp(y.shape, w, x, **kw), limits["y"])
    dx, _, _ = refconv.conv_transpose_vjp(x, w, dy, **case.spec.options())
    assert_close(case.feature, "dx", dx, refconv.conv(dy, w, **kw), limits["dx"])


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
    (
        dict(stride=2, output_shape=(11, 9)),
        r"output_shape=\(11, 9\) needs output_padding=\(2, 0\), which must be smaller",
    ),
    (
        dict(stride=2, output_shape=(9,)),
        r"output_shape=\(9,\) must be 2 spatial sizes or the full shape \(2, 4\)",
    ),
    (dict(groups=2), r"groups=2 must divide in_channels=3"),
    (dict(w=np.ones((4, 4, 3, 3))), r"w has shape \(4, 4, 3, 3\); expected .* with C_in=3"),
    (
        dict(padding=5),
        r"padding=\(\(5, 5\), \(5, 5\)\) crops more than the output has.*output size \(-4, -4\)",
    ),
    (dict(padding="full"), r"padding='full' is not supported"),
    (
        dict(stride=2, padding="same", output_shape=(8, 8)),
        r"give padding='same' or output_shape=\(8, 8\), not both",
    ),
    (
        dict(dilation=3, output_padding=2, strict_output_padding=True),
        r"output_padding=\(2, 2\) must be smaller than stride=\(1, 1\) .*strict_output_padding=True",
    ),
]


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(("keywords", "pattern"), MISUSES, ids=[readable_id(m[1], 30) for m in MISUSES])
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


def _transpose_word_configs() -> list[tuple[int, ...]]:
    return [
        (n, k, s, d, o)
        for n in range(1, 6)
        for k in range(1, 5)
        for s in range(1, 5)
        for d in range(1, 3)
        for o in range(max(s, d))
    ]


@pytest.mark.parametrize("word", ["same", "same_lower"])
def test_transposed_same_gives_n_times_stride_and_splits_like_onnx(word: str) -> None:
    """Every small 1-d configuration: output n*s; a total k_hat + o - s >= 0 split as ONNX's pseudo-code
    (SAME_UPPER: begin = total // 2; SAME_LOWER: end = total // 2); a negative total adds rows at the end."""
    for n, k, s, d, o in _transpose_word_configs():
        spec = refconv.spec((1, 1, n), (1, 1, k), transposed=True, stride=s, dilation=d, output_padding=o,
                            padding=word)  # fmt: skip
        assert spec.y_shape[2] == n * s, (n, k, s, d, o)
        total = d * (k - 1) + 1 + o - s
        ((lo, hi),) = spec.padding
        if total < 0:
            assert (lo, hi) == (0, total)
        else:
            assert lo + hi == total
            assert (lo if word == "same" else hi) == total // 2


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize("word", ["same", "same_lower"])
def test_transposed_same_is_the_input_vjp_of_the_same_convolution(module: Any, word: str) -> None:
    """With output_padding 0, the transposed 'same' convolution of x is the input VJP, taken at x, of the
    'same' convolution of an n*s input: the design rule, checked on 2-d cases with N != C != H != W."""
    rng = np.random.default_rng(6)
    for x_shape, w_shape, stride, dilation in [
        ((2, 3, 4, 5), (3, 2, 3, 2), (2, 3), (1, 2)),
        ((3, 2, 5, 3), (2, 4, 1, 4), (3, 2), (2, 1)),  # a kernel shorter than the stride in dim 0
        ((2, 4, 3, 6), (4, 1, 4, 3), (2, 2), (1, 1)),
    ]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        y = module.conv_transpose(x, w, stride=stride, dilation=dilation, padding=word)
        big = (x_shape[0], w_shape[1], *(n * s for n, s in zip(x_shape[2:], stride, strict=True)))
        want = module.conv_input_vjp(big, w, x, stride=stride, dilation=dilation, padding=word)
        case = grid_case(
            word, x_shape, w_shape, dict(stride=stride, dilation=dilation, padding=word), False, True
        )
        assert_close(f"{x_shape} {word}", "y", y, want, bounds(case)["y"])


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_transposed_valid_pads_nothing_as_in_onnx(module: Any) -> None:
    """ONNX's auto_pad VALID for ConvTranspose: no padding, so the output is s (n - 1) + o + d (k - 1) + 1
    long (ONNX's output_shape formula with pads 0), and the values are those of padding=0, exactly (the
    same products in the same order): every small 1-d configuration, and one 2-d case through both VJPs."""
    rng = np.random.default_rng(11)
    for n, k, s, d, o in _transpose_word_configs():
        x, w = rng.standard_normal((2, 3, n)), rng.standard_normal((3, 2, k))
        kw: dict[str, Any] = dict(stride=s, dilation=d, output_padding=o)
        y = module.conv_transpose(x, w, padding="valid", **kw)
        assert y.shape == (2, 2, s * (n - 1) + o + d * (k - 1) + 1), (n, k, s, d, o)
        np.testing.assert_array_equal(y, module.conv_transpose(x, w, padding=0, **kw))
    x, w = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((4, 3, 2, 3))
    kw = dict(stride=(2, 3), dilation=(3, 1), output_padding=(1, 2), padding="VALID")
    dy = rng.standard_normal(module.conv_transpose(x, w, **kw).shape)
    explicit = module.conv_transpose_vjp(x, w, dy, **{**kw, "padding": 0})
    for got, want in zip(module.conv_transpose_vjp(x, w, dy, **kw), explicit, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_spatial_output_shape_that_looks_like_batch_and_channels_is_spatial() -> None:
    """output_shape is the spatial shape or the whole (N, C_out, *spatial) one, told apart by its length:
    a 2-d output of spatial shape (2, 4) is spatial even when N = 2 and C_out = 4."""
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((2, 3, 1, 1)), rng.standard_normal((3, 4, 2, 4))
    plain = refconv.conv_transpose(x, w)
    assert plain.shape == (2, 4, 2, 4)
    for module in (refconv, naive):
        np.testing.assert_array_equal(
            module.conv_transpose(x, w, output_shape=(2, 4)), module.conv_transpose(x, w)
        )
        np.testing.assert_array_equal(
            module.conv_transpose(x, w, output_shape=(2, 4, 2, 4)), module.conv_transpose(x, w)
        )
