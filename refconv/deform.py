r"""The deformable convolution (ONNX DeformConv, torchvision's deform_conv2d v1 and v2) and its VJPs.

Tap :math:`t` of window :math:`j` reads the input not at :math:`s j + d t - lo` but at that point
moved by a learned, real offset, interpolated (:mod:`refconv.sampling`), and scaled by a mask:

.. math::

    y[n, o, j] = b[o] + \sum_{c, t} w[o, c, t]\; m[n, g_c, t, j]\;
        V_{n c}\big(s j + d t - lo + \Delta[n, g_c, t, :, j]\big)

over the input channels :math:`c` of ``o``'s group, :math:`g_c` the offset group of channel
:math:`c` (the channels split into ``G_o`` contiguous blocks, each with its own offsets and
mask). The sampled, masked columns :math:`S[n, c K + t, j] = m\, V` are the deformable patches
(with no offset and no mask they are :func:`refconv.conv_patches`), and ``y`` is their pointwise
general convolution with the weight seen as ``(O, I K, 1, ...)``, ``groups`` as given. So the
VJPs of ``x`` and ``w`` are that convolution's, then the sampling's; ``offset`` and ``mask`` get
the sampling's slopes and values. Derived in :doc:`/deform`.
"""

from __future__ import annotations

import math
from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv._convspec import ConvSpec
from refconv._familyspec import DeformOptions, deform_spec
from refconv._nonfinite import IEEE
from refconv.conv import with_bias
from refconv.fast import conv_general
from refconv.geometry import ConvParams
from refconv.sampling import sample, sample_vjp
from refconv.vjp import bias_vjp, input_vjp_general, weight_vjp_general

__all__ = ["deform_conv", "deform_conv_vjp", "pointwise", "sample_points"]


def sample_points(s: ConvSpec, offset: NDArray[Any], groups: int) -> NDArray[Any]:
    """The points each tap reads, ``(N, G_o, K M, nd)``: :math:`s j + d t - lo` plus the offset.

    ``offset`` is canonical ``(N, G_o K nd, *out)``, per group the taps in row-major order and,
    per tap, one coordinate per spatial dim (ONNX's and torchvision's layout).
    """
    kernel, out, nd = s.w_shape[2:], s.y_shape[2:], s.ndim
    taps, positions, n = math.prod(kernel), math.prod(out), offset.shape[0]
    grid = np.meshgrid(*(range(k) for k in kernel), *(range(m) for m in out), indexing="ij")  # t..., j...
    base = np.zeros((taps, positions, nd))
    for e, (st, d, (lo, _)) in enumerate(zip(s.stride, s.dilation, s.padding, strict=True)):
        base[..., e] = (st * grid[nd + e] + d * grid[e] - lo).reshape(taps, positions)
    moved = np.moveaxis(offset.reshape(n, groups, taps, nd, positions), 3, -1)  # (N, G_o, K, M, nd)
    return (moved + base).reshape(n, groups, taps * positions, nd)


def pointwise(s: ConvSpec) -> ConvParams:
    """The general convolution of the deformable patches with the ``(O, I K, 1, ...)`` weight."""
    ones = (1,) * s.ndim
    return ConvParams(
        stride=ones, padding=((0, 0),) * s.ndim, dilation=ones, input_dilation=ones, groups=s.groups
    )


