"""The grids of configurations the tests walk: convolutions (CASES) and transposed ones (TRANSPOSED).

Batch, channels, each spatial size and each kernel size differ from one
another (an N = C = 1 or square-only grid hides index mix-ups), and most
cases have r > 0 unreached rows in some dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import ConvSpec

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]


@dataclass(frozen=True)
class Case:
    """One configuration: shapes and the keywords of refconv.conv (or, ``transposed``, conv_transpose)."""

    id: str
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    keywords: dict[str, Any] = field(default_factory=dict)
    bias: bool = True
    transposed: bool = False

    def spec(self) -> ConvSpec:
        return refconv.spec(self.x_shape, self.w_shape, transposed=self.transposed, **self.keywords)

    def arrays(self, seed: int = 0) -> Arrays:
        """Random float64 ``x, w, b, dy`` for this case (``b`` is None without a bias)."""
        s = self.spec()
        rng = np.random.default_rng(seed)
        x, w = rng.standard_normal(self.x_shape), rng.standard_normal(self.w_shape)
        b = rng.standard_normal(s.y_shape[1]) if self.bias else None
        dy = rng.standard_normal(s.given_shape("y"))
        return x, w, b, dy


CASES = [
    Case("1d-stride3-pad1", (3, 4, 11), (5, 4, 3), dict(stride=3, padding=1)),
    Case("1d-dilation2-asym-pad", (2, 3, 13), (4, 3, 4), dict(stride=3, dilation=2, padding=[(2, 0)]), False),
    Case("1d-input-dilation3", (2, 3, 7), (5, 3, 3), dict(stride=2, input_dilation=3, padding=[(1, 2)])),
    Case("2d-plain", (2, 3, 7, 6), (4, 3, 3, 2), {}, False),
    Case("2d-stride2-pad1", (3, 2, 9, 8), (5, 2, 3, 3), dict(stride=2, padding=1)),
    Case("2d-asym-pad", (2, 3, 8, 7), (4, 3, 3, 2), dict(stride=(2, 3), padding=((0, 2), (1, 0)))),
    Case(
        "2d-negative-pad", (2, 3, 9, 10), (4, 3, 3, 3), dict(stride=(1, 2), padding=((-1, 2), (2, -2))), False
    ),
    Case("2d-dilation", (2, 3, 10, 11), (4, 3, 3, 2), dict(stride=(2, 1), dilation=(2, 3), padding=(1, 2))),
    Case(
        "2d-input-dilation", (2, 3, 5, 6), (4, 3, 3, 2), dict(stride=(3, 2), input_dilation=(2, 3), padding=1)
    ),
    Case("2d-groups3", (2, 6, 8, 7), (9, 2, 3, 2), dict(stride=2, groups=3), False),
    Case("2d-depthwise-multiplier2", (2, 5, 9, 8), (10, 1, 3, 3), dict(stride=2, padding=1, groups=5)),
    Case("2d-batch-groups2", (6, 3, 7, 8), (4, 3, 3, 2), dict(stride=2, padding=1, batch_groups=2)),
    Case(
        "2d-batch-groups-input-dilation-negative-pad",
        (4, 2, 6, 5),
        (6, 2, 2, 3),
        dict(batch_groups=2, input_dilation=2, padding=((-1, 1), (0, 2))),
        False,
    ),
    Case(
        "2d-every-parameter",
        (3, 4, 9, 8),
        (6, 2, 3, 2),
        dict(stride=(2, 3), padding=((2, -1), (0, 3)), dilation=(2, 1), input_dilation=(1, 2), groups=2),
    ),
    Case("2d-kernel-fills-padded-input", (2, 3, 5, 4), (4, 3, 6, 5), dict(padding=((1, 0), (0, 1)))),
    Case("2d-1x1-stride2", (3, 4, 7, 6), (5, 4, 1, 1), dict(stride=2), False),
    Case(
        "3d",
        (2, 3, 6, 5, 7),
        (4, 3, 2, 3, 2),
        dict(stride=(2, 1, 3), dilation=(1, 2, 1), padding=((1, 0), (0, 1), (1, 1))),
    ),
    Case(
        "3d-groups-input-dilation",
        (2, 4, 4, 5, 3),
        (6, 2, 2, 2, 3),
        dict(groups=2, input_dilation=(2, 1, 2), padding=1),
        False,
    ),
    # jax 0.10.2's XLA:CPU aborts the process (algebraic_simplifier.cc "Window dimensions do not match
    # RHS shape") on the input VJP of this case with padding ((0, 1), (1, 0), (0, 0), (1, 1)); refconv
    # and refconv.naive handle that padding, but the grid keeps one every oracle survives.
    Case(
        "4d", (2, 2, 4, 3, 5, 4), (3, 2, 2, 2, 3, 2), dict(stride=2, padding=((0, 1), (1, 0), (1, 1), (1, 1)))
    ),
    Case(
        "2d-same-stride2-dilation2",
        (2, 3, 9, 8),
        (4, 3, 3, 2),
        dict(stride=2, dilation=(2, 1), padding="same"),
    ),
    Case("1d-same-lower-stride3", (3, 2, 10), (4, 2, 4), dict(stride=3, padding="same_lower"), False),
    Case("2d-valid-groups2", (2, 4, 7, 6), (6, 2, 3, 3), dict(stride=(1, 2), padding="valid", groups=2)),
    Case("empty-batch", (0, 3, 7, 6), (4, 3, 3, 2), dict(stride=2)),
    Case("empty-batch-batch-groups", (0, 3, 5, 6), (4, 3, 2, 2), dict(batch_groups=2), False),
]


TRANSPOSED = [
    Case("t-1d-stride2", (3, 4, 7), (4, 5, 3), dict(stride=2), transposed=True),
    Case("t-1d-stride3-output-padding2", (2, 3, 6), (3, 4, 2), dict(stride=3, output_padding=2), False, True),
    Case("t-1d-dilation3-output-padding-above-stride", (2, 3, 5), (3, 2, 3),
         dict(dilation=3, output_padding=2), transposed=True),
    Case("t-2d-stride2-pad1-output-padding1", (2, 3, 5, 6), (3, 4, 3, 3),
         dict(stride=2, padding=1, output_padding=1), transposed=True),
    Case("t-2d-asym-pad", (2, 3, 5, 4), (3, 2, 3, 2), dict(stride=(2, 3), padding=((1, 0), (0, 2))),
         transposed=True),
    Case("t-2d-negative-pad", (2, 3, 4, 5), (3, 2, 2, 3), dict(stride=2, padding=((-1, 1), (2, -2))), False,
         True),
    Case("t-2d-groups3-dilation", (2, 6, 5, 4), (6, 2, 3, 2), dict(stride=2, groups=3, dilation=(1, 2)),
         transposed=True),
    Case("t-2d-depthwise", (2, 4, 6, 5), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4, output_padding=1),
         transposed=True),
    Case("t-2d-output-shape", (2, 3, 5, 6), (3, 4, 3, 3), dict(stride=2, padding=1, output_shape=(10, 11)),
         transposed=True),
    Case("t-3d", (2, 3, 3, 4, 2), (3, 2, 2, 3, 2),
         dict(stride=(2, 1, 3), padding=((0, 1), (1, 0), (0, 0)), output_padding=(1, 0, 2)), transposed=True),
    Case("t-4d", (2, 2, 3, 2, 3, 2), (2, 3, 2, 2, 2, 2), dict(stride=2), False, True),
    Case("t-empty-batch", (0, 3, 5, 4), (3, 2, 2, 2), dict(stride=2), transposed=True),
]  # fmt: skip


def cases(filter_: Any = None, grid: list[Case] = CASES) -> list[Any]:
    """``grid`` (default ``CASES``) as pytest params with the case id as test id."""
    return [pytest.param(case, id=case.id) for case in grid if filter_ is None or filter_(case)]
