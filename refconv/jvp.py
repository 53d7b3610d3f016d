r"""Forward mode and second order of :func:`refconv.conv`: more calls of the same convolution.

The convolution is bilinear in ``(x, w)`` plus the bias, so its JVP is two
convolutions and a broadcast, and the VJP of its VJPs (double backward) is
that JVP's formula for the cotangent plus the two VJPs with the roles of
input, weight and cotangent exchanged. Derived in :doc:`/beyond`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv._layout import Layout, layout
from refconv.conv import conv_general
from refconv.geometry import ConvParams, output_shape
from refconv.vjp import input_vjp, weight_vjp

__all__ = ["conv_jvp", "conv_vjp_vjp"]


def _tangent(
    value: ArrayLike | None, name: str, shape: tuple[int, ...], lay: Layout, which: str | None
) -> NDArray[Any] | None:
    """``value`` as an array in the canonical layout (``which`` operand; None for a bias), shape-checked."""
    if value is None:
        return None
    array = norm.as_array(value, name)
    array = array if which is None else lay.to_canonical(array, which, name)
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}; expected {shape}, the shape of its primal")
    return array


def _linearized(
    x: NDArray[Any], w: NDArray[Any], tx: NDArray[Any] | None, tw: NDArray[Any] | None,
    tb: NDArray[Any] | None, p: ConvParams, out_shape: tuple[int, ...], dtype: np.dtype[Any],
) -> NDArray[Any]:  # fmt: skip
    """``conv(tx, w) + conv(x, tw) + tb``, skipping absent (zero) tangents."""
    ty = np.zeros(out_shape, dtype)
    if tx is not None:
        ty += conv_general(tx.astype(dtype, copy=False), w.astype(dtype, copy=False), p)
    if tw is not None:
        ty += conv_general(x.astype(dtype, copy=False), tw.astype(dtype, copy=False), p)
    if tb is not None:
        ty += tb.astype(dtype).reshape((1, -1) + (1,) * len(p.stride))
    return ty


def conv_jvp(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    tx: ArrayLike | None,
    tw: ArrayLike | None,
    tb: ArrayLike | None = None,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    dilation: norm.IntOrInts = 1,
    input_dilation: norm.IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    dimension_numbers: tuple[str, str, str] | None = None,
) -> tuple[NDArray[Any], NDArray[Any]]:
    r"""Forward-mode derivative of :func:`refconv.conv`: ``(y, ty)``.

    Parameters
    ----------
    x, w, b : array_like
        The primal input, weight and bias (``b`` may be None), as in :func:`refconv.conv`.
    tx, tw, tb : array_like or None
        Tangents of ``x``, ``w`` and ``b``, each of its primal's shape; None is a zero tangent.
    stride, padding, dilation, input_dilation, groups, batch_groups
        As in :func:`refconv.conv`.
    dimension_numbers : (str, str, str), optional
        Layouts, as in :func:`refconv.conv`; tangents and cotangents are in their primal's layout.

    Returns
    -------
    y : ndarray
        ``conv(x, w, b)``.
    ty : ndarray
        The tangent of ``y``, same shape.

    Notes
    -----
    The convolution is bilinear, so

    .. math::
        \dot y = \operatorname{conv}(\dot x, w) + \operatorname{conv}(x, \dot w) + \dot b

    with the forward pass's parameters: exact, not a linearisation.
    Derivation: :doc:`/beyond`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x, w = np.arange(5.0).reshape(1, 1, 5), np.array([[[1.0, -1.0]]])
    >>> y, ty = refconv.conv_jvp(x, w, None, np.ones((1, 1, 5)), None)
    >>> y, ty
    (array([[[-1., -1., -1., -1.]]]), array([[[0., 0., 0., 0.]]]))
    """
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    lay = layout(dimension_numbers, x_arr.ndim - 2)
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    keywords = dict(stride=stride, padding=padding, dilation=dilation,
                    input_dilation=input_dilation, groups=groups, batch_groups=batch_groups)  # fmt: skip
    p = norm.checked_params(x_arr.shape, w_arr.shape, **keywords)
    b_arr = _tangent(b, "b", (w_arr.shape[0],), lay, None)
    tangents = (
        _tangent(tx, "tx", x_arr.shape, lay, "lhs"),
        _tangent(tw, "tw", w_arr.shape, lay, "rhs"),
        _tangent(tb, "tb", (w_arr.shape[0],), lay, None),
    )
    acc, out = norm.dtypes(*(a for a in (x_arr, w_arr, b_arr, *tangents) if a is not None))
    out_shape = output_shape(x_arr.shape, w_arr.shape, p)
    y = _linearized(x_arr, w_arr, x_arr, None, b_arr, p, out_shape, acc)
    ty = _linearized(x_arr, w_arr, *tangents, p, out_shape, acc)
    return lay.from_canonical(y, "out").astype(out, copy=False), lay.from_canonical(ty, "out").astype(
        out, copy=False
    )


def conv_vjp_vjp(
    x: ArrayLike,
    w: ArrayLike,
    dy: ArrayLike,
    gx: ArrayLike | None,
    gw: ArrayLike | None,
    gb: ArrayLike | None = None,
    *,
    stride: norm.IntOrInts = 1,
    padding: norm.PaddingLike = 0,
    dilation: norm.IntOrInts = 1,
    input_dilation: norm.IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    dimension_numbers: tuple[str, str, str] | None = None,
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    r"""Second order (double backward): the VJP of :func:`refconv.conv_vjp` with respect to ``(x, w, dy)``.

    Parameters
    ----------
    x, w, dy : array_like
        The arguments of :func:`refconv.conv_vjp`.
    gx, gw, gb : array_like or None
        Cotangents of its outputs ``dx``, ``dw``, ``db``; None is zero.
    stride, padding, dilation, input_dilation, groups, batch_groups
        As in :func:`refconv.conv`.
    dimension_numbers : (str, str, str), optional
        Layouts, as in :func:`refconv.conv`; tangents and cotangents are in their primal's layout.

    Returns
    -------
    x_bar, w_bar, dy_bar : ndarray
        Cotangents of ``x``, ``w`` and ``dy``: what ``torch.autograd.grad`` of
        ``<dx, gx> + <dw, gw> + <db, gb>`` with ``create_graph=True`` returns.

    Notes
    -----
    From :math:`\langle dx, g_x\rangle = \langle \operatorname{conv}(g_x, w), dy\rangle`,
    :math:`\langle dw, g_w\rangle = \langle \operatorname{conv}(x, g_w), dy\rangle` and
    :math:`\langle db, g_b\rangle = \langle g_b, dy\rangle`:

    .. math::
        \bar x = \operatorname{input\_vjp}(g_w, dy), \quad
        \bar w = \operatorname{weight\_vjp}(g_x, dy), \quad
        \overline{dy} = \operatorname{conv}(g_x, w) + \operatorname{conv}(x, g_w) + g_b

    :math:`\overline{dy}` is :func:`conv_jvp`'s tangent with tangents
    ``(gx, gw, gb)``. Derivation: :doc:`/beyond`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x, w, dy = np.ones((1, 1, 4)), np.ones((1, 1, 2)), np.ones((1, 1, 3))
    >>> x_bar, w_bar, dy_bar = refconv.conv_vjp_vjp(x, w, dy, None, np.ones((1, 1, 2)))
    >>> x_bar, dy_bar
    (array([[[1., 2., 2., 1.]]]), array([[[2., 2., 2.]]]))
    """
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    lay = layout(dimension_numbers, x_arr.ndim - 2)
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    keywords = dict(stride=stride, padding=padding, dilation=dilation,
                    input_dilation=input_dilation, groups=groups, batch_groups=batch_groups)  # fmt: skip
    p = norm.checked_params(x_arr.shape, w_arr.shape, **keywords)
    out_shape = output_shape(x_arr.shape, w_arr.shape, p)
    dy_arr = lay.to_canonical(norm.as_array(dy, "dy"), "out", "dy")
    norm.check_cotangent(dy_arr, out_shape)
    gx_arr, gw_arr = _tangent(gx, "gx", x_arr.shape, lay, "lhs"), _tangent(gw, "gw", w_arr.shape, lay, "rhs")
    gb_arr = _tangent(gb, "gb", (w_arr.shape[0],), lay, None)
    present = [a for a in (x_arr, w_arr, dy_arr, gx_arr, gw_arr, gb_arr) if a is not None]
    dtype, out = norm.dtypes(*present)
    dy_c = dy_arr.astype(dtype, copy=False)
    x_bar = (
        np.zeros(x_arr.shape, dtype)
        if gw_arr is None
        else input_vjp(x_arr.shape, gw_arr.astype(dtype, copy=False), dy_c, p)
    )
    w_bar = (
        np.zeros(w_arr.shape, dtype)
        if gx_arr is None
        else weight_vjp(gx_arr.astype(dtype, copy=False), w_arr.shape, dy_c, p)
    )
    dy_bar = _linearized(x_arr, w_arr, gx_arr, gw_arr, gb_arr, p, out_shape, dtype)
    return (
        lay.from_canonical(x_bar, "lhs").astype(out, copy=False),
        lay.from_canonical(w_bar, "rhs").astype(out, copy=False),
        lay.from_canonical(dy_bar, "out").astype(out, copy=False),
    )
