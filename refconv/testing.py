r"""Checking a convolution against refconv: the result vocabulary, round-off bounds, one comparison.

Every result of a convolution problem is one of :data:`ARRAYS`, ``y``, ``dx``,
``dw`` and ``db``, and a backend's answer is a :data:`Results` dict of them
(:func:`results` computes refconv's or :mod:`refconv.naive`'s). Each element
is judged against a float64 reference within its own bound, and nothing else
decides: a correct computation of an element that sums :math:`K` products
:math:`a_i b_i` in a dtype of unit round-off :math:`u` errs by at most

.. math::
    \gamma_K(u) \sum_i |a_i b_i|, \qquad \gamma_K(u) = \frac{K u}{1 - K u},

whatever its summation order (Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.1). :func:`reference_and_bound` adds the float64 reference's
own :math:`\gamma_K(2^{-53}) \sum_i |a_i b_i|` and :math:`u|y|` for rounding a
wider accumulation to the dtype. The sums of absolute products are the same
convolution of absolute values, computed by refconv. The bound is rigorous,
not tuned: a result outside it is a bug, not round-off. :func:`compare` applies
it to one array and names the worst element; :func:`assert_conv_close` is the
assertion for your own test suite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

import refconv
from refconv._spec import ConvSpec, spec

__all__ = [
    "ARRAYS",
    "FEATURES",
    "Comparison",
    "Config",
    "Results",
    "assert_conv_close",
    "compare",
    "conv_configs",
    "gamma",
    "reference_and_bound",
    "reference_and_bounds",
    "results",
    "rounding_bound",
    "terms",
    "unit_roundoff",
]

#: The names of a problem's arrays, the output and the VJPs for input, weight and bias.
ARRAYS = ("y", "dx", "dw", "db")
#: One backend's answer to a problem, an array per name of :data:`ARRAYS`.
Results = dict[str, NDArray[Any]]


def results(
    s: ConvSpec,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    dy: ArrayLike | None,
    module: Any = refconv,
    which: Sequence[str] = ARRAYS,
) -> Results:
    """``y``, ``dx``, ``dw`` and ``db`` (or those of ``which``) of the problem ``s`` through ``module``.

    ``module`` is :mod:`refconv` or :mod:`refconv.naive`, whose public functions
    are called with ``s.options()``; the arrays are in the layout of ``s``;
    ``dy`` is needed for the VJPs only.
    """
    forward, vjp = (module.conv_transpose, module.conv_transpose_vjp) if s.transposed else (
        module.conv, module.conv_vjp)  # fmt: skip
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
    it of each other, too.
    """
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
    r"""The float64 reference of each of :data:`ARRAYS` , and the elementwise bound of a result in ``dtype``.

    The bound of an element that sums :math:`K` (:func:`terms`) products is
    :math:`(\gamma_K(u) + \gamma_K(2^{-53})) \sum_i |a_i b_i| + u |\text{ref}|`,
    four times the sum part for complex values; ``dtype`` defaults to that of
    ``x`` and ``w``. The sums of absolute products are :func:`results` of the
    absolute values: every entry of every array is a sum of products with
    coefficients 0 or 1.
    """
    arrays = [None if a is None else np.asarray(a) for a in (x, w, b, dy)]
    complex_ = any(np.iscomplexobj(a) for a in arrays if a is not None)
    wide = np.complex128 if complex_ else np.float64
    x64, w64, b64, dy64 = (None if a is None else a.astype(wide) for a in arrays)
    ax, aw, ab, ady = (None if a is None else np.abs(a) for a in (x64, w64, b64, dy64))
    s64 = spec(s.given_shape("x"), s.given_shape("w"), dtype=wide, transposed=s.transposed,
               **_without_dtype(s.options()))  # fmt: skip
    reference = results(s64, x64, w64, b64, dy64, which=which)  # type: ignore[arg-type]
    sums = results(s64, ax, aw, ab, ady, which=which)  # type: ignore[arg-type]
    used = dtype if dtype is not None else np.result_type(*arrays[:2])
    scale = 4.0 if complex_ else 1.0  # a complex product is 4 real ones, 2 sums
    bounds = {}
    for name in which:
        k = terms(s64, name) + (name == "y" and b is not None)
        bounds[name] = (reference[name], rounding_bound(scale * sums[name], k, used, reference[name]))
    return bounds


def _without_dtype(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k != "preferred_element_type"}


