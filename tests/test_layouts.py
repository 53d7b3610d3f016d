"""dimension_numbers: refconv in any layout against jax.lax.conv_general_dilated in the same layout,
refconv.naive in the same layout, and canonical refconv with the operands transposed by hand."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from tests.cases import Arrays, Case, grid_case
from tests.helpers import assert_results_close, backend_results, case_results

# (specs, canonical case): the case's shapes are canonical (NC..., OI..., per-dim keywords in the
# kernel spec's spatial order); the test lays the arrays out by the specs.
LAYOUTS = [
    (("NWC", "WIO", "NWC"), grid_case("1d", (3, 4, 9), (5, 4, 3), dict(stride=2, padding=[(1, 2)]))),
    (
        ("NHWC", "HWIO", "NHWC"),
        grid_case("2d", (2, 6, 7, 8), (10, 3, 3, 2), dict(stride=(2, 1), padding=1, groups=2)),
    ),
    (
        ("NCHW", "OIHW", "NHWC"),
        grid_case("2d-mixed", (2, 3, 6, 7), (4, 3, 2, 3), dict(dilation=(2, 1), input_dilation=(1, 2))),
    ),
    (
        ("HWCN", "IHWO", "CNWH"),
        grid_case("2d-scrambled", (6, 3, 5, 7), (4, 3, 3, 2), dict(stride=(1, 2), batch_groups=2)),
    ),
    (
        ("NCWH", "OIHW", "NCHW"),
        grid_case(
            "2d-spatial-order-from-kernel",
            (2, 3, 5, 8),
            (4, 3, 2, 3),
            dict(stride=(2, 3), padding=((0, 1), (2, 0))),
        ),
    ),
    (
        ("NDHWC", "DHWIO", "NDHWC"),
        grid_case("3d", (2, 3, 4, 5, 6), (4, 3, 2, 3, 2), dict(stride=(1, 2, 2), padding=1)),
    ),
    (
        ("NHWC", "HWIO", "NHWC"),
        grid_case("2d-reflect", (2, 3, 6, 7), (4, 3, 3, 2), dict(stride=(2, 1), padding=((2, 1), (0, 1)),
                                                             padding_mode="reflect")),
    ),
]  # fmt: skip
PARAMS = [pytest.param(specs, case, id=f"{case.feature}-{'-'.join(specs)}") for specs, case in LAYOUTS]


def _perm(spec: str, pair: str, rhs_spec: str) -> list[int]:
    """Axes of the canonical array, in the order the spec lists them (independent of refconv._layout)."""
    spatial = [c for c in rhs_spec if c not in "OI"]
    canonical = pair + "".join(spatial)
    return [canonical.index(c) for c in spec]


def _laid_out(case: Case, specs: tuple[str, str, str]) -> tuple[Case, Arrays]:
    """``case`` in the layout ``specs``, and its (canonical) arrays transposed by hand into it."""
    x, w, b, dy = case.arrays()
    lhs, rhs, out = specs
    arrays = (
        x.transpose(_perm(lhs, "NC", rhs)),
        w.transpose(_perm(rhs, "OI", rhs)),
        b,
        dy.transpose(_perm(out, "NC", rhs)),
    )
    keywords = dict(case.spec.options(), dimension_numbers=specs)
    return grid_case(case.feature, arrays[0].shape, arrays[1].shape, keywords, case.bias), arrays


@pytest.mark.parametrize(("specs", "case"), PARAMS)
def test_layouts_match_jax_dimension_numbers(specs: tuple[str, str, str], case: Case) -> None:
    pytest.importorskip("jax")
    laid, arrays = _laid_out(case, specs)
    assert_results_close(laid, case_results(laid, arrays), backend_results("jax", laid, arrays), arrays)


@pytest.mark.parametrize(("specs", "case"), PARAMS)
def test_layouts_match_naive_and_canonical_refconv(specs: tuple[str, str, str], case: Case) -> None:
    laid, arrays = _laid_out(case, specs)
    got = case_results(laid, arrays)
    assert_results_close(laid, got, case_results(laid, arrays, module=naive), arrays)
    lhs, rhs, out = specs
    canonical = case_results(case)
    by_hand = {
        "y": canonical["y"].transpose(_perm(out, "NC", rhs)),
        "dx": canonical["dx"].transpose(_perm(lhs, "NC", rhs)),
        "dw": canonical["dw"].transpose(_perm(rhs, "OI", rhs)),
        "db": canonical["db"],
    }
    assert_results_close(laid, got, by_hand, arrays)
    shape = refconv.conv_output_shape(
        laid.spec.given_shape("x"), laid.spec.given_shape("w"), **laid.spec.options()
    )
    assert shape == got["y"].shape


TRANSPOSED = grid_case(
    "t-2d", (2, 3, 4, 5), (3, 2, 3, 2), dict(stride=2, padding=((1, 0), (0, 1)), output_padding=1), True, True
)


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_conv_transpose_takes_layouts(module: Any) -> None:
    """The weight's spec names I (C_in) and O (C_out // groups); results equal the canonical ones, moved."""
    specs = ("NHWC", "HWIO", "NHWC")
    x, w, b, dy = TRANSPOSED.arrays()
    arrays = (x.transpose(0, 2, 3, 1), w.transpose(2, 3, 0, 1), b, dy.transpose(0, 2, 3, 1))
    keywords = dict(TRANSPOSED.spec.options(), dimension_numbers=specs)
    laid = grid_case("t-2d-NHWC", arrays[0].shape, arrays[1].shape, keywords, transposed=True)
    canonical = case_results(TRANSPOSED)
    by_hand = {
        "y": canonical["y"].transpose(0, 2, 3, 1),
        "dx": canonical["dx"].transpose(0, 2, 3, 1),
        "dw": canonical["dw"].transpose(2, 3, 0, 1),
        "db": canonical["db"],
    }
    assert_results_close(laid, case_results(laid, arrays, module=module), by_hand, arrays)
    if module is refconv and importlib.util.find_spec("jax") is not None:
        assert_results_close(laid, case_results(laid, arrays), backend_results("jax", laid, arrays), arrays)


MISUSES = [
    (("NHWC", "HWIO"), TypeError, "must be three strings"),
    ("NHWC", TypeError, "must be three strings"),
    (("NHWC", "HWIO", "NHW"), ValueError, "must have 4 letters per entry"),
    (("NHWW", "HWIO", "NHWC"), ValueError, "entry 0 ('NHWW') must hold 'N' and 'C' exactly once"),
    (("NHWC", "HXIO", "NHWC"), ValueError, "the entries name different spatial dims"),
    (("NHWC", "HWOO", "NHWC"), ValueError, "entry 1 ('HWOO') must hold 'O' and 'I' exactly once"),
]


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(("specs", "error", "message"), MISUSES, ids=[m[2][:30] for m in MISUSES])
def test_bad_dimension_numbers_are_named(
    module: Any, specs: Any, error: type[Exception], message: str
) -> None:
    x, w = np.ones((2, 5, 6, 3)), np.ones((3, 2, 3, 4))
    with pytest.raises(error, match=re.escape(message)):
        module.conv(x, w, dimension_numbers=specs)


def test_wrong_rank_for_the_layout_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("w has shape (3, 2, 4); its layout has 4 dims")):
        refconv.conv(np.ones((2, 5, 6, 3)), np.ones((3, 2, 4)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
