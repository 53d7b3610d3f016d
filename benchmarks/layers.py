"""The layer shapes the benchmark suite times: what people ship, not 5x5 toys."""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import refconv


@dataclass(frozen=True)
class Layer:
    id: str
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]  # conv: (C_out, C_in // groups, *k); transposed: (C_in, C_out // groups, *k)
    keywords: dict[str, Any] = field(default_factory=dict)
    transposed: bool = False
    small: bool = False  # refconv.naive is timed on these only
    large: bool = False  # a dense layer whose matmul should run near the BLAS peak (target: 50%)

    def spec(self) -> refconv.ConvSpec:
        return refconv.spec(self.x_shape, self.w_shape, transposed=self.transposed, **self.keywords)

    def output_shape(self) -> tuple[int, ...]:
        return self.spec().y_shape

    def forward_flops(self) -> int:
        """2 x multiply-adds of the forward pass; the full VJP (dx and dw) is twice this."""
        if self.transposed:  # every input element meets every tap of its group's kernel once
            return 2 * math.prod(self.x_shape) * math.prod(self.w_shape[1:])
        return 2 * math.prod(self.output_shape()) * math.prod(self.w_shape[1:])


LAYERS = [
    Layer("3x3-s1-64-56", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), large=True),
    Layer("3x3-s2-128-28", (8, 128, 28, 28), (256, 128, 3, 3), dict(stride=2, padding=1), large=True),
    Layer("1x1-256-14", (8, 256, 14, 14), (256, 256, 1, 1), large=True),
    Layer("3x3-d2-64-56", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=2, dilation=2), large=True),
    Layer("dw3x3-64-56", (8, 64, 56, 56), (64, 1, 3, 3), dict(padding=1, groups=64)),
    Layer("5x5-3-32", (32, 3, 32, 32), (64, 3, 5, 5), dict(padding=2), small=True),
    Layer("3d-3x3x3-32-16x28x28", (2, 32, 16, 28, 28), (32, 32, 3, 3, 3), dict(padding=1), large=True),
    Layer(
        "tconv-s2-128-28", (8, 128, 28, 28), (128, 64, 3, 3),
        dict(stride=2, padding=1, output_padding=1), transposed=True,
    ),
]  # fmt: skip


def peak_bytes(call: Callable[[], Any]) -> int:
    """The peak of memory allocated while ``call()`` runs (tracemalloc, which sees NumPy's buffers):
    the figure the benchmarks record beside each time and the memory tests bound."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
