"""refconv.testing.assert_conv_close: real float32 results pass, perturbed ones fail, reports read.

The bound is rigorous (gamma_K(u) times the sum of absolute products), so a
correct float32 implementation must pass it: torch's and jax's float32
convolutions and refconv's own are checked here. A result moved by twice its
bound at one element must fail, and the report must name that element.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import refconv
from refconv.backends import ORACLES
from refconv.testing import assert_conv_close, compare, reference_and_bound, unit_roundoff
from tests.cases import TRANSPOSED, Case, grid_case
from tests.helpers import backend_results, with_seed

CASES = [
    grid_case("2d-stride2-pad1", (3, 4, 9, 8), (5, 4, 3, 3), dict(stride=2, padding=1)),
    grid_case(
        "2d-groups-dilation", (2, 6, 10, 9), (4, 3, 3, 2), dict(dilation=(2, 1), padding=(2, 1), groups=2)
    ),
    grid_case("1d-depthwise", (2, 5, 17), (10, 1, 4), dict(stride=3, padding=2, groups=5)),
    grid_case("3d", (2, 3, 6, 5, 7), (4, 3, 2, 3, 2), dict(stride=(2, 1, 3), padding=1)),
]  # fmt: skip
WHICH = ("y", "dx", "dw", "db")


def _float32(case: Case) -> tuple[np.ndarray, ...]:
    x, w, b, dy = with_seed(case, 3).arrays()
    assert b is not None
    return tuple(a.astype(np.float32) for a in (x, w, b, dy))


def _check_all(results: dict[str, Any], case: Case, x: Any, w: Any, b: Any, dy: Any) -> None:
    for which in WHICH:
        got = np.asarray(results[which])
        assert got.dtype == np.float32, which
        assert_conv_close(got, x, w, b if which == "y" else None, which=which, dy=dy, **case.spec.options())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.feature)
def test_refconv_float32_results_pass(case: Case) -> None:
    x, w, b, dy = _float32(case)
    dx, dw, db = refconv.conv_vjp(x, w, dy, **case.spec.options())
    _check_all(
        {"y": refconv.conv(x, w, b, **case.spec.options()), "dx": dx, "dw": dw, "db": db}, case, x, w, b, dy
    )


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.feature)
def test_framework_float32_results_pass(case: Case, oracle: str) -> None:
    """torch's (oneDNN) and jax's (XLA) float32 kernels sum in their own orders; all are within the bound."""
    pytest.importorskip(oracle)
    x, w, b, dy = _float32(case)
    results = backend_results(oracle, case.in_dtype(x.dtype), (x, w, b, dy))
    _check_all(results, case, x, w, b, dy)


@pytest.mark.parametrize("which", WHICH)
def test_a_result_moved_beyond_its_bound_fails_and_is_named(which: str) -> None:
    case = CASES[0]
    x, w, b, dy = _float32(case)
    dx, dw, db = refconv.conv_vjp(x, w, dy, **case.spec.options())
    got = {"y": refconv.conv(x, w, b, **case.spec.options()), "dx": dx, "dw": dw, "db": db}[which].copy()
    bias = b if which == "y" else None
    _, bound = reference_and_bound(x, w, bias, which=which, dy=dy, dtype=np.float32, **case.spec.options())
    index = tuple(s // 2 for s in got.shape)
    got[index] += np.float32(3 * bound[index])  # 3x: the float32 rounding of the sum must not hide it
    with pytest.raises(AssertionError) as failure:
        assert_conv_close(got, x, w, bias, which=which, dy=dy, **case.spec.options())
    report = str(failure.value)
    assert report.startswith(f"{which}: 1 of {got.size} elements exceed the round-off bound for float32")
    assert str(index) in report
    assert "stride=(2, 2)" in report


def test_the_bound_is_tight_enough_to_see_float16_rounding_in_a_float32_claim() -> None:
    """A float32 result that was really computed in float16 is caught: the bound is not a loose tolerance."""
    x, w, b, _ = _float32(CASES[0])
    y16 = refconv.conv(
        x.astype(np.float16), w.astype(np.float16), b.astype(np.float16), **CASES[0].spec.options()
    )
    x16, w16, b16 = (a.astype(np.float16).astype(np.float32) for a in (x, w, b))  # the values it really used
    with pytest.raises(AssertionError):
        assert_conv_close(y16.astype(np.float32), x16, w16, b16, **CASES[0].spec.options())
    assert_conv_close(y16, x16, w16, b16, dtype=np.float16, **CASES[0].spec.options())


def test_nan_and_inf_must_match() -> None:
    x, w, b, _ = _float32(CASES[0])
    x[0, 0, 0, 0] = np.nan
    y = refconv.conv(x, w, b, **CASES[0].spec.options())
    assert np.isnan(y).any()
    assert_conv_close(y, x, w, b, **CASES[0].spec.options())
    y[np.isnan(y)] = 0.0
    with pytest.raises(AssertionError, match="exceed the round-off bound"):
        assert_conv_close(y, x, w, b, **CASES[0].spec.options())


def test_misuse_is_named() -> None:
    x, w, b, _ = _float32(CASES[0])
    y = refconv.conv(x, w, b, **CASES[0].spec.options())
    with pytest.raises(AssertionError, match=r"y: shape \(3, 5, 4\) != expected"):
        assert_conv_close(y[:, :, 0], x, w, b, **CASES[0].spec.options())
    with pytest.raises(ValueError, match="which='dz'"):
        assert_conv_close(y, x, w, which="dz")
    with pytest.raises(ValueError, match="which='dx' needs the cotangent dy"):
        assert_conv_close(y, x, w, which="dx")


def test_unit_roundoff_of_each_dtype() -> None:
    assert unit_roundoff(np.float64) == 2.0**-53
    assert unit_roundoff(np.complex64) == 2.0**-24
    assert unit_roundoff(np.int32) == 0.0
    ml_dtypes = pytest.importorskip("ml_dtypes")
    assert unit_roundoff(ml_dtypes.bfloat16) == 2.0**-8


@pytest.mark.parametrize("which", WHICH)
def test_transposed_float32_results_pass_and_a_moved_one_fails(which: str) -> None:
    case = TRANSPOSED[3]  # stride 2, padding 1, output_padding 1
    x, w, bias64, dy = with_seed(case, 3).arrays()
    x, w, dy = x.astype(np.float32), w.astype(np.float32), dy.astype(np.float32)
    b = None if bias64 is None else bias64.astype(np.float32)
    dx, dw, db = refconv.conv_transpose_vjp(x, w, dy, **case.spec.options())
    got = {"y": refconv.conv_transpose(x, w, b, **case.spec.options()), "dx": dx, "dw": dw, "db": db}[which]
    bias = b if which == "y" else None
    assert_conv_close(got, x, w, bias, which=which, dy=dy, transposed=True, **case.spec.options())
    _, bound = reference_and_bound(x, w, bias, which=which, dy=dy, transposed=True, **case.spec.options())
    moved = got.copy()
    moved.flat[0] += np.float32(3 * bound.flat[0])
    with pytest.raises(AssertionError, match=f"{which}: 1 of {got.size} elements exceed"):
        assert_conv_close(moved, x, w, bias, which=which, dy=dy, transposed=True, **case.spec.options())


def test_compare_names_the_worst_element_and_reads_shapes_first() -> None:
    reference = np.zeros((2, 3))
    actual = reference.copy()
    actual[1, 2], actual[0, 1] = 5e-3, 1e-3
    verdict = compare("dw", actual, reference, 1e-3)
    assert not verdict.ok
    assert (verdict.over, verdict.ratio, verdict.worst[0][0]) == (1, 5.0, (1, 2))
    report = verdict.report("case 7")
    assert report.startswith("dw: 1 of 6 elements exceed the round-off bound (max |diff|/bound 5) (case 7)")
    assert "(1, 2)" in report.splitlines()[2]
    assert compare("dw", actual, reference, 5e-3).ok
    wrong_shape = compare("dw", actual.T, reference, 1.0)
    assert not wrong_shape.ok
    assert wrong_shape.report() == "dw: shape (3, 2) != expected (2, 3)"
    exact = compare("y", np.array([1.0]), np.array([0.0]), 0.0)
    assert exact.ratio == np.inf  # a difference where the bound is 0 is infinitely over it


def test_a_failing_assertion_shows_the_callers_line_and_not_refconvs_source(tmp_path: Path) -> None:
    """In a user's pytest run, a failure names the elements and the case; refconv's own frames are
    hidden (``__tracebackhide__``), so the report is the verdict, not refconv's source."""
    test = tmp_path / "test_mine.py"
    test.write_text(
        "import numpy as np\n"
        "from refconv.testing import assert_conv_close\n"
        "def test_mine():\n"
        "    x, w = np.ones((1, 1, 4)), np.ones((1, 1, 2))\n"
        "    assert_conv_close(np.zeros((1, 1, 3)), x, w)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(refconv.__file__).parents[1])}  # this refconv
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(test), "-p", "no:cacheprovider", "-q"],
        capture_output=True, text=True, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "y: 3 of 3 elements exceed the round-off bound for float64" in result.stdout
    assert "assert_conv_close(np.zeros((1, 1, 3)), x, w)" in result.stdout
    assert "def assert_conv_close" not in result.stdout
    assert "reference_and_bound(" not in result.stdout


def test_a_drawn_case_is_checked_with_its_spec_transposed_or_not() -> None:
    """spec= carries what keywords cannot: a transposed draw is checked as a transposed convolution."""
    c = grid_case("t", (2, 3, 5), (3, 4, 2), dict(stride=2, output_padding=1), transposed=True)
    x, w, b, _ = c.arrays()
    y = refconv.conv_transpose(x, w, b, **c.spec.options())
    assert_conv_close(y, x, w, b, spec=c.spec)
    with pytest.raises(ValueError, match="x has shape"):  # the arrays must be the spec's
        assert_conv_close(y, x[:, :, :-1], w, b, spec=c.spec)
    with pytest.raises(TypeError, match="give spec= or the convolution's keywords, not both"):
        assert_conv_close(y, x, w, b, spec=c.spec, stride=2)


def test_a_keyword_typo_in_the_comparison_is_named_with_the_nearest_keyword() -> None:
    x, w = np.ones((1, 1, 4)), np.ones((1, 1, 2))
    message = r"assert_conv_close\(\) got an unexpected keyword argument 'strides'; did you mean 'stride'\?"
    with pytest.raises(TypeError, match=message):
        assert_conv_close(refconv.conv(x, w), x, w, strides=1)
