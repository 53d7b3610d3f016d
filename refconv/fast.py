r"""The fast path: the general convolution by one of four strategies, behind one dispatcher.

Each strategy computes exactly :func:`refconv.conv.conv_definition` (the tests
check each against it on the shared grid); they differ in how much memory
they move:

``window_matmul``
    the default: copy windows channels-last into ``(rows, K I)`` (runs of
    ``k I`` values) and multiply by the kernel, one tall product over every
    image and position (for a weight VJP, whose output is the kernel's few
    taps, the chunks split the contraction instead);
``image_matmul``
    pointwise kernels and few channels per group: copy each image's windows
    channels-first (``(I K, M)``, the classic im2col: runs along the last
    output dim, none at all for a 1x1 kernel) and multiply the kernel by them,
    so the result comes out in the caller's ``(N, O, *M)`` layout without a
    transpose of the input or the output;
``depthwise_taps``
    one input channel per group: a vectorised multiply-add per kernel tap,
    channels-last, one image at a time, no window copy;
``window_dots``
    one image per batch group (the weight VJP of a depthwise convolution):
    each output is one dot product of a window with the kernel, channels-last,
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

import functools
import math
import string
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv._nonfinite import IEEE, all_finite, real_products
from refconv._ops import dilate_and_pad, split_axis, window_view
from refconv.geometry import (
    ConvParams,
    Shape,
    input_dilation_phases,
    one_position,
    output_shape,
    output_spatial_shape,
    padded_shape,
    tap_reads,
    window_reads,
)

__all__ = [
    "FEW_CHANNELS",
    "MIN_CHUNK_ELEMENTS",
    "MIN_IMAGE_POSITIONS",
    "STRATEGIES",
    "applicable_strategies",
    "conv_general",
    "strategy_for",
]

#: The window contraction copies at most this many elements at once, or twice the larger of its
#: padded input and its output if that is more.
MIN_CHUNK_ELEMENTS = 1 << 20

#: The ``image_matmul`` strategy needs at least this many output positions per image (the columns
#: of its matmul); below, ``window_matmul``'s one tall product fits BLAS better.
MIN_IMAGE_POSITIONS = 128
#: With at most this many input channels per group, ``image_matmul`` is taken: channels-last runs
#: would be at most ``k`` times this long, and moving so few channels last is a slow transpose.
FEW_CHANNELS = 4

Strategy = Callable[[NDArray[Any], NDArray[Any], ConvParams, int | None], NDArray[Any]]


def conv_general(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None = None) -> NDArray[Any]:
    """The general convolution of canonical arrays of one dtype, by the strategy :func:`strategy_for` picks.

    ``x`` is ``(N, C, *spatial)``, ``w`` ``(O, C // G, *kernel)``, the result a
    new ``(N // B, O, *out)`` array; ``budget`` bounds the elements a window
    copy holds at once (default: twice the larger of padded input and output).
    With NaN or infinity in ``x`` or ``w``, only real products are summed
    (``refconv._nonfinite.real_products``): no strategy multiplies a
    structural zero by them.
    """
    if not (all_finite(x) and all_finite(w)):
        return real_products(x, w, p, lambda a, b, q: _conv_finite(a, b, q, budget))
    return _conv_finite(x, w, p, budget)


def _conv_finite(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """:func:`conv_general` for finite ``x`` and ``w`` (checked once, by the caller)."""
    out = output_shape(x.shape, w.shape, p)
    if 0 in (math.prod(out), x.size, w.size):  # no product: an empty sum per output
        return np.zeros(out, np.result_type(x, w))
    with np.errstate(**IEEE):
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
    if _one_image_per_group(x_shape, p) and p.batch_groups > 1:
        return "window_dots"
    if _shifted_products_are_cheaper(x_shape, w_shape, p):
        return "shifted_products"
    if _image_copy_is_cheaper(x_shape, w_shape, p):
        return "image_matmul"
    return "window_matmul"


def applicable_strategies(x_shape: Shape, w_shape: Shape, p: ConvParams) -> list[str]:
    """Every strategy that computes this convolution correctly, fast or not (the tests try each).

    Not mutated (``nox -s mutation``): only the tests call it, to parametrize
    themselves while they are collected, before a mutant is switched on.
    """
    # pragma: no mutate block
    names = ["image_matmul", "window_matmul", "phases"]
    if w_shape[1] == 1 and p.batch_groups == 1:
        names.append("depthwise_taps")
    if _one_image_per_group(x_shape, p):
        names.append("window_dots")
    if p.batch_groups == 1:
        names.append("shifted_products")
    return names


def _image_copy_is_cheaper(x_shape: Shape, w_shape: Shape, p: ConvParams) -> bool:
    """Whether the channels-first window copy of :func:`_image_matmul` beats the channels-last one.

    Both copy the same values; what differs is the length of the contiguous
    runs NumPy's copy loop moves (its cost per run dominates short ones) and
    the channels-last layout's two transposes. Channels-first runs along the
    last output dim (``m`` values at stride 1, single values otherwise; no
    copy at all for a pointwise kernel at stride 1); channels-last runs over
    a window row's taps and channels (``k I`` values at dilation 1, ``I``
    otherwise). Taken with at least :data:`MIN_IMAGE_POSITIONS` positions per
    image, and for a pointwise kernel, longer runs, or at most
    :data:`FEW_CHANNELS` channels per group. Measured on the docs'
    :doc:`/performance` page; it only changes speed.
    """
    out = output_spatial_shape(x_shape[2:], w_shape[2:], p)
    if math.prod(out) < MIN_IMAGE_POSITIONS:
        return False
    channels = w_shape[1]
    pointwise = all(k == 1 for k in w_shape[2:]) and all(s == 1 for s in p.stride)
    image_run = out[-1] if p.stride[-1] == 1 else 1
    window_run = channels * (w_shape[-1] if p.dilation[-1] == 1 else 1)
    return pointwise or image_run >= window_run or channels <= FEW_CHANNELS


def _one_image_per_group(x_shape: Shape, p: ConvParams) -> bool:
    """One image per batch group and no feature groups: what :func:`_window_dots` computes."""
    return p.groups == 1 and x_shape[0] == p.batch_groups


def _image_matmul(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """Contract channels-first windows ``(N', B, G, I*K, M)`` with the ``(B, G, O'', I*K)`` kernel, per image.

    The batch is split ``(B, N')`` and the channels ``(G, I)``, group index
    major. Each chunk of images (or of one image's first output dim,
    :func:`_chunks`) copies its windows with the taps before the positions
    (im2col: runs along the last output dim) and multiplies the kernel by
    them, a matmul batched over images and groups whose result is already
    ``(n, B, G, O'', M)``: the caller's channels-first layout, with no
    transpose of the input, the windows or the output.
    """
    xp = dilate_and_pad(x, p.input_dilation, p.padding)  # (N, C, *padded)
    windows = window_view(xp, w.shape[2:], p.stride, p.dilation)  # (N, C, *M, *K)
    bg, g, nd = p.batch_groups, p.groups, w.ndim - 2
    n, out_spatial, o_group = x.shape[0] // bg, windows.shape[2 : 2 + nd], w.shape[0] // (bg * g)
    cols = split_axis(split_axis(windows, 1, g), 0, bg).swapaxes(0, 1)  # (N', B, G, I, *M, *K)
    cols = np.moveaxis(cols, tuple(range(4, 4 + nd)), tuple(range(4 + nd, 4 + 2 * nd)))  # (..., I, *K, *M)
    taps = math.prod(w.shape[1:])  # I * prod(K); explicit sizes: -1 is ambiguous for empty arrays
    kernel = w.reshape(bg, g, o_group, taps)
    out = np.empty((n, bg, g, o_group, math.prod(out_spatial)), np.result_type(windows, w))
    per_row = math.prod(out_spatial[1:])
    for batch, rows in _chunks((n, *out_spatial), bg * g * taps, _budget(x, w, p, budget)):
        piece = cols[(batch, slice(None), slice(None), slice(None), *(slice(None),) * nd, rows)]
        count, positions = piece.shape[0], math.prod(piece.shape[4 + nd :])
        matrix = piece.reshape(count, bg, g, taps, positions)  # the window copy
        if rows == slice(None):
            np.matmul(kernel, matrix, out=out[batch])
        else:
            first = range(*rows.indices(out_spatial[0]))
            out[batch, ..., first.start * per_row : first.stop * per_row] = np.matmul(kernel, matrix)
        del matrix  # before the next chunk's copy: one window copy alive at a time
    return out.reshape(n, w.shape[0], *out_spatial)


def _window_matmul(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """Contract channels-last windows ``(N, *M, C, *K)`` with ``(O, I, *K)`` weights: one tall matmul.

    The batch is split ``(B, N')`` and the channels ``(G, I)``, group index
    major; output channels are ``(B, G, O'')``, also group index major. Each
    chunk of output rows (:func:`_chunks`) copies its windows into a
    ``(B*G, rows, K*I)`` matrix (channels innermost: long contiguous runs) and
    multiplies it with the ``(B*G, K*I, O'')`` kernel in one matmul batched over
    the groups, each product written straight into the channels-first result
    (no channels-last output and no final transpose: one output-sized array).
    With fewer output rows than taps (a weight VJP: the kernel's
    few taps out, every image and position contracted), the chunks split the
    contraction instead and their products are summed
    (:func:`_contraction_chunks`): every matmul keeps all the rows, the shape
    BLAS runs fastest (a (576, 5018) by (5018, 64) product per chunk instead of
    (116, 25088) by (25088, 64): 10.5 against 12.8 ms in float32).
    """
    xp = dilate_and_pad(x, p.input_dilation, p.padding, channels_last=True)
    windows = window_view(xp, w.shape[2:], p.stride, p.dilation, channels_last=True)
    bg, g, nd = p.batch_groups, p.groups, w.ndim - 2
    n, out_spatial, o_group = windows.shape[0] // bg, windows.shape[1 : 1 + nd], w.shape[0] // (bg * g)
    cols = split_axis(split_axis(windows, 1 + nd, g), 0, bg)  # (B, N', *M, G, I, *K)
    cols = np.moveaxis(np.moveaxis(cols, 2 + nd, 1), 3 + nd, -1)  # (B, G, N', *M, *K, I)
    taps = math.prod(w.shape[1:])  # I * prod(K); explicit sizes: -1 is ambiguous for empty arrays
    kernel = np.moveaxis(w, 1, -1).reshape(bg * g, o_group, taps).swapaxes(1, 2)  # (B*G, K*I, O'')
    # a product (B, G, n, *m, O'') goes to (n, B, G, O'', *m): the caller's layout, written in place
    to_caller = (2, 0, 1, 3 + nd, *range(3, 3 + nd))
    rows_total, limit = n * math.prod(out_spatial), _budget(x, w, p, budget)
    if rows_total < taps and bg * g * rows_total * taps > limit:
        product = _contraction_chunks(cols, kernel, rows_total, limit)
        product = product.reshape(bg, g, n, *out_spatial, o_group).transpose(to_caller)
        return np.ascontiguousarray(product).reshape(n, w.shape[0], *out_spatial)
    out = np.empty((n, bg, g, o_group, *out_spatial), np.result_type(windows, w))
    for batch, rows in _chunks((n, *out_spatial), bg * g * taps, limit):
        piece = cols[:, :, batch, rows]  # (B, G, n, m0, *M[1:], *K, I)
        chunk_rows = piece.shape[2 : 3 + nd]
        product = np.matmul(piece.reshape(bg * g, math.prod(chunk_rows), taps), kernel)
        out[batch, :, :, :, rows] = product.reshape(bg, g, *chunk_rows, o_group).transpose(to_caller)
        del product  # before the next chunk's copy and product: one chunk alive at a time
    return out.reshape(n, w.shape[0], *out_spatial)


def _contraction_chunks(cols: NDArray[Any], kernel: NDArray[Any], rows: int, budget: int) -> NDArray[Any]:
    """``cols @ kernel`` for all ``rows`` at once, the contraction summed over slices of the first kernel dim.

    ``cols`` is the ``(B, G, N', *M, *K, I)`` window view and ``kernel`` the
    ``(B*G, K*I, O'')`` matrix, taps in the same order (``K_0`` slowest), so a
    slice of ``K_0`` is a contiguous block of the kernel's rows. Each slice
    copies at most ``budget`` elements (at least one ``K_0`` position).
    """
    bg_g, taps, _ = kernel.shape
    nd = (cols.ndim - 4) // 2
    k0 = cols.shape[3 + nd]
    per_k0 = taps // k0
    step = max(1, budget // max(bg_g * rows * per_k0, 1))
    total: NDArray[Any] | None = None
    for first in range(0, k0, step):
        piece = cols[(slice(None),) * (3 + nd) + (slice(first, first + step),)]  # (B, G, N', *M, k0s, ...)
        start, count = first * per_k0, piece.shape[3 + nd] * per_k0
        product = np.matmul(piece.reshape(bg_g, rows, count), kernel[:, start : start + count])
        if total is None:
            total = product
        else:
            total += product
    assert total is not None  # k0 >= 1: sizes are validated
    return total


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
    not needed. Channels-last, a tap's slice of an image is long contiguous
    runs (a row of positions times the channels); with one output channel per
    group (``O'' = 1``, the common depthwise layer) the products are formed
    without a trailing axis of length one, which NumPy would loop over.
    """
    del budget
    xp = dilate_and_pad(x, p.input_dilation, p.padding, channels_last=True)
    windows = window_view(xp, w.shape[2:], p.stride, p.dilation, channels_last=True)  # (N, *M, G, *K)
    nd = w.ndim - 2
    g, o_group = windows.shape[1 + nd], w.shape[0] // windows.shape[1 + nd]
    kernel = np.moveaxis(w.reshape(g, o_group, *w.shape[2:]), (0, 1), (-2, -1))  # (*K, G, O'')
    kernel = np.ascontiguousarray(kernel)  # each tap's (G, O'') contiguous: NumPy's fast loops
    out = np.empty((*windows.shape[: 1 + nd], g, o_group), np.result_type(windows, w))
    acc, kernel = (out[..., 0], kernel[..., 0]) if o_group == 1 else (out, kernel)
    product = np.empty(acc.shape[1:], out.dtype)
    for item in range(out.shape[0]):
        for number, tap in enumerate(np.ndindex(*w.shape[2:])):
            column = windows[(item, ..., *tap)]  # (*M, G)
            # the first tap writes the image's output, each further one adds to it
            np.multiply(
                column if o_group == 1 else column[..., None],
                kernel[tap],
                out=product if number else acc[item],
            )
            if number:
                acc[item] += product
    return _channels_first(out.reshape(*out.shape[:-2], g * o_group))


def _window_dots(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """One image per batch group: ``y[0, (b, o), j] = <window j of x[b], w[(b, o)]>``.

    The weight VJP of a depthwise convolution has this shape (the batch
    groups are its channels, the channels its images, the cotangent its
    kernel, and its output the few taps of the weight). A matmul per group
    would be a matrix-vector product (one row: the group's one image);
    instead the loop runs over the output positions (that weight's taps),
    and each is one dot product per output channel over the window's
    channels and positions: ``einsum`` on a channels-last view, whose group
    axis is innermost and contiguous. No window copy, so ``budget`` is not
    needed.
    """
    del budget
    bg, nd = p.batch_groups, w.ndim - 2
    xp = dilate_and_pad(x.swapaxes(0, 1), p.input_dilation, p.padding, channels_last=True)  # (I, *P, B)
    kernel = np.ascontiguousarray(np.moveaxis(split_axis(w, 0, bg), (0, 1), (-2, -1)))  # (I, *K, B, O'')
    out_spatial = output_spatial_shape(x.shape[2:], w.shape[2:], p)
    y = np.empty((*out_spatial, bg, w.shape[0] // bg), np.result_type(xp, w))
    axes = "i" + string.ascii_uppercase[:nd] + "b"  # channels, kernel positions, groups
    for position in np.ndindex(*out_spatial):
        window = xp[(slice(None), *window_reads(position, w.shape[2:], p), slice(None))]
        y[position] = np.einsum(f"{axes},{axes}o->bo", window, kernel)
    return _channels_first(y.reshape(1, *out_spatial, w.shape[0]))


def _shifted_products(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """Multiply each padded input position by every tap first, then add the products each output reads.

    ``y[n, j] = sum_t Z[n, s j + d t, t]`` with ``Z = xp @ w`` per group: each
    tap contributes one strided slice of ``Z`` (:func:`refconv.geometry.tap_reads`).
    When the output has far fewer channels than the input (the input VJP of a
    layer with few input channels), ``Z`` is much smaller than the window copy
    of :func:`_window_matmul`. Chunked over the batch so that ``Z`` stays within
    ``budget`` elements (at least one batch element).
    """
    xp = dilate_and_pad(x, p.input_dilation, p.padding)  # (N, C, *padded)
    g = p.groups
    n, padded, i_group, o_group = xp.shape[0], xp.shape[2:], w.shape[1], w.shape[0] // g
    out_spatial = output_spatial_shape(x.shape[2:], w.shape[2:], p)
    kernel_shape, taps = w.shape[2:], math.prod(w.shape[2:])
    kernel = np.moveaxis(w.reshape(g, o_group, i_group, taps), 3, 1).reshape(g, taps * o_group, i_group)
    out = np.zeros((n, g, o_group, *out_spatial), np.result_type(xp, w))
    step = max(1, _budget(x, w, p, budget) // max(math.prod(padded) * g * taps * o_group, 1))
    for first in range(0, n, step):
        rows = xp[first : first + step]
        count = rows.shape[0]
        z = np.matmul(kernel, rows.reshape(count, g, i_group, math.prod(padded)))  # (n, G, K O'', P)
        z = z.reshape(count, g, *kernel_shape, o_group, *padded)
        for tap in np.ndindex(*kernel_shape):
            reads = tap_reads(tap, out_spatial, p)
            out[first : first + count] += z[(slice(None), slice(None), *tap, slice(None), *reads)]
    return out.reshape(n, g * o_group, *out_spatial)


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
    Each phase is a general convolution again, computed by the finite-operand
    dispatcher of :func:`conv_general` (with its own default budget, sized by
    its own arrays, unless one is given).
    """
    y = np.zeros(output_shape(x.shape, w.shape, p), np.result_type(x, w))
    for phase in input_dilation_phases(x.shape[2:], w.shape[2:], p):
        kernel = w[(slice(None), slice(None), *phase.taps)]
        y[(slice(None), slice(None), *phase.outputs)] = _conv_finite(x, kernel, phase.params, budget)
    return y


def _channels_first(out: NDArray[Any]) -> NDArray[Any]:
    """A channels-last ``(N, *M, O)`` result as a new contiguous ``(N, O, *M)`` array."""
    return np.ascontiguousarray(np.moveaxis(out, -1, 1))


#: Every strategy by name; each takes ``(x, w, p, budget)`` and returns ``(N // B, O, *out)``.
def _on_one_position(
    strategy: Strategy, x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None
) -> NDArray[Any]:
    """``strategy``'s result, for a 0-d convolution that of the 1-d one of one position with a one-tap
    kernel (:func:`refconv.geometry.one_position`)."""
    if x.ndim > 2:
        return strategy(x, w, p, budget)
    return strategy(x[..., None], w[..., None], one_position(p), budget)[..., 0]


STRATEGIES: dict[str, Strategy] = {
    name: functools.partial(_on_one_position, strategy)
    for name, strategy in {
        "image_matmul": _image_matmul,
        "window_matmul": _window_matmul,
        "depthwise_taps": _depthwise_taps,
        "window_dots": _window_dots,
        "shifted_products": _shifted_products,
        "phases": _phases,
    }.items()
}
