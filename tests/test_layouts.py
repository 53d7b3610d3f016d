"""dimension_numbers: refconv in any layout against jax.lax.conv_general_dilated in the same layout,
refconv.naive in the same layout, and canonical refconv with the operands transposed by hand."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.testing import conv_error_bounds
from tests.cases import Case
from tests.helpers import params

# (specs, canonical case): the case's shapes are canonical (NC..., OI..., per-dim keywords in the
# kernel spec's spatial order); the test lays the arrays out by the specs.
LAYOUTS = [
    (("NWC", "WIO", "NWC"), Case("1d", (3, 4, 9), (5, 4, 3), dict(stride=2, padding=[(1, 2)]))),
    (
        ("NHWC", "HWIO", "NHWC"),
        Case("2d", (2, 6, 7, 8), (10, 3, 3, 2), dict(stride=(2, 1), padding=1, groups=2)),
    ),
    (
        ("NCHW", "OIHW", "NHWC"),
        Case("2d-mixed", (2, 3, 6, 7), (4, 3, 2, 3), dict(dilation=(2, 1), input_dilation=(1, 2))),
    ),
    (
        ("HWCN", "IHWO", "CNWH"),
        Case("2d-scrambled", (6, 3, 5, 7), (4, 3, 3, 2), dict(stride=(1, 2), batch_groups=2)),
    ),
    (
        ("NCWH", "OIHW", "NCHW"),
        Case(
            "2d-spatial-order-from-kernel",
            (2, 3, 5, 8),
            (4, 3, 2, 3),
            dict(stride=(2, 3), padding=((0, 1), (2, 0))),
        ),
    ),
    (
        ("NDHWC", "DHWIO", "NDHWC"),
        Case("3d", (2, 3, 4, 5, 6), (4, 3, 2, 3, 2), dict(stride=(1, 2, 2), padding=1)),
    ),
]
PARAMS = [pytest.param(specs, case, id=f"{case.id}-{'-'.join(specs)}") for specs, case in LAYOUTS]


def _perm(spec: str, pair: str, rhs_spec: str) -> list[int]:
    """Axes of the canonical array, in the order the spec lists them (independent of refconv._layout)."""
    spatial = [c for c in rhs_spec if c not in "OI"]
    canonical = pair + "".join(spatial)
    return [canonical.index(c) for c in spec]


def _laid_out(case: Case, specs: tuple[str, str, str]) -> tuple[np.ndarray, ...]:
    x, w, b, dy = case.arrays()
    lhs, rhs, out = specs
    return (
        x.transpose(_perm(lhs, "NC", rhs)),
        w.transpose(_perm(rhs, "OI", rhs)),
        b,
        dy.transpose(_perm(out, "NC", rhs)),
    )


def _results(module: Any, case: Case, specs: tuple[str, str, str]) -> dict[str, np.ndarray]:
    x, w, b, dy = _laid_out(case, specs)
    kw = dict(case.keywords, dimension_numbers=specs)
    dx, dw, db = module.conv_vjp(x, w, dy, **kw)
    return {"y": module.conv(x, w, b, **kw), "dx": dx, "dw": dw, "db": db}


def _assert_match(case: Case, got: dict[str, np.ndarray], want: dict[str, Any]) -> None:
    x, w, b, dy = case.arrays()
    for name, bound in conv_error_bounds(x, w, dy, params(case), b).items():
        expected = np.asarray(want[name])
        assert got[name].shape == expected.shape, name
        assert float(np.max(np.abs(got[name] - expected), initial=0.0)) <= bound, name


@pytest.mark.parametrize(("specs", "case"), PARAMS)
def test_layouts_match_jax_dimension_numbers(specs: tuple[str, str, str], case: Case) -> None:
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    x, w, b, dy = _laid_out(case, specs)
    p = params(case)
    c = specs[2].index("C")

    def forward(x: Any, w: Any, b: Any) -> Any:
        y = lax.conv_general_dilated(
            x, w, p.stride, p.padding, p.input_dilation, p.dilation, dimension_numbers=specs,
            feature_group_count=p.groups, batch_group_count=p.batch_groups, precision=lax.Precision.HIGHEST,
        )  # fmt: skip
        return y + b.reshape([-1 if i == c else 1 for i in range(y.ndim)])

    y, pullback = jax.vjp(forward, x, w, b)
    dx, dw, db = pullback(dy)
    _assert_match(case, _results(refconv, case, specs), {"y": y, "dx": dx, "dw": dw, "db": db})


@pytest.mark.parametrize(("specs", "case"), PARAMS)
def test_layouts_match_naive_and_canonical_refconv(specs: tuple[str, str, str], case: Case) -> None:
    got = _results(refconv, case, specs)
    _assert_match(case, got, _results(naive, case, specs))
    x, w, b, dy = case.arrays()
    lhs, rhs, out = specs
    dx, dw, db = refconv.conv_vjp(x, w, dy, **case.keywords)
    canonical = {
        "y": refconv.conv(x, w, b, **case.keywords).transpose(_perm(out, "NC", rhs)),
        "dx": dx.transpose(_perm(lhs, "NC", rhs)),
        "dw": dw.transpose(_perm(rhs, "OI", rhs)),
        "db": db,
    }
    _assert_match(case, got, canonical)
    assert (
        refconv.conv_output_shape(
            _laid_out(case, specs)[0].shape,
            _laid_out(case, specs)[1].shape,
            dimension_numbers=specs,
            **case.keywords,
        )
        == got["y"].shape
    )


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_conv_transpose_takes_layouts(module: Any) -> None:
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 2))  # NCHW, IOHW
    kw = dict(stride=2, padding=((1, 0), (0, 1)), output_padding=1)
    want = refconv.conv_transpose(x, w, **kw)
    specs = ("NHWC", "HWIO", "NHWC")
    got = module.conv_transpose(
        x.transpose(0, 2, 3, 1), w.transpose(2, 3, 0, 1), dimension_numbers=specs, **kw
    )
    np.testing.assert_allclose(got, want.transpose(0, 2, 3, 1), rtol=0, atol=1e-12)
    dy = rng.standard_normal(want.shape)
    dx, dw, db = refconv.conv_transpose_vjp(x, w, dy, **kw)
    gx, gw, gb = module.conv_transpose_vjp(
        x.transpose(0, 2, 3, 1),
        w.transpose(2, 3, 0, 1),
        dy.transpose(0, 2, 3, 1),
        dimension_numbers=specs,
        **kw,
    )
    np.testing.assert_allclose(gx, dx.transpose(0, 2, 3, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(gw, dw.transpose(2, 3, 0, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(gb, db, rtol=0, atol=1e-12)


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
