"""The fast path against the spec kernel: every strategy on both grids, any chunk budget, bounded memory.

refconv.conv.conv_definition is the definition in ten lines (dilate and pad,
window view, a sum over the real products) and a third forward pass independent of the fast
path's strategies (refconv.fast). Each strategy is forced on every grid
configuration it applies to and must give the spec kernel's result; the
window copies are chunked (refconv.fast._chunks), and a budget of 1 element
forces one output row per chunk. The memory bound is a property, not a
timing: tracemalloc's peak for a real layer stays within a few times the
arrays involved.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

import refconv
from benchmarks.layers import peak_bytes
from refconv import fast, naive
from refconv.conv import conv_definition, kernel_of
from refconv.fast import STRATEGIES, _chunks, applicable_strategies, conv_general, strategy_for
from refconv.geometry import weight_vjp_params
from refconv.testing import rounding_bound
from tests.cases import CASES, TRANSPOSED, Case, grid_case
from tests.helpers import assert_close, bounds

Problem = tuple[np.ndarray, np.ndarray, refconv.geometry.ConvParams, np.ndarray]


def _general(case: Case) -> Problem:
    """The general convolution that computes ``case``'s y: its x, kernel, parameters and y's bound."""
    x, w, _, _ = case.arrays()
    s = case.spec
    return x, kernel_of(s, w), s.general, bounds(case)["y"]


def _weight_vjp_general(case: Case) -> Problem:
    """The general convolution that computes ``case``'s dw (refconv.vjp.weight_vjp_general), dw's bound.

    Its shapes are unlike a forward pass's: the cotangent is the kernel, the
    output is the weight's few taps, and feature groups become batch groups
    (a depthwise layer's has one image and one output channel per group).
    """
    x, _, _, dy = case.arrays()
    s = case.spec
    q = weight_vjp_params(x.shape[2:], s.general_w_shape[2:], s.general)
    return x.swapaxes(0, 1), dy.swapaxes(0, 1), q, bounds(case)["dw"].swapaxes(0, 1)


FEW_OUTPUTS = [
    grid_case("2d-few-outputs", (3, 16, 9, 8), (2, 16, 3, 3), dict(padding=1)),
    grid_case(
        "2d-few-outputs-groups-dilation",
        (2, 12, 10, 9),
        (2, 6, 3, 2),
        dict(padding=(2, 1), dilation=(2, 1), groups=2),
    ),
    grid_case("1d-few-outputs-negative-pad", (2, 9, 13), (1, 9, 4), dict(padding=[(-1, 2)])),
    grid_case("3d-few-outputs", (2, 8, 5, 6, 4), (1, 8, 2, 3, 2), dict(padding=1)),
]
DEPTHWISE = [
    grid_case(
        "1d-depthwise-stride3-negative-pad",
        (2, 3, 14),
        (6, 1, 4),
        dict(stride=3, padding=[(-1, 2)], groups=3),
    ),
    grid_case(
        "2d-depthwise-dilation", (3, 4, 9, 10), (4, 1, 3, 2), dict(dilation=(2, 3), padding=(2, 1), groups=4)
    ),
    grid_case("2d-depthwise-input-dilation", (2, 3, 5, 6), (9, 1, 2, 3), dict(input_dilation=2, groups=3)),
    grid_case("3d-depthwise", (2, 2, 4, 5, 3), (4, 1, 2, 3, 2), dict(stride=(1, 2, 1), padding=1, groups=2)),
    grid_case(
        "1d-depthwise-one-output-each", (3, 5, 12), (5, 1, 3), dict(stride=2, padding=[(2, -1)], groups=5)
    ),
    grid_case(
        "2d-depthwise-one-output-each", (2, 6, 7, 9), (6, 1, 3, 2), dict(dilation=(1, 2), padding=1, groups=6)
    ),
]
GENERAL = [c for c in CASES + TRANSPOSED if "padding_mode" not in c.spec.options()]
PROBLEMS = [(case, "y", _general) for case in GENERAL + FEW_OUTPUTS + DEPTHWISE] + [
    (case, "dw", _weight_vjp_general)
    for case in CASES + DEPTHWISE
    if "padding_mode" not in case.spec.options() and not case.spec.transposed
]


def _applicable(problem: Problem) -> list[str]:
    x, w, p, _ = problem
    return applicable_strategies(x.shape, w.shape, p)


STRATEGY_CASES = [
    pytest.param(case, problem, name, id=f"{case.feature}-{which}-{name}")
    for case, which, problem in PROBLEMS
    for name in _applicable(problem(case))
]


COMPLEX_CASES = [
    grid_case("2d-complex-many-positions", (2, 3, 18, 10), (4, 3, 3, 3), dict(padding=1)),
    grid_case("1d-complex-depthwise", (2, 4, 20), (4, 1, 3), dict(groups=4, stride=2)),
    grid_case("2d-complex-few-outputs", (2, 16, 9, 8), (2, 16, 3, 3), dict(padding=1)),
]


@pytest.mark.parametrize(
    ("case", "strategy"),
    [
        pytest.param(case, name, id=f"{case.feature}-{name}")
        for case in COMPLEX_CASES
        for name in applicable_strategies(
            case.spec.given_shape("x"), case.spec.given_shape("w"), case.spec.general
        )
    ],
)
def test_each_strategy_keeps_the_imaginary_part(case: Case, strategy: str) -> None:
    """Complex operands through each strategy: a real buffer anywhere would drop or refuse them.

    Against the spec kernel, within the complex round-off bound: four real products and two sums
    per complex product, so four times the sums of the moduli' products, 2K terms
    (refconv.testing.rounding_bound, as the verification page describes).
    """
    x, w, p, _ = _general(case)
    rng = np.random.default_rng(1)
    xc, wc = x + 1j * rng.standard_normal(x.shape), w + 1j * rng.standard_normal(w.shape)
    expected = conv_definition(xc, wc, p)
    assert np.abs(expected.imag).max() > 0.1
    terms = 2 * int(np.prod(w.shape[1:]))
    bound = rounding_bound(4 * conv_definition(np.abs(xc), np.abs(wc), p), terms, np.float64, expected)
    got = STRATEGIES[strategy](xc, wc, p, 1 << 40)
    assert_close(case.feature, f"complex y by {strategy}", got, expected, bound)


def test_every_strategy_is_tried_on_many_grid_cases() -> None:
    tried = {name: sum(p.values[2] == name for p in STRATEGY_CASES) for name in STRATEGIES}
    assert min(tried.values()) >= 5, tried


@pytest.mark.parametrize(("case", "problem", "strategy"), STRATEGY_CASES)
def test_each_strategy_matches_the_spec_kernel(
    case: Case, problem: Callable[[Case], Problem], strategy: str
) -> None:
    """The fast path's strategies, forced one by one, give conv_definition's result to round-off.

    On the forward convolution of every grid case and on the convolution its
    weight VJP calls (tolerance: the float64 round-off bound of y, or of dw).
    """
    x, w, p, bound = problem(case)
    expected = conv_definition(x, w, p)
    assert_close(case.feature, f"by {strategy}", STRATEGIES[strategy](x, w, p, 1 << 40), expected, bound)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.feature) for c in GENERAL])
def test_spec_kernel_matches_naive(case: Case) -> None:
    """The spec kernel and the loops share nothing but the front door: a third forward pass."""
    x, w, _, _ = case.arrays()
    want = (naive.conv_transpose if case.spec.transposed else naive.conv)(x, w, None, **case.spec.options())
    s = case.spec
    assert_close(case.feature, "y", conv_definition(x, kernel_of(s, w), s.general), want, bounds(case)["y"])


def test_the_dispatcher_picks_each_strategy_where_the_cost_model_says() -> None:
    p1 = refconv.spec((2, 8, 9, 9), (8, 1, 3, 3), groups=8).params
    assert strategy_for((2, 8, 9, 9), (8, 1, 3, 3), p1) == "depthwise_taps"
    p2 = refconv.spec((2, 16, 9, 8), (2, 16, 3, 3), padding=1).params
    assert strategy_for((2, 16, 9, 8), (2, 16, 3, 3), p2) == "shifted_products"
    p3 = refconv.spec((2, 3, 9, 8), (4, 3, 3, 3), input_dilation=2).params
    assert strategy_for((2, 3, 9, 8), (4, 3, 3, 3), p3) == "phases"
    p4 = refconv.spec((2, 3, 9, 8), (4, 3, 3, 3)).params  # 7 x 6 outputs per image: one tall matmul
    assert strategy_for((2, 3, 9, 8), (4, 3, 3, 3), p4) == "window_matmul"
    # 16 x 8 = MIN_IMAGE_POSITIONS per image: 3 <= FEW_CHANNELS channels go channels-first, 8 do not
    p5 = refconv.spec((2, 3, 18, 10), (4, 3, 3, 3)).params
    assert strategy_for((2, 3, 18, 10), (4, 3, 3, 3), p5) == "image_matmul"
    p6 = refconv.spec((2, 8, 18, 10), (4, 8, 3, 3)).params  # runs of 8 positions, or of 3 taps x 8 channels
    assert strategy_for((2, 8, 18, 10), (4, 8, 3, 3), p6) == "window_matmul"
    p7 = refconv.spec((2, 8, 18, 30), (4, 8, 3, 3)).params  # runs of 28 positions beat 24
    assert strategy_for((2, 8, 18, 30), (4, 8, 3, 3), p7) == "image_matmul"
    p8 = refconv.spec((2, 64, 16, 8), (64, 64, 1, 1)).params  # pointwise: no window copy at all
    assert strategy_for((2, 64, 16, 8), (64, 64, 1, 1), p8) == "image_matmul"
    # the weight VJP of a depthwise layer: one image per batch group
    x9, dy9, p9, _ = _weight_vjp_general(grid_case("dw", (2, 8, 9, 9), (8, 1, 3, 3), dict(groups=8)))
    assert strategy_for(x9.shape, dy9.shape, p9) == "window_dots"


@pytest.mark.parametrize(
    ("case", "problem"),
    [pytest.param(case, problem, id=f"{case.feature}-{which}") for case, which, problem in PROBLEMS],
)
def test_any_budget_gives_the_unchunked_result(case: Case, problem: Callable[[Case], Problem]) -> None:
    """The dispatcher's strategy and the two window copies, chunked by any budget (forward and weight VJP)."""
    x, w, p, bound = problem(case)
    expected = conv_definition(x, w, p)
    # tolerance: the float64 round-off bound of y or dw; a chunk's matmul may sum in another order (BLAS
    # picks kernels by matrix size), while a misplaced chunk moves whole O(1) products
    for budget in (1, 50, 1000, 1 << 40):
        for name, run in (
            ("dispatched", conv_general),
            *((s, STRATEGIES[s]) for s in ("image_matmul", "window_matmul")),
        ):
            assert_close(f"{case.feature} {name} budget={budget}", "y", run(x, w, p, budget), expected, bound)


def test_a_weight_vjp_splits_its_contraction_when_over_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few output rows, many taps: the window copy is chunked along the kernel's first dim and summed."""
    calls: list[int] = []
    split = fast._contraction_chunks

    def counted(*args: object) -> np.ndarray:
        calls.append(1)
        return split(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(fast, "_contraction_chunks", counted)
    case = grid_case("2d-weight-vjp", (4, 3, 12, 11), (5, 3, 3, 2), dict(padding=1, dilation=(1, 2)))
    x, dy, q, bound = _weight_vjp_general(case)
    expected = conv_definition(x, dy, q)
    for budget in (1, 100, 2000):
        assert_close(f"budget={budget}", "dw", fast._window_matmul(x, dy, q, budget), expected, bound)
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("rows", "row_elements", "budget"),
    [
        ((4, 7, 3), 5, 1),
        ((4, 7, 3), 5, 100),
        ((4, 7, 3), 5, 10**6),
        ((1, 9, 2), 4, 17),
        ((3, 1), 8, 20),
        ((0, 3), 2, 5),
        ((2, 9), 4, 10),  # 1-d: an image over budget is split along its one output dim
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
    calls: list[tuple[str, Callable[[], object]]] = [
        ("conv", lambda: refconv.conv(x, w, padding=1)),
        ("conv_vjp", lambda: refconv.conv_vjp(x, w, dy, padding=1)),
    ]
    for name, fn in calls:
        peak = peak_bytes(fn)
        # results (dx: 1, dw: tiny) + the padded copy (about 1) + one chunk of windows (at most 2) + its
        # product (at most 1): 5 arrays of the largest size; whole im2col alone would be 9
        assert peak <= 5.5 * largest, f"{name}: peak {peak / largest:.1f}x the input"


def test_every_budget_on_a_small_case() -> None:
    """Every split the chunker can make, on a case small enough to try each budget."""
    case = grid_case("2d", (3, 2, 6, 5), (4, 2, 2, 3), dict(stride=(2, 1), padding=1))
    x, w, p, bound = _general(case)
    expected = conv_definition(x, w, p)
    for budget in itertools.chain(range(1, 40), range(40, 2000, 97)):
        assert_close(f"budget={budget}", "y", conv_general(x, w, p, budget), expected, bound)


@pytest.mark.parametrize("case", FEW_OUTPUTS, ids=lambda c: c.feature)
def test_shifted_products_match_naive_where_the_dispatcher_takes_them(case: Case) -> None:
    """Few output channels per input channel: multiply first, then add shifted slices (chunked or not)."""
    x, w, p, bound = _general(case)
    assert strategy_for(x.shape, w.shape, p) == "shifted_products", "the case must exercise that strategy"
    expected = naive.conv(x, w, **case.spec.options())
    for budget in (1, 1 << 40):
        assert_close(f"{case.feature} budget={budget}", "y", conv_general(x, w, p, budget), expected, bound)
