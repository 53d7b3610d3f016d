r"""Vector-Jacobian products of :func:`refconv.conv`, each one call of the general convolution.

The general convolution is closed under taking VJPs: with respect to the
input it is a convolution of the cotangent with the flipped, role-swapped
kernel; with respect to the weight it is a convolution of the input with the
cotangent, batch and channels swapped. The parameters of those convolutions
come from :func:`refconv.geometry.input_vjp_params` and
:func:`refconv.geometry.weight_vjp_params`. Derived in :doc:`/input_vjp` and :doc:`/weight_vjp`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv._layout import layout
from refconv._ops import (
    merge_axis_into,
    pad_with_mode_vjp,
    split_axis,
    swap_batch_and_channels,
    transpose_kernel,
)
from refconv.conv import conv_general, with_padding_mode
from refconv.geometry import (
    ConvParams,
    Shape,
    input_vjp_params,
    output_shape,
    padded_shape,
    weight_vjp_params,
)

__all__ = ["conv_bias_vjp", "conv_input_vjp", "conv_vjp", "conv_weight_vjp"]


def input_vjp(x_shape: Shape, w: NDArray[Any], dy: NDArray[Any], p: ConvParams) -> NDArray[Any]:
    """``dx`` for validated arrays of one dtype (see :func:`conv_input_vjp`)."""
    q = input_vjp_params(x_shape[2:], w.shape[2:], p)
    dx = conv_general(dy, transpose_kernel(w, q.groups), q)
    if p.batch_groups > 1:
        # the batch groups came out as channel groups: move them back into the batch, group major
        dx = merge_axis_into(split_axis(dx, 1, p.batch_groups), 1, 0)
    return dx


def weight_vjp(x: NDArray[Any], w_shape: Shape, dy: NDArray[Any], p: ConvParams) -> NDArray[Any]:
    """``dw`` for validated arrays of one dtype (see :func:`conv_weight_vjp`)."""
    q = weight_vjp_params(x.shape[2:], w_shape[2:], p)
    dw = conv_general(swap_batch_and_channels(x), swap_batch_and_channels(dy), q)
    return np.ascontiguousarray(swap_batch_and_channels(dw))


def bias_vjp(dy: NDArray[Any]) -> NDArray[Any]:
    """``db``: ``dy`` summed over the batch and every spatial axis, in ``dy``'s dtype."""
    db: NDArray[Any] = dy.sum(axis=(0, *range(2, dy.ndim)), dtype=dy.dtype)
    return db


def conjugated(a: NDArray[Any], conjugate: bool) -> NDArray[Any]:
    """``conj(a)`` when ``conjugate`` is set and ``a`` is complex, else ``a``.

    PyTorch's gradient of a complex function is ``conj(vjp(conj(g)))`` (the
    conjugate Wirtinger convention); JAX's is ``vjp(g)``.
    """
    return np.conj(a) if conjugate and np.iscomplexobj(a) else a


def _checked(
    x_shape: Shape, w_shape: Shape, dy: ArrayLike, keywords: dict[str, Any]
) -> tuple[ConvParams, str, NDArray[Any]]:
    mode = keywords.pop("padding_mode")
    p = norm.checked_params(x_shape, w_shape, **keywords)
    mode = norm.checked_padding_mode(mode, x_shape, p)
    dy_arr = norm.as_array(dy, "dy")
    norm.check_cotangent(dy_arr, output_shape(x_shape, w_shape, p))
    return p, mode, dy_arr


def input_vjp_with_mode(
    x_shape: Shape, w: NDArray[Any], dy: NDArray[Any], p: ConvParams, mode: str
) -> NDArray[Any]:
    """:func:`input_vjp` through a padding mode: the padded input's cotangent, folded back."""
    if mode == "zeros":
        return input_vjp(x_shape, w, dy, p)
    padded = (*x_shape[:2], *padded_shape(x_shape[2:], p))
    dx_padded = input_vjp(padded, w, dy, replace(p, padding=((0, 0),) * len(p.padding)))
    return pad_with_mode_vjp(dx_padded, x_shape, p.padding, mode)


def weight_vjp_with_mode(
    x: NDArray[Any], w_shape: Shape, dy: NDArray[Any], p: ConvParams, mode: str
) -> NDArray[Any]:
    """:func:`weight_vjp` of the input padded by ``mode``."""
    x_padded, q = with_padding_mode(x, p, mode)
    return weight_vjp(x_padded, w_shape, dy, q)


