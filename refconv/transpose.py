r"""The transposed convolution (PyTorch's ``conv_transpose``) and its VJPs: calls of the general convolution.

A transposed convolution is the input VJP of the convolution with the same
stride, padding, dilation and groups (:attr:`refconv.geometry.TransposeParams.forward`),
so it is one general convolution (:func:`refconv.geometry.transpose_conv_params`)
with the flipped, role-swapped kernel; and since that is a general
convolution, its VJPs are :mod:`refconv.vjp`'s. In particular its input VJP
is the forward convolution again. Derived in :doc:`/transpose`.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv._layout import layout
from refconv._ops import transpose_kernel
from refconv.conv import conv_general
from refconv.geometry import ConvParams, Shape, transpose_conv_params
from refconv.geometry import output_shape as conv_output_shape
from refconv.vjp import bias_vjp, conjugated, input_vjp, weight_vjp

__all__ = ["conv_transpose", "conv_transpose_vjp"]


def _setup(x_shape: Shape, w: NDArray[Any], keywords: dict[str, Any]) -> tuple[ConvParams, NDArray[Any]]:
    """The general convolution's parameters and kernel, ``(G * C_out/G, C_in/G, *K)`` flipped."""
    t = norm.checked_transpose_params(x_shape, w.shape, **keywords)
    return transpose_conv_params(w.shape[2:], t), transpose_kernel(w, t.groups)


