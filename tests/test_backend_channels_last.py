"""Channels-last permutations (TensorFlow, Keras): into N, *spatial, C and the filter layout, and back."""

from __future__ import annotations

import numpy as np
import pytest

import refconv
from refconv.backends.channels_last import permutations

LAYOUTS = [None, ("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC"), ("NWHC", "IOHW", "HWNC")]


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_the_permutations_take_the_given_arrays_to_channels_last_and_back(
    layout: tuple[str, str, str] | None,
) -> None:
    s = refconv.spec((2, 3, 5, 4), (6, 3, 2, 2)) if layout is None else None
    if layout is not None:
        lhs, rhs, _ = layout
        canonical = {"N": 2, "C": 3, "H": 5, "W": 4}
        x_shape = tuple(canonical[c] for c in lhs)
        w_shape = tuple({"O": 6, "I": 3, "H": 2, "W": 2}[c] for c in rhs)
        s = refconv.spec(x_shape, w_shape, dimension_numbers=layout)
    assert s is not None
    x_perm, w_perm, y_perm = permutations(s)
    x = np.empty(s.given_shape("x"))
    w = np.empty(s.given_shape("w"))
    assert (x.transpose(x_perm) if x_perm else x).shape == (2, 5, 4, 3)  # N, H, W, C
    assert (w.transpose(w_perm) if w_perm else w).shape == (2, 2, 3, 6)  # H, W, C_in, C_out
    y_last = np.empty((s.y_shape[0], *s.y_shape[2:], s.y_shape[1]))
    assert (y_last.transpose(y_perm) if y_perm else y_last).shape == s.given_shape("y")
