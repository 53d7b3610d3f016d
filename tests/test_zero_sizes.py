"""Zero sizes by the definition: empty spatial inputs, kernels longer than the padded input, zero channels.

The output of each is an empty sum where no product exists: an array of the right shape, zero (the
bias where there is one), and each VJP zero where nothing is read. Checked against refconv.naive
(loops from the definition) and jax.vjp on JAX's own grid from lax_autodiff_test.py's
testConvGeneralDilatedGrad (its lhs of spatial shape (0, 4) half: the cases refconv rejected
before) and lax_test.py's testConvGeneralDilated (its width-0 half, where some kernels are longer
than the padded input),
and against the shapes of conv_output_shape. Equality is exact: every result here is a sum of no
products or of few exact ones (operands are small integers, so float64 sums are exact).
"""

from __future__ import annotations

import importlib.metadata
import itertools
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.cases import case
from tests.helpers import judged

#: JAX's test's layouts, with the permutations that take its NCHW/OIHW shapes to them.
JAX_LAYOUTS = [
    (None, (0, 1, 2, 3), (0, 1, 2, 3)),
    (("NHWC", "HWIO", "NHWC"), (0, 2, 3, 1), (2, 3, 1, 0)),
    (("NHWC", "OIHW", "NCHW"), (0, 2, 3, 1), (0, 1, 2, 3)),
]


def _jax_grid() -> list[Any]:
    """lax_autodiff_test.testConvGeneralDilatedGrad's configurations with an empty spatial dim."""
    grid = []
    for fg, bg in [(1, 1), (2, 1), (1, 2)]:
        for b, i, j in itertools.product([1, 2], repeat=3):
            x_shape, w_shape = (b * bg, i * fg, 0, 4), (j * bg * fg, i, 1, 2)
            for stride, lhs_dil, rhs_dil, padding in itertools.product(
                [(1, 1), (1, 2), (2, 1)],
                [(1, 1), (2, 1)],
                [(1, 1), (2, 2)],
                [((0, 0), (0, 0)), ((1, 0), (0, 1))],
            ):
                grid.append(
                    dict(x_shape=x_shape, w_shape=w_shape, stride=stride, input_dilation=lhs_dil,
                         dilation=rhs_dil, padding=padding, groups=fg, batch_groups=bg)
                )  # fmt: skip
    return grid


JAX_GRID = _jax_grid()


def _integers(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float64)


@pytest.mark.parametrize("index", range(0, len(JAX_GRID), 1))
def test_jax_grid_with_an_empty_spatial_dim_agrees_with_jax_and_naive(index: int) -> None:
    pytest.importorskip("jax")
    config = dict(JAX_GRID[index])
    x_shape, w_shape = config.pop("x_shape"), config.pop("w_shape")
    layout, x_perm, w_perm = JAX_LAYOUTS[index % len(JAX_LAYOUTS)]
    x_shape, w_shape = tuple(x_shape[a] for a in x_perm), tuple(w_shape[a] for a in w_perm)
    c = case("zero_sizes", x_shape, w_shape, **config, bias=index % 2 == 0, dimension_numbers=layout)
    outcome = judged("jax", c)
    if outcome.verdict == "raised":  # the grid's claim is about what JAX computes
        pytest.skip(f"jax {importlib.metadata.version('jax')} raises: {outcome.headline}")
    assert outcome.verdict == "agree", outcome.detail
    x, w = _integers(c.spec.given_shape("x"), index), _integers(c.spec.given_shape("w"), index + 1)
    keywords = c.spec.options()
    y = refconv.conv(x, w, **keywords)
    assert (
        y.shape
        == refconv.conv_output_shape(x.shape, w.shape, **keywords)
        == naive.conv(x, w, **keywords).shape
    )
    dy = _integers(y.shape, index + 2)
    for got, want in zip(
        refconv.conv_vjp(x, w, dy, **keywords), naive.conv_vjp(x, w, dy, **keywords), strict=True
    ):
        assert got.shape == want.shape
        assert np.array_equal(got, want)


