r"""NaN and infinity in the general convolution: a sum over the real products only.

The general convolution is, per output element, a sum of products
``x[i] * w[t]`` of an input element and a kernel element. Padding zeros, the
zeros input dilation inserts (and so a transposed convolution's stride and
output padding) and outputs whose windows read nothing are *structural*: they
are not elements of ``x``, so they form no product. With finite operands that
changes nothing (a structural zero times a finite value adds 0); with NaN or
infinity it decides the result: ``nan * 0`` is NaN in IEEE arithmetic, so an
implementation that materialises the padded input (torch 2.13's CPU forward) and
one that only adds the products it needs (torch's transposed convolution and
input gradient, :mod:`refconv.naive`) give NaN in different places.

refconv follows the definition: only real products are summed, each in IEEE
arithmetic (``inf * 0`` of two real elements is NaN). The reason is the design
rule: every VJP and the transposed convolution are general convolutions whose
input is dilated and padded with structural zeros, and their own definitions
(``dx[i] = sum dy[j] w[t]`` over the pairs that read ``x[i]``) contain no such
zero. With the materialised reading the VJP computed as a convolution would
disagree with the VJP's definition; with this one every road agrees:
refconv's strategies, :func:`refconv.conv.conv_definition` and
:mod:`refconv.naive`. The docs' forward page derives it.

A fast path that multiplies structural zeros is right as long as nothing is
non-finite. Where something is, each output element's IEEE class follows from
*which* kinds of products its sum holds, and each kind is counted exactly by
the same general convolution of 0/1 indicator arrays (an indicator of the
padding is 0, so only real products are counted):

.. math::
    \text{NaN} &\iff \#(x_\text{NaN} \cdot w) + \#(x \cdot w_\text{NaN})
        + \#(x_{\pm\infty} \cdot w_0) + \#(x_0 \cdot w_{\pm\infty}) > 0
        \ \text{or}\ (P > 0 \text{ and } M > 0), \\
    P &= \#(x_{+\infty} \cdot w_{>0}) + \#(x_{-\infty} \cdot w_{<0})
        + \#(x_{>0} \cdot w_{+\infty}) + \#(x_{<0} \cdot w_{-\infty}), \\
    M &= \#(x_{+\infty} \cdot w_{<0}) + \#(x_{-\infty} \cdot w_{>0})
        + \#(x_{>0} \cdot w_{-\infty}) + \#(x_{<0} \cdot w_{+\infty}),

and ``+inf`` where only ``P > 0``, ``-inf`` where only ``M > 0``; every other
element holds only finite products, which the convolution of the operands with
their non-finite elements set to zero computes. A complex convolution is its
four real ones, ``(x_r w_r - x_i w_i) + i (x_r w_i + x_i w_r)``, each by this
rule (NumPy's complex product forms the same real products).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv.geometry import ConvParams, output_shape, padded_shape

__all__ = ["IEEE", "all_finite", "real_products", "structural_nan"]

#: ``np.errstate`` settings where refconv adds or multiplies possibly non-finite values: IEEE's result
#: (``inf - inf`` is NaN, a finite sum may overflow to inf) is the answer, not a warning.
IEEE: dict[str, Any] = {"invalid": "ignore", "over": "ignore"}

Conv = Callable[[NDArray[Any], NDArray[Any], ConvParams], NDArray[Any]]


def all_finite(a: NDArray[Any]) -> bool:
    """Whether every element of ``a`` is finite (always, for integer and boolean arrays)."""
    return not np.issubdtype(a.dtype, np.inexact) or bool(np.isfinite(a).all())


def real_products(x: NDArray[Any], w: NDArray[Any], p: ConvParams, conv: Conv) -> NDArray[Any]:
    """The general convolution ``conv(x, w, p)`` as a sum over real products only, NaN and inf included.

    ``conv`` is a general convolution that is exact for finite operands (the
    fast path); it is called on finite arrays only: the operands with their
    non-finite elements zeroed, and 0/1 indicators whose convolutions count
    each kind of non-finite product (the module's formula). The result has
    ``conv``'s dtype; no NumPy warning is raised.
    """
    if np.issubdtype(np.result_type(x, w), np.complexfloating):
        xr, xi, wr, wi = x.real, x.imag, w.real, w.imag
        real = _real(xr, wr, p, conv) - _real(xi, wi, p, conv)
        imag = _real(xr, wi, p, conv) + _real(xi, wr, p, conv)
        out = np.empty(real.shape, np.result_type(x, w))
        out.real, out.imag = real, imag
        return out
    return _real(x, w, p, conv)


def _real(x: NDArray[Any], w: NDArray[Any], p: ConvParams, conv: Conv) -> NDArray[Any]:
    """:func:`real_products` for real ``x`` and ``w``."""
    xs, ws = _classes(x), _classes(w)  # comparisons with NaN are False, without a warning

    def count(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> NDArray[Any] | int:
        """How many products of an ``a`` element of ``x`` with a ``b`` element of ``w`` each output sums."""
        if not (a.any() and b.any()):
            return 0
        return conv(a.astype(np.float64), b.astype(np.float64), p)

    nan = count(xs["nan"], ws["any"]) + count(xs["any"], ws["nan"])
    nan = nan + count(xs["inf"], ws["zero"]) + count(xs["zero"], ws["inf"])
    plus = count(xs["+inf"], ws[">0"]) + count(xs["-inf"], ws["<0"])
    plus = plus + count(xs[">0"], ws["+inf"]) + count(xs["<0"], ws["-inf"])
    minus = count(xs["+inf"], ws["<0"]) + count(xs["-inf"], ws[">0"])
    minus = minus + count(xs[">0"], ws["-inf"]) + count(xs["<0"], ws["+inf"])
    y = conv(np.where(xs["finite"], x, 0).astype(x.dtype), np.where(ws["finite"], w, 0).astype(w.dtype), p)
    plus, minus, nan = np.asarray(plus) > 0, np.asarray(minus) > 0, np.asarray(nan) > 0
    y[plus & ~minus] = np.inf
    y[minus & ~plus] = -np.inf
    y[nan | (plus & minus)] = np.nan
    return y


def _classes(a: NDArray[Any]) -> dict[str, NDArray[np.bool_]]:
    """The element classes of a real array that decide a product's IEEE class."""
    nan, finite = np.isnan(a), np.isfinite(a)  # NaN compares false: it is in none of the signed classes
    return {
        "any": np.ones(a.shape, bool),
        "nan": nan,
        "finite": finite,
        "zero": a == 0,
        "inf": ~nan & ~finite,
        "+inf": a == np.inf,
        "-inf": a == -np.inf,
        ">0": a > 0,
        "<0": a < 0,
    }


def structural_nan(x_shape: tuple[int, ...], w: NDArray[Any], p: ConvParams, conv: Conv) -> NDArray[np.bool_]:
    """Where the *materialised* reading of ``conv(x, w, p)`` is NaN although no real product is.

    The other documented reading (torch's CPU forward) multiplies the padded input as an array:
    a structural zero times a non-finite kernel element is NaN there. An output element holds
    such a product where the windows of the padded domain reach more non-finite kernel taps than
    the windows over ``x``'s own elements do: both counts are general convolutions of 0/1 arrays.
    """
    bad = (~np.isfinite(w)).astype(np.float64)  # integers are finite
    if not bad.any():
        return np.zeros(output_shape(x_shape, w.shape, p), bool)
    ones = np.ones((*x_shape[:2], *padded_shape(x_shape[2:], p)))
    nd = len(p.stride)
    plain = ConvParams(p.stride, ((0, 0),) * nd, p.dilation, (1,) * nd, p.groups, p.batch_groups)
    return np.asarray(conv(ones, bad, plain) - conv(np.ones(x_shape), bad, p)) > 0
