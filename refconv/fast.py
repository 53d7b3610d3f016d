r"""The fast path: the general convolution by one of four strategies, behind one dispatcher.

Each strategy computes exactly :func:`refconv.conv.conv_definition` (the tests
check each against it on the shared grid); they differ in how much memory
they move:

``window_matmul``
    the default: copy windows channels-last, in bounded chunks, into one
    matmul batched over the groups;
``depthwise_taps``
    one input channel per group: a vectorised multiply-add per kernel tap,
    no window copy;
``shifted_products``
    far fewer output than input channels: multiply every input position by
    every tap first, then add the strided slices each tap contributes;
``phases``
    input dilation: one undilated convolution per phase of the outputs, so
    that no product with an inserted zero is formed
    (:func:`refconv.geometry.input_dilation_phases`).

Memory: window copies are chunked to at most ``budget`` elements, by default
twice the larger of the padded input and the output (at least
:data:`MIN_CHUNK_ELEMENTS`). Measured on the docs' :doc:`/performance` page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv._ops import dilate_and_pad, split_axis, window_view
from refconv.geometry import (
    ConvParams,
    Shape,
    input_dilation_phases,
    output_shape,
    output_spatial_shape,
    padded_shape,
    tap_reads,
)

__all__ = ["MIN_CHUNK_ELEMENTS", "STRATEGIES", "applicable_strategies", "conv_general", "strategy_for"]

#: The window contraction copies at most this many elements at once, or twice the larger of its
#: padded input and its output if that is more.
MIN_CHUNK_ELEMENTS = 1 << 20

Strategy = Callable[[NDArray[Any], NDArray[Any], ConvParams, int | None], NDArray[Any]]


def conv_general(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None = None) -> NDArray[Any]:
    """The general convolution of canonical arrays of one dtype, by the strategy :func:`strategy_for` picks.

    ``x`` is ``(N, C, *spatial)``, ``w`` ``(O, C // G, *kernel)``, the result a
    new ``(N // B, O, *out)`` array; ``budget`` bounds the elements a window
    copy holds at once (default: twice the larger of padded input and output).
    """
    out = output_shape(x.shape, w.shape, p)
    if math.prod(out) == 0:
        return np.zeros(out, np.result_type(x, w))
    return STRATEGIES[strategy_for(x.shape, w.shape, p)](x, w, p, budget)


def _budget(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> int:
    """``budget``, or by default twice the larger of the padded input and the output (or the minimum)."""
    if budget is not None:
        return budget
    padded: int = x.shape[0] * x.shape[1] * math.prod(padded_shape(x.shape[2:], p))
    return max(2 * max(padded, math.prod(output_shape(x.shape, w.shape, p))), MIN_CHUNK_ELEMENTS)


def strategy_for(x_shape: Shape, w_shape: Shape, p: ConvParams) -> str:
    """The name of the strategy that moves the least memory for this convolution (a cost model)."""
    if any(dil > 1 for dil in p.input_dilation):
        return "phases"
    if w_shape[1] == 1 and p.groups > 1 and p.batch_groups == 1:
        return "depthwise_taps"
    if _shifted_products_are_cheaper(x_shape, w_shape, p):
        return "shifted_products"
    return "window_matmul"


def applicable_strategies(w_shape: Shape, p: ConvParams) -> list[str]:
    """Every strategy that computes this convolution correctly, fast or not (the tests try each)."""
    names = ["window_matmul", "phases"]
    if w_shape[1] == 1 and p.batch_groups == 1:
        names.append("depthwise_taps")
    if p.batch_groups == 1:
        names.append("shifted_products")
    return names


def _window_matmul(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """Contract channels-last windows ``(N, *M, C, *K)`` with ``(O, I, *K)`` weights: chunked matmuls.

    The batch is split ``(B, N')`` and the channels ``(G, I)``, group index
    major; output channels are ``(B, G, O'')``, also group index major. Each
    chunk of output rows (:func:`_chunks`) copies its windows into a
    ``(B*G, rows, K*I)`` matrix (channels innermost: long contiguous runs) and
    multiplies it with the ``(B*G, K*I, O'')`` kernel in one matmul batched over
    the groups.
    """
    xp = dilate_and_pad(x, p.input_dilation, p.padding, channels_last=True)
    windows = window_view(xp, w.shape[2:], p.stride, p.dilation, channels_last=True)
    bg, g, nd = p.batch_groups, p.groups, w.ndim - 2
    n, out_spatial, o_group = windows.shape[0] // bg, windows.shape[1 : 1 + nd], w.shape[0] // (bg * g)
    cols = split_axis(split_axis(windows, 1 + nd, g), 0, bg)  # (B, N', *M, G, I, *K)
    cols = np.moveaxis(np.moveaxis(cols, 2 + nd, 1), 3 + nd, -1)  # (B, G, N', *M, *K, I)
    taps = math.prod(w.shape[1:])  # I * prod(K); explicit sizes: -1 is ambiguous for empty arrays
    kernel = np.moveaxis(w, 1, -1).reshape(bg * g, o_group, taps).swapaxes(1, 2)  # (B*G, K*I, O'')
    out = np.empty((n, *out_spatial, bg, g, o_group), np.result_type(windows, w))
    for batch, rows in _chunks((n, *out_spatial), bg * g * taps, _budget(x, w, p, budget)):
        piece = cols[:, :, batch, rows]  # (B, G, n, m0, *M[1:], *K, I)
        chunk_rows = piece.shape[2 : 3 + nd]
        product = np.matmul(piece.reshape(bg * g, math.prod(chunk_rows), taps), kernel)
        product = product.reshape(bg, g, *chunk_rows, o_group)
        out[batch, rows] = np.moveaxis(product, (0, 1), (1 + nd, 2 + nd))  # (n, *m, B, G, O'')
    return _channels_first(out.reshape(n, *out_spatial, bg * g * o_group))


def _chunks(rows: Shape, row_elements: int, budget: int) -> list[tuple[slice, slice]]:
    """Slices of the row axes ``(N', M_0)`` whose window copies stay within ``budget`` elements.

    ``row_elements`` is what one output position copies. Whole batch elements
    go together while they fit; one that does not is split along its first
    output dim. Each chunk copies at least one row of windows.
    """
    n, m0 = rows[0], rows[1] if len(rows) > 1 else 1
    per_item = row_elements * math.prod(rows[1:])
    if per_item <= budget or m0 == 1:
        step = max(1, budget // max(per_item, 1))
        return [(slice(i, min(i + step, n)), slice(None)) for i in range(0, n, step)]
    step = max(1, budget // max(per_item // m0, 1))
    return [(slice(i, i + 1), slice(j, min(j + step, m0))) for i in range(n) for j in range(0, m0, step)]


def _depthwise_taps(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """One input channel per group: for each tap, add ``window_tap * w[:, :, tap]`` to the output.

    With ``I = 1`` a matmul would multiply ``(rows, K)`` by ``(K, O'')`` per
    group, too thin for BLAS; instead each tap is one multiply-add vectorised
    over positions and channels, one batch element at a time (its taps stay in
    cache), reading the windows as a view: nothing is copied, so ``budget`` is
    not needed.
    """
    del budget
    xp = dilate_and_pad(x, p.input_dilation, p.padding, channels_last=True)
    windows = window_view(xp, w.shape[2:], p.stride, p.dilation, channels_last=True)  # (N, *M, G, *K)
    nd = w.ndim - 2
    g, o_group = windows.shape[1 + nd], w.shape[0] // windows.shape[1 + nd]
    kernel = w.reshape(g, o_group, *w.shape[2:])
    out = np.zeros((*windows.shape[: 1 + nd], g, o_group), np.result_type(windows, w))
    product = np.empty(out.shape[1:], out.dtype)
    for item in range(out.shape[0]):
        for tap in np.ndindex(*w.shape[2:]):
            np.multiply(windows[(item, ..., *tap)][..., None], kernel[(..., *tap)], out=product)
            out[item] += product
    return _channels_first(out.reshape(*out.shape[:-2], g * o_group))


def _shifted_products(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """Multiply each padded input position by every tap first, then add the products each output reads.

    ``y[n, j] = sum_t Z[n, s j + d t, t]`` with ``Z = xp @ w`` per group: each
    tap contributes one strided slice of ``Z`` (:func:`refconv.geometry.tap_reads`).
    When the output has far fewer channels than the input (the input VJP of a
    layer with few input channels), ``Z`` is much smaller than the window copy
    of :func:`_window_matmul`. Chunked over the batch so that ``Z`` stays within
    ``budget`` elements (at least one batch element).
    """
    xp = dilate_and_pad(x, p.input_dilation, p.padding, channels_last=True)
    nd, g = w.ndim - 2, p.groups
    n, padded, i_group, o_group = xp.shape[0], xp.shape[1 : 1 + nd], w.shape[1], w.shape[0] // g
    out_spatial = output_spatial_shape(x.shape[2:], w.shape[2:], p)
    kernel_shape, taps = w.shape[2:], math.prod(w.shape[2:])
    kernel = w.reshape(g, o_group, i_group, taps).transpose(0, 2, 3, 1).reshape(g, i_group, taps * o_group)
    out = np.zeros((n, *out_spatial, g, o_group), np.result_type(xp, w))
    step = max(1, _budget(x, w, p, budget) // max(math.prod(padded) * g * taps * o_group, 1))
    for first in range(0, n, step):
        rows = xp[first : first + step]
        count = rows.shape[0]
        z = np.matmul(rows.reshape(count * math.prod(padded), g, i_group).swapaxes(0, 1), kernel)
        z = z.reshape(g, count, *padded, *kernel_shape, o_group)
        for tap in np.ndindex(*kernel_shape):
            reads = tap_reads(tap, out_spatial, p)
            out[first : first + count] += np.moveaxis(z[(slice(None), slice(None), *reads, *tap)], 0, -2)
    return _channels_first(out.reshape(n, *out_spatial, g * o_group))


def _shifted_products_are_cheaper(x_shape: Shape, w_shape: Shape, p: ConvParams) -> bool:
    """Whether :func:`_shifted_products` moves less memory than the window copy, without wasted products.

    The window copy moves ``M * I`` values per tap and output position; the
    products ``Z`` take ``L * O''`` writes per tap and ``M * O''`` adds. Its matmul
    also multiplies the ``L - M`` positions no output reads at this stride, so
    it is taken only where ``L <= 2 M``.
    """
    if p.batch_groups != 1:
        return False
    positions = math.prod(padded_shape(x_shape[2:], p))
    outputs = math.prod(output_spatial_shape(x_shape[2:], w_shape[2:], p))
    o_group, i_group = w_shape[0] // p.groups, w_shape[1]
    return o_group * (positions + outputs) < outputs * i_group and positions <= 2 * outputs


def _phases(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """An input-dilated convolution as one convolution without input dilation per phase of its outputs.

    (:func:`refconv.geometry.input_dilation_phases`): the products with the
    inserted zeros are never formed. Outputs of no phase read only zeros.
    Each phase is a general convolution again, computed by :func:`conv_general`
    (with its own default budget, sized by its own arrays, unless one is given).
    """
    y = np.zeros(output_shape(x.shape, w.shape, p), np.result_type(x, w))
    for phase in input_dilation_phases(x.shape[2:], w.shape[2:], p):
        kernel = w[(slice(None), slice(None), *phase.taps)]
        y[(slice(None), slice(None), *phase.outputs)] = conv_general(x, kernel, phase.params, budget)
    return y


def _channels_first(out: NDArray[Any]) -> NDArray[Any]:
    """A channels-last ``(N, *M, O)`` result as a new contiguous ``(N, O, *M)`` array."""
    return np.ascontiguousarray(np.moveaxis(out, -1, 1))


#: Every strategy by name; each takes ``(x, w, p, budget)`` and returns ``(N // B, O, *out)``.
STRATEGIES: dict[str, Strategy] = {
    "window_matmul": _window_matmul,
    "depthwise_taps": _depthwise_taps,
    "shifted_products": _shifted_products,
    "phases": _phases,
}
