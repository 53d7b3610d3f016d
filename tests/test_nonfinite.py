"""NaN and infinity: every road sums the real products only, so every road puts them in the same places.

The decision (refconv._nonfinite, the docs' forward page): padding zeros, the
zeros input dilation inserts and a transposed convolution's output padding are
not elements of x, so they form no product, and ``inf * 0`` is NaN only for two
real elements. Checked here on the shared grids (every forward and transposed
case, each with exact zeros in every operand so that real ``inf * 0`` products
occur) with NaN, inf and -inf put into each of x, w, b and dy at its first,
middle and last element (border, interior, and under the padding of the cases
that pad), against refconv.naive (loops over the real products) and, for the
forward general convolution of every strategy, against conv_definition: the
NaN, +inf and -inf positions must be identical, and the finite elements equal
within their float64 round-off bound. No NumPy warning may escape (pytest runs
with ``-W error``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv._nonfinite import real_products
from refconv.conv import conv_definition, kernel_of
from refconv.fast import STRATEGIES, applicable_strategies
from refconv.testing import ARRAYS
from refconv.testing.bounds import gamma, unit_roundoff
from tests.cases import CASES, TRANSPOSED, Case, grid_case, variant
from tests.helpers import bounds, case_results

PADDING_MODES = [
    variant(grid_case("1d-reflect", (2, 2, 6), (3, 2, 3), dict(padding=2)), padding_mode="reflect"),
    variant(grid_case("2d-circular", (1, 2, 5, 4), (2, 2, 3, 2), dict(padding=1)), padding_mode="circular"),
]
GRID = [*CASES, *TRANSPOSED, *PADDING_MODES]

#: Where the non-finite values go: (value, which flat index) pairs, one pattern per run.
PATTERNS = {
    "nan-first": ((np.nan, 0),),
    "inf-middle": ((np.inf, 1),),
    "-inf-last": ((-np.inf, 2),),
    "inf-first-and--inf-last": ((np.inf, 0), (-np.inf, 2)),
}


def _with_zeros(case: Case) -> list[Any]:
    """The case's arrays with every fifth element an exact zero: real ``inf * 0`` products occur."""
    arrays = []
    for a in case.arrays():
        if a is not None:
            a = a.copy()
            a.flat[1::5] = 0.0
        arrays.append(a)
    return arrays


