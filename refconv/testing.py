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

For checking an implementation of your own, in any dtype,
:func:`assert_conv_close` compares each element with a float64 reference
within its own bound, :math:`\gamma_K(u) \sum_i |a_i b_i|` for the dtype's
unit round-off :math:`u` (:func:`reference_and_bound`), and reports the worst
elements when one is out of bound.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

import refconv
from refconv import _normalize as norm
from refconv._layout import layout
from refconv.geometry import ConvParams, Shape

__all__ = [
    "assert_conv_close",
    "conv_error_bounds",
    "dot_error_bound",
    "reference_and_bound",
    "unit_roundoff",
]


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


WHICH = ("y", "dx", "dw", "db")


def unit_roundoff(dtype: DTypeLike) -> float:
    """:math:`u`, half the machine epsilon of ``dtype`` (of its real part if complex; 0 for integers).

    Examples
    --------
    >>> from refconv.testing import unit_roundoff
    >>> unit_roundoff("float32") == 2.0**-24, unit_roundoff("float16") == 2.0**-11
    (True, True)
    """
    dt = np.dtype(dtype)
    if dt.kind == "c":
        dt = np.empty(0, dt).real.dtype
    if dt.kind in "iub":
        return 0.0
    # the first 2**-k that 1 + 2**-k rounds away (ties to even): works for ml_dtypes' floats too
    one = np.ones((), dt)
    return next(2.0**-k for k in range(1, 128) if one + np.asarray(2.0**-k).astype(dt) == one)


def _gamma(terms: int, u: float) -> float:
    r""":math:`\gamma_K = K u / (1 - K u)`; infinite where :math:`K u \ge 1` (no bound exists)."""
    return math.inf if terms * u >= 1 else terms * u / (1 - terms * u)


def _terms(which: str, x_shape: Shape, w_shape: Shape, dy_shape: Shape, keywords: dict[str, Any]) -> int:
    """How many products one element of ``which`` sums (shapes in the layout of ``keywords``)."""
    lay = layout(keywords.get("dimension_numbers"), len(x_shape) - 2)
    xs, ws = lay.shape_to_canonical(x_shape, "lhs", "x"), lay.shape_to_canonical(w_shape, "rhs", "w")
    dys = lay.shape_to_canonical(dy_shape, "out", "dy")
    groups, batch_groups = int(keywords.get("groups", 1)), int(keywords.get("batch_groups", 1))
    if which == "y":
        return math.prod(ws[1:])
    if which == "dx":
        p = norm.checked_params(xs, ws, **_without(keywords, "padding_mode", "dimension_numbers"))
        mode = keywords.get("padding_mode", "zeros")
        copies = 1 if mode == "zeros" else math.prod(1 + lo + hi for lo, hi in p.padding)
        return ws[0] // (groups * batch_groups) * math.prod(ws[2:]) * copies
    return int(dys[0] * math.prod(dys[2:]))


def _without(keywords: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in keywords.items() if k not in names}


