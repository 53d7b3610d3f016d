r"""Round-off bounds for comparing two convolution results.

Two correct implementations of a sum of :math:`K` products differ by at most
twice the classic forward-error bound of a dot product (Higham, *Accuracy
and Stability of Numerical Algorithms*, §3.1), whatever their summation order:

.. math::
    |\hat y - \tilde y| \le 2\,\gamma_K \sum_i |a_i b_i|
    \le 2\,\gamma_K\, K \max|a| \max|b|, \qquad \gamma_K = \frac{K u}{1 - K u}

with :math:`u` the unit round-off of the dtype. :func:`conv_error_bounds`
gives that bound for ``y``, ``dx``, ``dw`` and ``db``, with the number of
terms each output element sums. It is rigorous, not tuned: a result outside
it is a bug, not round-off.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from refconv.geometry import ConvParams

__all__ = ["conv_error_bounds", "dot_error_bound"]


def dot_error_bound(terms: int, max_abs_product: float, dtype: DTypeLike = np.float64) -> float:
    r"""Bound on the difference of two evaluations of a sum of ``terms`` products.

    :math:`2 \gamma_K K \max|a_i b_i|`, :math:`\gamma_K = K u / (1 - K u)`.
    """
    u = float(np.finfo(dtype).eps) / 2
    gamma = terms * u / (1 - terms * u)
    return 2 * gamma * terms * max_abs_product


def _max_abs(a: NDArray[Any] | None) -> float:
    return 0.0 if a is None or a.size == 0 else float(np.max(np.abs(a)))


def conv_error_bounds(
    x: NDArray[Any],
    w: NDArray[Any],
    dy: NDArray[Any],
    p: ConvParams,
    b: NDArray[Any] | None = None,
    dtype: DTypeLike = np.float64,
    padding_mode: str = "zeros",
) -> dict[str, float]:
    """Absolute round-off bounds for ``y``, ``dx``, ``dw`` and ``db`` of one convolution.

    Terms summed per output element: ``y``, ``C_in/G * prod(kernel)`` (plus
    the bias); ``dx``, ``C_out/(G*B) * prod(kernel)``, times the copies a
    padding mode makes of one element (at most ``prod(1 + lo + hi)``), whose
    cotangents are folded onto it; ``dw``, ``N/B * prod(out)``; ``db``,
    ``N/B * prod(out)`` (``dy``'s batch).
    """
    taps = math.prod(w.shape[2:])
    positions = math.prod(dy.shape[2:])
    out_per_group = w.shape[0] // (p.groups * p.batch_groups)
    copies = 1 if padding_mode == "zeros" else math.prod(1 + lo + hi for lo, hi in p.padding)
    bias = _max_abs(b)
    return {
        "y": dot_error_bound(w.shape[1] * taps + 1, max(_max_abs(x) * _max_abs(w), bias), dtype),
        "dx": dot_error_bound(out_per_group * taps * copies, _max_abs(dy) * _max_abs(w), dtype),
        "dw": dot_error_bound(dy.shape[0] * positions, _max_abs(x) * _max_abs(dy), dtype),
        "db": dot_error_bound(dy.shape[0] * positions, _max_abs(dy), dtype),
    }