def _columns(s: ConvSpec, x: NDArray[Any], q: NDArray[Any], groups: int) -> NDArray[Any]:
    """The sampled input, ``(N, G_o, C / G_o, K M)``: each channel read at its offset group's points."""
    n, c = s.x_shape[:2]
    by_group = x.reshape(n * groups, c // groups, *s.x_shape[2:])
    points = q.reshape(n * groups, q.shape[2], s.ndim)
    return sample(by_group, points).reshape(n, groups, c // groups, q.shape[2])


def _per_group(mask: NDArray[Any], groups: int) -> NDArray[Any]:
    """A ``(N, G_o K, *out)`` mask as ``(N, G_o, 1, K M)``, to scale every channel of its group."""
    return mask.reshape(mask.shape[0], groups, 1, math.prod(mask.shape[1:]) // groups)


def _patches_layout(s: ConvSpec, columns: NDArray[Any]) -> NDArray[Any]:
    """``(N, G_o, C / G_o, K M)`` sampled columns as the ``(N, C K, *out)`` deformable patches."""
    return columns.reshape(s.x_shape[0], s.x_shape[1] * math.prod(s.w_shape[2:]), *s.y_shape[2:])


def _weight(s: ConvSpec, w: NDArray[Any]) -> NDArray[Any]:
    """A ``(O, I, *K)`` weight as the ``(O, I K, 1, ...)`` one of :func:`pointwise`."""
    return w.reshape(w.shape[0], math.prod(w.shape[1:]), *(1,) * s.ndim)


def deform_forward(
    s: ConvSpec, x: NDArray[Any], w: NDArray[Any], offset: NDArray[Any], mask: NDArray[Any], groups: int
) -> NDArray[Any]:
    """``y`` without the bias, for canonical arrays: the pointwise convolution of the deformable patches."""
    if s.empty or 0 in s.y_shape:
        return np.zeros(s.y_shape, x.dtype)
    values = _columns(s, x, sample_points(s, offset, groups), groups)
    with np.errstate(**IEEE):
        patches = values * _per_group(mask, groups)
    return conv_general(_patches_layout(s, patches), _weight(s, w), pointwise(s))


def deform_vjps(
    s: ConvSpec, x: NDArray[Any], w: NDArray[Any], offset: NDArray[Any], mask: NDArray[Any], dy: NDArray[Any],
    groups: int,
) -> tuple[NDArray[Any], ...]:  # fmt: skip
    """``(dx, dw, db, doffset, dmask)`` for canonical arrays."""
    if s.empty or 0 in s.y_shape:  # canonical arrays: all in the accumulation dtype
        return np.zeros_like(x), np.zeros_like(w), bias_vjp(dy), np.zeros_like(offset), np.zeros_like(mask)
    n, c, out = s.x_shape[0], s.x_shape[1], s.y_shape[2:]
    q = sample_points(s, offset, groups)
    values = _columns(s, x, q, groups)  # (N, G_o, C / G_o, K M)
    scale = _per_group(mask, groups)
    with np.errstate(**IEEE):
        patches = _patches_layout(s, values * scale)
        d_patches = input_vjp_general(patches.shape, _weight(s, w), dy, pointwise(s)).reshape(values.shape)
        dw = weight_vjp_general(patches, _weight(s, w).shape, dy, pointwise(s)).reshape(w.shape)
        dmask = (d_patches * values).sum(axis=2).reshape(mask.shape)
        d_values = d_patches * scale
        dx, dq = sample_vjp(
            x.reshape(n * groups, c // groups, *s.x_shape[2:]), q.reshape(n * groups, q.shape[2], s.ndim),
            d_values.reshape(n * groups, c // groups, q.shape[2]),
        )  # fmt: skip
    taps = math.prod(s.w_shape[2:])
    doffset = np.moveaxis(dq.reshape(n, groups, taps, math.prod(out), s.ndim), -1, 3).reshape(offset.shape)
    return dx.reshape(x.shape), dw, bias_vjp(dy), doffset, dmask


def _spec(
    caller: str, x: NDArray[Any], w: NDArray[Any], offset: NDArray[Any], mask: NDArray[Any] | None,
    others: dict[str, Any], options: Any,
) -> tuple[ConvSpec, int]:  # fmt: skip
    dtypes = norm.dtypes_of(x=x, w=w, offset=offset, mask=mask, **others)
    return deform_spec(
        caller, x.shape, w.shape, offset.shape, None if mask is None else mask.shape, dtypes, options
    )


def _mask(s: ConvSpec, mask: NDArray[Any] | None, groups: int) -> NDArray[Any]:
    """The mask in the accumulation dtype, or ones (ONNX without a mask, torchvision's v1)."""
    if mask is None:
        return np.ones((s.x_shape[0], groups * math.prod(s.w_shape[2:]), *s.y_shape[2:]), s.accumulate)
    return mask.astype(s.accumulate, copy=False)


def deform_conv(
    x: ArrayLike,
    w: ArrayLike,
    offset: ArrayLike,
    b: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    **options: Unpack[DeformOptions],
) -> NDArray[Any]:
    r"""Deformable convolution: each tap reads the input at its own offset, interpolated, masked.

    ONNX ``DeformConv``'s semantics (inputs in its order), in any number of spatial dims.

    Parameters
    ----------
    x : array_like, shape (N, C_in, \*spatial)
        Input (channels first, as ONNX and torchvision).
    w : array_like, shape (C_out, C_in // groups, \*kernel)
        Weight.
    offset : array_like, shape (N, G_o * K * nd, \*out)
        Where each tap reads, relative to :math:`s j + d t - lo`: for offset group ``g``, tap
        ``t`` (row-major) and spatial dim ``e``, channel ``(g K + t) nd + e`` (ONNX's and
        torchvision's layout: ``(y, x)`` pairs in 2-d). ``G_o``, the offset groups, divides
        ``C_in``; each block of ``C_in / G_o`` channels has its own offsets.
    b : array_like, shape (C_out,), optional
        Bias.
    mask : array_like, shape (N, G_o * K, \*out), optional
        A factor per sampled value (torchvision's v2, "modulated"); ones when absent (v1).

    Other Parameters
    ----------------
    stride, padding, dilation, groups
        As in :func:`refconv.conv` (ONNX's ``strides``, ``pads``, ``dilations``, ``group``).

    Returns
    -------
    y : ndarray, shape (N, C_out, \*out)
        A new array; ``out`` as :func:`refconv.conv_output_shape`.

    Notes
    -----
    .. math::
        y[n, o, j] = b[o] + \sum_{c, t} w[o, c, t]\, m[n, g_c, t, j]\,
        V_{nc}(s j + d t - lo + \Delta[n, g_c, t, :, j])

    with :math:`V` the multilinear interpolation with zeros outside the input
    (:mod:`refconv.sampling`). Each element sums :math:`K = (C_{in}/G) \prod k \cdot 2^{nd}`
    products (+ the bias). Derivation: :doc:`/deform`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> offset = np.zeros((1, 8, 2, 2))
    >>> offset[0, 0, 0, 0] = 0.5  # tap (0, 0) of window (0, 0) reads half a row lower
    >>> refconv.deform_conv(x, np.ones((1, 1, 2, 2)), offset)  # ONNX's own test
    array([[[[ 9.5, 12. ],
             [20. , 24. ]]]])
    """
    x_a, w_a, offset_a = (norm.as_array(a, name) for a, name in ((x, "x"), (w, "w"), (offset, "offset")))
    m = None if mask is None else norm.as_array(mask, "mask")
    s, groups = _spec("deform_conv", x_a, w_a, offset_a, m, {"b": b}, options)
    x_c, w_c, offset_c = (a.astype(s.accumulate, copy=False) for a in (x_a, w_a, offset_a))
    y = deform_forward(s, x_c, w_c, offset_c, _mask(s, m, groups), groups)
    return s.result(with_bias(y, s.bias(b)), "y")


def deform_conv_vjp(
    x: ArrayLike,
    w: ArrayLike,
    offset: ArrayLike,
    dy: ArrayLike,
    mask: ArrayLike | None = None,
    **options: Unpack[DeformOptions],
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    r"""The VJPs of :func:`deform_conv`: ``(dx, dw, db, doffset, dmask)``.

    Parameters
    ----------
    x, w, offset, mask
        As in :func:`deform_conv`.
    dy : array_like, shape (N, C_out, \*out)
        Cotangent of the output.

    Other Parameters
    ----------------
    stride, padding, dilation, groups
        As in :func:`deform_conv`.

    Returns
    -------
    dx, dw, db, doffset, dmask : ndarray
        Shapes of ``x``, ``w``, ``(C_out,)``, ``offset`` and the mask's (ones when none was
        given: ``dmask`` is then the VJP of the ones); new arrays.

    Notes
    -----
    With :math:`\bar S` the VJP of the pointwise convolution of the deformable patches
    (:func:`refconv.conv_input_vjp`): :math:`dw` is that convolution's weight VJP,
    :math:`dm = \sum_c \bar S\, V`, and :math:`dx`, :math:`d\Delta` are the sampling's VJP
    of :math:`m \bar S` (:func:`refconv.sampling.sample_vjp`): at an integer sample
    coordinate, where the interpolation has a kink, the derivative from the right, at every
    border the same rule (the floor's cell, as autodiff of the formula and torchvision's CPU
    kernel). Derivation:
    :doc:`/deform`.
    """
    x_a, w_a, offset_a = (norm.as_array(a, name) for a, name in ((x, "x"), (w, "w"), (offset, "offset")))
    m, dy_a = None if mask is None else norm.as_array(mask, "mask"), norm.as_array(dy, "dy")
    s, groups = _spec("deform_conv_vjp", x_a, w_a, offset_a, m, {"dy": dy_a}, options)
    x_c, w_c, offset_c = (a.astype(s.accumulate, copy=False) for a in (x_a, w_a, offset_a))
    dx, dw, db, doffset, dmask = deform_vjps(
        s, x_c, w_c, offset_c, _mask(s, m, groups), s.operand(dy_a, "y", "dy"), groups
    )
    return (
        s.result(dx, "x"),
        s.result(dw, "w"),
        s.result(db, "b"),
        s.result(doffset, "b"),
        s.result(dmask, "b"),
    )