def reference_and_bound(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    which: str = "y",
    dy: ArrayLike | None = None,
    dtype: DTypeLike | None = None,
    transposed: bool = False,
    **keywords: Any,
) -> tuple[NDArray[Any], NDArray[Any]]:
    r"""The float64 reference for ``which`` and the elementwise bound on any result computed in ``dtype``.

    :func:`reference_and_bounds` for one array of the problem given by
    :func:`refconv.conv`'s keywords (or, with ``transposed=True``,
    :func:`refconv.conv_transpose`'s).

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
    **keywords
        The convolution's keywords (stride, padding, ..., dimension_numbers).

    Returns
    -------
    reference, bound : ndarray
        Both of the result's shape, float64 (complex128 reference for complex input).
    """
    if which not in ARRAYS:
        raise ValueError(f"which={which!r}: expected one of {', '.join(ARRAYS)}")
    if which != "y" and dy is None:
        raise ValueError(f"which={which!r} needs the cotangent dy")
    s = spec(np.shape(x), np.shape(w), transposed=transposed, **_without_dtype(keywords))
    bias = b if which == "y" else None  # the VJPs do not depend on the bias
    return reference_and_bounds(s, x, w, bias, dy, dtype, which=[which])[which]


@dataclass(frozen=True)
class Comparison:
    """One array judged against its reference within its elementwise bound, by :func:`compare`.

    ``worst`` lists the elements furthest over (or nearest to) their bound:
    ``(index, actual, reference, |diff|, bound)``, worst first; ``ratio`` is
    the largest ``|diff| / bound`` (infinite for a difference where the bound
    is 0, or a shape that differs).
    """

    name: str
    shape: tuple[int, ...]
    expected_shape: tuple[int, ...]
    over: int
    size: int
    ratio: float
    max_abs_diff: float
    worst: tuple[tuple[tuple[int, ...], complex, complex, float, float], ...]

    @property
    def ok(self) -> bool:
        """The shapes agree and every element is within its bound."""
        return self.shape == self.expected_shape and self.over == 0

    def report(self, context: str = "", dtype: DTypeLike | None = None) -> str:
        """The verdict in words: what is out of bound, the worst elements, and ``context`` (the case).

        ``dtype`` names the dtype whose round-off the bound is for.
        """
        where = f" ({context})" if context else ""
        if self.shape != self.expected_shape:
            return f"{self.name}: shape {self.shape} != expected {self.expected_shape}{where}"
        of = "" if dtype is None else f" for {np.dtype(dtype)}"
        head = (
            f"{self.name}: {self.over} of {self.size} elements exceed the round-off bound{of}"
            f" (max |diff|/bound {self.ratio:.3g}){where}"
        )
        lines = [head, f"  {'index':<20}{'actual':>14}{'reference':>14}{'|diff|':>12}{'bound':>12}"]
        for index, actual, reference, diff, bound in self.worst:
            lines.append(
                f"  {index!s:<20}{actual.real:>14.6g}{reference.real:>14.6g}{diff:>12.3g}{bound:>12.3g}"
            )
        return "\n".join(lines)


def compare(
    name: str, actual: ArrayLike, reference: ArrayLike, bound: ArrayLike, worst: int = 5
) -> Comparison:
    """Judge ``actual`` against ``reference`` element by element within ``bound`` (an array or a scalar).

    Shapes first: a wrong shape fails whatever the values. NaN must meet NaN
    and an infinity the same infinity; every other element must be within its
    bound. Complex values are compared by the modulus of the difference.
    """
    got, want = np.asarray(actual), np.asarray(reference)
    if got.shape != want.shape:
        return Comparison(name, got.shape, want.shape, got.size, got.size, math.inf, math.inf, ())
    wide = np.result_type(got, want, np.float64)
    got, want = got.astype(wide), want.astype(wide)
    limit = np.nan_to_num(np.broadcast_to(np.asarray(bound, np.float64), want.shape), nan=0.0)
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - want)
        same = (np.isnan(got) & np.isnan(want)) | (np.isinf(want) & (got == want))
        diff = np.where(same, 0.0, np.nan_to_num(diff, nan=np.inf))
    ratio = np.divide(diff, limit, out=np.where(diff > 0, np.inf, 0.0), where=limit > 0)
    order = np.argsort(ratio, axis=None)[::-1][:worst]
    rows = tuple(
        (tuple(int(i) for i in index), complex(got[index]), complex(want[index]), float(diff[index]),
         float(limit[index]))
        for index in (np.unravel_index(flat, want.shape) for flat in order)
    )  # fmt: skip
    return Comparison(
        name=name,
        shape=got.shape,
        expected_shape=want.shape,
        over=int(np.count_nonzero(diff > limit)),
        size=int(got.size),
        ratio=float(np.max(ratio, initial=0.0)),
        max_abs_diff=float(np.max(diff, initial=0.0)),
        worst=rows,
    )


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
    rigorous forward-error bound (:func:`reference_and_bound`, :func:`compare`),
    so a failure is a bug, not round-off. NaN must match NaN, and infinities must match.

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
    used = np.dtype(dtype if dtype is not None else actual_arr.dtype)
    reference, bound = reference_and_bound(x, w, b, which=which, dy=dy, dtype=used, **keywords)
    verdict = compare(f"{which}", actual_arr, reference, bound, worst)
    if not verdict.ok:
        config = f"x {np.shape(x)}, w {np.shape(w)}" + ("" if dy is None else f", dy {np.shape(dy)}")
        config += ", " + (", ".join(f"{k}={v!r}" for k, v in keywords.items()) or "defaults")
        raise AssertionError(f"{verdict.report(dtype=used)}\n  config: {config}")


