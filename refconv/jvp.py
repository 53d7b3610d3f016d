r"""Forward mode and second order of :func:`refconv.conv`: more calls of the same convolution.

The convolution is bilinear in ``(x, w)`` plus the bias, so its JVP is two
convolutions and a broadcast, and the VJP of its VJPs (double backward) is
that JVP's formula for the cotangent plus the two VJPs with the roles of
input, weight and cotangent exchanged. A padding mode is a linear map applied
to the input first, so both carry over unchanged: every convolution below is
:func:`refconv.conv.forward` or a VJP of it. Derived in :doc:`/beyond`.
"""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv._nonfinite import IEEE
from refconv._spec import ConvOptions, ConvSpec, conv_spec
from refconv.conv import forward, with_bias
from refconv.vjp import conjugated, input_vjp, weight_vjp

__all__ = ["conv_jvp", "conv_vjp_vjp"]


def linearized(
    s: ConvSpec, x: NDArray[Any], w: NDArray[Any], tx: NDArray[Any] | None, tw: NDArray[Any] | None,
    tb: NDArray[Any] | None,
) -> NDArray[Any]:  # fmt: skip
    """``conv(tx, w) + conv(x, tw) + tb`` for canonical arrays, skipping absent (zero) tangents."""
    ty = np.zeros(s.y_shape, s.accumulate)
    with np.errstate(**IEEE):
        if tx is not None:
            ty += forward(s, tx, w)
        if tw is not None:
            ty += forward(s, x, tw)
    return with_bias(ty, tb)


def conv_jvp(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    tx: ArrayLike | None,
    tw: ArrayLike | None,
    tb: ArrayLike | None = None,
    **options: Unpack[ConvOptions],
) -> tuple[NDArray[Any], NDArray[Any]]:
    r"""Forward-mode derivative of :func:`refconv.conv`: ``(y, ty)``.

    Parameters
    ----------
    x, w, b : array_like
        The primal input, weight and bias (``b`` may be None), as in :func:`refconv.conv`.
    tx, tw, tb : array_like or None
        Tangents of ``x``, ``w`` and ``b``, each of its primal's shape and
        layout; None is a zero tangent.
    **options
        The keywords of :func:`refconv.conv`, padding modes included.

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
    x, w = norm.as_array(x, "x"), norm.as_array(w, "w")
    s = conv_spec("conv_jvp", x.shape, w.shape, norm.dtypes_of(x=x, w=w, b=b, tx=tx, tw=tw, tb=tb), options)
    x_c, w_c = s.operand(x, "x", "x"), s.operand(w, "w", "w")
    tangents = s.operand(tx, "x", "tx"), s.operand(tw, "w", "tw"), s.bias(tb, "tb")
    y = with_bias(forward(s, x_c, w_c), s.bias(b))
    return s.result(y, "y"), s.result(linearized(s, x_c, w_c, *tangents), "y")


def conv_vjp_vjp(
    x: ArrayLike,
    w: ArrayLike,
    dy: ArrayLike,
    gx: ArrayLike | None,
    gw: ArrayLike | None,
    gb: ArrayLike | None = None,
    *,
    conjugate: bool = False,
    **options: Unpack[ConvOptions],
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    r"""Second order (double backward): the VJP of :func:`refconv.conv_vjp` with respect to ``(x, w, dy)``.

    Parameters
    ----------
    x, w, dy : array_like
        The arguments of :func:`refconv.conv_vjp`.
    gx, gw, gb : array_like or None
        Cotangents of its outputs ``dx``, ``dw``, ``db``; None is zero.
    conjugate : bool
        ``False`` (default): ``jax.vjp`` of ``conv_vjp``. ``True``: PyTorch's
        double backward of ``conv_vjp(..., conjugate=True)``, which conjugates
        ``gx`` and ``gw`` in :math:`\bar x` and :math:`\bar w`. Equal for real inputs.
    **options
        The keywords of :func:`refconv.conv`, padding modes included.

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
    x, w, conjugate = norm.as_array(x, "x"), norm.as_array(w, "w"), norm.as_flag(conjugate, "conjugate")
    given = norm.dtypes_of(x=x, w=w, dy=dy, gx=gx, gw=gw, gb=gb)
    s = conv_spec("conv_vjp_vjp", x.shape, w.shape, given, options)
    x_c, w_c, dy_c = s.operand(x, "x", "x"), s.operand(w, "w", "w"), s.operand(dy, "y", "dy")
    gx_c, gw_c, gb_c = s.operand(gx, "x", "gx"), s.operand(gw, "w", "gw"), s.bias(gb, "gb")
    x_bar = np.zeros(s.x_shape, s.accumulate)
    if gw_c is not None:
        x_bar = input_vjp(s, conjugated(gw_c, conjugate), dy_c)
    w_bar = np.zeros(s.w_shape, s.accumulate)
    if gx_c is not None:
        w_bar = weight_vjp(s, conjugated(gx_c, conjugate), dy_c)
    dy_bar = linearized(s, x_c, w_c, gx_c, gw_c, gb_c)
    return s.result(x_bar, "x"), s.result(w_bar, "w"), s.result(dy_bar, "y")
