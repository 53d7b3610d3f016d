"""Convolutions with known bugs, for refconv.conform to catch: each as a user's function backend.

Each is refconv.naive (the independent, loop-by-loop road) with one bug of a kind frameworks have
shipped, so a test can say exactly what the conformance run must find and how small the
reproducer must be. ``correct`` has no bug: the run must find nothing. :data:`BUGS` lists them
all; tests/test_search_strength.py measures after how many cases the default run finds each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from refconv import ConvSpec, geometry, naive
from refconv.backends import Unsupported

Arrays = dict[str, Any]


def correct(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """refconv.naive: y and every VJP, for every configuration refconv has."""
    return _naive(spec.options(), spec.transposed, x, w, b, dy)


def _naive(o: dict[str, Any], transposed: bool, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """refconv.naive's y and VJPs of the problem with keywords ``o``."""
    if transposed:
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


def _canonical(spec: ConvSpec) -> None:
    if spec.dimension_numbers:
        raise Unsupported("the canonical layout only")


F = TypeVar("F", bound=Callable[..., Arrays])


def _bug(*, gradients: bool = True, dtypes: tuple[str, ...] = ("float64", "float32")) -> Callable[[F], F]:
    """Mark a buggy backend: which outputs it gives and in which dtypes (for the registry)."""

    def mark(f: F) -> F:
        f.gradients, f.dtypes = gradients, dtypes  # type: ignore[attr-defined]
        return f

    return mark


def _channel_major(a: Any, groups: int, axis: int) -> Any:
    """``a`` with its ``axis`` read as (per group, group) instead of (group, per group)."""
    a = np.moveaxis(a, axis, 0)
    per = a.shape[0] // groups
    return np.moveaxis(a.reshape(groups, per, *a.shape[1:]).swapaxes(0, 1).reshape(a.shape), 0, axis)


