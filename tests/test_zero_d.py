"""The 0-d convolution (no spatial dim: a batched, grouped matmul) through every function.

JAX has it (``conv_general_dilated`` of rank-2 operands, jax#1920); refconv follows. Checked on
JAX's own 0-d tests (lax_test.py's testConv0DIsDot and testGradConv0D), against jax.vjp, against
``np.dot`` (which it is), and against refconv.naive; the grids of tests/cases.py carry 0-d cases
through every other test of every function (identities, higher order, layouts, dtypes). Bounds:
float64 round-off of each sum of ``C_in / groups`` products (:func:`refconv.testing.rounding_bound`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.testing import rounding_bound
from tests.helpers import assert_close


def _bound(sums: np.ndarray, terms: int) -> np.ndarray:
    return rounding_bound(sums, terms, np.float64)


def test_a_0d_convolution_is_np_dot_as_in_jax_s_testConv0DIsDot() -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((10, 5)), rng.standard_normal((5, 7))
    y = refconv.conv(x, w, dimension_numbers=("NC", "IO", "NC"), padding="valid", stride=())
    assert_close("testConv0DIsDot", "y", y, np.dot(x, w), _bound(np.abs(x) @ np.abs(w), 5))
    assert_close(
        "testConv0DIsDot",
        "naive y",
        naive.conv(x, w, dimension_numbers=("NC", "IO", "NC")),
        np.dot(x, w),
        _bound(np.abs(x) @ np.abs(w), 5),
    )


def test_the_0d_vjp_matches_jax_s_testGradConv0D() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax import lax

    x, w = np.ones((2, 5)), np.ones((5, 10))
    numbers = lax.ConvDimensionNumbers((0, 1), (1, 0), (0, 1))  # refconv spells it ("NC", "IO", "NC")

    def f_jax(lhs: object, rhs: object) -> object:
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides=(),
            padding=(),
            lhs_dilation=(),
            rhs_dilation=(),
            dimension_numbers=numbers,
            precision=lax.Precision.HIGHEST,
        )

    y_jax, pullback = jax.vjp(f_jax, x, w)
    dy = np.random.default_rng(1).standard_normal(np.shape(y_jax))
    dx_jax, dw_jax = pullback(dy)
    layout: dict[str, Any] = dict(dimension_numbers=("NC", "IO", "NC"))
    dx, dw, db = refconv.conv_vjp(x, w, dy, **layout)
    assert_close(
        "testGradConv0D", "y", refconv.conv(x, w, **layout), np.asarray(y_jax), 0.0
    )  # sums of 5 ones
    assert_close("testGradConv0D", "dx", dx, np.asarray(dx_jax), _bound(np.abs(dy) @ np.abs(w.T), 10))
    assert_close("testGradConv0D", "dw", dw, np.asarray(dw_jax), _bound(np.abs(x.T) @ np.abs(dy), 2))
    assert_close("testGradConv0D", "db", db, dy.sum(axis=0), _bound(np.abs(dy).sum(axis=0), 2))


@pytest.mark.parametrize("groups", [1, 3])
def test_a_0d_convolution_is_a_matmul_per_group(groups: int) -> None:
    rng = np.random.default_rng(groups)
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((9, 6 // groups)), rng.standard_normal(9)
    want = (
        np.concatenate(
            [x_g @ w_g.T for x_g, w_g in zip(np.split(x, groups, 1), np.split(w, groups, 0), strict=True)],
            axis=1,
        )
        + b
    )
    sums = np.concatenate(
        [
            np.abs(x_g) @ np.abs(w_g.T)
            for x_g, w_g in zip(np.split(x, groups, 1), np.split(w, groups, 0), strict=True)
        ],
        axis=1,
    ) + np.abs(b)
    assert_close(
        f"groups={groups}", "y", refconv.conv(x, w, b, groups=groups), want, _bound(sums, 6 // groups + 1)
    )


def test_a_0d_batch_group_reads_its_block_of_the_batch() -> None:
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((6, 3)), rng.standard_normal((4, 3))  # batch blocks of 3, output blocks of 2
    want = np.concatenate([x[:3] @ w[:2].T, x[3:] @ w[2:].T], axis=1)
    sums = np.concatenate([np.abs(x[:3]) @ np.abs(w[:2].T), np.abs(x[3:]) @ np.abs(w[2:].T)], axis=1)
    assert_close("batch_groups=2", "y", refconv.conv(x, w, batch_groups=2), want, _bound(sums, 3))


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("stride", (2,)), ("dilation", [1]), ("padding", [(0, 1)]), ("input_dilation", (1,))],
)
def test_a_per_dim_parameter_with_an_entry_for_a_0d_convolution_is_named(keyword: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{keyword}=.* has 1 entries; expected"):
        refconv.conv(np.ones((2, 3)), np.ones((4, 3)), **{keyword: value})  # type: ignore[arg-type]