def _jax_forward_grid() -> list[dict[str, Any]]:
    """lax_test.testConvGeneralDilated's configurations with an input of width 0 (its other half has
    width 10): the padded width is 2 or 20, so some dilated kernels (5, 9 or 17 wide) fit no window."""
    grid = []
    for bg, fg in [(1, 1), (2, 1), (1, 2)]:
        for b, i, j in itertools.product([2, 3], repeat=3):
            for stride, padding, lhs_dil, rhs_dil in itertools.product(
                [(1, 1), (2, 1)], [((1, 2), (2, 0)), ((10, 8), (7, 13))], *[[(1, 1), (1, 2), (1, 4)]] * 2
            ):
                grid.append(
                    dict(x_shape=(b * bg, i * fg, 9, 0), w_shape=(j * fg * bg, i, 4, 5), stride=stride,
                         padding=padding, input_dilation=lhs_dil, dilation=rhs_dil, groups=fg,
                         batch_groups=bg)
                )  # fmt: skip
    return grid


JAX_FORWARD_GRID = _jax_forward_grid()


@pytest.mark.parametrize("index", range(len(JAX_FORWARD_GRID)))
def test_jax_forward_grid_with_an_empty_width_agrees_with_jax_and_naive(index: int) -> None:
    """Exact equality: the operands are small integers, so every float64 sum is exact."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax import lax

    config = dict(JAX_FORWARD_GRID[index])
    x_shape, w_shape = config.pop("x_shape"), config.pop("w_shape")
    x, w = _integers(x_shape, index), _integers(w_shape, index + 1)
    y = refconv.conv(x, w, **config)
    try:
        expected = lax.conv_general_dilated(
            x, w, config["stride"], config["padding"], config["input_dilation"], config["dilation"],
            feature_group_count=config["groups"], batch_group_count=config["batch_groups"],
            precision=lax.Precision.HIGHEST,
        )  # fmt: skip
    except Exception as error:  # the grid's claim is about what JAX computes
        pytest.skip(f"jax {importlib.metadata.version('jax')} raises: {type(error).__name__}: {error}")
    assert y.shape == expected.shape == naive.conv(x, w, **config).shape
    assert np.array_equal(y, np.asarray(expected))
    assert np.array_equal(y, naive.conv(x, w, **config))


ZERO_CASES = [
    # (x shape, w shape, keywords, output shape)
    ((2, 3, 0, 4), (4, 3, 2, 2), dict(padding=((1, 1), (0, 0))), (2, 4, 1, 3)),  # reads only padding
    ((2, 3, 0), (4, 3, 2), {}, (2, 4, 0)),  # nothing to read: no window
    ((2, 3, 4), (4, 3, 6), {}, (2, 4, 0)),  # a kernel longer than the input
    ((2, 3, 4), (4, 3, 2), dict(dilation=4), (2, 4, 0)),  # a dilated kernel longer than the input
    ((2, 3, 4), (4, 3, 3), dict(padding=-1), (2, 4, 0)),  # a kernel longer than the cropped input
    ((2, 3, 4, 5), (4, 3, 2, 2), dict(padding=((0, 0), (-2, -3))), (2, 4, 3, 0)),  # cropped to nothing
    ((2, 0, 5, 4), (3, 0, 2, 2), {}, (2, 3, 4, 3)),  # no input channels: the bias
    ((2, 3, 5), (0, 3, 2), {}, (2, 0, 4)),  # no output channels
    ((0, 3, 5), (4, 3, 2), dict(stride=2), (0, 4, 2)),  # no batch
    ((2, 4, 0, 3), (4, 1, 1, 2), dict(groups=4, padding=((2, 1), (0, 0))), (2, 4, 3, 2)),
    ((4, 3, 0), (2, 3, 2), dict(batch_groups=2, padding=2, input_dilation=3), (2, 2, 3)),
    ((2, 3, 0), (4, 3, 3), dict(padding="same"), (2, 4, 0)),  # ceil(0 / s) = 0 outputs
    ((2, 3, 0), (4, 3, 1), dict(padding_mode="circular"), (2, 4, 0)),  # no padding: nothing to wrap
]


TRANSPOSED_ZERO_CASES = [
    ((2, 3, 0), (3, 2, 3), {}, (2, 2, 2)),  # s (n - 1) + k = 2: outputs no input reaches
    ((2, 3, 0), (3, 2, 3), dict(stride=2, output_padding=1), (2, 2, 2)),
    ((2, 3, 2), (3, 2, 2), dict(padding=((2, 1),)), (2, 2, 0)),  # cropped to nothing
    ((2, 0, 2, 3), (0, 2, 2, 2), {}, (2, 2, 3, 4)),  # no input channels: the bias
    ((2, 3, 4), (3, 0, 2), {}, (2, 0, 5)),  # no output channels
]


def _bias_everywhere(b: np.ndarray, out: tuple[int, ...]) -> np.ndarray:
    return np.zeros(out) + b.reshape(-1, *(1,) * (len(out) - 2))


@pytest.mark.parametrize(("x_shape", "w_shape", "keywords", "out"), ZERO_CASES)
def test_zero_sizes_give_the_definition_s_shapes_and_zeros(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], keywords: dict[str, Any], out: tuple[int, ...]
) -> None:
    """Every case has no product (x, w or y empty): y is the bias everywhere, dx and dw are zero."""
    x, w, b, dy = _integers(x_shape, 0), _integers(w_shape, 1), _integers(w_shape[:1], 2), _integers(out, 3)
    assert refconv.conv_output_shape(x_shape, w_shape, **keywords) == out
    assert naive.conv_output_shape(x_shape, w_shape, **keywords) == out
    for module in (refconv, naive):
        assert np.array_equal(module.conv(x, w, b, **keywords), _bias_everywhere(b, out))
        dx, dw, db = module.conv_vjp(x, w, dy, **keywords)
        assert (dx.shape, dw.shape) == (x_shape, w_shape)
        assert not dx.any()
        assert not dw.any()
        assert np.array_equal(db, dy.sum(axis=(0, *range(2, dy.ndim))))
        assert module.conv_input_vjp(x_shape, w, dy, **keywords).shape == x_shape
        assert module.conv_weight_vjp(x, w_shape, dy, **keywords).shape == w_shape


@pytest.mark.parametrize(("x_shape", "w_shape", "keywords", "out"), TRANSPOSED_ZERO_CASES)
def test_transposed_zero_sizes_give_the_definition_s_shapes_and_zeros(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], keywords: dict[str, Any], out: tuple[int, ...]
) -> None:
    """The transposed convolution's output size is PyTorch's formula, the forward input whose output is x."""
    x, w, dy = _integers(x_shape, 0), _integers(w_shape, 1), _integers(out, 3)
    b = _integers((out[1],), 2)
    for module in (refconv, naive):
        assert np.array_equal(module.conv_transpose(x, w, b, **keywords), _bias_everywhere(b, out))
        dx, dw, db = module.conv_transpose_vjp(x, w, dy, **keywords)
        assert (dx.shape, dw.shape) == (x_shape, w_shape)
        assert not dx.any()
        assert not dw.any()
        assert np.array_equal(db, dy.sum(axis=(0, *range(2, dy.ndim))))


def test_a_kernel_of_size_zero_and_padding_that_crops_more_than_the_input_stay_errors() -> None:
    """No window (a kernel without taps) and a negative padded size have no definition; XLA rejects both."""
    for module in (refconv, naive):
        with pytest.raises(
            ValueError, match=r"w has shape \(1, 1, 0\): a kernel's spatial sizes must be >= 1"
        ):
            module.conv(np.ones((1, 1, 3)), np.ones((1, 1, 0)))
        with pytest.raises(ValueError, match=r"padding=\(\(-2, -2\),\) crops more than the input has"):
            module.conv(np.ones((1, 1, 3)), np.ones((1, 1, 1)), padding=-2)
        with pytest.raises(ValueError, match=r"padding_mode='replicate' needs padding zero for an empty"):
            module.conv(np.ones((1, 1, 0)), np.ones((1, 1, 1)), padding=1, padding_mode="replicate")
