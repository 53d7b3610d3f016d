"""Every public function takes every keyword the README lists for it, and the keyword takes effect.

The README's API section: the convolution's functions (conv, conv_output_shape, conv_vjp,
conv_input_vjp, conv_weight_vjp, conv_jvp, conv_vjp_vjp, and refconv.naive's namesakes) take the
keywords of refconv.ConvOptions; the transposed convolution's (conv_transpose, conv_transpose_vjp)
those of refconv.TransposeOptions; the VJPs also take conjugate. Each function is called with each
keyword set to a value other than its default and compared with refconv.naive called the same way
(for conv_jvp and conv_vjp_vjp, with the naive compositions they are defined as), and must differ
from the same call without the keyword.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv._spec import ConvOptions, TransposeOptions
from refconv.testing import rounding_bound, terms
from tests.cases import Case, grid_case
from tests.helpers import assert_close, bounds

NHWC = ("NHWC", "HWIO", "NHWC")


class Base(NamedTuple):
    """The problem a keyword's value is valid for, before the keyword is set: shapes and other keywords."""

    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    keywords: dict[str, Any] = {}  # noqa: RUF012  # never mutated


# keyword -> (value, base problem): the base problem is the one the value is valid for
CONV_VALUES: dict[str, tuple[Any, Base]] = {
    "stride": ((2, 1), Base((2, 4, 7, 6), (6, 4, 3, 2))),
    "padding": (((1, 2), (0, -1)), Base((2, 4, 7, 6), (6, 4, 3, 2))),
    "dilation": ((2, 1), Base((2, 4, 7, 6), (6, 4, 3, 2))),
    "input_dilation": ((1, 2), Base((2, 4, 7, 6), (6, 4, 3, 2))),
    "groups": (2, Base((2, 4, 7, 6), (6, 2, 3, 2))),
    "batch_groups": (2, Base((4, 4, 7, 6), (6, 4, 3, 2))),
    "padding_mode": ("reflect", Base((2, 4, 7, 6), (6, 4, 3, 2), dict(padding=(2, 1)))),
    "dimension_numbers": (NHWC, Base((2, 7, 6, 4), (3, 2, 4, 6))),
    "preferred_element_type": (np.float64, Base((2, 4, 7, 6), (6, 4, 3, 2))),
}
TRANSPOSE_VALUES: dict[str, tuple[Any, Base]] = {
    "stride": (2, Base((2, 4, 5, 4), (4, 3, 3, 2))),
    "padding": (((1, 0), (0, 1)), Base((2, 4, 5, 4), (4, 3, 3, 2))),
    "output_padding": (1, Base((2, 4, 5, 4), (4, 3, 3, 2), dict(stride=2))),
    "dilation": ((2, 1), Base((2, 4, 5, 4), (4, 3, 3, 2))),
    "groups": (2, Base((2, 4, 5, 4), (4, 3, 3, 2))),
    "output_shape": ((12, 9), Base((2, 4, 5, 4), (4, 3, 3, 2), dict(stride=2))),
    "dimension_numbers": (NHWC, Base((2, 5, 4, 4), (3, 2, 4, 3))),
    "preferred_element_type": (np.float64, Base((2, 4, 5, 4), (4, 3, 3, 2))),
    # accepted here (output_padding 1 < stride 2) and the same as without it; it takes effect by refusing
    # output_padding >= stride (output_padding 1 with dilation 2, stride 1), checked in the test below
    "strict_output_padding": (True, Base((2, 4, 5, 4), (4, 3, 3, 2), dict(stride=2, output_padding=1))),
}  # fmt: skip


def test_the_tables_cover_every_option_the_types_declare() -> None:
    assert set(CONV_VALUES) == set(ConvOptions.__annotations__)
    assert set(TRANSPOSE_VALUES) == set(TransposeOptions.__annotations__)


def _with(keyword: str, value: Any, base: Base, transposed: bool = False) -> tuple[Case, dict[str, Any]]:
    """The case with the keyword set (for its bounds), and the keywords as given (for the calls)."""
    keywords = dict(base.keywords, **{keyword: value})
    return grid_case(keyword, base.x_shape, base.w_shape, keywords, transposed=transposed), keywords


def _arrays(base: Base, keyword: str, value: Any, transposed: bool = False) -> tuple[np.ndarray, ...]:
    """The base's arrays for the problem with the keyword set (float32 for preferred_element_type)."""
    s = _with(keyword, value, base, transposed)[0].spec
    rng = np.random.default_rng(len(keyword))
    dtype = np.float32 if keyword == "preferred_element_type" else np.float64
    x, w = rng.standard_normal(base.x_shape).astype(dtype), rng.standard_normal(base.w_shape).astype(dtype)
    b = rng.standard_normal(s.y_shape[1]).astype(dtype)
    dy = rng.standard_normal(s.given_shape("y")).astype(dtype)
    tx, tw = rng.standard_normal(base.x_shape).astype(dtype), rng.standard_normal(base.w_shape).astype(dtype)
    return x, w, b, dy, tx, tw, rng.standard_normal(s.y_shape[1]).astype(dtype)


