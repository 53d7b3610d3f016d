"""Named array operations: dilate and pad, window views, group reshapes, the kernel's transpose.

Each is one step of a derivation with a name, so that :mod:`refconv.conv`,
:mod:`refconv.fast` and :mod:`refconv.vjp` read as the formulas they
implement. The arithmetic behind them (sizes, where elements land) is
:mod:`refconv.geometry`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from refconv.geometry import Padding, Shape, dilated_shape, padded_size, placement


def dilate_and_pad(
    x: NDArray[Any], input_dilation: Shape, padding: Padding, channels_last: bool = False
) -> NDArray[Any]:
    """``x`` with ``D - 1`` zeros between elements and signed ``(lo, hi)`` padding, per spatial dim.

    This is XLA's ``pad`` with interior padding: negative padding crops. The
    result is a new array, ``(N, C, *padded)``, or ``(N, *padded, C)`` with
    ``channels_last`` (the fast path's layout: a window's channels are then
    contiguous, so copying windows moves long runs). Where each element lands
    is :func:`refconv.geometry.placement`.
    """
    dims = list(zip(x.shape[2:], input_dilation, padding, strict=True))
    padded = tuple(padded_size(n, dil, lo, hi) for n, dil, (lo, hi) in dims)
    ranges = [placement(n, dil, lo, hi) for n, dil, (lo, hi) in dims]
    src, dst = tuple(s for s, _ in ranges), tuple(d for _, d in ranges)
    if channels_last:
        out = np.zeros((x.shape[0], *padded, x.shape[1]), dtype=x.dtype)
        out[(slice(None), *dst)] = np.moveaxis(x, 1, -1)[(slice(None), *src)]
        return out
    out = np.zeros(x.shape[:2] + padded, dtype=x.dtype)
    out[(slice(None), slice(None), *dst)] = x[(slice(None), slice(None), *src)]
    return out


def window_view(
    xp: NDArray[Any], kernel: Shape, stride: Shape, dilation: Shape, channels_last: bool = False
) -> NDArray[Any]:
    """Read-only view of the windows of ``xp`` that a convolution reads.

    ``xp`` is already dilated and padded, ``(N, C, *spatial)`` or, with
    ``channels_last``, ``(N, *spatial, C)``; the view is ``(N, C, *out, *kernel)``
    or ``(N, *out, C, *kernel)``. Window ``j`` starts at ``s * j``; its taps are
    ``d`` apart. No data is copied; the view is not writeable.
    """
    nd = len(kernel)
    first = 1 if channels_last else 2
    windows = sliding_window_view(xp, dilated_shape(kernel, dilation), axis=tuple(range(first, first + nd)))
    steps = (*(slice(None, None, s) for s in stride), *(slice(None, None, d) for d in dilation))
    if channels_last:
        return windows[(slice(None), *steps[:nd], slice(None), *steps[nd:])]
    return windows[(slice(None), slice(None), *steps)]


def window_sum(windows: NDArray[Any], padded: Shape, stride: Shape, dilation: Shape) -> NDArray[Any]:
    """The adjoint of :func:`window_view`: each window element added back where the view read it.

    ``windows`` is ``(N, C, *out, *kernel)``; the result is a new ``(N, C, *padded)`` array whose
    element ``s j + d t`` is the sum of the window elements ``(j, t)`` that read it (one strided
    slice per tap, so the sum never multiplies: a NaN stays where it was).
    """
    nd = len(padded)
    out, kernel = windows.shape[2 : 2 + nd], windows.shape[2 + nd :]
    summed = np.zeros((*windows.shape[:2], *padded), windows.dtype)
    for tap in np.ndindex(*kernel):
        reads = tuple(
            slice(d * t, d * t + s * (m - 1) + 1, s)
            for t, s, d, m in zip(tap, stride, dilation, out, strict=True)
        )
        summed[(slice(None), slice(None), *reads)] += windows[(slice(None), slice(None), Ellipsis, *tap)]
    return summed


def undilate_and_unpad(
    xp: NDArray[Any], x_shape: Shape, input_dilation: Shape, padding: Padding
) -> NDArray[Any]:
    """The adjoint of :func:`dilate_and_pad`: the elements of ``x`` read back from the padded ``xp``.

    A new ``x_shape`` array; an element cropped by negative padding gets zero.
    """
    ranges = [
        placement(n, dil, lo, hi)
        for n, dil, (lo, hi) in zip(x_shape[2:], input_dilation, padding, strict=True)
    ]
    x = np.zeros(x_shape, xp.dtype)
    x[(slice(None), slice(None), *(src for src, _ in ranges))] = xp[
        (slice(None), slice(None), *(dst for _, dst in ranges))
    ]
    return x


def split_axis(x: NDArray[Any], axis: int, size: int) -> NDArray[Any]:
    """Split ``axis`` into ``(size, x.shape[axis] // size)``, the group index major."""
    shape = (*x.shape[:axis], size, x.shape[axis] // size, *x.shape[axis + 1 :])
    return x.reshape(shape)


def merge_axis_into(x: NDArray[Any], src: int, dst: int) -> NDArray[Any]:
    """Move axis ``src`` in front of axis ``dst`` and merge the two, ``src`` major.

    ``dst`` counts axes after ``src`` is removed (as JAX's ``_reshape_axis_into``).
    """
    moved = np.moveaxis(x, src, dst)
    merged = moved.shape[dst] * moved.shape[dst + 1]
    return moved.reshape((*moved.shape[:dst], merged, *moved.shape[dst + 2 :]))


def swap_batch_and_channels(x: NDArray[Any]) -> NDArray[Any]:
    """View of ``(A, B, *spatial)`` as ``(B, A, *spatial)``."""
    return x.swapaxes(0, 1)


def transpose_kernel(w: NDArray[Any], groups: int) -> NDArray[Any]:
    """Flip ``w`` in every spatial axis and swap its in/out roles within each group.

    ``(G*O', I, *K)`` becomes ``(G*I, O', *K)`` with
    ``out[g*I + i, o, k] = w[g*O' + o, i, K - 1 - k]``.
    """
    flipped = np.flip(w, axis=tuple(range(2, w.ndim)))
    grouped = split_axis(flipped, 0, groups)  # (G, O', I, *K)
    return merge_axis_into(grouped.swapaxes(1, 2), 0, 0)  # (G*I, O', *K)
