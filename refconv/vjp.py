r"""Vector-Jacobian products of :func:`refconv.conv`, each one call of the general convolution.

The general convolution is closed under taking VJPs: with respect to the
input it is a convolution of the cotangent with the flipped, role-swapped
kernel; with respect to the weight it is a convolution of the input with the
cotangent, batch and channels swapped. The parameters of those convolutions
come from :func:`refconv.geometry.input_vjp_params` and
:func:`refconv.geometry.weight_vjp_params`. Derived in :doc:`/input_vjp` and :doc:`/weight_vjp`.

Two levels: :func:`input_vjp_general` and :func:`weight_vjp_general` are the
formulas, for a zero-padded general convolution's parameters;
:func:`input_vjp` and :func:`weight_vjp` take a :class:`~refconv.ConvSpec`
and add what the problem adds: a padding mode (pad, and fold back) and the
transposed convolution (whose kernel is flipped and swapped).
"""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv import padding_modes
from refconv._nonfinite import IEEE
from refconv._ops import merge_axis_into, split_axis, swap_batch_and_channels, transpose_kernel
from refconv._spec import ConvOptions, ConvSpec, bias_cotangent, conv_spec
from refconv.conv import kernel_of
from refconv.fast import conv_general
from refconv.geometry import ConvParams, Shape, input_vjp_params, padded_shape, weight_vjp_params

__all__ = ["conv_bias_vjp", "conv_input_vjp", "conv_vjp", "conv_weight_vjp"]


def input_vjp_general(x_shape: Shape, w: NDArray[Any], dy: NDArray[Any], p: ConvParams) -> NDArray[Any]:
    """``dx`` of the zero-padded general convolution ``p``: ``dy`` convolved with the flipped kernel."""
    q = input_vjp_params(x_shape[2:], w.shape[2:], p)
    dx = conv_general(dy, transpose_kernel(w, q.groups), q)
    if p.batch_groups > 1:
        # the batch groups came out as channel groups: move them back into the batch, group major
        dx = merge_axis_into(split_axis(dx, 1, p.batch_groups), 1, 0)
    return dx


def weight_vjp_general(x: NDArray[Any], w_shape: Shape, dy: NDArray[Any], p: ConvParams) -> NDArray[Any]:
    """``dw`` of the zero-padded general convolution ``p``: ``x`` convolved with ``dy``, N and C swapped."""
    q = weight_vjp_params(x.shape[2:], w_shape[2:], p)
    dw = conv_general(swap_batch_and_channels(x), swap_batch_and_channels(dy), q)
    return np.ascontiguousarray(swap_batch_and_channels(dw))


def input_vjp(s: ConvSpec, w: NDArray[Any], dy: NDArray[Any]) -> NDArray[Any]:
    """``dx`` for canonical arrays in the accumulation dtype.

    With a padding mode, the input VJP of the padded input, folded back onto
    the elements the padding copied (:func:`refconv.padding_modes.fold`).
    Zeros for a problem without products (:attr:`refconv.ConvSpec.empty`).
    """
    if s.empty:
        return np.zeros(s.x_shape, np.result_type(w, dy))
    if s.padding_mode == "zeros":
        return input_vjp_general(s.x_shape, kernel_of(s, w), dy, s.general)
    p = s.general
    padded = (*s.x_shape[:2], *padded_shape(s.x_shape[2:], p))
    dx = input_vjp_general(padded, kernel_of(s, w), dy, padding_modes.without_padding(p))
    return padding_modes.fold(dx, s.x_shape, p.padding, s.padding_mode)


def weight_vjp(s: ConvSpec, x: NDArray[Any], dy: NDArray[Any]) -> NDArray[Any]:
    """``dw`` for canonical arrays in the accumulation dtype: the weight VJP of the (mode-)padded input.

    Zeros for a problem without products (:attr:`refconv.ConvSpec.empty`).
    """
    if s.empty:
        return np.zeros(s.w_shape, np.result_type(x, dy))
    x, p = padding_modes.apply(x, s.general, s.padding_mode)
    return kernel_of(s, weight_vjp_general(x, s.general_w_shape, dy, p))