@dataclass(frozen=True)
class Config:
    """One problem with its arrays: a spec, whether it has a bias, and the seed its arrays are drawn from.

    ``feature`` names the suite group it belongs to (``"search"`` for drawn ones).
    """

    spec: ConvSpec
    bias: bool = True
    seed: int = 0
    feature: str = "search"

    def arrays(self) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any] | None, NDArray[Any]]:
        """Standard-normal ``x, w, b, dy`` in the spec's layout and dtype (``b`` None without a bias)."""
        s, rng = self.spec, np.random.default_rng(self.seed)
        x = rng.standard_normal(s.given_shape("x")).astype(s.dtype)
        w = rng.standard_normal(s.given_shape("w")).astype(s.dtype)
        b = rng.standard_normal(s.y_shape[1]).astype(s.dtype) if self.bias else None
        return x, w, b, rng.standard_normal(s.given_shape("y")).astype(s.dtype)


#: What :func:`conv_configs` may vary; every other parameter keeps its default.
FEATURES = (
    "stride", "dilation", "input_dilation", "padding", "negative_padding", "padding_words", "groups",
    "depthwise", "batch_groups", "bias", "layouts", "padding_modes", "transposed", "output_padding",
    "output_shape", "empty_batch",
)  # fmt: skip


def conv_configs(
    *,
    ranks: Sequence[int] = (1, 2, 3),
    dtypes: Sequence[DTypeLike] = ("float64",),
    features: Sequence[str] = FEATURES,
    max_size: int = 7,
) -> Any:
    """A hypothesis strategy of valid :class:`Config` s: every parameter out to its edges, simplest first.

    Draws convolutions (and, with the ``"transposed"`` feature, transposed
    ones) of the given spatial ``ranks`` and ``dtypes``, varying only the
    ``features`` named (:data:`FEATURES`), with spatial sizes up to
    ``max_size``. The draws reach the edges a careful implementation must
    handle: remainders ``r > 0``, kernels smaller than the stride, kernels as
    large as the padded input, outputs that read only padding, an empty batch.
    Every choice shrinks toward the simplest problem (one spatial dim, one
    channel, stride 1, no padding), so a failure shrinks to a minimal one.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from refconv.testing import assert_conv_close, conv_configs
    >>> @settings(max_examples=20, deadline=None)
    ... @given(conv_configs(ranks=[1, 2], features=["stride", "padding", "groups"]))
    ... def test_my_conv(config):
    ...     x, w, b, _ = config.arrays()
    ...     y = refconv.conv(x, w, b, **config.spec.options())     # your convolution here
    ...     assert_conv_close(y, x, w, b, **config.spec.options())
    >>> test_my_conv()
    """
    from hypothesis import strategies as st

    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise ValueError(f"features={unknown} are not among {FEATURES}")
    on = set(features)

    @st.composite
    def draw(draw: Any) -> Config:
        transposed = "transposed" in on and draw(st.booleans())
        ndim = draw(st.sampled_from(sorted(ranks)))
        dtype = draw(st.sampled_from(list(dtypes)))
        keywords = (_draw_transposed if transposed else _draw_conv)(draw, st, on, ndim, max_size)
        if keywords is None:
            from hypothesis import assume

            assume(False)
        x_shape, w_shape, options = keywords
        try:
            s = spec(x_shape, w_shape, transposed=transposed, dtype=dtype, **options)
        except ValueError:
            from hypothesis import assume

            assume(False)
            raise
        bias = "bias" in on and draw(st.booleans())
        return Config(s, bias, draw(st.integers(0, 2**16)))

    return draw()


def _batch(st: Any, on: set[str]) -> Any:
    """A batch size of 1 to 3, and with the empty_batch feature 0 one time in ten (shrinking toward 1)."""
    return st.sampled_from([1, 2, 3] * 3 + ([0] if "empty_batch" in on else []))


