"""Named array operations of the fast path: dilate and pad, window views, group reshapes.

Each is one step of a derivation with a name, so that :mod:`refconv.conv`
and :mod:`refconv.vjp` read as the formulas they implement.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from refconv.geometry import Padding, Shape, dilated_shape, dilated_size


def _placed_range(size: int, dilation: int, lo: int, padded: int) -> tuple[slice, slice]:
    """Source and destination slices of the elements that survive dilation and (signed) padding.

    Element ``t`` of the input lands at ``dilation * t + lo``; those that land
    inside ``[0, padded)`` are kept.
    """
    first = max(0, -(lo // dilation))
    stop = min(size, -((lo - padded) // dilation))
    if stop <= first:
        return slice(0, 0), slice(0, 0)
    return slice(first, stop), slice(dilation * first + lo, dilation * (stop - 1) + lo + 1, dilation)


def dilate_and_pad(
    x: NDArray[Any], input_dilation: Shape, padding: Padding, channels_last: bool = False
) -> NDArray[Any]:
    """``x`` with ``D - 1`` zeros between elements and signed ``(lo, hi)`` padding, per spatial dim.

    This is XLA's ``pad`` with interior padding: negative padding crops. The
    result is a new array, ``(N, C, *padded)``, or ``(N, *padded, C)`` with
    ``channels_last`` (the fast path's layout: a window's channels are then
    contiguous, so copying windows moves long runs).
    """
    spatial = x.shape[2:]
    padded = tuple(
        dilated_size(n, dil) + lo + hi
        for n, dil, (lo, hi) in zip(spatial, input_dilation, padding, strict=True)
    )
    ranges = [
        _placed_range(n, dil, lo, size)
        for n, dil, (lo, _), size in zip(spatial, input_dilation, padding, padded, strict=True)
    ]
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


_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def mode_index(size: int, lo: int, hi: int, mode: str) -> NDArray[np.intp]:
    """Which input element each of the ``lo + size + hi`` padded positions copies.

    ``"reflect"`` mirrors without repeating the edge (PyTorch's ``reflect``,
    NumPy's ``reflect``), ``"replicate"`` repeats the edge (NumPy's ``edge``),
    ``"circular"`` wraps around (NumPy's ``wrap``).
    """
    return np.pad(np.arange(size), (lo, hi), mode=_NUMPY_MODE[mode])  # type: ignore[call-overload, no-any-return]


def pad_with_mode(x: NDArray[Any], padding: Padding, mode: str) -> NDArray[Any]:
    """``x`` padded per spatial dim by ``(lo, hi)`` copies of its own elements (a new array)."""
    for axis, (lo, hi) in enumerate(padding, start=2):
        x = np.take(x, mode_index(x.shape[axis], lo, hi, mode), axis=axis)
    return x


def pad_with_mode_vjp(g: NDArray[Any], x_shape: Shape, padding: Padding, mode: str) -> NDArray[Any]:
    """VJP of :func:`pad_with_mode`: each padded position's cotangent is added onto the element it copied.

    The transpose of a gather is a scatter-add: per spatial dim, ``out[index[j]] += g[j]``
    (``np.add.at``, so that the several positions copying one element all count).
    """
    for axis in reversed(range(2, len(x_shape))):
        lo, hi = padding[axis - 2]
        folded = np.zeros((*g.shape[:axis], x_shape[axis], *g.shape[axis + 1 :]), g.dtype)
        index = mode_index(x_shape[axis], lo, hi, mode)
        np.add.at(np.moveaxis(folded, axis, 0), index, np.moveaxis(g, axis, 0))
        g = folded
    return g