def conv_transpose(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    output_padding: norm.IntOrInts = 0,
    dilation: norm.IntOrInts = 1,
    groups: int = 1,
    output_shape: Shape | None = None,
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> NDArray[Any]:
    r"""Transposed convolution with PyTorch's semantics and weight layout.

    Parameters
    ----------
    x : array_like, shape (N, C_in, \*spatial)
        Input.
    w : array_like, shape (C_in, C_out // groups, \*kernel)
        Weight, in PyTorch's ``ConvTranspose`` layout.
    b : array_like, shape (C_out,), optional
        Bias.
    stride, dilation : int or sequence of int
        Of the convolution this transposes (>= 1).
    padding : int, sequence of int, or sequence of (lo, hi) pairs
        Of the convolution this transposes: removes ``lo`` / ``hi`` rows from
        the full output. Pairs may be asymmetric and negative (adding rows).
    output_padding : int or sequence of int
        Rows added at the high end, ``0 <= output_padding < max(stride, dilation)``
        (a ValueError otherwise, as in PyTorch).
    groups : int
        Feature groups.
    output_shape : sequence of int, optional
        The spatial (or full) output shape, instead of ``output_padding``
        (as ONNX and TF allow), in the canonical order; must be reachable
        with a valid output_padding.
    dimension_numbers : (str, str, str), optional
        Layouts of input, weight and output, JAX's string form; the weight's
        spec names ``I`` (its ``C_in`` axis) and ``O`` (``C_out // groups``).
        Default: ``NC...``, ``IO...``, ``NC...`` (PyTorch's).
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    y : ndarray, shape (N, C_out, \*out)
        ``out = (n - 1) * s - lo - hi + d * (k - 1) + 1 + output_padding``
        (:func:`refconv.geometry.transpose_output_spatial_shape`).

    Notes
    -----
    The transposed convolution is the input VJP of :func:`refconv.conv` with
    the same stride, padding, dilation and groups, taken at a ``y``-shaped
    input; so it is one general convolution of ``x`` with the flipped kernel,
    its in/out roles swapped per group (:func:`refconv.geometry.transpose_conv_params`):

    .. math::
        y = \operatorname{conv}\bigl(x, \tilde w;\; \text{stride}=1,\;
        \text{padding}=(\hat k - 1 - lo,\; \hat k - 1 - hi + o),\;
        \text{input\_dilation}=s,\; \text{dilation}=d\bigr)

    ``output_padding`` :math:`o` plays the part of the forward convolution's
    :math:`r`. Derivation: :doc:`/transpose`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> refconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 2)), stride=2, output_padding=1)
    array([[[1., 1., 1., 1., 1., 1., 0.]]])

    The row ``output_padding`` adds receives nothing: it is the row ``r`` of
    the forward convolution that no window reads.
    """
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    lay = layout(dimension_numbers, x_arr.ndim - 2, kernel_pair="IO")
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    keywords = dict(stride=stride, padding=padding, output_padding=output_padding,
                    dilation=dilation, groups=groups, output_shape=output_shape)  # fmt: skip
    q, kernel = _setup(x_arr.shape, w_arr, keywords)
    arrays = [x_arr, w_arr]
    if b is not None:
        b_arr = norm.as_array(b, "b")
        norm.check_bias(b_arr, kernel.shape[0])
        arrays.append(b_arr)
    acc, out = norm.dtypes(*arrays, preferred=preferred_element_type)
    y = conv_general(x_arr.astype(acc, copy=False), kernel.astype(acc, copy=False), q)
    if b is not None:
        y += b_arr.astype(acc).reshape((1, -1) + (1,) * len(q.stride))
    return lay.from_canonical(y, "out").astype(out, copy=False)


def conv_transpose_vjp(
    x: ArrayLike,
    w: ArrayLike,
    dy: ArrayLike,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    output_padding: norm.IntOrInts = 0,
    dilation: norm.IntOrInts = 1,
    groups: int = 1,
    output_shape: Shape | None = None,
    conjugate: bool = False,
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    r"""VJPs of :func:`conv_transpose`: ``(dx, dw, db)``.

    Parameters
    ----------
    x, w : array_like
        As in :func:`conv_transpose`.
    dy : array_like
        Cotangent of its output.
    stride, padding, output_padding, dilation, groups, output_shape
        As in :func:`conv_transpose`.
    conjugate : bool
        JAX's convention (False) or PyTorch's ``conj(vjp(conj(dy)))`` (True).
    dimension_numbers : (str, str, str), optional
        Layouts of input, weight and output, JAX's string form; the weight's
        spec names ``I`` (its ``C_in`` axis) and ``O`` (``C_out // groups``).
        Default: ``NC...``, ``IO...``, ``NC...`` (PyTorch's).
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    dx, dw, db : ndarray
        Shapes of ``x``, ``w`` and ``(C_out,)``.

    Notes
    -----
    :func:`conv_transpose` is a general convolution, so these are
    :func:`refconv.conv_input_vjp` and :func:`refconv.conv_weight_vjp` of it;
    ``dw`` is swapped back into the ``(C_in, C_out // groups, *K)`` layout.
    The input VJP works out to the convolution being transposed:

    .. math::
        dx = \operatorname{conv}\bigl(dy, w;\; \text{stride}=s,\;
        \text{padding}=(lo,\; hi - o),\; \text{dilation}=d,\; \text{groups}=G\bigr)

    Derivation: :doc:`/transpose`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x, w, dy = np.ones((1, 1, 3)), np.ones((1, 1, 2)), np.ones((1, 1, 6))
    >>> dx, dw, db = refconv.conv_transpose_vjp(x, w, dy, stride=2)
    >>> dx, dw, db
    (array([[[2., 2., 2.]]]), array([[[3., 3.]]]), array([6.]))
    """
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    lay = layout(dimension_numbers, x_arr.ndim - 2, kernel_pair="IO")
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    keywords = dict(stride=stride, padding=padding, output_padding=output_padding,
                    dilation=dilation, groups=groups, output_shape=output_shape)  # fmt: skip
    q, kernel = _setup(x_arr.shape, w_arr, keywords)
    dy_arr = lay.to_canonical(norm.as_array(dy, "dy"), "out", "dy")
    norm.check_cotangent(dy_arr, conv_output_shape(x_arr.shape, kernel.shape, q))
    acc, out = norm.dtypes(x_arr, w_arr, dy_arr, preferred=preferred_element_type)
    x_arr, kernel = x_arr.astype(acc, copy=False), kernel.astype(acc, copy=False)
    dy_arr = conjugated(dy_arr.astype(acc, copy=False), conjugate)
    dx = input_vjp(x_arr.shape, kernel, dy_arr, q)
    dw = transpose_kernel(weight_vjp(x_arr, kernel.shape, dy_arr, q), q.groups).copy()
    dx, dw = (
        lay.from_canonical(conjugated(dx, conjugate), "lhs"),
        lay.from_canonical(conjugated(dw, conjugate), "rhs"),
    )
    db = conjugated(bias_vjp(dy_arr), conjugate)
    return dx.astype(out, copy=False), dw.astype(out, copy=False), db.astype(out, copy=False)
