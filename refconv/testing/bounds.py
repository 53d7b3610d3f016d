r"""Round-off bounds: how far a correct result of each element may be from a float64 reference.

A correct computation of an element that sums :math:`K` products :math:`a_i b_i` in a dtype of
unit round-off :math:`u` errs by at most

.. math::
    \gamma_K(u) \sum_i |a_i b_i|, \qquad \gamma_K(u) = \frac{K u}{1 - K u},

whatever its summation order (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1).
:func:`refconv.testing.reference_and_bounds` adds the float64 reference's own :math:`\gamma_K(2^{-53}) \sum_i
|a_i b_i|` and :math:`u|y|` for rounding a wider accumulation to the dtype. The sums of absolute
products are the same convolution of absolute values, computed by refconv. The bound is
rigorous, not tuned: a result outside it is a bug, not round-off. Integer results have bound 0:
the reference is the exact sum, wrapped to the result's dtype as NumPy's integers wrap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv._convspec import ROLES, ConvSpec
from refconv._nonfinite import all_finite, structural_nan
from refconv._ops import merge_axis_into, split_axis, swap_batch_and_channels, transpose_kernel
from refconv._spec import ConvOptions, TransposeOptions, check_keywords, spec
from refconv.cases import ARRAYS, Results
from refconv.conv import conv, kernel_of
from refconv.fast import conv_general
from refconv.geometry import input_vjp_params, padded_shape, weight_vjp_params
from refconv.padding_modes import fold, without_padding
from refconv.transpose import conv_transpose, conv_transpose_vjp
from refconv.vjp import conv_vjp

#: refconv's own public functions, the default ``module`` of :func:`refconv.testing.results`.
REFCONV = SimpleNamespace(
    conv=conv, conv_vjp=conv_vjp, conv_transpose=conv_transpose, conv_transpose_vjp=conv_transpose_vjp
)
#: Integer references are exact while every sum of absolute products stays below this.
EXACT_INTEGERS = 2.0**53


def results(
    s: ConvSpec,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    dy: ArrayLike | None,
    module: Any = None,
    which: Sequence[str] = ARRAYS,
) -> Results:
    """``y``, ``dx``, ``dw`` and ``db`` (or those of ``which``) of the problem ``s`` through ``module``.

    ``module`` is refconv (the default) or :mod:`refconv.naive`, whose public functions are
    called with ``s.options()``; the arrays are in the layout of ``s``; ``dy`` is needed for
    the VJPs only.
    """
    functions = REFCONV if module is None else module
    if s.transposed:
        forward, vjp = functions.conv_transpose, functions.conv_transpose_vjp
    else:
        forward, vjp = functions.conv, functions.conv_vjp
    out: Results = {}
    if "y" in which:
        out["y"] = forward(x, w, b, **s.options())
    if set(which) - {"y"}:
        out.update(zip(ARRAYS[1:], vjp(x, w, dy, **s.options()), strict=True))
    return {name: out[name] for name in which}


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


def gamma(terms: int, u: float) -> float:
    r""":math:`\gamma_K = K u / (1 - K u)` for ``terms`` :math:`= K`; infinite where :math:`K u \ge 1`.

    A sum of :math:`K` products computed with unit round-off :math:`u`, in any
    order, is within :math:`\gamma_K \sum_i |a_i b_i|` of the exact sum.
    """
    return math.inf if terms * u >= 1 else terms * u / (1 - terms * u)


def rounding_bound(
    sums: ArrayLike,
    terms: int,
    dtype: DTypeLike,
    reference: ArrayLike = 0.0,
    accumulate: DTypeLike | None = None,
) -> NDArray[np.float64]:
    r"""How far a result computed in ``dtype`` may be from a float64 reference of the same sums.

    :math:`(\gamma_K(u_a) + \gamma_K(2^{-53})) S + u |\text{ref}|` elementwise, for
    ``sums`` :math:`S = \sum_i |a_i b_i|` of :math:`K` = ``terms`` products
    accumulated with unit round-off :math:`u_a` (of ``accumulate``, default
    ``dtype``) and rounded once to ``dtype`` (:math:`u`): the result's error
    plus the float64 reference's own. Two correct float64 results are within
    it of each other, too. For an integer ``dtype`` it is 0.
    """
    if norm.kind(np.dtype(dtype)) in "iu":
        return np.zeros(np.shape(sums), np.float64)
    u = unit_roundoff(dtype)
    u_a = u if accumulate is None else unit_roundoff(accumulate)
    absolute = np.abs(np.asarray(sums, np.float64))
    factor = gamma(terms, u_a) + gamma(terms, 2.0**-53)  # infinite where K u >= 1: no bound exists
    with np.errstate(invalid="ignore"):
        wide = np.where(absolute == 0, 0.0, factor * absolute)  # a sum of no nonzero products is exact
    return np.asarray(wide + u * np.abs(np.asarray(reference)), np.float64)


def terms(s: ConvSpec, which: str) -> int:
    r"""How many products one element of ``which`` sums, at most (the :math:`K` of its bound).

    ``y``: :math:`C_\text{in}/G \cdot \prod k` of the general convolution that
    computes it; ``dx``: :math:`C_\text{out}/(G B) \cdot \prod k`, times the
    copies a padding mode makes of one element; ``dw`` and ``db``: the
    cotangent's batch times its positions.
    """
    taps = math.prod(s.w_shape[2:])
    general = s.general_w_shape
    if which == "y":
        return general[1] * taps
    if which == "dx":
        copies = 1 if s.padding_mode == "zeros" else math.prod(1 + lo + hi for lo, hi in s.padding)
        return general[0] // (s.groups * s.batch_groups) * taps * copies
    return s.y_shape[0] * math.prod(s.y_shape[2:])


def reference_and_bounds(
    s: ConvSpec,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    dy: ArrayLike | None,
    dtype: DTypeLike | None = None,
    which: Sequence[str] = ARRAYS,
) -> dict[str, tuple[NDArray[Any], NDArray[Any]]]:
    r"""The float64 reference of each of :data:`~refconv.cases.ARRAYS`, and the bound of a result in it.

    The bound of an element that sums :math:`K` (:func:`refconv.testing.terms`) products is
    :math:`(\gamma_K(u) + \gamma_K(2^{-53})) \sum_i |a_i b_i| + u |\text{ref}|`,
    four times the sum part for complex values; ``dtype`` defaults to that of
    ``x`` and ``w``. The sums of absolute products are :func:`refconv.testing.results` of the
    absolute values: every entry of every array is a sum of products with
    coefficients 0 or 1. For an integer ``dtype`` the reference is the exact
    integer result wrapped to ``dtype`` and the bound is 0.
    """
    s64, wide, absolute = widened(s, dict(x=x, w=w, b=b, dy=dy))
    reference = results(s64, wide["x"], wide["w"], wide["b"], wide["dy"], which=which)
    sums = results(s64, absolute["x"], absolute["w"], absolute["b"], absolute["dy"], which=which)
    used = np.dtype(dtype) if dtype is not None else np.result_type(np.asarray(x), np.asarray(w))
    scale = 4.0 if s64.dtype.kind == "c" else 1.0  # a complex product is 4 real ones, 2 sums
    bounds = {}
    for name in which:
        k = terms(s64, name) + (name == "y" and b is not None)
        want = _exact_integers(reference[name], sums[name], used, name)
        bounds[name] = (want, rounding_bound(scale * sums[name], k, used, reference[name]))
    return bounds


def widened(
    s: ConvSpec, operands: Mapping[str, ArrayLike | None]
) -> tuple[ConvSpec, dict[str, Any], dict[str, Any]]:
    """The float64 problem of ``s`` (complex128 if an operand is complex; no
    ``preferred_element_type``), its ``operands`` in that dtype, and their absolute values
    (None stays None): what a reference and the sums of its bound are computed from."""
    arrays = {name: None if a is None else np.asarray(a) for name, a in operands.items()}
    wide = np.complex128 if any(np.iscomplexobj(a) for a in arrays.values() if a is not None) else np.float64
    options = {k: v for k, v in s.options().items() if k != "preferred_element_type"}
    s64 = spec(s.given_shape("x"), s.given_shape("w"), dtype=wide, transposed=s.transposed, **options)
    cast = {name: None if a is None else a.astype(wide) for name, a in arrays.items()}
    return s64, cast, {name: None if a is None else np.abs(a) for name, a in cast.items()}


def _exact_integers(reference: NDArray[Any], sums: NDArray[Any], dtype: np.dtype[Any], name: str) -> Any:
    """An integer result's reference: the exact sums wrapped to ``dtype`` (floats: as they are)."""
    if norm.kind(dtype) not in "iu":
        return reference
    if np.max(np.abs(sums), initial=0.0) >= EXACT_INTEGERS:
        raise ValueError(
            f"{name}: sums of up to {np.max(np.abs(sums)):.3g} are beyond 2**53, where a float64 "
            f"reference of {dtype} results is no longer exact"
        )
    return np.rint(reference.real).astype(np.int64).astype(dtype)


