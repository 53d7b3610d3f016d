"""Memory as promised: refconv's own allocations stay within the general convolution's padded input,
its output and one chunk (a window copy of at most ``budget`` elements and that copy's product).

The default budget is twice the larger of the padded input and the output (refconv.fast), so the
peak is at most ``2 max(P, Y) + chunk``. Measured with tracemalloc on the benchmark suite's layer
shapes in float32 (the dtype they run in; float32 accumulates in itself, so no operand is copied),
for the forward pass and each VJP: each is one general convolution (refconv.geometry's parameters).
The figures per layer are on the docs' performance page. Slack for NumPy's index arrays
and Python objects (1 MiB: less than the smallest output here, 1.5 MiB).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import refconv
from benchmarks.layers import LAYERS, Layer, peak_bytes
from refconv.fast import MIN_CHUNK_ELEMENTS
from refconv.geometry import ConvParams, input_vjp_params, padded_shape, weight_vjp_params

SLACK = 1 << 20


def _promise(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams, y_shape: tuple[int, ...]
) -> int:
    """Elements of the padded input + the kernel (one reordered copy) + the output + one chunk."""
    padded = math.prod(x_shape[:2]) * math.prod(padded_shape(x_shape[2:], p))
    output = math.prod(y_shape)
    budget = max(2 * max(padded, output), MIN_CHUNK_ELEMENTS)
    taps, o_group = math.prod(w_shape[1:]), w_shape[0] // (p.groups * p.batch_groups)
    return padded + math.prod(w_shape) + output + budget + budget * o_group // taps


def _computations(layer: Layer) -> list[tuple[str, Callable[[], Any], int]]:
    """(name, call, promised elements) of the forward pass and each VJP of ``layer``."""
    s = layer.spec()
    x, w = np.ones(layer.x_shape, np.float32), np.ones(layer.w_shape, np.float32)
    dy, kw = np.ones(s.y_shape, np.float32), dict(layer.keywords)
    p, gw = s.general, s.general_w_shape
    n, c, o = s.x_shape[0], s.x_shape[1], gw[0]
    forward = _promise(s.x_shape, gw, p, s.y_shape)
    q = input_vjp_params(s.x_shape[2:], gw[2:], p)
    dx = _promise(s.y_shape, (c, o // p.groups, *gw[2:]), q, s.x_shape)
    r = weight_vjp_params(s.x_shape[2:], gw[2:], p)
    dw = _promise(
        (c, n, *s.x_shape[2:]), (o, n // p.batch_groups, *s.y_shape[2:]), r, (c // p.groups, o, *gw[2:])
    )
    if layer.transposed:
        return [
            ("y", lambda: refconv.conv_transpose(x, w, **kw), forward),
            ("vjp", lambda: refconv.conv_transpose_vjp(x, w, dy, **kw), max(dx, dw) + math.prod(x.shape)),
        ]
    return [
        ("y", lambda: refconv.conv(x, w, **kw), forward),
        ("dx", lambda: refconv.conv_input_vjp(x.shape, w, dy, **kw), dx),
        ("dw", lambda: refconv.conv_weight_vjp(x, w.shape, dy, **kw), dw),
    ]


CASES = [
    pytest.param(call, promised, id=f"{layer.id}-{name}")
    for layer in LAYERS
    for name, call, promised in _computations(layer)
]


@pytest.mark.parametrize(("call", "promised"), CASES)
def test_peak_memory_is_the_padded_input_the_output_and_one_chunk(
    call: Callable[[], Any], promised: int
) -> None:
    peak = peak_bytes(call)
    assert peak <= 4 * promised + SLACK, f"peak {peak:,} bytes, promised {4 * promised:,} + {SLACK:,}"
