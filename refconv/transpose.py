r"""The transposed convolution (PyTorch's ``conv_transpose``) and its VJPs: calls of the general convolution.

A transposed convolution is the input VJP of the convolution with the same
stride, padding, dilation and groups (:attr:`refconv.geometry.TransposeParams.forward`),
so it is one general convolution (:func:`refconv.geometry.transpose_conv_params`)
with the flipped, role-swapped kernel; and since that is a general
convolution, its VJPs are :mod:`refconv.vjp`'s. In particular its input VJP
is the forward convolution again. Derived in :doc:`/transpose`.
"""

from __future__ import annotations

from typing import Any, Unpack

from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv._spec import TransposeOptions, transpose_spec
from refconv.conv import forward, with_bias
from refconv.vjp import vjps

__all__ = ["conv_transpose", "conv_transpose_vjp"]


def conv_transpose(
    x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, **options: Unpack[TransposeOptions]
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

    Other Parameters
    ----------------
    stride, dilation : int or sequence of int
        Of the convolution this transposes (>= 1).
    padding : int, sequence of int, sequence of (lo, hi) pairs, or str
        Of the convolution this transposes: removes ``lo`` / ``hi`` rows from
        the full output. Pairs may be asymmetric and negative (adding rows).
        Or ONNX's words for ConvTranspose: ``"same"`` (output ``n * stride``,
        an odd pixel at the end: ``SAME_UPPER``, TensorFlow's ``SAME``),
        ``"same_lower"`` (the odd pixel at the start) or ``"valid"`` (none)
        (:func:`refconv.geometry.transpose_same_padding`).
    output_padding : int or sequence of int
        Rows added at the high end, ``0 <= output_padding < max(stride, dilation)``
        (a ValueError otherwise, as in PyTorch).
    strict_output_padding : bool
        Require ``output_padding < stride`` instead, as ONNX runtimes,
        TensorFlow and Keras do.
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
        As in :func:`refconv.conv`.

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
    x, w = norm.as_array(x, "x"), norm.as_array(w, "w")
    s = transpose_spec("conv_transpose", x.shape, w.shape, norm.dtypes_of(x=x, w=w, b=b), options)
    y = forward(s, s.operand(x, "x", "x"), s.operand(w, "w", "w"))
    return s.result(with_bias(y, s.bias(b)), "y")


def conv_transpose_vjp(
    x: ArrayLike, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[TransposeOptions]
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    r"""VJPs of :func:`conv_transpose`: ``(dx, dw, db)``.

    Parameters
    ----------
    x, w : array_like
        As in :func:`conv_transpose`.
    dy : array_like
        Cotangent of its output.
    conjugate : bool
        As in :func:`refconv.conv_input_vjp`.
    **options
        The keywords of :func:`conv_transpose`.

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
    x, w, dy = norm.as_array(x, "x"), norm.as_array(w, "w"), norm.as_array(dy, "dy")
    s = transpose_spec("conv_transpose_vjp", x.shape, w.shape, [x.dtype, w.dtype, dy.dtype], options)
    return vjps(s, x, w, dy, conjugate)