@_bug()
def same_split_up_above_kernel(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """``padding="same"`` puts an odd pixel at the start in each dim whose stride exceeds the kernel."""
    o = spec.options()
    if o.get("padding") == "same" and not spec.transposed:
        o["padding"] = tuple(
            (hi, lo) if s > k else (lo, hi)
            for (lo, hi), s, k in zip(spec.padding, spec.stride, spec.w_shape[2:], strict=True)
        )
    return _naive(o, spec.transposed, x, w, b, dy)


@_bug()
def transposed_dx_ignores_dilation(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """A transposed convolution's dx correlates dy with the kernel undilated (then cut to x's shape)."""
    result = correct(spec, x, w, b, dy)
    if spec.transposed and max(spec.dilation) > 1 and not spec.dimension_numbers:
        if min(min(pair) for pair in spec.padding) < 0:
            raise Unsupported("non-negative padding only")
        dx = naive.conv(dy, w, stride=spec.stride, padding=spec.padding, groups=spec.groups)
        cut = dx[(slice(None), slice(None), *(slice(0, n) for n in x.shape[2:]))]
        result["dx"] = np.zeros_like(x)
        result["dx"][(slice(None), slice(None), *(slice(0, n) for n in cut.shape[2:]))] = cut
    return result


@_bug()
def grouped_dw_channel_major(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Groups applied to the wrong axis of dw: its first axis read channel-major, not group-major."""
    _canonical(spec)
    result = correct(spec, x, w, b, dy)
    if spec.groups > 1:
        result["dw"] = _channel_major(result["dw"], spec.groups, 0)
    return result


@_bug()
def dx_remainder_at_the_start(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """dx computed r rows short (no output_padding in its transposed convolution), padded at the start."""
    _canonical(spec)
    result = correct(spec, x, w, b, dy)
    if not spec.transposed and spec.padding_mode == "zeros" and dy.size:
        r = geometry.remainder(spec.x_shape[2:], spec.w_shape[2:], spec.params)
        dx = result["dx"]
        for axis, rows in enumerate(r, start=2):
            if rows and dx.shape[axis] > rows:
                dx = np.roll(dx, rows, axis=axis)  # the r zero rows of the end, now at the start
        result["dx"] = dx
    return result


@_bug(gradients=False)
def output_padding_at_the_start(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """The transposed convolution's output_padding rows added before its first row, not after its last."""
    _canonical(spec)
    y = correct(spec, x, w, b, dy)["y"]
    if spec.transposed:
        bias = 0 if b is None else b.reshape(-1, *(1,) * spec.ndim)
        y = y - bias
        for axis, rows in enumerate(spec.output_padding, start=2):
            y = np.roll(y, rows, axis=axis)
        y = y + bias
    return {"y": y}


@_bug(gradients=False)
def one_sided_crop_at_the_other_end(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Padding negative on one side only crops the input at the other side."""
    _plain(spec)
    o = spec.options()
    pads, index = list(spec.padding), [slice(None), slice(None)]
    for d, (lo, hi) in enumerate(spec.padding):
        index.append(slice(None))
        if lo < 0 <= hi:
            pads[d], index[-1] = (0, hi), slice(0, x.shape[2 + d] + lo)
        elif hi < 0 <= lo:
            pads[d], index[-1] = (lo, 0), slice(-hi, None)
    o["padding"] = tuple(pads)
    return {"y": naive.conv(x[tuple(index)], w, b, **o)}


@_bug()
def float32_when_dilated(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """A dilated float64 convolution computed in float32 (a dilated kernel without a float64 variant)."""
    if x.dtype != np.float64 or max((*spec.dilation, *spec.input_dilation)) == 1:
        return correct(spec, x, w, b, dy)
    low = [None if a is None else a.astype(np.float32) for a in (x, w, b, dy)]
    return {k: v.astype(np.float64) for k, v in correct(spec, *low).items()}


@_bug()
def empty_output_clamped(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """An output dim of size 0 is clamped to 1 (the bias alone), as ``max(1, size)`` does."""
    result = correct(spec, x, w, b, dy)
    y = result["y"]
    if 0 in y.shape[2:]:
        shape = (*y.shape[:2], *(max(1, m) for m in y.shape[2:]))
        result["y"] = np.zeros(shape, y.dtype) + (0 if b is None else b.reshape(-1, *(1,) * spec.ndim))
    return result


@_bug()
def db_averaged_over_the_batch(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """db is the batch mean of dy's sums, not their sum (a loss-reduction mix-up in the bias kernel)."""
    result = correct(spec, x, w, b, dy)
    if result["db"] is not None and x.shape[0] > 1:  # N leads in every layout
        result["db"] = result["db"] / x.shape[0]
    return result


@_bug()
def replicate_as_reflect(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """``padding_mode="replicate"`` reflects where the input is long enough to reflect."""
    o = spec.options()
    if o.get("padding_mode") == "replicate" and all(
        max(pair) < n for pair, n in zip(spec.padding, spec.x_shape[2:], strict=True)
    ):
        o["padding_mode"] = "reflect"
    return _naive(o, spec.transposed, x, w, b, dy)


@_bug()
def circular_sides_swapped(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """``padding_mode="circular"`` pads each side with as many rows as the other side asked for."""
    o = spec.options()
    if o.get("padding_mode") == "circular":
        o["padding"] = tuple((hi, lo) for lo, hi in spec.padding)
    return _naive(o, spec.transposed, x, w, b, dy)


@_bug()
def channels_last_kernel_io_swapped(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """A channels-last kernel's I and O axes swapped (``HWIO`` read as ``HWOI``)."""
    o = spec.options()
    if spec.dimension_numbers:
        lhs, rhs, out = spec.dimension_numbers
        o["dimension_numbers"] = (lhs, rhs.translate(str.maketrans("IO", "OI")), out)
    return _naive(o, spec.transposed, x, w, b, dy)


@_bug(gradients=False)
def batch_groups_interleaved(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Batch groups taken as every bg-th image (interleaved), not as consecutive blocks of the batch."""
    _canonical(spec)
    if spec.batch_groups > 1:
        x = _channel_major(x, x.shape[0] // spec.batch_groups, 0)
    return {"y": correct(spec, x, w, b, dy)["y"]}


@_bug(gradients=False)
def transposed_groups_interleaved(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """A grouped transposed convolution's output channels come out channel-major, not group-major."""
    _canonical(spec)
    y = correct(spec, x, w, b, dy)["y"]
    if spec.transposed and spec.groups > 1:
        y = _channel_major(y, spec.groups, 1)
    return {"y": y}


@_bug(gradients=False)
def depthwise_multiplier_interleaved(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """A depthwise convolution with a channel multiplier orders its outputs multiplier-major."""
    _canonical(spec)
    y = correct(spec, x, w, b, dy)["y"]
    if not spec.transposed and spec.groups > 1 and spec.groups == spec.x_shape[1]:
        y = _channel_major(y, y.shape[1] // spec.groups, 1)
    return {"y": y}


@_bug()
def same_ignores_dilation(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """``padding="same"`` sized for the undilated kernel."""
    o = spec.options()
    if o.get("padding") in ("same", "same_lower") and max(spec.dilation) > 1 and not spec.transposed:
        plain = dataclasses.replace(spec.params, dilation=(1,) * spec.ndim)
        lower = o["padding"] == "same_lower"
        o["padding"] = geometry.same_padding(spec.x_shape[2:], spec.w_shape[2:], plain, lower=lower)
    return _naive(o, spec.transposed, x, w, b, dy)


@_bug(gradients=False)
def bias_skipped_where_nothing_is_read(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Outputs whose window holds only padding are left at 0, without the bias (a sparse fast path)."""
    _plain(spec)
    y = correct(spec, x, w, b, dy)["y"]
    if b is None:
        return {"y": y}
    reads = []
    for d, (n, k, m) in enumerate(zip(spec.x_shape[2:], spec.w_shape[2:], y.shape[2:], strict=True)):
        s, dil, lo = spec.stride[d], spec.dilation[d], spec.padding[d][0]
        reads.append([any(0 <= i * s + j * dil - lo < n for j in range(k)) for i in range(m)])
    for position in np.ndindex(*y.shape[2:]):
        if not all(reads[d][i] for d, i in enumerate(position)):
            y[(slice(None), slice(None), *position)] = 0
    return {"y": y}


@_bug(gradients=False)
def pointwise_fast_path_ignores_padding(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """A 1x1 kernel takes a matmul fast path that forgets the padding (and the dilation is moot)."""
    _plain(spec)
    if max(spec.w_shape[2:]) > 1:
        return {"y": correct(spec, x, w, b, dy)["y"]}
    o = {k: v for k, v in spec.options().items() if k not in ("padding",)}
    return {"y": naive.conv(x, w, b, **o)}


@_bug()
def input_dilation_trailing_zeros(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Input dilation makes n * ld rows (zeros after the last element too), not (n - 1) * ld + 1."""
    o = spec.options()
    if not spec.transposed and max(spec.input_dilation) > 1 and spec.padding_mode == "zeros":
        o["padding"] = tuple(
            (lo, hi + ld - 1) for (lo, hi), ld in zip(spec.padding, spec.input_dilation, strict=True)
        )
    return _naive(o, spec.transposed, x, w, b, dy)


@_bug()
def one_channel_fast_path_ignores_dilation(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """One input and one output channel take a scalar fast path that forgets the kernel dilation."""
    o = spec.options()
    if spec.x_shape[1] == spec.y_shape[1] == 1 and not spec.transposed and max(spec.dilation) > 1:
        del o["dilation"]
        forward = naive.conv(x, w, b, **o)
        if forward.shape == spec.y_shape:
            return {**correct(spec, x, w, b, dy), "y": forward}
        raise ValueError(f"fast path: output shape {forward.shape}")
    return _naive(o, spec.transposed, x, w, b, dy)


@_bug()
def one_image_drops_the_bias(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """A batch of one image (the inference path) forgets to add the bias."""
    result = correct(spec, x, w, b, dy)
    if x.shape[0] == 1 and b is not None:
        result["y"] = correct(spec, x, w, None, dy)["y"]
    return result


@_bug(gradients=False)
def transposed_gaps_uninitialised(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Output rows of a transposed convolution that no tap writes (stride above the dilated kernel)
    keep whatever the buffer held (here 0.5), bias not added."""
    _plain_transposed(spec)
    y = correct(spec, x, w, b, dy)["y"]
    written = []
    for d, (n, k, m) in enumerate(zip(x.shape[2:], w.shape[2:], y.shape[2:], strict=True)):
        s, dil, lo = spec.stride[d], spec.dilation[d], spec.padding[d][0]
        hit = {i * s + j * dil - lo for i in range(n) for j in range(k)}
        written.append([o in hit for o in range(m)])
    for position in np.ndindex(*y.shape[2:]):
        if not all(written[d][i] for d, i in enumerate(position)):
            y[(slice(None), slice(None), *position)] = 0.5
    return {"y": y}


def _plain_transposed(spec: ConvSpec) -> None:
    if not spec.transposed or spec.dimension_numbers:
        raise Unsupported("transposed convolutions in the canonical layout only")


#: Every buggy backend of this module.
BUGS = (
    "swapped_weight_vjp", "same_odd_pixel_first", "forgets_output_padding", "refuses_groups",
    "float32_inside", "no_float64_and_stride_ignored", "keeps_one_image",
    "same_split_up_above_kernel", "transposed_dx_ignores_dilation", "grouped_dw_channel_major",
    "dx_remainder_at_the_start", "output_padding_at_the_start", "one_sided_crop_at_the_other_end",
    "float32_when_dilated", "empty_output_clamped", "db_averaged_over_the_batch", "replicate_as_reflect",
    "circular_sides_swapped", "channels_last_kernel_io_swapped", "batch_groups_interleaved",
    "transposed_groups_interleaved", "depthwise_multiplier_interleaved", "same_ignores_dilation",
    "bias_skipped_where_nothing_is_read", "pointwise_fast_path_ignores_padding",
    "input_dilation_trailing_zeros", "one_channel_fast_path_ignores_dilation", "one_image_drops_the_bias",
    "transposed_gaps_uninitialised",
)  # fmt: skip
FAKE_CONSTANT = 3  # not a backend: tests/test_backends_registry.py


@_bug()
def refuses_groups_and_keeps_one_image(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Both bugs at once: refuses_groups's, then keeps_one_image's (one more bug than the first)."""
    refuses_groups(spec, x, w, b, dy)
    return keeps_one_image(spec, x, w, b, dy)


# --- the family: a user's own patches and deformable kernels (function backends with `operator`) ---


def my_patches(spec: ConvSpec, x: Any, dy: Any) -> Arrays:
    """A correct im2col kernel and its fold: refconv.naive's, on the windows of ``spec``."""
    k, options = spec.w_shape[2:], {n: v for n, v in spec.options().items() if n != "groups"}
    return {"y": naive.conv_patches(x, k, **options), "dx": naive.fold(dy, x.shape, k, **options)}


my_patches.operator = "patches"  # type: ignore[attr-defined]
my_patches.gradients = True  # type: ignore[attr-defined]


def my_deform_offset_sign(spec: ConvSpec, x: Any, w: Any, b: Any, offset: Any, mask: Any, dy: Any) -> Arrays:
    """A deformable convolution whose offset VJP has the wrong sign, as a kernel author's first try."""
    options = spec.options()
    y = naive.deform_conv(x, w, offset, b, mask, **options)
    dx, dw, db, doffset, dmask = naive.deform_conv_vjp(x, w, offset, dy, mask, **options)
    got = {"y": y, "dx": dx, "dw": dw, "db": db, "doffset": -doffset}
    return got | ({"dmask": dmask} if mask is not None else {})


my_deform_offset_sign.operator = "deform"  # type: ignore[attr-defined]
my_deform_offset_sign.gradients = True  # type: ignore[attr-defined]
