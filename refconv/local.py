r"""The locally connected (unshared) convolution: a kernel per output position, and its VJPs.

.. math::

    y[n, o, j] = b[o] + \sum_{c, t} x_p[n, c, s j + d t]\; w[o, c K + t, j]
               = b[o] + \sum_q p[n, q, j]\; w[o, q, j]

with :math:`p` the patches (:mod:`refconv.patches`): at each output position a matmul of the
patch with that position's kernel. Moving the positions into the channels makes it one general
convolution: the 0-d convolution of the patches ``(N, M Q)`` with the weight ``(M O, Q)`` and
``groups = M`` (``M`` positions, ``Q = C K`` patch elements), group ``m`` the position. Its
VJPs are that convolution's, and ``dx`` is then the patches' VJP, :func:`refconv.fold`. A weight
element that meets padding or an inserted zero forms no product, as in :func:`refconv.conv`.
``jax.lax.conv_general_dilated_local``'s semantics. Derived in :doc:`/local`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv._convspec import ConvSpec
from refconv._familyspec import LocalOptions, local_spec
from refconv._ops import merge_axis_into, split_axis
from refconv.conv import with_bias
from refconv.fast import conv_general
from refconv.geometry import ConvParams, Shape
from refconv.patches import patches, patches_vjp
from refconv.vjp import bias_vjp, conjugated, input_vjp_general, weight_vjp_general

__all__ = ["conv_local", "conv_local_vjp", "positions_as_groups"]


def positions_as_groups(m: int) -> ConvParams:
    """The 0-d convolution with one feature group per output position: ``m`` groups, nothing else."""
    return ConvParams(stride=(), padding=(), dilation=(), input_dilation=(), groups=m)


def _positions_into_channels(a: NDArray[Any]) -> NDArray[Any]:
    """``(A, B, *out)`` as ``(A, M B)``, the position ``m`` major: each position a channel group."""
    return merge_axis_into(a.reshape(*a.shape[:2], -1), 2, 1)


def _positions_out_of_channels(a: NDArray[Any], out: Shape) -> NDArray[Any]:
    """The inverse of :func:`_positions_into_channels`: ``(A, M B)`` back to ``(A, B, *out)``."""
    m = math.prod(out)
    return np.moveaxis(split_axis(a, 1, m), 1, -1).reshape(a.shape[0], -1, *out)


def _kernel(w: NDArray[Any]) -> NDArray[Any]:
    """A ``(O, Q, *out)`` local weight as the ``(M O, Q)`` weight of :func:`positions_as_groups`."""
    return _positions_into_channels(w.swapaxes(0, 1)).T.reshape(-1, w.shape[1])


def _has_products(s: ConvSpec, o: int) -> bool:
    return 0 not in (*s.y_shape, s.x_shape[0], o)


def _read(s: ConvSpec) -> NDArray[np.bool_]:
    """``(1, Q, *out)``: whether each patch element is an element of ``x`` (not padding, not an inserted
    zero). A weight element where it is not multiplies nothing, as in the convolution's definition
    (``refconv._nonfinite``): it forms no product, and its VJP is an empty sum."""
    ones = np.ones((1, *s.x_shape[1:]), bool)
    return patches(replace(s, x_shape=ones.shape, y_shape=(1, *s.y_shape[1:])), ones)


def local_forward(s: ConvSpec, x: NDArray[Any], w: NDArray[Any]) -> NDArray[Any]:
    """``y`` without the bias, for canonical arrays: the 0-d grouped convolution of the patches."""
    o, out = w.shape[0], s.y_shape[2:]
    if not _has_products(s, o):
        return np.zeros((s.x_shape[0], o, *out), x.dtype)
    p = _positions_into_channels(patches(s, x))  # (N, M Q)
    kernel = _kernel(np.where(_read(s), w[None], 0)[0])
    return _positions_out_of_channels(conv_general(p, kernel, positions_as_groups(math.prod(out))), out)


def local_vjps(
    s: ConvSpec, x: NDArray[Any], w: NDArray[Any], dy: NDArray[Any]
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """``(dx, dw, db)`` for canonical arrays: the grouped 0-d convolution's VJPs, ``dx`` then folded."""
    o, out = w.shape[0], s.y_shape[2:]
    if not _has_products(s, o):  # canonical arrays: all in the accumulation dtype
        return np.zeros_like(x), np.zeros_like(w), bias_vjp(dy)
    m, kernel, d0 = math.prod(out), _kernel(w), _positions_into_channels(dy)
    p = _positions_into_channels(patches(s, x))
    dp = input_vjp_general(p.shape, kernel, d0, positions_as_groups(m))
    dk = weight_vjp_general(p, kernel.shape, d0, positions_as_groups(m))  # (M O, Q)
    dw = np.moveaxis(dk.reshape(m, o, -1), 0, -1).reshape(o, -1, *out)  # dw[o, q, m] = dk[m O + o, q]
    return patches_vjp(s, _positions_out_of_channels(dp, out)), np.where(_read(s)[0], dw, 0), bias_vjp(dy)


def _operands(
    caller: str, x: ArrayLike, w: ArrayLike, filter_shape: Sequence[int], arrays: dict[str, Any], options: Any
) -> tuple[ConvSpec, NDArray[Any], NDArray[Any]]:
    """The spec of a local call, and ``x`` and ``w`` canonical in the accumulation dtype."""
    x, w = norm.as_array(x, "x"), norm.as_array(w, "w")
    s = local_spec(caller, x.shape, w.shape, filter_shape, norm.dtypes_of(x=x, w=w, **arrays), options)
    w_c = s.layout.to_canonical(w, "rhs", "w").astype(s.accumulate, copy=False)
    return s, s.operand(x, "x", "x"), w_c


