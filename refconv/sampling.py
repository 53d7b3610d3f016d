r"""Multilinear sampling with zeros outside, and its VJP: the sampling step of the deformable convolution.

The value of an input ``x`` (spatial shape ``S``) at a real point :math:`q` is the multilinear
interpolation of its :math:`2^{nd}` neighbours, an element outside the input being zero:

.. math::

    V(q) = \sum_{b \in \{0, 1\}^{nd}} \omega_b(q)\, x[\lfloor q \rfloor + b], \qquad
    \omega_b(q) = \prod_e \begin{cases} 1 - f_e & b_e = 0 \\ f_e & b_e = 1 \end{cases},
    \quad f = q - \lfloor q \rfloor

(ONNX's ``GridSample`` with ``align_corners=1`` and zero padding, torchvision's
``bilinear_interpolate``). :math:`V` is continuous and piecewise multilinear; its derivative in
:math:`q_e`, :math:`\sum_b \pm \prod_{e' \ne e} (\dots)\, x[\lfloor q \rfloor + b]` (``+`` where
:math:`b_e = 1`), is the derivative on the cell :math:`[\lfloor q \rfloor, \lfloor q \rfloor + 1)`:
at an integer coordinate, where :math:`V` has a kink, it is the derivative from the right (what
automatic differentiation of this formula gives). A corner outside the input is no term: a
NaN never enters through the clamped index it would have. Derived in :doc:`/deform`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from refconv._nonfinite import IEEE
from refconv.geometry import Shape

__all__ = ["Corner", "corners", "sample", "sample_vjp"]


class Corner(NamedTuple):
    """One of the :math:`2^{nd}` neighbours of every point: where it is, and its weights.

    ``flat`` is its row-major index into the spatial dims (0 where it is outside), ``inside``
    whether it is an element of the input, ``weight`` :math:`\\omega_b(q)` and ``slopes`` the
    derivative of the weight in each coordinate, ``(..., nd)``.
    """

    flat: NDArray[np.intp]
    inside: NDArray[np.bool_]
    weight: NDArray[Any]
    slopes: NDArray[Any]


def corners(q: NDArray[Any], spatial: Shape) -> Iterator[Corner]:
    """The :math:`2^{nd}` corners of the cells that the points ``q`` (``(..., nd)``) lie in."""
    nd = len(spatial)
    low = np.floor(q)
    f = q - low
    low_i = low.astype(np.intp)
    strides = [math.prod(spatial[e + 1 :]) for e in range(nd)]
    for bits in itertools.product((0, 1), repeat=nd):
        index = [low_i[..., e] + bits[e] for e in range(nd)]
        inside = np.ones(q.shape[:-1], bool)
        for e in range(nd):
            inside &= (index[e] >= 0) & (index[e] < spatial[e])
        factors = [f[..., e] if bits[e] else 1 - f[..., e] for e in range(nd)]
        ones = np.ones(q.shape[:-1], q.dtype)
        weight = math.prod(factors, start=ones)
        slopes = np.zeros(q.shape, q.dtype)
        for e in range(nd):
            slopes[..., e] = (1 if bits[e] else -1) * math.prod(factors[:e] + factors[e + 1 :], start=ones)
        flat = sum(
            (np.where(inside, i, 0) * st for i, st in zip(index, strides, strict=True)), np.zeros((), np.intp)
        )
        yield Corner(np.broadcast_to(flat, q.shape[:-1]), inside, weight, slopes)


def sample(x: NDArray[Any], q: NDArray[Any]) -> NDArray[Any]:
    """``x`` ``(A, C, *S)`` at the points ``q`` ``(A, P, nd)`` (``A`` any batch of point sets, shared by
    the ``C`` channels): a new ``(A, C, P)`` array."""
    a, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    value = np.zeros((a, c, q.shape[1]), np.result_type(x, q))
    if x.size == 0:
        return value  # no channel to read, or every corner is outside
    flat_x = x.reshape(a, c, -1)
    with np.errstate(**IEEE):
        for corner in corners(q, spatial):
            read = np.take_along_axis(flat_x, corner.flat[:, None, :], axis=2)
            value += np.where(corner.inside[:, None, :], corner.weight[:, None, :] * read, 0)
    return value


def sample_vjp(x: NDArray[Any], q: NDArray[Any], g: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """``(dx, dq)`` of :func:`sample` for the cotangent ``g`` ``(A, C, P)``: each corner's weight times ``g``
    added onto the element it read, and the weights' slopes times ``x`` times ``g`` summed over channels."""
    a, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    dtype = np.result_type(x, q, g)
    dx, dq = np.zeros((a, c, math.prod(spatial)), dtype), np.zeros(q.shape, dtype)
    if x.size == 0:
        return dx.reshape(x.shape), dq
    flat_x = x.reshape(a, c, -1)
    rows, channels = np.arange(a)[:, None, None], np.arange(c)[None, :, None]
    with np.errstate(**IEEE):
        for corner in corners(q, spatial):
            inside = corner.inside[:, None, :]
            np.add.at(
                dx,
                (rows, channels, corner.flat[:, None, :]),
                np.where(inside, corner.weight[:, None, :] * g, 0),
            )
            read = np.where(inside, np.take_along_axis(flat_x, corner.flat[:, None, :], axis=2) * g, 0).sum(
                axis=1
            )
            dq += corner.slopes * read[..., None]
    return dx.reshape(x.shape), dq
