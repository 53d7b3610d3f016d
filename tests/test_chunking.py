"""The window contraction's chunking: same result at any budget, every row once, bounded memory.

The fast path copies windows in chunks over the batch and the first output
dim (refconv.conv._chunks). A budget of 1 element forces one output row per
chunk; the result must equal the unchunked one and refconv.naive's. The
memory bound is a property, not a timing: tracemalloc's peak for a real
layer stays within a few times the arrays involved.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.conv import _chunks, _scatter_is_cheaper, conv_general
from refconv.testing import conv_error_bounds
from tests.cases import CASES, Case
from tests.helpers import params


def _setup(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``x`` and ``w`` of ``case``, its naive output, and the float64 bound for ``y``."""
    x, w, _, dy = case.arrays()
    return x, w, naive.conv(x, w, **case.keywords), conv_error_bounds(x, w, dy, params(case))["y"]


@pytest.mark.parametrize("case", [c for c in CASES if "padding_mode" not in c.keywords], ids=lambda c: c.id)
def test_any_budget_gives_the_unchunked_result(case: Case) -> None:
    x, w, expected, bound = _setup(case)
    # tolerance: the float64 round-off bound of y; a chunk's matmul may sum in another order (BLAS picks
    # kernels by matrix size), while a misplaced chunk moves whole O(1) products
    for budget in (1, 50, 1000, 1 << 40):
        got = conv_general(x, w, params(case), budget)
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected), initial=0.0) <= bound, f"budget={budget}"


@pytest.mark.parametrize(
    ("rows", "row_elements", "budget"),
    [
        ((4, 7, 3), 5, 1),
        ((4, 7, 3), 5, 100),
        ((4, 7, 3), 5, 10**6),
        ((1, 9, 2), 4, 17),
        ((3, 1), 8, 20),
        ((0, 3), 2, 5),
    ],
)
def test_chunks_cover_every_row_once_within_budget(
    rows: tuple[int, ...], row_elements: int, budget: int
) -> None:
    seen = np.zeros(rows[:2], int)
    one_row = row_elements * int(np.prod(rows[2:]))  # one position of the first output dim
    for batch, first in _chunks(rows, row_elements, budget):
        seen[batch, first] += 1
        copied = one_row * len(range(*batch.indices(rows[0]))) * len(range(*first.indices(rows[1])))
        assert copied <= max(budget, one_row)
    assert np.all(seen == 1)


def test_memory_stays_within_a_few_times_the_arrays() -> None:
    """A 64->64 3x3 layer on 4x64x56x56: im2col whole would be 9x the input; chunked, at most 2x more."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 64, 56, 56)), rng.standard_normal((64, 64, 3, 3))
    dy = rng.standard_normal((4, 64, 56, 56))
    largest = x.nbytes  # input, output and cotangent are all this size
    for name, fn in [
        ("conv", lambda: refconv.conv(x, w, padding=1)),
        ("conv_vjp", lambda: refconv.conv_vjp(x, w, dy, padding=1)),
    ]:
        tracemalloc.start()
        try:
            fn()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # results (dx: 1, dw: tiny) + the padded copy (about 1) + one chunk of windows (at most 2) + its
        # product (at most 1): 5 arrays of the largest size; whole im2col alone would be 9
        assert peak <= 5.5 * largest, f"{name}: peak {peak / largest:.1f}x the input"


def test_every_budget_on_a_small_case() -> None:
    """Every split the chunker can make, on a case small enough to try each budget."""
    case = Case("2d", (3, 2, 6, 5), (4, 2, 2, 3), dict(stride=(2, 1), padding=1))
    x, w, expected, bound = _setup(case)
    for budget in itertools.chain(range(1, 40), range(40, 2000, 97)):
        got = conv_general(x, w, params(case), budget)
        assert np.max(np.abs(got - expected)) <= bound, f"budget={budget}"


SCATTER_CASES = [
    Case("2d-few-outputs", (3, 16, 9, 8), (2, 16, 3, 3), dict(padding=1)),
    Case(
        "2d-few-outputs-groups-dilation",
        (2, 12, 10, 9),
        (2, 6, 3, 2),
        dict(padding=(2, 1), dilation=(2, 1), groups=2),
    ),
    Case("1d-few-outputs-negative-pad", (2, 9, 13), (1, 9, 4), dict(padding=[(-1, 2)])),
    Case("3d-few-outputs", (2, 8, 5, 6, 4), (1, 8, 2, 3, 2), dict(padding=1)),
]


@pytest.mark.parametrize("case", SCATTER_CASES, ids=lambda c: c.id)
def test_scatter_order_matches_naive_when_it_is_taken(case: Case) -> None:
    """Few output channels per input channel: multiply first, then scatter (chunked over the batch or not)."""
    x, w, expected, bound = _setup(case)
    p = params(case)
    out_spatial = expected.shape[2:]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], p.padding, strict=True))
    assert _scatter_is_cheaper(padded, out_spatial, w, p), "the case must exercise the scatter order"
    for budget in (1, 1 << 40):
        got = conv_general(x, w, p, budget)
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) <= bound, f"budget={budget}"