def bias_vjp(dy: NDArray[Any]) -> NDArray[Any]:
    """``db``: ``dy`` summed over the batch and every spatial axis, in ``dy``'s dtype."""
    with np.errstate(**IEEE):
        db: NDArray[Any] = dy.sum(axis=(0, *range(2, dy.ndim)), dtype=dy.dtype)
    return db


def conjugated(a: NDArray[Any], conjugate: bool) -> NDArray[Any]:
    """``conj(a)`` when ``conjugate`` is set and ``a`` is complex, else ``a``.

    PyTorch's gradient of a complex function is ``conj(vjp(conj(g)))`` (the
    conjugate Wirtinger convention); JAX's is ``vjp(g)``.
    """
    return np.conj(a) if norm.as_flag(conjugate, "conjugate") and np.iscomplexobj(a) else a


def vjps(
    s: ConvSpec, x: ArrayLike, w: ArrayLike, dy: ArrayLike, conjugate: bool
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """``(dx, dw, db)`` of the problem ``s``, in the caller's layout and dtype (see :func:`conv_vjp`)."""
    x_c, w_c = s.operand(x, "x", "x"), s.operand(w, "w", "w")
    dy_c = conjugated(s.operand(dy, "y", "dy"), conjugate)
    dx, dw, db = (
        conjugated(g, conjugate) for g in (input_vjp(s, w_c, dy_c), weight_vjp(s, x_c, dy_c), bias_vjp(dy_c))
    )
    return s.result(dx, "x"), s.result(dw, "w"), s.result(db, "b")


def conv_input_vjp(
    x_shape: Shape, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[ConvOptions]
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
    conjugate : bool
        ``False`` (default): JAX's convention, the plain transpose ``vjp(dy)``.
        ``True``: PyTorch's, ``conj(vjp(conj(dy)))``. Equal for real inputs.
    **options
        The forward convolution's keywords, as in :func:`refconv.conv`. With a
        padding mode, the cotangent of the padding is folded back onto the
        elements it copied (:func:`refconv.padding_modes.fold`).

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
    w, dy = norm.as_array(w, "w"), norm.as_array(dy, "dy")
    s = conv_spec("conv_input_vjp", x_shape, w.shape, [w.dtype, dy.dtype], options)
    dy_c = conjugated(s.operand(dy, "y", "dy"), conjugate)
    return s.result(conjugated(input_vjp(s, s.operand(w, "w", "w"), dy_c), conjugate), "x")


def conv_weight_vjp(
    x: ArrayLike, w_shape: Shape, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[ConvOptions]
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
    conjugate, **options
        As in :func:`conv_input_vjp`.

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
    x, dy = norm.as_array(x, "x"), norm.as_array(dy, "dy")
    s = conv_spec("conv_weight_vjp", x.shape, w_shape, [x.dtype, dy.dtype], options)
    dy_c = conjugated(s.operand(dy, "y", "dy"), conjugate)
    return s.result(conjugated(weight_vjp(s, s.operand(x, "x", "x"), dy_c), conjugate), "w")


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
    conjugate, dimension_numbers, preferred_element_type
        As in :func:`conv_input_vjp` and :func:`refconv.conv`; the bias needs
        no other keyword (it meets no window).

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
    dy_c, out = bias_cotangent(dy, dimension_numbers, preferred_element_type)
    return conjugated(bias_vjp(conjugated(dy_c, conjugate)), conjugate).astype(out, copy=False)


def conv_vjp(
    x: ArrayLike, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[ConvOptions]
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
    conjugate, **options
        As in :func:`conv_input_vjp`.

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
    x, w, dy = norm.as_array(x, "x"), norm.as_array(w, "w"), norm.as_array(dy, "dy")
    s = conv_spec("conv_vjp", x.shape, w.shape, [x.dtype, w.dtype, dy.dtype], options)
    return vjps(s, x, w, dy, conjugate)