CONV_CALLS: dict[str, Callable[..., Any]] = {
    "conv": lambda m, x, w, b, dy, tx, tw, tb, **k: m.conv(x, w, b, **k),
    "conv_output_shape": lambda m, x, w, b, dy, tx, tw, tb, **k: np.array(
        m.conv_output_shape(x.shape, w.shape, **k)),
    "conv_vjp": lambda m, x, w, b, dy, tx, tw, tb, **k: m.conv_vjp(x, w, dy, **k),
    "conv_input_vjp": lambda m, x, w, b, dy, tx, tw, tb, **k: m.conv_input_vjp(x.shape, w, dy, **k),
    "conv_weight_vjp": lambda m, x, w, b, dy, tx, tw, tb, **k: m.conv_weight_vjp(x, w.shape, dy, **k),
}  # fmt: skip


def _jvp_by_naive(x: Any, w: Any, b: Any, tx: Any, tw: Any, tb: Any, **k: Any) -> tuple[Any, Any]:
    """conv_jvp by its definition: y = conv(x, w, b), ty = conv(tx, w) + conv(x, tw) + tb, with naive."""
    return naive.conv(x, w, b, **k), naive.conv(tx, w, tb, **k) + naive.conv(x, tw, **k)


def _vjp_vjp_by_naive(x: Any, w: Any, dy: Any, gx: Any, gw: Any, gb: Any, **k: Any) -> tuple[Any, Any, Any]:
    """conv_vjp_vjp by its definition (refconv.conv_vjp_vjp's Notes), with naive."""
    return (
        naive.conv_input_vjp(x.shape, gw, dy, **k),
        naive.conv_weight_vjp(gx, w.shape, dy, **k),
        naive.conv(gx, w, gb, **k) + naive.conv(x, gw, **k),
    )


def _conv_results(function: str, module: Any, arrays: tuple[np.ndarray, ...], **k: Any) -> list[np.ndarray]:
    x, w, b, dy, tx, tw, tb = arrays
    if function == "conv_jvp":
        f = module.conv_jvp if module is refconv else _jvp_by_naive
        return list(f(x, w, b, tx, tw, tb, **k))
    if function == "conv_vjp_vjp":
        f = module.conv_vjp_vjp if module is refconv else _vjp_vjp_by_naive
        return list(f(x, w, dy, tx, tw, tb, **k))
    out = CONV_CALLS[function](module, *arrays, **k)
    return list(out) if isinstance(out, tuple) else [out]


def _check(case: Case, keyword: str, got: list[np.ndarray], want: list[np.ndarray], arrays: Any) -> None:
    # tolerance: the largest float64 round-off bound of any array of the problem; every result here
    # is one of them or a sum of two (conv_jvp's and conv_vjp_vjp's tangents), hence the factor 2
    limit = 2 * max(float(np.max(v, initial=0.0)) for v in bounds(case, arrays[:4]).values())
    for i, (g, v) in enumerate(zip(got, want, strict=True)):
        assert_close(f"{case.feature}={keyword}", f"result {i}", g, v, limit)


CONV_FUNCTIONS = [*CONV_CALLS, "conv_jvp", "conv_vjp_vjp"]


def _assert_it_takes_effect(
    name: str, keyword: str, got: list[np.ndarray], without: Callable[[], Any]
) -> None:
    """The results differ from the same call without the keyword (where that call is valid at all)."""
    try:
        plain = without()
    except ValueError:
        return  # the keyword is what makes these shapes valid (groups, layouts): it took effect
    differs = any(g.shape != v.shape or not np.allclose(g, v) for g, v in zip(got, plain, strict=True))
    assert differs, f"{name}({keyword}=...) gave the same results as without it"


@pytest.mark.parametrize("keyword", list(CONV_VALUES))
@pytest.mark.parametrize("function", CONV_FUNCTIONS)
def test_convolution_functions_take_each_keyword(function: str, keyword: str) -> None:
    value, base = CONV_VALUES[keyword]
    case, given = _with(keyword, value, base)
    arrays = _arrays(base, keyword, value)
    got = _conv_results(function, refconv, arrays, **given)
    _check(case, keyword, got, _conv_results(function, naive, arrays, **given), arrays)
    if keyword == "preferred_element_type":  # a shape has no dtype: accepted and validated only
        assert function == "conv_output_shape" or {g.dtype for g in got} == {np.dtype(np.float64)}
    elif not (function == "conv_output_shape" and keyword == "padding_mode"):  # a mode keeps the shape
        _assert_it_takes_effect(
            function, keyword, got, lambda: _conv_results(function, naive, arrays, **base.keywords)
        )