def _draw_conv(draw: Any, st: Any, on: set[str], ndim: int, max_size: int) -> Any:
    kind = draw(st.sampled_from(["plain", *(["groups"] if "groups" in on else []),
                                 *(["batch_groups"] if "batch_groups" in on else [])]))  # fmt: skip
    count = 1 if kind == "plain" else draw(st.integers(2, 3))
    groups, batch_groups = (
        (count, 1) if kind == "groups" else (1, count) if kind == "batch_groups" else (1, 1)
    )
    per_group_in = (
        1 if "depthwise" in on and kind == "groups" and draw(st.booleans()) else draw(st.integers(1, 3))
    )
    batch = batch_groups * draw(_batch(st, on))
    c_in, c_out = groups * per_group_in, groups * batch_groups * draw(st.integers(1, 3))
    options: dict[str, Any] = {"groups": groups, "batch_groups": batch_groups}
    style = draw(st.sampled_from(["pairs", *(["word"] if "padding_words" in on else []),
                                  *(["mode"] if "padding_modes" in on else [])]))  # fmt: skip

    def per_dim(name: str, high: int) -> tuple[int, ...]:
        return tuple(draw(st.integers(1, high)) for _ in range(ndim)) if name in on else (1,) * ndim

    stride, dilation = per_dim("stride", 4), per_dim("dilation", 3)
    input_dilation = per_dim("input_dilation", 3) if style == "pairs" else (1,) * ndim  # words, modes: none
    low = -2 if "negative_padding" in on else 0
    padding = tuple(
        (draw(st.integers(low, 3)), draw(st.integers(low, 3))) if "padding" in on else (0, 0)
        for _ in range(ndim)
    )
    spatial = tuple(draw(st.integers(1, max_size)) for _ in range(ndim))
    kernel = []
    for n, d_in, d_k, (lo, hi) in zip(spatial, input_dilation, dilation, padding, strict=True):
        padded = d_in * (n - 1) + 1 + lo + hi
        if padded < 1:
            return None
        fits = (padded - 1) // d_k + 1  # the largest kernel whose dilated size fits: the padded input's size
        kernel.append(draw(st.one_of(st.integers(1, min(fits, 4)), st.just(fits))))
    options.update(stride=stride, dilation=dilation, input_dilation=input_dilation, padding=padding)
    if style == "word":
        options["padding"] = draw(st.sampled_from(["same", "valid", "same_lower"]))
    elif style == "mode":
        options["padding_mode"] = mode = draw(st.sampled_from(["reflect", "replicate", "circular"]))
        limit = {"reflect": -1, "circular": 0}.get(mode, 3)
        options["padding"] = tuple((max(0, min(lo, n + limit)), max(0, min(hi, n + limit)))
                                   for (lo, hi), n in zip(padding, spatial, strict=True))  # fmt: skip
    x_shape, w_shape = (batch, c_in, *spatial), (c_out, c_in // groups, *kernel)
    if "layouts" in on and ndim <= 3 and draw(st.booleans()):
        letters = "WHD"[:ndim][::-1]
        options["dimension_numbers"] = (f"N{letters}C", f"{letters}IO", f"N{letters}C")
        x_shape = (batch, *spatial, c_in)
        w_shape = (*kernel, c_in // groups, c_out)
    return x_shape, w_shape, options


def _draw_transposed(draw: Any, st: Any, on: set[str], ndim: int, max_size: int) -> Any:
    groups = draw(st.integers(1, 3)) if "groups" in on else 1
    batch = draw(_batch(st, on))
    x_shape = (
        batch,
        groups * draw(st.integers(1, 3)),
        *(draw(st.integers(1, max_size)) for _ in range(ndim)),
    )
    w_shape = (x_shape[1], draw(st.integers(1, 3)), *(draw(st.integers(1, 4)) for _ in range(ndim)))
    stride = tuple(draw(st.integers(1, 4)) if "stride" in on else 1 for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 3)) if "dilation" in on else 1 for _ in range(ndim))
    low = -1 if "negative_padding" in on else 0
    padding = tuple(
        (draw(st.integers(low, 2)), draw(st.integers(low, 2))) if "padding" in on else (0, 0)
        for _ in range(ndim)
    )
    output_padding = tuple(
        draw(st.integers(0, max(s, d) - 1)) if "output_padding" in on else 0
        for s, d in zip(stride, dilation, strict=True)
    )
    options: dict[str, Any] = dict(stride=stride, dilation=dilation, padding=padding, groups=groups)
    if "padding_words" in on and draw(st.booleans()):  # ONNX's auto_pad: an output n * stride long
        options["padding"] = draw(st.sampled_from(["same", "valid", "same_lower"]))
        options["output_padding"] = output_padding
        return x_shape, w_shape, options
    if "output_shape" in on and draw(st.booleans()):
        try:
            base = spec(x_shape, w_shape, transposed=True, **options)
        except ValueError:
            return None  # the padding leaves no output
        options["output_shape"] = tuple(n + o for n, o in zip(base.y_shape[2:], output_padding, strict=True))
    else:
        options["output_padding"] = output_padding
    return x_shape, w_shape, options