def reference_and_bound(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    which: str = "y",
    dy: ArrayLike | None = None,
    dtype: DTypeLike | None = None,
    **keywords: Any,
) -> tuple[NDArray[Any], NDArray[Any]]:
    r"""The float64 reference for ``which`` and the elementwise bound on any result computed in ``dtype``.

    For an output element that sums :math:`K` products :math:`a_i b_i`, a
    computation in a dtype of unit round-off :math:`u` errs by at most
    :math:`\gamma_K(u) \sum_i |a_i b_i|`, :math:`\gamma_K = Ku/(1 - Ku)`,
    whatever its summation order (Higham, *Accuracy and Stability of
    Numerical Algorithms*, §3.1). The bound adds :math:`u|y|` for rounding the
    result to ``dtype`` after a wider accumulation, and the float64
    reference's own :math:`\gamma_K(2^{-53}) \sum_i |a_i b_i|`; complex products
    count 4 times. The sums of absolute products are convolutions of absolute
    values, computed by refconv:

    * ``y``: :math:`|x| \star |w| + |b|`, :math:`K = C_\text{in}/G \cdot \prod k` (+1 with a bias);
    * ``dx``: input VJP of :math:`|w|, |dy|`, :math:`K = C_\text{out}/(GB) \cdot \prod k`
      (times the copies a padding mode makes of one element);
    * ``dw``: weight VJP of :math:`|x|, |dy|`, :math:`K = N/B \cdot \prod m`;
    * ``db``: :math:`\sum |dy|`, :math:`K = N/B \cdot \prod m`.

    Parameters
    ----------
    x, w, b : array_like
        The operands, as given to the implementation under test (their values
        are used exactly, in float64).
    which : {"y", "dx", "dw", "db"}
        The array to bound.
    dy : array_like, optional
        The cotangent, for ``dx``, ``dw`` and ``db``.
    dtype : dtype, optional
        The dtype the result was computed in; default: that of ``x`` and ``w``.
    **keywords
        :func:`refconv.conv`'s keywords (stride, padding, ..., dimension_numbers).

    Returns
    -------
    reference, bound : ndarray
        Both of the result's shape, float64 (complex128 reference for complex input).
    """
    if which not in WHICH:
        raise ValueError(f"which={which!r}: expected one of {', '.join(WHICH)}")
    if which != "y" and dy is None:
        raise ValueError(f"which={which!r} needs the cotangent dy")
    if which == "y":
        dy = None  # the forward bound does not depend on a cotangent
    x_in, w_in = np.asarray(x), np.asarray(w)
    wide = np.complex128 if np.iscomplexobj(x_in) or np.iscomplexobj(w_in) else np.float64
    x64, w64 = x_in.astype(wide), w_in.astype(wide)
    b64 = None if b is None else np.asarray(b).astype(wide)
    dy64 = None if dy is None else np.asarray(dy).astype(wide)
    kw = _without(keywords, "preferred_element_type")
    if dy64 is None:
        reference = refconv.conv(x64, w64, b64, **kw)
        sums = refconv.conv(np.abs(x64), np.abs(w64), None if b64 is None else np.abs(b64), **kw)
    else:
        reference, sums = _vjp_and_sums(which, x64, w64, dy64, kw)
    dy_shape = reference.shape if dy64 is None else dy64.shape
    terms = _terms(which, x64.shape, w64.shape, dy_shape, kw) + (which == "y" and b is not None)
    u = unit_roundoff(dtype if dtype is not None else np.result_type(x_in, w_in))
    scale = 4.0 if wide is np.complex128 else 1.0
    bound = scale * (_gamma(terms, u) + _gamma(terms, 2.0**-53)) * np.abs(sums) + u * np.abs(reference)
    return reference, bound


def _vjp_and_sums(
    which: str, x: NDArray[Any], w: NDArray[Any], dy: NDArray[Any], kw: dict[str, Any]
) -> tuple[NDArray[Any], NDArray[Any]]:
    """``which`` VJP of the operands, and the same VJP of their absolute values."""
    if which == "dx":
        return (
            refconv.conv_input_vjp(x.shape, w, dy, **kw),
            refconv.conv_input_vjp(x.shape, np.abs(w), np.abs(dy), **kw),
        )
    if which == "dw":
        return (
            refconv.conv_weight_vjp(x, w.shape, dy, **kw),
            refconv.conv_weight_vjp(np.abs(x), w.shape, np.abs(dy), **kw),
        )
    layout_only = {k: v for k, v in kw.items() if k == "dimension_numbers"}
    return refconv.conv_bias_vjp(dy, **layout_only), refconv.conv_bias_vjp(np.abs(dy), **layout_only)


