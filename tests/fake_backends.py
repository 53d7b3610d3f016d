"""Convolutions with known bugs, for refconv.conform to catch: each as a user's function backend.

Each is refconv.naive (the independent, loop-by-loop road) with one bug of a kind frameworks have
shipped, so a test can say exactly what the conformance run must find and how small the
reproducer must be. ``correct`` has no bug: the run must find nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refconv import ConvSpec, naive
from refconv.backends import Unsupported

Arrays = dict[str, Any]


def correct(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """refconv.naive: y and every VJP, for every configuration refconv has."""
    o = spec.options()
    if spec.transposed:
        y, (dx, dw, db) = naive.conv_transpose(x, w, b, **o), naive.conv_transpose_vjp(x, w, dy, **o)
    else:
        y, (dx, dw, db) = naive.conv(x, w, b, **o), naive.conv_vjp(x, w, dy, **o)
    return {"y": y, "dx": dx, "dw": dw, "db": db}


correct.gradients = True  # type: ignore[attr-defined]
correct.dtypes = ("float64", "float32")  # type: ignore[attr-defined]


def _plain(spec: ConvSpec) -> None:
    """The bugs below are written for plain convolutions: the canonical layout, no groups, zero padding."""
    plain = (
        spec.groups == spec.batch_groups == 1 and spec.padding_mode == "zeros" and not spec.dimension_numbers
    )
    if spec.transposed or not plain or max(spec.input_dilation) > 1:
        raise Unsupported("plain convolutions only")


def swapped_weight_vjp(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """The weight VJP reads x at ``i * dilation + k * stride`` instead of ``i * stride + k * dilation``.

    A slip that agrees whenever stride == dilation (so with both 1, the usual test), and at no
    other stride and dilation; y and dx are right.
    """
    _plain(spec)
    result = correct(spec, x, w, b, dy)
    dw = np.zeros(w.shape, np.result_type(x, dy))
    lows = [lo for lo, _ in spec.padding]
    for k in np.ndindex(*w.shape[2:]):
        for i in np.ndindex(*dy.shape[2:]):
            at = [
                i_ * d + k_ * s - lo
                for i_, k_, s, d, lo in zip(i, k, spec.stride, spec.dilation, lows, strict=True)
            ]
            if all(0 <= p < n for p, n in zip(at, x.shape[2:], strict=True)):
                dw[(slice(None), slice(None), *k)] += (
                    dy[(slice(None), slice(None), *i)].T @ x[(slice(None), slice(None), *at)]
                )
    result["dw"] = dw.astype(w.dtype)
    return result


swapped_weight_vjp.gradients = True  # type: ignore[attr-defined]


def same_odd_pixel_first(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """``padding="same"`` puts the odd padding pixel at the start (as "same_lower" does), not the end."""
    _plain(spec)
    o = spec.options()
    if o.get("padding") == "same":
        o["padding"] = "same_lower"
    return {"y": naive.conv(x, w, b, **o)}


same_odd_pixel_first.gradients = False  # type: ignore[attr-defined]


def forgets_output_padding(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """The transposed convolution without its output_padding rows: one row short where it is 1."""
    if not spec.transposed:
        raise Unsupported("transposed convolutions only")
    o = {k: v for k, v in spec.options().items() if k != "output_padding"}
    return {"y": naive.conv_transpose(x, w, b, **o)}


forgets_output_padding.gradients = False  # type: ignore[attr-defined]


def refuses_groups(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Raises on any grouped convolution, as a kernel with a missing case does."""
    if spec.groups > 1:
        raise RuntimeError(f"no kernel for groups={spec.groups}")
    return correct(spec, x, w, b, dy)


refuses_groups.gradients = True  # type: ignore[attr-defined]


def float32_inside(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Claims float64 and computes in float32 (MLX 0.32 does this), returning float64 arrays."""
    o = spec.options()
    if spec.transposed:
        raise Unsupported("convolutions only")
    y = naive.conv(
        x.astype(np.float32), w.astype(np.float32), None if b is None else b.astype(np.float32), **o
    )
    return {"y": y.astype(x.dtype)}


float32_inside.gradients = False  # type: ignore[attr-defined]


def no_float64_and_stride_ignored(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Raises for float64 (no kernel) and ignores the stride in every other dtype, as MLX's worst mix."""
    if x.dtype == np.float64:
        raise RuntimeError("no float64 kernel")
    _plain(spec)
    o = {k: v for k, v in spec.options().items() if k != "stride"}
    return {"y": naive.conv(x, w, b, **o)}


no_float64_and_stride_ignored.gradients = False  # type: ignore[attr-defined]
no_float64_and_stride_ignored.dtypes = ("float64", "float32", "float16")  # type: ignore[attr-defined]


def keeps_one_image(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Returns one image of zeros for an empty batch (as if the batch size were clamped to 1)."""
    result = correct(spec, x, w, b, dy)
    if x.shape[0] == 0:
        result["y"] = np.zeros((1, *result["y"].shape[1:]), result["y"].dtype)
    return result


keeps_one_image.gradients = True  # type: ignore[attr-defined]
FAKE_CONSTANT = 3  # not a backend: tests/test_backends_registry.py