@pytest.mark.parametrize("keyword", list(TRANSPOSE_VALUES))
@pytest.mark.parametrize("function", ["conv_transpose", "conv_transpose_vjp"])
def test_transposed_functions_take_each_keyword(function: str, keyword: str) -> None:
    value, base = TRANSPOSE_VALUES[keyword]
    case, given = _with(keyword, value, base, transposed=True)
    x, w, b, dy, *_ = arrays = _arrays(base, keyword, value, transposed=True)

    def call(module: Any, **k: Any) -> list[np.ndarray]:
        if function == "conv_transpose":
            return [module.conv_transpose(x, w, b, **k)]
        y_shape = refconv.spec(x.shape, w.shape, transposed=True, **k).given_shape("y")
        cotangent = dy[tuple(slice(0, n) for n in y_shape)]  # without output_padding, y is smaller
        return list(module.conv_transpose_vjp(x, w, cotangent, **k))

    got = call(refconv, **given)
    _check(case, keyword, got, call(naive, **given), arrays)
    if keyword == "preferred_element_type":
        assert {g.dtype for g in got} == {np.dtype(np.float64)}
    elif keyword == "strict_output_padding":
        wide = dict(dilation=2, output_padding=1)
        assert call(refconv, **wide)  # output_padding < max(stride, dilation): PyTorch accepts it
        with pytest.raises(ValueError, match="strict_output_padding=True"):
            call(refconv, **wide, strict_output_padding=True)
    else:
        _assert_it_takes_effect(function, keyword, got, lambda: call(naive, **base.keywords))


def _complex_case(function: str) -> tuple[Case, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(3)
    transposed = function == "conv_transpose_vjp"
    w_shape = (3, 4, 3, 2) if transposed else (4, 3, 3, 2)
    case = grid_case(function, (2, 3, 6, 5), w_shape, dict(stride=2, padding=1), transposed=transposed)
    x, w, b, dy = case.arrays()
    parts = [x, w, b, dy, x, w]
    return case, tuple(a + 1j * rng.standard_normal(a.shape) for a in parts if a is not None)


@pytest.mark.parametrize(
    "function",
    ["conv_vjp", "conv_input_vjp", "conv_weight_vjp", "conv_bias_vjp", "conv_vjp_vjp", "conv_transpose_vjp"],
)
def test_every_vjp_takes_conjugate(function: str) -> None:
    case, (x, w, b, dy, gx, gw) = _complex_case(function)
    limits = bounds(case, (x, w, b, dy))  # complex: four times the sums of absolute products
    options = case.spec.options()
    calls: dict[str, Callable[[Any, bool], Any]] = {
        "conv_vjp": lambda m, c: m.conv_vjp(x, w, dy, conjugate=c, **options),
        "conv_input_vjp": lambda m, c: [m.conv_input_vjp(x.shape, w, dy, conjugate=c, **options)],
        "conv_weight_vjp": lambda m, c: [m.conv_weight_vjp(x, w.shape, dy, conjugate=c, **options)],
        "conv_bias_vjp": lambda m, c: [m.conv_bias_vjp(dy, conjugate=c)],
        "conv_transpose_vjp": lambda m, c: m.conv_transpose_vjp(x, w, dy, conjugate=c, **options),
        # PyTorch's double backward conjugates gx and gw in x_bar and w_bar (derived in refconv.jvp):
        # x_bar and w_bar are VJPs of other arguments, dy_bar is y's bound twice over (two convolutions)
        "conv_vjp_vjp": lambda m, c: (
            m.conv_vjp_vjp(x, w, dy, gx, gw, conjugate=c, **options)[:2]
            if m is refconv
            else _vjp_vjp_by_naive(x, w, dy, np.conj(gx) if c else gx, np.conj(gw) if c else gw, None,
                                   **options)[:2]
        ),
    }  # fmt: skip
    names = {"conv_input_vjp": ["dx"], "conv_weight_vjp": ["dw"], "conv_bias_vjp": ["db"]}.get(
        function, ["dx", "dw", "db"]
    )
    results = {c: list(calls[function](refconv, c)) for c in (False, True)}
    for conjugate in (False, True):
        want = calls[function](naive, conjugate)
        for name, g, v in zip(names, results[conjugate], want, strict=False):
            limit = (
                limits[name] if function != "conv_vjp_vjp" else _vjp_vjp_limit(case, name, x, w, dy, gx, gw)
            )
            assert_close(f"{function} conjugate={conjugate}", name, g, v, limit)
    if function != "conv_bias_vjp":  # the bias enters with coefficient 1: no conjugate to take
        assert any(not np.allclose(a, b) for a, b in zip(results[False], results[True], strict=True))


def _vjp_vjp_limit(case: Case, name: str, x: Any, w: Any, dy: Any, gx: Any, gw: Any) -> np.ndarray:
    """x_bar is an input VJP of (gw, dy), w_bar a weight VJP of (gx, dy): their bounds, 4x for complex."""
    sums = refconv.conv_vjp_vjp(*(np.abs(a) for a in (x, w, dy, gx, gw)), **case.spec.options())
    index, which = (0, "dx") if name == "dx" else (1, "dw")
    return rounding_bound(4 * sums[index], terms(case.spec, which), np.float64)
