r"""Patches (im2col) and fold (col2im): the convolution with the identity kernel, and its VJP.

The patches of ``x`` for a filter of ``K = prod(filter_shape)`` taps hold, at every output
position, the window the convolution reads there, channel major:

.. math::

    p[n, c K + t, j] = x_p[n, c, s j + d t]

for every input channel :math:`c`, tap :math:`t` (flattened in the kernel's spatial order) and
output position :math:`j`, :math:`x_p` the dilated, padded input. That is the general
convolution of ``x`` with the identity kernel ``w[c K + t, 0, t'] = [t = t']`` and ``groups =
C`` (``jax.lax.conv_general_dilated_patches`` computes it so), whose every output is one product
with 1: :func:`conv_patches` reads the windows instead, without the ``K``-fold products with 0
(which would also carry a NaN of one window element to the whole window). Its VJP,
:func:`fold`, is the convolution's input VJP with that kernel: each patch element added back
onto the input element it copied. Derived in :doc:`/patches`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv import padding_modes
from refconv._convspec import ConvSpec
from refconv._familyspec import PatchesOptions, patches_spec
from refconv._nonfinite import IEEE
from refconv._ops import dilate_and_pad, undilate_and_unpad, window_sum, window_view
from refconv.geometry import padded_shape

__all__ = ["conv_patches", "fold", "patches", "patches_vjp"]


def patches(s: ConvSpec, x: NDArray[Any]) -> NDArray[Any]:
    """The canonical ``(N, C K, *out)`` patches of a canonical ``x``: the windows, copied channel major.

    ``s`` is the spec of the identity-kernel convolution (``refconv._familyspec.patches_spec``).
    """
    kernel, nd = s.w_shape[2:], s.ndim
    if 0 in s.y_shape or x.size == 0:  # no window, or windows of padding only
        return np.zeros(s.y_shape, x.dtype)
    x, p = padding_modes.apply(x, s.params, s.padding_mode)
    windows = window_view(dilate_and_pad(x, p.input_dilation, p.padding), kernel, p.stride, p.dilation)
    taps_first = np.moveaxis(windows, tuple(range(2 + nd, 2 + 2 * nd)), tuple(range(2, 2 + nd)))
    # (N, C, *K, *out) -> (N, C K, *out), c major: a copy, or for one tap a read-only view, copied
    return np.require(taps_first.reshape(s.y_shape), requirements="W")


def patches_vjp(s: ConvSpec, g: NDArray[Any]) -> NDArray[Any]:
    """``dx`` for a canonical patches cotangent ``g``: each element summed onto the element it copied.

    The transpose of :func:`patches` step by step: the window view's (``refconv._ops.window_sum``),
    the dilation and padding's (``refconv._ops.undilate_and_unpad``), the padding mode's
    (:func:`refconv.padding_modes.fold`).
    """
    n, c, *_ = s.x_shape
    kernel, out, nd = s.w_shape[2:], s.y_shape[2:], s.ndim
    p, x_shape = s.params, s.x_shape
    if s.padding_mode != "zeros":  # the zero-padded patches of the mode-padded input
        p, x_shape = padding_modes.without_padding(p), (*x_shape[:2], *padded_shape(x_shape[2:], p))
    if 0 in s.y_shape or math.prod(s.x_shape) == 0:
        return np.zeros(s.x_shape, g.dtype)
    windows = np.moveaxis(
        g.reshape(n, c, *kernel, *out), tuple(range(2, 2 + nd)), tuple(range(2 + nd, 2 + 2 * nd))
    )
    with np.errstate(**IEEE):
        summed = window_sum(windows, padded_shape(x_shape[2:], p), p.stride, p.dilation)
        dx = undilate_and_unpad(summed, x_shape, p.input_dilation, p.padding)
        if s.padding_mode == "zeros":
            return dx
        return padding_modes.fold(dx, s.x_shape, s.padding, s.padding_mode)


def conv_patches(
    x: ArrayLike, filter_shape: Sequence[int], **options: Unpack[PatchesOptions]
) -> NDArray[Any]:
    r"""The patches (im2col) of ``x``: every window a convolution with ``filter_shape`` reads.

    ``jax.lax.conv_general_dilated_patches``' semantics and keywords, in refconv's names.

    Parameters
    ----------
    x : array_like, shape (N, C, \*spatial)
        Input, in the layout of ``dimension_numbers``; any number of spatial dims >= 0.
    filter_shape : sequence of int
        The window's size ``k`` per spatial dim, in the kernel spec's spatial order.

    Other Parameters
    ----------------
    stride, padding, dilation, input_dilation, padding_mode, dimension_numbers, preferred_element_type
        As in :func:`refconv.conv` (no ``groups``: a patch holds every channel).

    Returns
    -------
    patches : ndarray, shape (N, C * prod(filter_shape), \*out)
        A new array in the output layout of ``dimension_numbers``; channel ``c K + t`` holds
        input channel ``c`` at tap ``t`` (taps flattened row-major, in the kernel's spatial
        order), ``out`` as :func:`refconv.conv_output_shape`. PyTorch's ``unfold`` is
        ``patches.reshape(N, C * K, -1)``; TensorFlow's ``extract_patches`` (channels last,
        tap major) is ``patches`` in ``NHWC`` reordered ``(t, c)``: see :doc:`/patches`.

    Notes
    -----
    :math:`p[n, c K + t, j] = x_p[n, c, s j + d t]`: the general convolution with the
    identity kernel (``groups = C``), computed as a copy of its windows, so a NaN or an
    infinity stays in the patch elements that copied it. Derivation: :doc:`/patches`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x = np.arange(12.0).reshape(1, 2, 6)
    >>> refconv.conv_patches(x, [2], stride=2)[0]  # channel 0 taps 0, 1, then channel 1
    array([[ 0.,  2.,  4.],
           [ 1.,  3.,  5.],
           [ 6.,  8., 10.],
           [ 7.,  9., 11.]])
    """
    x = norm.as_array(x, "x")
    s = patches_spec("conv_patches", x.shape, filter_shape, norm.dtypes_of(x=x), options)
    return s.result(patches(s, s.operand(x, "x", "x")), "y")


def fold(
    patches: ArrayLike, x_shape: Sequence[int], filter_shape: Sequence[int], **options: Unpack[PatchesOptions]
) -> NDArray[Any]:
    r"""Fold (col2im): the VJP of :func:`conv_patches`, each patch element added onto the element it copied.

    Parameters
    ----------
    patches : array_like, shape (N, C * prod(filter_shape), \*out)
        Patches, or their cotangent, as :func:`conv_patches` returns them.
    x_shape : sequence of int
        Shape of the input the patches were taken from, ``(N, C, *spatial)`` in its layout.
    filter_shape : sequence of int
        As in :func:`conv_patches`.

    Other Parameters
    ----------------
    stride, padding, dilation, input_dilation, padding_mode, dimension_numbers, preferred_element_type
        As in :func:`conv_patches`.

    Returns
    -------
    x : ndarray, shape x_shape
        A new array: each element the sum of the patch elements that copied it, zero where no
        window reads it. PyTorch's ``fold(unfolded, output_size, kernel_size, ...)`` is
        ``fold(unfolded.reshape(N, C * K, *out), (N, C, *output_size), kernel_size, ...)``.

    Notes
    -----
    The input VJP of the identity-kernel convolution (:func:`refconv.conv_input_vjp`): the
    adjoint of :func:`conv_patches`, :math:`\langle P x, g\rangle = \langle x, P^T g\rangle`.
    Derivation: :doc:`/patches`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> refconv.fold(np.ones((1, 3, 2)), (1, 1, 5), [3], stride=2)  # how many windows read each element
    array([[[1., 1., 2., 1., 1.]]])
    """
    g = norm.as_array(patches, "patches")
    s = patches_spec("fold", x_shape, filter_shape, norm.dtypes_of(patches=g), options)
    return s.result(patches_vjp(s, s.operand(g, "y", "patches")), "x")
