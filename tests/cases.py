"""The grids of configurations the tests walk: convolutions (CASES) and transposed ones (TRANSPOSED).

Batch, channels, each spatial size and each kernel size differ from one
another (an N = C = 1 or square-only grid hides index mix-ups), and most
cases have r > 0 unreached rows in some dim. Every case is a refconv.cases.Case, its
feature the test id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from refconv.cases import Case, case

__all__ = ["CASES", "TRANSPOSED", "Arrays", "Case", "cases", "grid_case", "variant"]

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]


def grid_case(
    name: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    keywords: dict[str, Any] | None = None,
    bias: bool = True,
    transposed: bool = False,
) -> Case:
    """A grid case: its name is the feature (the test id), its arrays are drawn with seed 0."""
    return case(name, x_shape, w_shape, transposed=transposed, bias=bias, **(keywords or {}))


def variant(c: Case, name: str | None = None, **changes: Any) -> Case:
    """``c`` with some keywords changed (and another name)."""
    s = c.spec
    keywords = {**s.options(), **changes}
    return grid_case(
        name or c.feature, s.given_shape("x"), s.given_shape("w"), keywords, c.bias, s.transposed
    )


CASES = [
    grid_case("1d-stride3-pad1", (3, 4, 11), (5, 4, 3), dict(stride=3, padding=1)),
    grid_case(
        "1d-dilation2-asym-pad", (2, 3, 13), (4, 3, 4), dict(stride=3, dilation=2, padding=[(2, 0)]), False
    ),
    grid_case("1d-input-dilation3", (2, 3, 7), (5, 3, 3), dict(stride=2, input_dilation=3, padding=[(1, 2)])),
    grid_case("2d-plain", (2, 3, 7, 6), (4, 3, 3, 2), {}, False),
    grid_case("2d-stride2-pad1", (3, 2, 9, 8), (5, 2, 3, 3), dict(stride=2, padding=1)),
    grid_case("2d-asym-pad", (2, 3, 8, 7), (4, 3, 3, 2), dict(stride=(2, 3), padding=((0, 2), (1, 0)))),
    grid_case(
        "2d-negative-pad", (2, 3, 9, 10), (4, 3, 3, 3), dict(stride=(1, 2), padding=((-1, 2), (2, -2))), False
    ),
    grid_case(
        "2d-dilation", (2, 3, 10, 11), (4, 3, 3, 2), dict(stride=(2, 1), dilation=(2, 3), padding=(1, 2))
    ),
    grid_case(
        "2d-input-dilation", (2, 3, 5, 6), (4, 3, 3, 2), dict(stride=(3, 2), input_dilation=(2, 3), padding=1)
    ),
    grid_case("2d-groups3", (2, 6, 8, 7), (9, 2, 3, 2), dict(stride=2, groups=3), False),
    grid_case("2d-depthwise-multiplier2", (2, 5, 9, 8), (10, 1, 3, 3), dict(stride=2, padding=1, groups=5)),
    grid_case("2d-batch-groups2", (6, 3, 7, 8), (4, 3, 3, 2), dict(stride=2, padding=1, batch_groups=2)),
    grid_case(
        "2d-batch-groups-input-dilation-negative-pad",
        (4, 2, 6, 5),
        (6, 2, 2, 3),
        dict(batch_groups=2, input_dilation=2, padding=((-1, 1), (0, 2))),
        False,
    ),
    grid_case(
        "2d-every-parameter",
        (3, 4, 9, 8),
        (6, 2, 3, 2),
        dict(stride=(2, 3), padding=((2, -1), (0, 3)), dilation=(2, 1), input_dilation=(1, 2), groups=2),
    ),
    grid_case("2d-kernel-fills-padded-input", (2, 3, 5, 4), (4, 3, 6, 5), dict(padding=((1, 0), (0, 1)))),
    grid_case("2d-1x1-stride2", (3, 4, 7, 6), (5, 4, 1, 1), dict(stride=2), False),
    grid_case(
        "3d",
        (2, 3, 6, 5, 7),
        (4, 3, 2, 3, 2),
        dict(stride=(2, 1, 3), dilation=(1, 2, 1), padding=((1, 0), (0, 1), (1, 1))),
    ),
    grid_case(
        "3d-groups-input-dilation",
        (2, 4, 4, 5, 3),
        (6, 2, 2, 2, 3),
        dict(groups=2, input_dilation=(2, 1, 2), padding=1),
        False,
    ),
    # jax 0.10.2's XLA:CPU aborts the process (algebraic_simplifier.cc "Window dimensions do not match
    # RHS shape") on the input VJP of this case with padding ((0, 1), (1, 0), (0, 0), (1, 1)); refconv
    # and refconv.naive handle that padding, but the grid keeps one every oracle survives.
    grid_case(
        "4d", (2, 2, 4, 3, 5, 4), (3, 2, 2, 2, 3, 2), dict(stride=2, padding=((0, 1), (1, 0), (1, 1), (1, 1)))
    ),
    grid_case(
        "2d-same-stride2-dilation2",
        (2, 3, 9, 8),
        (4, 3, 3, 2),
        dict(stride=2, dilation=(2, 1), padding="same"),
    ),
    grid_case("1d-same-lower-stride3", (3, 2, 10), (4, 2, 4), dict(stride=3, padding="same_lower"), False),
    grid_case("2d-valid-groups2", (2, 4, 7, 6), (6, 2, 3, 3), dict(stride=(1, 2), padding="valid", groups=2)),
    grid_case("0d-groups2", (5, 6), (4, 3), dict(groups=2)),  # no spatial dim: a grouped matmul
    grid_case("0d-batch-groups2", (6, 3), (4, 3), dict(batch_groups=2), False),  # layouts: test_zero_d.py
    grid_case("empty-batch", (0, 3, 7, 6), (4, 3, 3, 2), dict(stride=2)),
    grid_case("empty-batch-batch-groups", (0, 3, 5, 6), (4, 3, 2, 2), dict(batch_groups=2), False),
]


TRANSPOSED = [
    grid_case("t-1d-stride2", (3, 4, 7), (4, 5, 3), dict(stride=2), transposed=True),
    grid_case("t-1d-stride3-output-padding2", (2, 3, 6), (3, 4, 2), dict(stride=3, output_padding=2), False,
              True),
    grid_case("t-1d-dilation3-output-padding-above-stride", (2, 3, 5), (3, 2, 3),
         dict(dilation=3, output_padding=2), transposed=True),
    grid_case("t-2d-stride2-pad1-output-padding1", (2, 3, 5, 6), (3, 4, 3, 3),
         dict(stride=2, padding=1, output_padding=1), transposed=True),
    grid_case("t-2d-asym-pad", (2, 3, 5, 4), (3, 2, 3, 2), dict(stride=(2, 3), padding=((1, 0), (0, 2))),
         transposed=True),
    grid_case("t-2d-negative-pad", (2, 3, 4, 5), (3, 2, 2, 3), dict(stride=2, padding=((-1, 1), (2, -2))),
              False,
         True),
    grid_case("t-2d-groups3-dilation", (2, 6, 5, 4), (6, 2, 3, 2), dict(stride=2, groups=3, dilation=(1, 2)),
         transposed=True),
    grid_case("t-2d-depthwise", (2, 4, 6, 5), (4, 1, 3, 3),
              dict(stride=2, padding=1, groups=4, output_padding=1),
         transposed=True),
    grid_case("t-2d-output-shape", (2, 3, 5, 6), (3, 4, 3, 3),
              dict(stride=2, padding=1, output_shape=(10, 11)),
         transposed=True),
    grid_case("t-3d", (2, 3, 3, 4, 2), (3, 2, 2, 3, 2),
         dict(stride=(2, 1, 3), padding=((0, 1), (1, 0), (0, 0)), output_padding=(1, 0, 2)), transposed=True),
    grid_case("t-4d", (2, 2, 3, 2, 3, 2), (2, 3, 2, 2, 2, 2), dict(stride=2), False, True),
    grid_case("t-0d-groups2", (3, 4), (4, 3), dict(groups=2), transposed=True),
    grid_case("t-empty-batch", (0, 3, 5, 4), (3, 2, 2, 2), dict(stride=2), transposed=True),
]  # fmt: skip


def cases(filter_: Any = None, grid: list[Case] = CASES) -> list[Any]:
    """``grid`` (default ``CASES``) as pytest params with the case's feature as test id."""
    return [pytest.param(c, id=c.feature) for c in grid if filter_ is None or filter_(c)]