def _report(
    which: str, actual: NDArray[Any], reference: NDArray[Any], bound: NDArray[Any], bad: NDArray[Any],
    dtype: DTypeLike, shapes: str, keywords: dict[str, Any], worst: int,
) -> str:  # fmt: skip
    diff = np.abs(actual.astype(reference.dtype) - reference)
    ratio = np.where(bad, np.divide(diff, bound, out=np.full(diff.shape, np.inf), where=bound > 0), -1.0)
    order = np.argsort(ratio, axis=None)[::-1][: min(worst, int(bad.sum()))]
    lines = [
        f"{which}: {int(bad.sum())} of {actual.size} elements exceed the round-off bound for "
        f"{np.dtype(dtype).name} (max |diff|/bound {float(np.max(ratio)):.3g})",
        f"  {'index':<20}{'actual':>14}{'reference':>14}{'|diff|':>12}{'bound':>12}",
    ]
    for flat in order:
        index = np.unravel_index(flat, actual.shape)
        lines.append(
            f"  {tuple(int(i) for i in index)!s:<20}{complex(actual[index]).real:>14.6g}"
            f"{complex(reference[index]).real:>14.6g}{float(diff[index]):>12.3g}{float(bound[index]):>12.3g}"
        )
    lines.append(f"  config: {shapes}, {', '.join(f'{k}={v!r}' for k, v in keywords.items()) or 'defaults'}")
    return "\n".join(lines)


def assert_conv_close(
    actual: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    which: str = "y",
    dy: ArrayLike | None = None,
    dtype: DTypeLike | None = None,
    worst: int = 5,
    **keywords: Any,
) -> None:
    """Assert that ``actual`` is ``which`` of the convolution of ``x`` and ``w`` up to round-off in ``dtype``.

    Like ``numpy.testing.assert_allclose``, but the tolerance is not a
    choice: each element is compared with a float64 reference within its own
    rigorous forward-error bound (:func:`reference_and_bound`), so a failure is
    a bug, not round-off. NaN must match NaN, and infinities must match.

    Parameters
    ----------
    actual : array_like
        The result under test (``y``, ``dx``, ``dw`` or ``db``).
    x, w, b, which, dy, dtype, **keywords
        As for :func:`reference_and_bound`; ``dtype`` defaults to ``actual``'s.
    worst : int
        How many of the worst elements the report lists.

    Raises
    ------
    AssertionError
        With the number of elements over the bound, the worst of them (index,
        actual, reference, difference, bound) and the configuration.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> from refconv.testing import assert_conv_close
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.standard_normal((2, 3, 8, 8), np.float32), rng.standard_normal((4, 3, 3, 3), np.float32)
    >>> y = refconv.conv(x, w, stride=2, padding=1)            # float32, accumulated in float32
    >>> assert_conv_close(y, x, w, stride=2, padding=1)
    >>> y[0, 1, 2, 3] += 1e-3                                      # a real bug, small as it is
    >>> assert_conv_close(y, x, w, stride=2, padding=1)       # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    AssertionError: y: 1 of 128 elements exceed the round-off bound for float32 ...
    """
    actual_arr = np.asarray(actual)
    reference, bound = reference_and_bound(
        x, w, b, which=which, dy=dy, dtype=dtype if dtype is not None else actual_arr.dtype, **keywords
    )
    if actual_arr.shape != reference.shape:
        raise AssertionError(f"{which}: shape {actual_arr.shape} != expected {reference.shape}")
    wide = actual_arr.astype(reference.dtype)
    both_nan = np.isnan(wide) & np.isnan(reference)
    same_inf = np.isinf(reference) & (wide == reference)
    with np.errstate(invalid="ignore"):
        bad = ~(both_nan | same_inf | (np.abs(wide - reference) <= bound))
    if bad.any():
        shapes = f"x {np.shape(x)}, w {np.shape(w)}" + ("" if dy is None else f", dy {np.shape(dy)}")
        used = dtype if dtype is not None else actual_arr.dtype
        raise AssertionError(_report(which, actual_arr, reference, bound, bad, used, shapes, keywords, worst))
