"""Every public function's call on one valid problem, keyed by name, with its arrays: the table the
bad-input and property tests walk (every array of every function, in refconv and refconv.naive)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive

__all__ = ["B4", "B6", "CALLS", "DY", "EVERY_ARRAY", "EVERY_FUNCTION", "W", "X"]

X, W = np.ones((2, 4, 7, 6)), np.ones((6, 4, 3, 2))
DY = np.ones((2, 6, 5, 5))
# Every array argument of every public function, bad in turn. The messages are matched at their start,
# so a message that names another argument, or the right one misspelt, fails; mutation testing found
# that names matched as substrings, or checked for a few functions only, let such mistakes through.
B6, B4 = np.ones(6), np.ones(4)  # biases of the forward (6 outputs) and of the transposed (4 outputs)
# the family on the same problem: (3, 2) windows, 4 * 6 = 24 patch channels, 5 x 5 positions, one
# offset group: offsets (2, 6 taps * 2 dims, 5, 5), a mask (2, 6, 5, 5)
K = (3, 2)
P, WL = np.ones((2, 24, 5, 5)), np.ones((6, 24, 5, 5))
OFFSET, MASK = np.full((2, 12, 5, 5), 0.25), np.ones((2, 6, 5, 5))
CALLS: dict[str, tuple[Callable[..., Any], dict[str, np.ndarray]]] = {
    "conv": (lambda m, a, **kw: m.conv(a["x"], a["w"], a["b"], **kw), {"x": X, "w": W, "b": B6}),
    "conv_vjp": (lambda m, a, **kw: m.conv_vjp(a["x"], a["w"], a["dy"], **kw), {"x": X, "w": W, "dy": DY}),
    "conv_input_vjp": (
        lambda m, a, **kw: m.conv_input_vjp(X.shape, a["w"], a["dy"], **kw),
        {"w": W, "dy": DY},
    ),
    "conv_weight_vjp": (
        lambda m, a, **kw: m.conv_weight_vjp(a["x"], W.shape, a["dy"], **kw),
        {"x": X, "dy": DY},
    ),
    "conv_bias_vjp": (lambda m, a, **kw: m.conv_bias_vjp(a["dy"], **kw), {"dy": DY}),
    # the transposed convolution of the problem above: DY-shaped inputs, X-shaped outputs
    "conv_transpose": (
        lambda m, a, **kw: m.conv_transpose(a["x"], a["w"], a["b"], **kw),
        {"x": DY, "w": W, "b": B4},
    ),
    "conv_transpose_vjp": (
        lambda m, a, **kw: m.conv_transpose_vjp(a["x"], a["w"], a["dy"], **kw),
        {"x": DY, "w": W, "dy": X},
    ),
    "conv_jvp": (
        lambda m, a, **kw: m.conv_jvp(a["x"], a["w"], a["b"], a["tx"], a["tw"], a["tb"], **kw),
        {"x": X, "w": W, "b": B6, "tx": X, "tw": W, "tb": B6},
    ),
    "conv_vjp_vjp": (
        lambda m, a, **kw: m.conv_vjp_vjp(a["x"], a["w"], a["dy"], a["gx"], a["gw"], a["gb"], **kw),
        {"x": X, "w": W, "dy": DY, "gx": X, "gw": W, "gb": B6},
    ),
    "conv_patches": (lambda m, a, **kw: m.conv_patches(a["x"], K, **kw), {"x": X}),
    "fold": (lambda m, a, **kw: m.fold(a["patches"], X.shape, K, **kw), {"patches": P}),
    "conv_local": (
        lambda m, a, **kw: m.conv_local(a["x"], a["w"], a["b"], filter_shape=K, **kw),
        {"x": X, "w": WL, "b": B6},
    ),
    "conv_local_vjp": (
        lambda m, a, **kw: m.conv_local_vjp(a["x"], a["w"], a["dy"], filter_shape=K, **kw),
        {"x": X, "w": WL, "dy": DY},
    ),
    "deform_conv": (
        lambda m, a, **kw: m.deform_conv(a["x"], a["w"], a["offset"], a["b"], a["mask"], **kw),
        {"x": X, "w": W, "offset": OFFSET, "b": B6, "mask": MASK},
    ),
    "deform_conv_vjp": (
        lambda m, a, **kw: m.deform_conv_vjp(a["x"], a["w"], a["offset"], a["dy"], a["mask"], **kw),
        {"x": X, "w": W, "offset": OFFSET, "dy": DY, "mask": MASK},
    ),
}
EVERY_FUNCTION = [
    pytest.param(module, name, id=f"{module.__name__}-{name}")
    for module in (refconv, naive)
    for name in CALLS
    if hasattr(module, name)
]
EVERY_ARRAY = [
    pytest.param(module, name, array, id=f"{module.__name__}-{name}-{array}")
    for module in (refconv, naive)
    for name, (_, arrays) in CALLS.items()
    if hasattr(module, name)
    for array in arrays
]
