"""Comparisons with stated tolerances, shared by the test modules."""

from __future__ import annotations

from typing import Any

import numpy as np

import refconv
from refconv import _normalize as norm
from refconv.geometry import ConvParams
from refconv.testing import conv_error_bounds
from tests.cases import Case

ARRAYS = ("y", "dx", "dw", "db")


def params(case: Case) -> ConvParams:
    keywords = {k: v for k, v in case.keywords.items() if k != "padding_mode"}
    return norm.checked_params(case.x_shape, case.w_shape, **keywords)


def padding_mode(case: Case) -> str:
    return str(case.keywords.get("padding_mode", "zeros"))


def refconv_results(case: Case, seed: int = 0, module: Any = refconv) -> dict[str, np.ndarray]:
    """``y, dx, dw, db`` of ``case`` through a module's public API (refconv or refconv.naive)."""
    x, w, b, dy = case.arrays(seed)
    dx, dw, db = module.conv_vjp(x, w, dy, **case.keywords)
    return {"y": module.conv(x, w, b, **case.keywords), "dx": dx, "dw": dw, "db": db}


def assert_results_match(
    case: Case, got: dict[str, np.ndarray], want: dict[str, np.ndarray], seed: int = 0
) -> None:
    """Every array has the same shape, and differs by no more than the float64 round-off bound.

    Tolerance: :func:`refconv.testing.conv_error_bounds`, twice the rigorous
    forward-error bound of a K-term float64 dot product for the number of
    terms each array sums; a difference above it cannot be round-off.
    """
    x, w, b, dy = case.arrays(seed)
    bounds = conv_error_bounds(x, w, dy, params(case), b, padding_mode=padding_mode(case))
    for name in ARRAYS:
        assert got[name].shape == want[name].shape, f"{name}: shape {got[name].shape} != {want[name].shape}"
        diff = float(np.max(np.abs(got[name] - want[name]), initial=0.0))
        assert diff <= bounds[name], f"{case.id} {name}: max |diff| {diff:.3e} > bound {bounds[name]:.3e}"