def _place(a: np.ndarray, pattern: tuple[tuple[float, int], ...]) -> np.ndarray:
    a = a.copy()
    for value, where in pattern:
        a.flat[[0, a.size // 2, a.size - 1][where]] = value
    return a


def assert_same_nonfinite(context: str, got: np.ndarray, want: np.ndarray, bound: np.ndarray) -> None:
    """NaN, +inf and -inf at exactly the same elements; the finite ones within ``bound``."""
    __tracebackhide__ = True
    assert got.shape == want.shape, f"{context}: shape {got.shape} != {want.shape}"
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        differ = test(got) != test(want)
        if differ.any():
            first = tuple(int(i) for i in np.argwhere(differ)[0])
            pytest.fail(f"{context}: {name} at {first}: got {got[first]}, want {want[first]}", pytrace=False)
    finite = np.isfinite(want)
    excess = np.abs(got[finite] - want[finite]) > bound[finite]
    assert not excess.any(), f"{context}: {int(excess.sum())} finite elements differ beyond round-off"


def _problems(case: Case) -> list[tuple[str, Any]]:
    base = _with_zeros(case)
    problems: list[tuple[str, Any]] = []
    for operand, index in (("x", 0), ("w", 1), ("b", 2), ("dy", 3)):
        if base[index] is None or base[index].size == 0:
            continue
        for pattern_name, pattern in PATTERNS.items():
            arrays = list(base)
            arrays[index] = _place(arrays[index], pattern)
            problems.append((f"{operand} {pattern_name}", tuple(arrays)))
    return problems


@pytest.mark.parametrize("case", [pytest.param(c, id=c.feature) for c in GRID])
def test_refconv_and_naive_put_nan_and_inf_in_the_same_places(case: Case) -> None:
    """Every function's every result, refconv against refconv.naive, for each operand and pattern."""
    problems = _problems(case)
    assert problems, "the case has an operand to put a non-finite value in"
    for label, arrays in problems:
        got = case_results(case, arrays)
        want = case_results(case, arrays, module=naive)
        limit = bounds(case, arrays)
        for name in ARRAYS:
            assert_same_nonfinite(f"{case.feature}, {label}, {name}", got[name], want[name], limit[name])


@pytest.mark.parametrize("case", [pytest.param(c, id=c.feature) for c in [*CASES, *TRANSPOSED]])
def test_every_strategy_follows_the_definition_on_nan_and_inf(case: Case) -> None:
    """The fast path's non-finite rule over each strategy against conv_definition, on the forward convolution.

    refconv.fast.conv_general hands NaN and inf to refconv._nonfinite.real_products, which calls the
    strategy on finite arrays only; each strategy is given to it in turn. Tolerance for the finite
    elements: the float64 round-off bound gamma_K * sum |x| |w| with K the window's products, doubled.
    """
    s = case.spec
    for label, arrays in _problems(case):
        x, w, p = arrays[0], kernel_of(s, arrays[1]), s.general
        want = conv_definition(x, w, p)
        finite = [np.abs(np.nan_to_num(a, nan=0, posinf=0, neginf=0)) for a in (x, w)]
        bound = 2 * gamma(w[0].size, unit_roundoff(np.float64)) * conv_definition(finite[0], finite[1], p)
        for name in applicable_strategies(x.shape, w.shape, p):

            def strategy(a: np.ndarray, b: np.ndarray, q: Any, name: str = name) -> np.ndarray:
                return STRATEGIES[name](a, b, q, None)

            got = real_products(x, w, p, strategy)
            assert_same_nonfinite(f"{case.feature}, {label}, {name}", got, want, bound)


def test_the_issue_examples() -> None:
    """The calls the disagreement was first shown with, with the values the definition gives."""
    x, w = np.ones((1, 1, 3)), np.array([[[np.nan, 1.0]]])
    nan = np.nan
    np.testing.assert_array_equal(refconv.conv(x, w, padding=1), [[[1, nan, nan, nan]]])
    np.testing.assert_array_equal(
        refconv.conv_transpose(np.ones((1, 1, 2)), w, stride=2, output_padding=1), [[[nan, 1, nan, 1, 0]]]
    )
    np.testing.assert_array_equal(
        refconv.conv_transpose(np.ones((1, 1, 2)), w, dilation=2), [[[nan, nan, 1, 1]]]
    )
    np.testing.assert_array_equal(refconv.conv_vjp(x, w, np.ones((1, 1, 2)))[0], [[[nan, nan, 1]]])
    np.testing.assert_array_equal(refconv.conv(np.ones((1, 1, 2)), w, input_dilation=2), [[[nan, 1]]])
    inf = np.array([[[np.inf, 1.0]]])
    np.testing.assert_array_equal(refconv.conv(x, inf, padding=1), [[[1, np.inf, np.inf, np.inf]]])
    np.testing.assert_array_equal(refconv.conv(np.array([[[0.0, 1.0]]]), inf), [[[nan]]])  # real inf * 0


def test_complex_nonfinite_follows_naive() -> None:
    """A complex convolution holding inf: its four real convolutions, each over real products."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 5)) + 1j * rng.standard_normal((1, 2, 5))
    w = rng.standard_normal((2, 2, 2)) + 1j * rng.standard_normal((2, 2, 2))
    x[0, 0, 2], w[1, 1, 0] = complex(np.inf, 0), complex(0, np.nan)
    got, want = refconv.conv(x, w, padding=1), naive.conv(x, w, padding=1)
    for part in (np.real, np.imag):
        np.testing.assert_array_equal(np.isnan(part(got)), np.isnan(part(want)))
        np.testing.assert_array_equal(np.isposinf(part(got)), np.isposinf(part(want)))
        np.testing.assert_array_equal(np.isneginf(part(got)), np.isneginf(part(want)))
        finite = np.isfinite(part(want))
        assert finite.sum() >= 4  # the real and imaginary parts the non-finite elements do not reach
        # each a sum of at most 16 real products of standard normals (|sum| < 50): float64 round-off
        # is below 16 * 2**-53 * 50 < 1e-13
        np.testing.assert_allclose(part(got)[finite], part(want)[finite], rtol=0, atol=1e-12)


def test_infinities_of_both_signs_meet_without_a_warning() -> None:
    """``inf + -inf`` where the bias meets an infinite sum, in the JVP sum and the bias VJP: NaN, silently."""
    x, w, b = np.ones((1, 1, 3)), np.ones((1, 1, 2)), np.array([-np.inf])
    x[0, 0, 0] = np.inf
    np.testing.assert_array_equal(refconv.conv(x, w, b), [[[np.nan, -np.inf]]])
    np.testing.assert_array_equal(naive.conv(x, w, b), [[[np.nan, -np.inf]]])
    tw = -w * np.inf
    ty = refconv.conv_jvp(x, w, None, tx=x, tw=tw)[1]
    np.testing.assert_array_equal(ty, [[[np.nan, -np.inf]]])  # [inf, 2] from tx plus [-inf, -inf] from tw
    dy = np.array([[[np.inf, -np.inf]]])
    assert np.isnan(refconv.conv_bias_vjp(dy)).all()
    assert np.isnan(naive.conv_bias_vjp(dy)).all()


@pytest.mark.parametrize("module", [refconv, naive])
def test_a_result_beyond_its_dtype_s_range_is_infinity_without_a_warning(module: Any) -> None:
    """float16 sums accumulate in float32 (180,000 here) and round to float16's inf, as IEEE casts do."""
    x = np.full((1, 1, 2), 300.0, np.float16)
    y = module.conv(x, -x)  # pytest's -W error: a warning would fail the test
    assert y.dtype == np.float16
    assert y.tolist() == [[[-np.inf]]]


# The other documented reading: torch's forward and XLA multiply the materialised padded array, so a
# padding zero times NaN/inf is NaN there. refconv.testing calls such an element a convention
# difference (counted apart), never a failure, and a NaN anywhere else still fails.
MATERIALISED = [
    # (keywords, transposed, which, the materialised reading's NaN positions, from the definition)
    (dict(padding=1), False, "y", [0]),  # y[0] reads padding * w[0] = 0 * NaN
    (dict(stride=2, output_padding=1), True, "y", [1, 3, 4]),  # stride and output padding zeros * NaN
    (dict(dilation=2), True, "y", [2, 3]),  # the zeros the transposed conv pads dy-like x with
    ({}, False, "dx", [2]),  # dx[2] = dy[1] w[1] + (padding of dy) * w[0]
]


@pytest.mark.parametrize(("keywords", "transposed", "which", "nan_at"), MATERIALISED)
def test_the_materialised_reading_is_a_convention_difference_not_a_failure(
    keywords: dict[str, Any], transposed: bool, which: str, nan_at: list[int]
) -> None:
    from refconv.testing import assert_conv_close, compare, conventions, reference_and_bound

    w = np.array([[[np.nan, 1.0]]])
    x = np.ones((1, 1, 2)) if transposed else np.ones((1, 1, 3))
    dy = None if which == "y" else np.ones((1, 1, 2))
    reference, bound = reference_and_bound(x, w, which=which, dy=dy, transposed=transposed, **keywords)
    materialised = reference.copy()
    materialised[0, 0, nan_at] = np.nan
    assert not np.isnan(reference[0, 0, nan_at]).any()  # refconv's own reading has numbers there
    assert_conv_close(materialised, x, w, which=which, dy=dy, transposed=transposed, **keywords)
    s = refconv.spec(x.shape, w.shape, transposed=transposed, **keywords)
    mask = conventions(s, x, w, dy, which=[which])[which]
    assert np.flatnonzero(mask).tolist() == nan_at
    verdict = compare(which, materialised, reference, bound, convention=mask)
    assert verdict.ok
    assert verdict.convention == len(nan_at)
    wrong = materialised.copy()  # a number neither reading gives, where they differ
    wrong[0, 0, nan_at[0]] = reference[0, 0, nan_at[0]] + 1
    with pytest.raises(AssertionError, match=r"1 of \d+ elements exceed the round-off bound"):
        assert_conv_close(wrong, x, w, which=which, dy=dy, transposed=transposed, **keywords)


def test_torch_s_own_results_on_the_issue_s_examples_are_accepted() -> None:
    torch = pytest.importorskip("torch")
    from refconv.testing import assert_conv_close

    x, w = np.ones((1, 1, 3)), np.array([[[np.nan, 1.0]]])
    tw = torch.tensor(w)
    forward = torch.nn.functional.conv1d(torch.tensor(x), tw, padding=1).numpy()
    assert np.isnan(forward).all()  # torch's forward: the materialised reading
    assert_conv_close(forward, x, w, padding=1)
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv1d(tx, tw).backward(torch.ones(1, 1, 2, dtype=torch.float64))
    assert_conv_close(tx.grad.numpy(), x, w, which="dx", dy=np.ones((1, 1, 2)))
    transposed: list[dict[str, Any]] = [dict(stride=2, output_padding=1), dict(dilation=2)]
    for keywords in transposed:
        t = torch.nn.functional.conv_transpose1d(torch.ones(1, 1, 2, dtype=torch.float64), tw, **keywords)
        assert_conv_close(t.numpy(), np.ones((1, 1, 2)), w, transposed=True, **keywords)


def test_the_judge_counts_the_materialised_reading_apart_from_disagree() -> None:
    from refconv.cases import case
    from refconv.conform import FAILING, assess

    c = case("padding", (1, 1, 3), (1, 1, 2), padding=1, bias=False)
    x, w = np.ones((1, 1, 3)), np.array([[[np.nan, 1.0]]])
    outcome = assess(c, {"y": np.full((1, 1, 4), np.nan)}, gradients=False, arrays=(x, w, None, None))
    assert outcome.verdict == "convention", outcome.detail
    assert "convention" not in FAILING
    assert "1 of 4 in y" in outcome.detail
    wrong = assess(
        c, {"y": np.array([[[np.nan, np.nan, np.nan, 0.0]]])}, gradients=False, arrays=(x, w, None, None)
    )
    assert wrong.verdict == "disagree"


def test_convention_masks_have_their_array_s_shape_on_every_curated_case() -> None:
    from refconv import conform
    from refconv.testing import compare, conventions, reference_and_bounds

    for c in conform.CURATED:
        x, w, b, dy = c.arrays()
        references = reference_and_bounds(c.spec, x, w, b, dy, c.spec.dtype)
        for name, mask in conventions(c.spec, x, w, dy).items():
            assert mask.shape == references[name][0].shape, (c.spec.source(), name)
    with pytest.raises(ValueError, match=r"convention has shape \(3,\); expected the reference's \(2,\)"):
        compare("y", np.zeros(2), np.zeros(2), 0.0, convention=np.zeros(3, bool))


def _materialised(x: np.ndarray, w: np.ndarray, p: Any) -> np.ndarray:
    """The general convolution of the materialised padded, dilated array (every zero multiplied)."""
    from refconv._ops import dilate_and_pad, split_axis, window_view

    bg, g, nd = p.batch_groups, p.groups, x.ndim - 2
    windows = window_view(dilate_and_pad(x, p.input_dilation, p.padding), w.shape[2:], p.stride, p.dilation)
    windows = split_axis(split_axis(windows, 1, g), 0, bg)[:, :, :, None]  # (B, N', G, 1, I, *out, *K)
    kernel = split_axis(split_axis(w, 0, bg), 1, g)[(slice(None), None, *(slice(None),) * 3, *(None,) * nd)]
    with np.errstate(invalid="ignore", over="ignore"):
        y = (windows * kernel).sum(axis=(4, *range(5 + nd, 5 + 2 * nd)))
    return np.moveaxis(y, 0, 1).reshape(y.shape[1], w.shape[0], *y.shape[4:])


@pytest.mark.parametrize("finite_w", [False, True], ids=["nan-in-w", "finite-w"])
@pytest.mark.parametrize("index", range(len(GRID)))
def test_convention_masks_are_where_the_materialised_reading_alone_is_nan(
    index: int, finite_w: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On each grid case with one NaN in w (or none) and one inf in dy: the mask of
    refconv.testing.conventions, where refconv has a number, is exactly where a convolution that
    multiplies the materialised arrays is NaN (the mask may also hold elements NaN in both
    readings). With a finite w only dw can differ: y's and dx's masks are empty, of their shapes."""
    import sys

    from refconv.testing import conventions

    c = GRID[index]
    x, w, _, dy = c.arrays()
    w, dy = w.copy(), dy.copy()
    rng = np.random.default_rng(index)
    if not finite_w:
        w.ravel()[rng.integers(w.size)] = np.nan
    if dy.size:
        dy.ravel()[rng.integers(dy.size)] = np.inf
    options = c.spec.options()
    call = refconv.conv_transpose_vjp if c.spec.transposed else refconv.conv_vjp
    forward = refconv.conv_transpose if c.spec.transposed else refconv.conv
    ours = {
        "y": forward(x, w, **options),
        **dict(zip(("dx", "dw"), call(x, w, dy, **options)[:2], strict=True)),
    }
    for module in ("refconv.conv", "refconv.vjp"):  # the general convolution, materialised
        monkeypatch.setattr(sys.modules[module], "conv_general", lambda a, b, p: _materialised(a, b, p))
    theirs = {
        "y": forward(x, w, **options),
        **dict(zip(("dx", "dw"), call(x, w, dy, **options)[:2], strict=True)),
    }
    monkeypatch.undo()
    masks = conventions(c.spec, x, w, dy)
    for name in ("y", "dx", "dw"):
        expected = np.isnan(theirs[name]) & ~np.isnan(ours[name])
        mask = masks.get(name, np.zeros(expected.shape, bool))  # none for an empty problem
        assert (mask.dtype, mask.shape) == (np.dtype(bool), expected.shape), (c.spec.source(), name)
        assert np.array_equal(mask & ~np.isnan(ours[name]), expected), (c.spec.source(), name)
        if finite_w and name != "dw":
            assert not mask.any(), (c.spec.source(), name)