def reference_and_bound(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    which: str = "y",
    dy: ArrayLike | None = None,
    dtype: DTypeLike | None = None,
    transposed: bool = False,
    spec: ConvSpec | None = None,
    **keywords: Any,
) -> tuple[NDArray[Any], NDArray[Any]]:
    r"""The float64 reference for ``which`` and the elementwise bound on any result computed in ``dtype``.

    :func:`refconv.testing.reference_and_bounds` for one array of the problem given by
    :func:`refconv.conv`'s keywords (or, with ``transposed=True``,
    :func:`refconv.conv_transpose`'s), or by ``spec``.

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
    transposed : bool
        The problem is a transposed convolution.
    spec : ConvSpec, optional
        The problem as a spec (for example a drawn :class:`refconv.cases.Case`'s), instead
        of ``transposed`` and keywords; the arrays must have its shapes.
    **keywords
        The convolution's keywords (stride, padding, ..., dimension_numbers).

    Returns
    -------
    reference, bound : ndarray
        Both of the result's shape, float64 (complex128 reference for complex input; for an
        integer ``dtype``, the exact result in it, and zeros).
    """
    if which not in ARRAYS:
        raise ValueError(f"which={which!r}: expected one of {', '.join(ARRAYS)}")
    if which != "y" and dy is None:
        raise ValueError(f"which={which!r} needs the cotangent dy")
    dtypes = norm.dtypes_of(x=x, w=w)
    s = _problem(np.shape(x), np.shape(w), dtypes, transposed, spec, keywords)
    bias = b if which == "y" else None  # the VJPs do not depend on the bias
    return reference_and_bounds(s, x, w, bias, dy, dtype, which=[which])[which]