def conv_input_vjp(
    x_shape: Shape,
    w: ArrayLike,
    dy: ArrayLike,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    dilation: norm.IntOrInts = 1,
    input_dilation: norm.IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    padding_mode: str = "zeros",
    conjugate: bool = False,
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> NDArray[Any]:
    r"""VJP of :func:`refconv.conv` with respect to its input: ``dx``.

    Parameters
    ----------
    x_shape : sequence of int
        Shape of the forward input ``(N, C_in, *spatial)``.
    w : array_like, shape (C_out, C_in // groups, \*kernel)
        Forward weight.
    dy : array_like, shape of :func:`refconv.conv_output_shape`
        Cotangent of the output.
    stride, padding, dilation, input_dilation, groups, batch_groups
        The forward convolution's parameters, as in :func:`refconv.conv`.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        As in :func:`refconv.conv`; the cotangent of the padding is folded
        back onto the elements it copied (:func:`refconv._ops.pad_with_mode_vjp`).
    conjugate : bool
        ``False`` (default): JAX's convention, the plain transpose ``vjp(dy)``.
        ``True``: PyTorch's, ``conj(vjp(conj(dy)))``. Equal for real inputs.
    dimension_numbers : (str, str, str), optional
        As in :func:`refconv.conv`: layouts of input, kernel and output, e.g.
        ``("NHWC", "HWIO", "NHWC")``, any spatial rank; per-dim parameters
        follow the kernel's spatial order. Default: ``NC...``, ``OI...``, ``NC...``.
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    dx : ndarray, shape x_shape
        New array, of the result dtype of ``w`` and ``dy``.

    Notes
    -----
    One convolution of ``dy`` with the kernel flipped in every spatial axis,
    its in/out roles swapped within each group (``(G O', I, K)`` becomes
    ``(G I, O', K)``):

    .. math::
        dx = \operatorname{conv}\bigl(dy, \tilde w;\; \text{stride}=D,\;
        \text{padding}=(\hat k - 1 - lo,\; \hat k - 1 - hi + r),\;
        \text{input\_dilation}=s,\; \text{dilation}=d,\; \text{groups}=G\bigr)

    Stride becomes zero insertion into ``dy`` and input dilation becomes
    stride; ``r`` (:func:`refconv.geometry.remainder`) pads back the rows no
    window reached. Batch groups become feature groups, and the result's
    channel groups move back into the batch. Derivation: :doc:`/input_vjp`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> w = np.ones((1, 1, 2, 2))
    >>> refconv.conv_input_vjp((1, 1, 5, 5), w, np.ones((1, 1, 5, 5)), stride=2, padding=3)[0, 0]
    array([[1., 1., 1., 1., 1.],
           [1., 1., 1., 1., 1.],
           [1., 1., 1., 1., 1.],
           [1., 1., 1., 1., 1.],
           [1., 1., 1., 1., 1.]])
    """
    xs, w_arr, dy_arr = norm.as_shape(x_shape, "x_shape"), norm.as_array(w, "w"), norm.as_array(dy, "dy")
    lay = layout(dimension_numbers, len(xs) - 2)
    xs, w_arr = lay.shape_to_canonical(xs, "lhs", "x_shape"), lay.to_canonical(w_arr, "rhs", "w")
    dy = lay.to_canonical(dy_arr, "out", "dy")
    keywords = dict(stride=stride, padding=padding, dilation=dilation,
                    input_dilation=input_dilation, groups=groups, batch_groups=batch_groups,
                    padding_mode=padding_mode)  # fmt: skip
    p, mode, dy_arr = _checked(xs, w_arr.shape, dy, keywords)
    acc, out = norm.dtypes(w_arr, dy_arr, preferred=preferred_element_type)
    dy_arr = conjugated(dy_arr.astype(acc, copy=False), conjugate)
    dx = input_vjp_with_mode(xs, w_arr.astype(acc, copy=False), dy_arr, p, mode)
    return lay.from_canonical(conjugated(dx, conjugate), "lhs").astype(out, copy=False)


def conv_weight_vjp(
    x: ArrayLike,
    w_shape: Shape,
    dy: ArrayLike,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    dilation: norm.IntOrInts = 1,
    input_dilation: norm.IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    padding_mode: str = "zeros",
    conjugate: bool = False,
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> NDArray[Any]:
    r"""VJP of :func:`refconv.conv` with respect to its weight: ``dw``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, \*spatial)
        Forward input.
    w_shape : sequence of int
        Shape of the forward weight ``(C_out, C_in // groups, *kernel)``.
    dy : array_like, shape of :func:`refconv.conv_output_shape`
        Cotangent of the output.
    stride, padding, dilation, input_dilation, groups, batch_groups
        The forward convolution's parameters, as in :func:`refconv.conv`.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        As in :func:`refconv.conv`; the cotangent of the padding is folded
        back onto the elements it copied (:func:`refconv._ops.pad_with_mode_vjp`).
    conjugate : bool
        ``False`` (default): JAX's convention, the plain transpose ``vjp(dy)``.
        ``True``: PyTorch's, ``conj(vjp(conj(dy)))``. Equal for real inputs.
    dimension_numbers : (str, str, str), optional
        As in :func:`refconv.conv`: layouts of input, kernel and output, e.g.
        ``("NHWC", "HWIO", "NHWC")``, any spatial rank; per-dim parameters
        follow the kernel's spatial order. Default: ``NC...``, ``OI...``, ``NC...``.
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    dw : ndarray, shape w_shape
        New array, of the result dtype of ``x`` and ``dy``.

    Notes
    -----
    One convolution of ``x`` with ``dy`` as the kernel, both with batch and
    channel axes swapped, the result swapped back:

    .. math::
        dw^T = \operatorname{conv}\bigl(x^T, dy^T;\; \text{stride}=d,\;
        \text{padding}=(lo,\; hi - r),\; \text{input\_dilation}=D,\;
        \text{dilation}=s\bigr)

    Stride and kernel dilation trade places; the padding loses the ``r``
    rows no window reached; feature groups become batch groups and batch
    groups feature groups. Derivation: :doc:`/weight_vjp`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> refconv.conv_weight_vjp(x, (1, 1, 2, 2), np.ones((1, 1, 5, 5)), stride=2, padding=3)[0, 0]
    array([[ 48.,  72.],
           [ 72., 108.]])
    """
    ws, x_arr, dy_arr = norm.as_shape(w_shape, "w_shape"), norm.as_array(x, "x"), norm.as_array(dy, "dy")
    lay = layout(dimension_numbers, x_arr.ndim - 2)
    ws, x_arr = lay.shape_to_canonical(ws, "rhs", "w_shape"), lay.to_canonical(x_arr, "lhs", "x")
    dy = lay.to_canonical(dy_arr, "out", "dy")
    keywords = dict(stride=stride, padding=padding, dilation=dilation,
                    input_dilation=input_dilation, groups=groups, batch_groups=batch_groups,
                    padding_mode=padding_mode)  # fmt: skip
    p, mode, dy_arr = _checked(x_arr.shape, ws, dy, keywords)
    acc, out = norm.dtypes(x_arr, dy_arr, preferred=preferred_element_type)
    dy_arr = conjugated(dy_arr.astype(acc, copy=False), conjugate)
    dw = weight_vjp_with_mode(x_arr.astype(acc, copy=False), ws, dy_arr, p, mode)
    return lay.from_canonical(conjugated(dw, conjugate), "rhs").astype(out, copy=False)


def conv_bias_vjp(
    dy: ArrayLike,
    *,
    conjugate: bool = False,
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> NDArray[Any]:
    r"""VJP of :func:`refconv.conv` with respect to its bias: ``db``.

    Parameters
    ----------
    dy : array_like, shape (N, C_out, \*out)
        Cotangent of the output.
    conjugate : bool
        ``False`` (default): JAX's convention, the plain transpose ``vjp(dy)``.
        ``True``: PyTorch's, ``conj(vjp(conj(dy)))``. Equal for real inputs.
    dimension_numbers : (str, str, str), optional
        As in :func:`refconv.conv`: layouts of input, kernel and output, e.g.
        ``("NHWC", "HWIO", "NHWC")``, any spatial rank; per-dim parameters
        follow the kernel's spatial order. Default: ``NC...``, ``OI...``, ``NC...``.
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    db : ndarray, shape (C_out,)

    Notes
    -----
    :math:`db[o] = \sum_{n, j} dy[n, o, j]`: the bias is broadcast over the
    batch and every output position, and a broadcast's VJP is a sum.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> refconv.conv_bias_vjp(np.ones((2, 2, 2, 2)))
    array([8., 8.])
    """
    dy_arr = norm.as_array(dy, "dy")
    norm.spatial_ndim(dy_arr.shape, "dy")
    dy_arr = layout(dimension_numbers, dy_arr.ndim - 2).to_canonical(dy_arr, "out", "dy")
    acc, out = norm.dtypes(dy_arr, preferred=preferred_element_type)
    db = bias_vjp(conjugated(dy_arr.astype(acc, copy=False), conjugate))
    return conjugated(db, conjugate).astype(out, copy=False)


def conv_vjp(
    x: ArrayLike,
    w: ArrayLike,
    dy: ArrayLike,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    dilation: norm.IntOrInts = 1,
    input_dilation: norm.IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    padding_mode: str = "zeros",
    conjugate: bool = False,
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    r"""All three VJPs of :func:`refconv.conv`: ``(dx, dw, db)``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, \*spatial)
        Forward input.
    w : array_like, shape (C_out, C_in // groups, \*kernel)
        Forward weight.
    dy : array_like, shape of :func:`refconv.conv_output_shape`
        Cotangent of the output.
    stride, padding, dilation, input_dilation, groups, batch_groups
        The forward convolution's parameters, as in :func:`refconv.conv`.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        As in :func:`refconv.conv`; the cotangent of the padding is folded
        back onto the elements it copied (:func:`refconv._ops.pad_with_mode_vjp`).
    conjugate : bool
        ``False`` (default): JAX's convention, the plain transpose ``vjp(dy)``.
        ``True``: PyTorch's, ``conj(vjp(conj(dy)))``. Equal for real inputs.
    dimension_numbers : (str, str, str), optional
        As in :func:`refconv.conv`: layouts of input, kernel and output, e.g.
        ``("NHWC", "HWIO", "NHWC")``, any spatial rank; per-dim parameters
        follow the kernel's spatial order. Default: ``NC...``, ``OI...``, ``NC...``.
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    dx : ndarray, shape of x
    dw : ndarray, shape of w
    db : ndarray, shape (C_out,)
        The cotangent of a bias, whether or not the forward pass used one.
        All three are new arrays of the result dtype of ``x``, ``w`` and ``dy``.

    Notes
    -----
    ``dx`` is :func:`conv_input_vjp`, ``dw`` :func:`conv_weight_vjp`, ``db``
    :func:`conv_bias_vjp`; see each for its formula.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x, w = np.ones((2, 3, 4, 4)), np.ones((2, 3, 3, 3))
    >>> dx, dw, db = refconv.conv_vjp(x, w, np.ones((2, 2, 2, 2)))
    >>> dx.shape, dw[0, 0], db
    ((2, 3, 4, 4), array([[8., 8., 8.],
           [8., 8., 8.],
           [8., 8., 8.]]), array([8., 8.]))
    """
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    lay = layout(dimension_numbers, x_arr.ndim - 2)
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    dy = lay.to_canonical(norm.as_array(dy, "dy"), "out", "dy")
    keywords = dict(stride=stride, padding=padding, dilation=dilation,
                    input_dilation=input_dilation, groups=groups, batch_groups=batch_groups,
                    padding_mode=padding_mode)  # fmt: skip
    p, mode, dy_arr = _checked(x_arr.shape, w_arr.shape, dy, keywords)
    acc, out = norm.dtypes(x_arr, w_arr, dy_arr, preferred=preferred_element_type)
    x_arr, w_arr = x_arr.astype(acc, copy=False), w_arr.astype(acc, copy=False)
    dy_arr = conjugated(dy_arr.astype(acc, copy=False), conjugate)
    grads = (
        input_vjp_with_mode(x_arr.shape, w_arr, dy_arr, p, mode),
        weight_vjp_with_mode(x_arr, w_arr.shape, dy_arr, p, mode),
        bias_vjp(dy_arr),
    )
    dx, dw, db = (conjugated(g, conjugate) for g in grads)
    dx, dw = lay.from_canonical(dx, "lhs"), lay.from_canonical(dw, "rhs")
    return dx.astype(out, copy=False), dw.astype(out, copy=False), db.astype(out, copy=False)