def _bias(s: ConvSpec, b: ArrayLike | None, o: int) -> NDArray[Any] | None:
    """``b`` of shape ``(O,)`` in the accumulation dtype (None stays None)."""
    if b is None:
        return None
    array = norm.as_array(b, "b")
    if array.shape != (o,):
        raise ValueError(f"b has shape {array.shape}; expected ({o},), one per output channel")
    return array.astype(s.accumulate, copy=False)


def _cotangent(s: ConvSpec, dy: NDArray[Any], o: int) -> NDArray[Any]:
    """``dy`` of the output's shape ``(N, O, *out)`` in its layout, canonical, in the accumulation dtype."""
    expected = s.layout.shape_from_canonical((s.x_shape[0], o, *s.y_shape[2:]), "out")
    if dy.shape != expected:
        raise ValueError(f"dy has shape {dy.shape}; expected the output shape {expected}")
    return s.layout.to_canonical(dy, "out", "dy").astype(s.accumulate, copy=False)


def conv_local(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    filter_shape: Sequence[int],
    **options: Unpack[LocalOptions],
) -> NDArray[Any]:
    r"""Locally connected convolution: a different kernel at every output position.

    ``jax.lax.conv_general_dilated_local``'s semantics and keywords, in refconv's names.

    Parameters
    ----------
    x : array_like, shape (N, C_in, \*spatial)
        Input; any number of spatial dims >= 0.
    w : array_like, shape (C_out, C_in * prod(filter_shape), \*out)
        One kernel per output position: ``w[o, c K + t, j]`` multiplies input channel ``c`` at
        tap ``t`` of window ``j`` (taps flattened row-major in the kernel's spatial order),
        in the kernel's layout of ``dimension_numbers`` (its spatial dims are the output's).
    b : array_like, shape (C_out,), optional
        Bias, added to every output position.
    filter_shape : sequence of int
        The window's size per spatial dim (keyword only: ``w``'s shape does not say it).

    Other Parameters
    ----------------
    stride, padding, dilation, input_dilation, padding_mode, dimension_numbers, preferred_element_type
        As in :func:`refconv.conv` (no groups: JAX's local convolution has none).

    Returns
    -------
    y : ndarray, shape (N, C_out, \*out)
        A new array; ``out`` as :func:`refconv.conv_output_shape`.

    Notes
    -----
    :math:`y[n, o, j] = b[o] + \sum_q p[n, q, j]\, w[o, q, j]`, ``p`` the patches
    (:func:`refconv.conv_patches`); computed as the 0-d convolution of the patches with one
    feature group per position. With ``w`` the same kernel at every position it is
    :func:`refconv.conv`. Derivation: :doc:`/local`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> w = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]])  # window 0 reads tap 0, the others tap 1
    >>> refconv.conv_local(x, w, filter_shape=[2], stride=2, padding=1)
    array([[[0., 2., 4.]]])
    """
    s, x_c, w_c = _operands("conv_local", x, w, filter_shape, {"b": b}, options)
    return s.result(with_bias(local_forward(s, x_c, w_c), _bias(s, b, w_c.shape[0])), "y")


def conv_local_vjp(
    x: ArrayLike,
    w: ArrayLike,
    dy: ArrayLike,
    *,
    filter_shape: Sequence[int],
    conjugate: bool = False,
    **options: Unpack[LocalOptions],
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    r"""The three VJPs of :func:`conv_local`: ``(dx, dw, db)``.

    Parameters
    ----------
    x, w : array_like
        The forward input and weight, as in :func:`conv_local`.
    dy : array_like, shape (N, C_out, \*out)
        Cotangent of the output.
    filter_shape, conjugate
        As in :func:`conv_local` and :func:`refconv.conv_input_vjp`.

    Other Parameters
    ----------------
    stride, padding, dilation, input_dilation, padding_mode, dimension_numbers, preferred_element_type
        As in :func:`conv_local`.

    Returns
    -------
    dx, dw, db : ndarray
        Shapes of ``x``, ``w`` and ``(C_out,)``; new arrays.

    Notes
    -----
    :math:`dw[o, q, j] = \sum_n p[n, q, j]\, dy[n, o, j]`,
    :math:`dx = \mathrm{fold}(dp)` with :math:`dp[n, q, j] = \sum_o dy[n, o, j]\, w[o, q, j]`,
    :math:`db[o] = \sum_{n, j} dy[n, o, j]`: the VJPs of the grouped 0-d convolution
    (:func:`refconv.conv_input_vjp`, :func:`refconv.conv_weight_vjp`), then
    :func:`refconv.fold`. Derivation: :doc:`/local`.
    """
    dy_a = norm.as_array(dy, "dy")
    s, x_c, w_c = _operands("conv_local_vjp", x, w, filter_shape, {"dy": dy_a}, options)
    dy_c = conjugated(_cotangent(s, dy_a, w_c.shape[0]), conjugate)
    dx, dw, db = (conjugated(g, conjugate) for g in local_vjps(s, x_c, w_c, dy_c))
    return s.result(dx, "x"), s.result(dw, "w"), s.result(db, "b")
