r"""The general N-d convolution: the fast path every other function calls.

.. math::

    y[n, o, j] = b[o] + \sum_{i, t} x_p[\,\cdot\,, i, s j + d t]\; w[o, i, t]

where :math:`x_p` is ``x`` with input dilation and signed padding applied, and
the batch, input-channel and output-channel indices are tied by the feature
groups (``groups``) or the batch groups (``batch_groups``), as in
``jax.lax.conv_general_dilated``. Derived in :doc:`/forward`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv._layout import layout
from refconv._ops import dilate_and_pad, pad_with_mode, split_axis, window_view
from refconv.geometry import ConvParams, Shape, input_dilation_phases, output_shape, output_spatial_shape

__all__ = ["conv", "conv_output_shape"]


#: The window contraction copies at most this many elements at once, or twice the larger of its
#: padded input and its output if that is more (see :func:`_chunks`).
MIN_CHUNK_ELEMENTS = 1 << 20


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


def _matmul_windows(windows: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int) -> NDArray[Any]:
    """Contract channels-last windows ``(N, *M, C, *K)`` with ``(O, I, *K)`` weights: chunked matmuls.

    The batch is split ``(B, N')`` and the channels ``(G, I)``, group index
    major; output channels are ``(B, G, O'')``, also group index major. Each
    chunk of output rows (:func:`_chunks`) copies its windows into a
    ``(B*G, rows, K*I)`` matrix (channels innermost: long contiguous runs) and
    multiplies it with the ``(B*G, K*I, O'')`` kernel in one matmul batched over
    the groups. Returns the output channels-last, ``(N', *M, O)``.
    """
    bg, g, nd = p.batch_groups, p.groups, w.ndim - 2
    n, out_spatial, o_group = windows.shape[0] // bg, windows.shape[1 : 1 + nd], w.shape[0] // (bg * g)
    cols = split_axis(split_axis(windows, 1 + nd, g), 0, bg)  # (B, N', *M, G, I, *K)
    cols = np.moveaxis(np.moveaxis(cols, 2 + nd, 1), 3 + nd, -1)  # (B, G, N', *M, *K, I)
    taps = math.prod(w.shape[1:])  # I * prod(K); explicit sizes: -1 is ambiguous for empty arrays
    kernel = np.moveaxis(w, 1, -1).reshape(bg * g, o_group, taps).swapaxes(1, 2)  # (B*G, K*I, O'')
    out = np.empty((n, *out_spatial, bg, g, o_group), np.result_type(windows, w))
    for batch, rows in _chunks((n, *out_spatial), bg * g * taps, budget):
        piece = cols[:, :, batch, rows]  # (B, G, n, m0, *M[1:], *K, I)
        chunk_rows = piece.shape[2 : 3 + nd]
        product = np.matmul(piece.reshape(bg * g, math.prod(chunk_rows), taps), kernel)
        product = product.reshape(bg, g, *chunk_rows, o_group)
        out[batch, rows] = np.moveaxis(product, (0, 1), (1 + nd, 2 + nd))  # (n, *m, B, G, O'')
    return out.reshape(n, *out_spatial, bg * g * o_group)


def _depthwise_windows(windows: NDArray[Any], w: NDArray[Any]) -> NDArray[Any]:
    """Contract channels-last windows with a kernel of one input channel per group: one pass per tap.

    With ``I = 1`` a matmul would multiply ``(rows, K)`` by ``(K, O'')`` per
    group, too thin for BLAS; instead each tap adds ``window_tap * w[:, :, tap]``
    to the output, vectorised over positions and channels, one batch element
    at a time, and copies no windows.
    """
    nd = w.ndim - 2
    g, o_group = windows.shape[1 + nd], w.shape[0] // windows.shape[1 + nd]
    kernel = w.reshape(g, o_group, *w.shape[2:])
    out = np.zeros((*windows.shape[: 1 + nd], g, o_group), np.result_type(windows, w))
    product = np.empty(out.shape[1:], out.dtype)
    for item in range(out.shape[0]):  # one batch element at a time: its taps stay in cache
        for tap in np.ndindex(*w.shape[2:]):
            np.multiply(windows[(item, ..., *tap)][..., None], kernel[(..., *tap)], out=product)
            out[item] += product
    return out.reshape(*out.shape[:-2], g * o_group)


def _scatter_products(
    xp: NDArray[Any], w: NDArray[Any], p: ConvParams, out_spatial: Shape, budget: int
) -> NDArray[Any]:
    """Multiply each padded input position by every tap first, then add the products where they are read.

    ``y[n, j] = sum_t Z[n, s j + d t, t]`` with ``Z = xp @ w`` per group (the
    col2im order). When the output has far fewer channels than the input (the
    input VJP of a layer with few input channels), ``Z`` is much smaller than
    the window copy the matmul order needs. ``xp`` is channels-last and padded,
    without input dilation; chunked over the batch so that ``Z`` stays within
    ``budget`` elements (at least one batch element).
    """
    nd, g = w.ndim - 2, p.groups
    n, padded, i_group, o_group = xp.shape[0], xp.shape[1 : 1 + nd], w.shape[1], w.shape[0] // g
    kernel_shape, taps = w.shape[2:], math.prod(w.shape[2:])
    kernel = w.reshape(g, o_group, i_group, taps).transpose(0, 2, 3, 1).reshape(g, i_group, taps * o_group)
    out = np.zeros((n, *out_spatial, g, o_group), np.result_type(xp, w))
    step = max(1, budget // max(math.prod(padded) * g * taps * o_group, 1))
    for first in range(0, n, step):
        rows = xp[first : first + step]
        count = rows.shape[0]
        z = np.matmul(rows.reshape(count * math.prod(padded), g, i_group).swapaxes(0, 1), kernel)
        z = z.reshape(g, count, *padded, *kernel_shape, o_group)
        for tap in np.ndindex(*kernel_shape):
            reads = tuple(
                slice(d * t, d * t + s * (m - 1) + 1, s)
                for d, t, s, m in zip(p.dilation, tap, p.stride, out_spatial, strict=True)
            )
            out[first : first + count] += np.moveaxis(z[(slice(None), slice(None), *reads, *tap)], 0, -2)
    return out.reshape(n, *out_spatial, g * o_group)


def _scatter_is_cheaper(padded: Shape, out_spatial: Shape, w: NDArray[Any], p: ConvParams) -> bool:
    """Whether :func:`_scatter_products` moves less memory than the window copy, without wasted products.

    The window copy moves ``M * I`` values per tap and output position; the
    scatter writes ``L * O''`` products per tap and adds ``M * O''``. Its matmul
    also multiplies the ``L - M`` positions no output reads at this stride, so
    it is taken only where ``L <= 2 M``.
    """
    if p.batch_groups != 1:
        return False
    positions, outputs = math.prod(padded), math.prod(out_spatial)
    o_group, i_group = w.shape[0] // p.groups, w.shape[1]
    return o_group * (positions + outputs) < outputs * i_group and positions <= 2 * outputs


def _by_phases(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None) -> NDArray[Any]:
    """An input-dilated convolution as one convolution without input dilation per phase of its outputs.

    (:func:`refconv.geometry.input_dilation_phases`): the products with the
    inserted zeros are never formed. Outputs of no phase read only zeros.
    """
    out_spatial = output_spatial_shape(x.shape[2:], w.shape[2:], p)
    y = np.zeros((x.shape[0] // p.batch_groups, w.shape[0], *out_spatial), np.result_type(x, w))
    for phase in input_dilation_phases(x.shape[2:], w.shape[2:], p):
        kernel = w[(slice(None), slice(None), *phase.taps)]
        y[(slice(None), slice(None), *phase.outputs)] = conv_general(x, kernel, phase.params, budget)
    return y


def conv_general(x: NDArray[Any], w: NDArray[Any], p: ConvParams, budget: int | None = None) -> NDArray[Any]:
    """The general convolution of validated arrays of one dtype: dilate, pad, window, contract.

    The input is dilated and padded channels-last and its windows are read as
    a view. Their contraction copies windows in chunks of at most ``budget``
    elements: by default twice the larger of the padded input and the output
    (at least :data:`MIN_CHUNK_ELEMENTS`), so that memory stays a small
    multiple of the arrays read and written. Depthwise kernels (one input
    channel per group, no batch groups) take a pass per tap instead; kernels
    with far fewer output than input channels multiply first and scatter
    (:func:`_scatter_products`); and an input-dilated convolution runs as one
    convolution per phase (:func:`_by_phases`).
    """
    if any(dil > 1 for dil in p.input_dilation):
        return _by_phases(x, w, p, budget)
    xp = dilate_and_pad(x, p.input_dilation, p.padding, channels_last=True)
    windows = window_view(xp, w.shape[2:], p.stride, p.dilation, channels_last=True)
    nd = w.ndim - 2
    out_size = windows.shape[0] // p.batch_groups * w.shape[0] * math.prod(windows.shape[1 : 1 + nd])
    if out_size == 0:
        return np.zeros(
            (windows.shape[0] // p.batch_groups, w.shape[0], *windows.shape[1 : 1 + nd]), xp.dtype
        )
    budget = budget or max(2 * max(xp.size, out_size), MIN_CHUNK_ELEMENTS)
    out_spatial = windows.shape[1 : 1 + nd]
    if w.shape[1] == 1 and p.groups > 1 and p.batch_groups == 1:
        out = _depthwise_windows(windows, w)
    elif _scatter_is_cheaper(xp.shape[1 : 1 + nd], out_spatial, w, p):
        out = _scatter_products(xp, w, p, out_spatial, budget)
    else:
        out = _matmul_windows(windows, w, p, budget)
    return np.ascontiguousarray(np.moveaxis(out, -1, 1))


def with_padding_mode(x: NDArray[Any], p: ConvParams, mode: str) -> tuple[NDArray[Any], ConvParams]:
    """``x`` padded by ``mode`` and ``p`` left with zero padding; both unchanged for ``"zeros"``."""
    if mode == "zeros":
        return x, p
    return pad_with_mode(x, p.padding, mode), replace(p, padding=((0, 0),) * len(p.padding))


def conv(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    dilation: norm.IntOrInts = 1,
    input_dilation: norm.IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    padding_mode: str = "zeros",
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> NDArray[Any]:
    r"""General N-d convolution (cross-correlation), PyTorch layout, JAX generality.

    Parameters
    ----------
    x : array_like, shape (N, C_in, \*spatial)
        Input. Any number of spatial dims >= 1.
    w : array_like, shape (C_out, C_in // groups, \*kernel)
        Weight.
    b : array_like, shape (C_out,), optional
        Bias, added to every output position.
    stride : int or sequence of int
        Step between windows, per spatial dim, >= 1.
    padding : int, sequence of int, sequence of (lo, hi) pairs, or str
        Zero padding before and after each spatial dim. Pairs may be negative
        (cropping), as in ``jax.lax.conv_general_dilated``. Or a word (any
        case): ``"valid"`` (none), ``"same"`` (output ``ceil(n / s)``, an odd
        pixel at the end, as TF/JAX ``SAME``) or ``"same_lower"`` (the odd
        pixel at the start, as JAX/ONNX ``SAME_LOWER``), at any stride and
        dilation (:func:`refconv.geometry.same_padding`); not with input dilation.
    dilation : int or sequence of int
        Kernel dilation: spacing between kernel taps (JAX's ``rhs_dilation``).
    input_dilation : int or sequence of int
        Input dilation: ``D - 1`` zeros inserted between input elements (JAX's
        ``lhs_dilation``).
    groups : int
        Feature groups (JAX's ``feature_group_count``): input and output
        channels split into ``groups`` blocks, block ``g`` of the output reads
        block ``g`` of the input.
    batch_groups : int
        Batch groups (JAX's ``batch_group_count``): the batch splits into
        ``batch_groups`` blocks (block index major); output-channel block ``g``
        reads batch block ``g``. At most one of ``groups`` and ``batch_groups``
        may exceed 1.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        What the padding holds, as PyTorch's ``nn.Conv`` modules: zeros, a
        mirror image without the edge, copies of the edge, or the other end.
        Non-zero modes need padding >= 0 (``< n`` for reflect, ``<= n`` for
        circular) and no input dilation.
    dimension_numbers : (str, str, str), optional
        Layouts of input, kernel and output in JAX's string form, e.g.
        ``("NHWC", "HWIO", "NHWC")``, any spatial rank; per-dim parameters
        follow the kernel's spatial order. Default: ``NC...``, ``OI...``, ``NC...``.
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    y : ndarray, shape (N // batch_groups, C_out, \*out)
        A new array of the inputs' result dtype; ``out`` from
        :func:`conv_output_shape`.

    Raises
    ------
    ValueError, TypeError
        On any inconsistent shape or parameter, naming it.

    Notes
    -----
    With :math:`\hat n = D(n-1)+1` and :math:`\hat k = d(k-1)+1`, each output
    size is :math:`m = \lfloor(\hat n + lo + hi - \hat k)/s\rfloor + 1`
    (:func:`refconv.geometry.output_spatial_shape`), and

    .. math::
        y[n, o, j] = b[o] + \sum_{i}\sum_{t} x_p[n, i, s j + d t]\, w[o, i, t]

    over the input channels :math:`i` of ``o``'s group, :math:`x_p` the
    dilated, padded input. The windows are a read-only view of :math:`x_p`,
    contracted in one batched matmul over the groups.
    Derivation: :doc:`/forward`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> y = refconv.conv(x, np.ones((1, 1, 2, 2)), stride=2, padding=3)
    >>> y.shape, float(y.sum())
    ((1, 1, 5, 5), 300.0)
    """
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    lay = layout(dimension_numbers, x_arr.ndim - 2)
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    b_arr = None if b is None else norm.as_array(b, "b")
    p = norm.checked_params(
        x_arr.shape,
        w_arr.shape,
        stride=stride,
        padding=padding,
        dilation=dilation,
        input_dilation=input_dilation,
        groups=groups,
        batch_groups=batch_groups,
    )
    mode = norm.checked_padding_mode(padding_mode, x_arr.shape, p)
    if b_arr is not None:
        norm.check_bias(b_arr, w_arr.shape[0])
    arrays = (x_arr, w_arr) if b_arr is None else (x_arr, w_arr, b_arr)
    acc, out = norm.dtypes(*arrays, preferred=preferred_element_type)
    x_padded, p = with_padding_mode(x_arr.astype(acc, copy=False), p, mode)
    y = conv_general(x_padded, w_arr.astype(acc, copy=False), p)
    if b_arr is not None:
        y += b_arr.astype(acc).reshape((1, -1) + (1,) * len(p.stride))
    return lay.from_canonical(y, "out").astype(out, copy=False)


def conv_output_shape(
    x_shape: Shape,
    w_shape: Shape,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    dilation: norm.IntOrInts = 1,
    input_dilation: norm.IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    padding_mode: str = "zeros",
    dimension_numbers: tuple[str, str, str] | None = None,
) -> tuple[int, ...]:
    r"""Shape of :func:`conv`'s output, ``(N // batch_groups, C_out, *m)``, validating the arguments.

    Notes
    -----
    :math:`m = \lfloor(\hat n + lo + hi - \hat k)/s\rfloor + 1` per spatial
    dim (:func:`refconv.geometry.output_spatial_shape`). ``padding_mode`` is
    validated, so that one set of keywords serves :func:`conv` and this; it
    does not change the shape.

    Examples
    --------
    >>> import refconv
    >>> refconv.conv_output_shape((8, 3, 32, 32), (16, 3, 5, 5), stride=2, padding=(2, 1))
    (8, 16, 16, 15)
    """
    xs, ws = norm.as_shape(x_shape, "x_shape"), norm.as_shape(w_shape, "w_shape")
    lay = layout(dimension_numbers, len(xs) - 2)
    xs, ws = lay.shape_to_canonical(xs, "lhs", "x_shape"), lay.shape_to_canonical(ws, "rhs", "w_shape")
    p = norm.checked_params(
        xs,
        ws,
        stride=stride,
        padding=padding,
        dilation=dilation,
        input_dilation=input_dilation,
        groups=groups,
        batch_groups=batch_groups,
    )
    norm.checked_padding_mode(padding_mode, xs, p)
    return lay.shape_from_canonical(output_shape(xs, ws, p), "out")