def _problem(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], dtypes: list[np.dtype[Any]], transposed: bool,
    given: ConvSpec | None, keywords: dict[str, Any],
) -> ConvSpec:  # fmt: skip
    """The spec a checking function was given, or the one its keywords describe (every keyword
    checked as refconv's functions check it, ``preferred_element_type`` against x's and w's dtypes)."""
    if given is None:
        check_keywords("assert_conv_close", keywords, ConvOptions, TransposeOptions)
        return spec(
            x_shape, w_shape, transposed=norm.as_flag(transposed, "transposed"), dtype=dtypes, **keywords
        )
    if keywords or transposed:
        named = sorted(keywords) + (["transposed"] if transposed else [])
        raise TypeError(f"give spec= or the convolution's keywords, not both (got spec and {named})")
    if (x_shape, w_shape) != (given.given_shape("x"), given.given_shape("w")):
        raise ValueError(
            f"x has shape {x_shape} and w {w_shape}; the spec is for x {given.given_shape('x')}, "
            f"w {given.given_shape('w')}"
        )
    return given


def conventions(
    s: ConvSpec, x: ArrayLike, w: ArrayLike, dy: ArrayLike | None, which: Sequence[str] = ARRAYS
) -> dict[str, NDArray[np.bool_]]:
    """Where the materialised-padding reading forms a NaN product that refconv's reading does not.

    refconv sums real products only (``refconv._nonfinite``); torch's CPU forward multiplies a
    padded array, so a padding or inserted zero times a non-finite weight (or, in the weight VJP, a
    non-finite cotangent) is NaN there. A mask may also hold elements that are NaN in both readings;
    an element NaN for that reason alone is a convention difference, not an error (:func:`compare`
    counts it apart). Given for ``y``, ``dx`` and ``dw``
    (a padding mode's padding holds copies, real elements), each of its array's shape; none for a
    problem without products (:attr:`refconv.ConvSpec.empty`) or with finite ``w`` and ``dy``
    (the only factors a structural zero meets).
    """
    masks: dict[str, NDArray[np.bool_]] = {}
    finite = all_finite(np.asarray(w)) and (dy is None or all_finite(np.asarray(dy)))
    if s.empty or finite:  # no product at all, or no non-finite factor a structural zero could meet
        return masks
    kernel = kernel_of(s, s.operand(w, "w", "w"))
    # with a padding mode the convolution runs on the mode-padded input, whose padding holds copies
    x_shape, p = s.x_shape, s.general
    if s.padding_mode != "zeros":
        x_shape, p = (*x_shape[:2], *padded_shape(x_shape[2:], p)), without_padding(p)
    if "y" in which:
        masks["y"] = s.layout.from_canonical(structural_nan(x_shape, kernel, p, conv_general), ROLES["y"])
    if dy is None:
        return masks
    dy_c = s.operand(dy, "y", "dy")
    if "dx" in which:
        q = input_vjp_params(x_shape[2:], kernel.shape[2:], p)
        mask = structural_nan(dy_c.shape, transpose_kernel(kernel, q.groups), q, conv_general)
        if p.batch_groups > 1:  # as refconv.vjp.input_vjp_general: the groups move back into the batch
            mask = merge_axis_into(split_axis(mask, 1, p.batch_groups), 1, 0)
        if s.padding_mode != "zeros":  # a padded position's NaN reaches the element it copies
            mask = fold(mask.astype(np.float64), s.x_shape, s.general.padding, s.padding_mode) > 0
        masks["dx"] = s.layout.from_canonical(mask, ROLES["x"])
    if "dw" in which:
        q = weight_vjp_params(x_shape[2:], kernel.shape[2:], p)
        x_t = (x_shape[1], x_shape[0], *x_shape[2:])
        mask = swap_batch_and_channels(structural_nan(x_t, swap_batch_and_channels(dy_c), q, conv_general))
        masks["dw"] = s.layout.from_canonical(kernel_of(s, mask), ROLES["w"])
    return masks
