"""Purity, ownership, dtypes and special values, for the fast path and refconv.naive alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from tests.calls import CALLS, EVERY_ARRAY
from tests.cases import CASES, Case, cases

MODULES = [pytest.param(refconv, id="refconv"), pytest.param(naive, id="naive")]


def _every_output(module: Any, case: Case, x: Any, w: Any, b: Any, dy: Any) -> list[np.ndarray]:
    kw = case.spec.options()
    return [
        module.conv(x, w, b, **kw),
        *module.conv_vjp(x, w, dy, **kw),
        module.conv_input_vjp(np.shape(x), w, dy, **kw),
        module.conv_weight_vjp(x, np.shape(w), dy, **kw),
        module.conv_bias_vjp(dy),
    ]


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("case", cases())
def test_inputs_are_not_mutated_and_outputs_do_not_alias_them(module: Any, case: Case) -> None:
    arrays = case.arrays()
    copies = [None if a is None else a.copy() for a in arrays]
    outputs = _every_output(module, case, *arrays)
    for array, copy in zip(arrays, copies, strict=True):
        if array is not None:
            np.testing.assert_array_equal(array, copy)
    for out in outputs:
        assert out.flags.writeable
        assert not any(a is not None and np.shares_memory(out, a) for a in arrays)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize(
    "dtypes",
    [
        ("float32", "float32", "float32"),
        ("float32", "float64", "float32"),
        ("int32", "int64", "float32"),
        ("int64", "int32", "int16"),
        ("complex64", "float32", "float64"),
    ],
    ids=lambda d: "-".join(d),
)
def test_result_dtype_is_the_result_type_of_the_arrays_given(
    module: Any, dtypes: tuple[str, str, str]
) -> None:
    case = CASES[0]
    x64, w64, _, dy64 = case.arrays()
    x, w, dy = x64.astype(dtypes[0]), w64.astype(dtypes[1]), dy64.astype(dtypes[2])
    b = np.ones(w.shape[0], dtypes[1])
    kw = case.spec.options()
    expected = {
        "conv": np.result_type(x, w, b),
        "conv_vjp": np.result_type(x, w, dy),
        "conv_input_vjp": np.result_type(w, dy),
        "conv_weight_vjp": np.result_type(x, dy),
        "conv_bias_vjp": dy.dtype,
    }
    got = {
        "conv": [module.conv(x, w, b, **kw)],
        "conv_vjp": module.conv_vjp(x, w, dy, **kw),
        "conv_input_vjp": [module.conv_input_vjp(x.shape, w, dy, **kw)],
        "conv_weight_vjp": [module.conv_weight_vjp(x, w.shape, dy, **kw)],
        "conv_bias_vjp": [module.conv_bias_vjp(dy)],
    }
    for name, outputs in got.items():
        assert [out.dtype for out in outputs] == [expected[name]] * len(outputs), name


@pytest.mark.parametrize(("module", "name", "wide"), EVERY_ARRAY)
def test_every_array_of_every_function_counts_in_its_result_dtype(module: Any, name: str, wide: str) -> None:
    """One array float64 and the rest float32: every result is float64, whichever array it is (a
    function that left one array out of its result type would return float32 here)."""
    call, arrays = CALLS[name]
    given = {array: a.astype("float64" if array == wide else "float32") for array, a in arrays.items()}
    outputs = call(module, given)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert [out.dtype for out in outputs] == [np.dtype("float64")] * len(outputs), wide


@pytest.mark.parametrize("module", MODULES)
def test_array_likes_are_accepted(module: Any) -> None:
    x = [[[1.0, 2.0, 3.0, 4.0]]]
    w = [[[1.0, -1.0]]]
    np.testing.assert_array_equal(module.conv(x, w, [0.5]), [[[-0.5, -0.5, -0.5]]])
    dx, dw, db = module.conv_vjp(x, w, [[[1.0, 1.0, 1.0]]])
    np.testing.assert_array_equal(dx, [[[1.0, 0.0, 0.0, -1.0]]])
    np.testing.assert_array_equal(dw, [[[6.0, 9.0]]])
    np.testing.assert_array_equal(db, [3.0])


@pytest.mark.parametrize("module", MODULES)
def test_nan_and_inf_propagate_only_where_they_are_read(module: Any) -> None:
    x = np.zeros((1, 1, 6))
    x[0, 0, 1], x[0, 0, 4] = np.nan, np.inf
    y = module.conv(x, np.ones((1, 1, 2)), stride=2)  # windows [0, 1], [2, 3], [4, 5]
    assert np.isnan(y[0, 0, 0])
    assert y[0, 0, 1] == 0.0
    assert y[0, 0, 2] == np.inf
    dw = module.conv_weight_vjp(x, (1, 1, 2), np.ones((1, 1, 3)), stride=2)
    assert dw[0, 0, 0] == np.inf  # tap 0 reads x[0], x[2], x[4]
    assert np.isnan(dw[0, 0, 1])  # tap 1 reads x[1], x[3], x[5]


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("case", cases(lambda c: c.spec.given_shape("x")[0] == 0))
def test_empty_batch_gives_empty_results_of_the_right_shape(module: Any, case: Case) -> None:
    x, w, b, dy = case.arrays()
    y = module.conv(x, w, b, **case.spec.options())
    dx, dw, db = module.conv_vjp(x, w, dy, **case.spec.options())
    assert y.shape == refconv.conv_output_shape(x.shape, w.shape, **case.spec.options())
    assert y.size == 0
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros(w.shape[0]))


def test_fast_path_windows_are_read_only_views() -> None:
    from refconv._ops import dilate_and_pad, window_view

    xp = dilate_and_pad(np.arange(24.0).reshape(1, 2, 3, 4), (1, 1), ((1, 0), (0, 1)))
    windows = window_view(xp, (2, 2), (1, 2), (1, 1))
    assert not windows.flags.writeable
    assert np.shares_memory(windows, xp)


@pytest.mark.parametrize("module", MODULES)
def test_the_bias_vjp_honours_preferred_element_type(module: Any) -> None:
    """db of a float32 cotangent asked for in float64 is float64 (values: sums of small integers, exact)."""
    dy = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    db = module.conv_bias_vjp(dy, preferred_element_type=np.float64)
    assert db.dtype == np.float64
    assert db.tolist() == dy.astype(np.float64).sum(axis=(0, 2, 3)).tolist()


@pytest.mark.parametrize("module", MODULES)
def test_the_bias_vjp_sums_over_the_callers_channel_axis(module: Any) -> None:
    """Channels last (dimension_numbers "NHWC"): db sums over every axis but the last (small
    integers: exact)."""
    dy = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (N, H, W, C)
    db = module.conv_bias_vjp(dy, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    assert db.tolist() == dy.sum(axis=(0, 1, 2)).tolist()
