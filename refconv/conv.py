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
from refconv.geometry import ConvParams, Shape, output_shape

__all__ = ["conv", "conv_output_shape"]


def _contract_windows(windows: NDArray[Any], w: NDArray[Any], p: ConvParams) -> NDArray[Any]:
    """Contract ``(N, C, *M, *K)`` windows with ``(O, I, *K)`` weights: one batched matmul.

    The batch is split ``(B, N')`` and the channels ``(G, I)``, group index
    major; output channels are ``(B, G, O'')``, also group index major. The
    matmul is batched over the ``B * G`` groups.
    """
    bg, g = p.batch_groups, p.groups
    nd = w.ndim - 2
    n = windows.shape[0]
    out_spatial = windows.shape[2 : 2 + nd]
    o = w.shape[0]
    cols = split_axis(split_axis(windows, 1, g), 0, bg)  # (B, N', G, I, *M, *K)
    cols = np.moveaxis(cols, 2, 1)  # (B, G, N', I, *M, *K)
    cols = np.moveaxis(cols, 3, 3 + nd)  # (B, G, N', *M, I, *K)
    taps = math.prod(w.shape[1:])  # I * prod(K); explicit sizes: -1 is ambiguous for empty arrays
    cols = cols.reshape(bg * g, n // bg * math.prod(out_spatial), taps)
    kernel = w.reshape(bg * g, o // (bg * g), taps).swapaxes(1, 2)  # (B*G, I*K, O'')
    out = np.matmul(cols, kernel)  # (B*G, N'*M, O'')
    out = out.reshape(bg, g, n // bg, *out_spatial, o // (bg * g))
    out = np.moveaxis(out, 3 + nd, 2)  # (B, G, O'', N', *M)
    out = np.moveaxis(out, 3, 0)  # (N', B, G, O'', *M)
    return np.ascontiguousarray(out.reshape(n // bg, o, *out_spatial))


def conv_general(x: NDArray[Any], w: NDArray[Any], p: ConvParams) -> NDArray[Any]:
    """The general convolution of validated arrays of one dtype: dilate, pad, window, contract."""
    xp = dilate_and_pad(x, p.input_dilation, p.padding)
    windows = window_view(xp, w.shape[2:], p.stride, p.dilation)
    return _contract_windows(windows, w, p)


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
