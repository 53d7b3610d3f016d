r"""Round-off bounds of the convolution's family, each element's :math:`K` stated.

The same bound as the convolution's (:func:`refconv.testing.rounding_bound`): a result element
that sums :math:`K` terms is within :math:`(\gamma_K(u) + \gamma_K(2^{-53})) S + u|\text{ref}|`
of the float64 reference, :math:`S` the sum of its terms' absolute values.

- The patches copy: exact, bound 0. Their VJP, :func:`refconv.fold`, adds the patch elements that
  copied one input element: :math:`K = \prod k` taps, times the copies a padding mode makes of
  an element; :math:`S` is the fold of :math:`|dy|`.
- The local convolution: ``y`` sums :math:`C \prod k` products and the bias, ``dx`` :math:`O
  \prod k` (times the mode's copies), ``dw`` the batch, ``db`` the batch times the positions;
  :math:`S` is the same function of the absolute values.
- The deformable convolution (float64 only, :func:`refconv.operators.unsupported` says why): each
  sample is :math:`2^{nd}` corner terms with a product of :math:`nd` weights, a mask and a kernel
  element, so ``y`` sums :math:`C/G \prod k \cdot 2^{nd}` terms, each with :math:`nd + 2` rounded
  factors and a weight :math:`1 - f` rounded once more: :math:`nd + 3` is added to each
  :math:`K`. ``dx`` gathers :math:`O/G \prod k` taps at every output position, ``doffset`` and
  ``dmask`` the :math:`O/G \cdot C/G_o \cdot 2^{nd}` terms of their sample; :math:`S` is
  :func:`refconv.naive.deform_conv_sums` (its loops add the absolute terms).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

import refconv
from refconv import naive
from refconv._convspec import ConvSpec
from refconv.operators import Operator, compute, keywords, result_names
from refconv.testing.bounds import _exact_integers, reference_and_bounds, rounding_bound, widened
from refconv.vjp import bias_vjp

__all__ = ["family_terms", "operator_reference_and_bounds"]


def family_terms(op: Operator, s: ConvSpec, which: str) -> int:
    """How many terms one element of ``which`` adds at most (the :math:`K` of its bound), the
    rounded factors of a deformable term beyond the first counted as terms."""
    taps, n, c, o = math.prod(s.w_shape[2:]), s.x_shape[0], s.x_shape[1], s.w_shape[0]
    copies = 1 if s.padding_mode == "zeros" else math.prod(1 + lo + hi for lo, hi in s.padding)
    positions = math.prod(s.y_shape[2:])
    if op.name == "patches":
        return 0 if which == "y" else taps * copies
    counts: dict[str, int]
    if op.name == "local":
        counts = {"y": c * taps, "dx": o * taps * copies, "dw": n, "db": n * positions}
        return counts[which]
    corners, factors, g = 2**s.ndim, s.ndim + 3, s.groups
    counts = {
        "y": c // g * taps * corners + factors,
        "dx": o // g * taps * positions + factors,
        "dw": n * positions + factors,
        "db": n * positions,
        "doffset": o // g * (c // op.offset_groups) * corners + factors,
        "dmask": o // g * (c // op.offset_groups) * corners + factors,
    }
    return counts[which]


def operator_reference_and_bounds(
    op: Operator, s: ConvSpec, operands: Mapping[str, Any], which: Sequence[str] | None = None
) -> dict[str, tuple[NDArray[Any], NDArray[Any]]]:
    """The float64 reference of each result of ``op`` on ``operands`` (by
    :func:`refconv.operators.operand_shapes`' names) and the bound of a result in ``s``'s dtype.

    The convolution's are :func:`refconv.testing.reference_and_bounds`'; the family's are stated in
    this module's text. For integer dtypes the reference is exact and the bound 0, as there.
    """
    names = result_names(op) if which is None else tuple(which)
    if op.name == "conv":
        x, w, b, dy = (operands.get(name) for name in ("x", "w", "b", "dy"))
        return reference_and_bounds(s, x, w, b, dy, s.dtype, which=names)  # type: ignore[arg-type]
    s64, wide, absolute = widened(s, operands)
    reference = compute(op, s64, wide, refconv, names)
    if op.name == "deform":  # channels first: the canonical layout
        sums = naive.deform_conv_sums(absolute["x"], absolute["w"], wide["offset"], absolute["dy"],
                                      absolute.get("mask"), **keywords(op, s64))  # fmt: skip
        sums["db"] = bias_vjp(absolute["dy"])
        if absolute.get("b") is not None:
            sums["y"] = sums["y"] + absolute["b"].reshape(1, -1, *(1,) * s.ndim)
    else:
        sums = compute(op, s64, absolute, refconv, names)
    scale = 4.0 if s64.dtype.kind == "c" else 1.0  # a complex product is 4 real ones, 2 sums
    bounds = {}
    for name in names:
        k = family_terms(op, s64, name) + (name == "y" and operands.get("b") is not None)
        want = _exact_integers(reference[name], sums[name], s.dtype, name)
        if k == 0:  # the patches copy: exact in any dtype (rounding_bound would add u |ref|)
            bounds[name] = (want, np.zeros(np.shape(want)))
        else:
            bounds[name] = (want, rounding_bound(scale * sums[name], k, s.dtype, reference[name]))
    return bounds
