"""The classic hand-worked examples reproduce, with the numbers worked out by hand.

5x5 input 0..24, 2x2 ones kernel, padding 3, stride 2: the padded input is
11x11, windows start at 0, 2, ..., 8 and cover padded rows 0..9 exactly
once, so every input element is read once (output sum = 0 + ... + 24 = 300,
dx = 1). Tap 0 reads input rows/cols {1, 3}, tap 1 reads {0, 2, 4}: dw[0, 0]
= x[1,1] + x[1,3] + x[3,1] + x[3,3] = 6 + 8 + 16 + 18 = 48, and so on.

Ones (2, 3, 4, 4) with ones (2, 3, 3, 3) and bias [1, 2]: each of the 2x2
outputs sums 27 ones, plus the bias; with dy = 1, db sums 2 batches x 4
positions = 8.
"""

from __future__ import annotations

import numpy as np
import pytest

import refconv
from refconv import naive


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_arange_5x5_padding3_stride2(module: object) -> None:
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    w = np.ones((1, 1, 2, 2))
    y = module.conv(x, w, stride=2, padding=3)  # type: ignore[attr-defined]
    assert y.shape == (1, 1, 5, 5)
    assert y.sum() == 300.0
    dx, dw, db = module.conv_vjp(x, w, np.ones_like(y), stride=2, padding=3)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(dx, np.ones_like(x))
    np.testing.assert_array_equal(dw[0, 0], [[48.0, 72.0], [72.0, 108.0]])
    np.testing.assert_array_equal(db, [25.0])


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_all_ones_with_bias(module: object) -> None:
    x, w, b = np.ones((2, 3, 4, 4)), np.ones((2, 3, 3, 3)), np.array([1.0, 2.0])
    y = module.conv(x, w, b)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(y[:, 0], np.full((2, 2, 2), 28.0))
    np.testing.assert_array_equal(y[:, 1], np.full((2, 2, 2), 29.0))
    _, _, db = module.conv_vjp(x, w, np.ones_like(y))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(db, [8.0, 8.0])
