"""One comparison: an array judged against its reference element by element, within its bound.

:func:`~refconv.testing.compare` judges one array and names the worst elements;
:func:`~refconv.testing.assert_conv_close` is the assertion for your own test suite. Shapes come
first: a wrong shape fails whatever the values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from refconv import _normalize as norm
from refconv._convspec import ConvSpec
from refconv.testing.bounds import _problem, conventions, reference_and_bound


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
    #: How many elements are NaN by the materialised-padding reading only (a convention difference,
    #: not counted as over the bound).
    convention: int = 0

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
    name: str, actual: ArrayLike, reference: ArrayLike, bound: ArrayLike, worst: int = 5,
    convention: ArrayLike | None = None,
) -> Comparison:  # fmt: skip
    """Judge ``actual`` against ``reference`` element by element within ``bound`` (an array or a scalar).

    Shapes first: a wrong shape fails whatever the values. NaN must meet NaN
    and an infinity the same infinity; every other element must be within its
    bound. Complex values are compared by the modulus of the difference.
    ``convention`` marks the elements the materialised-padding reading makes
    NaN (:func:`refconv.testing.conventions`): a NaN there is counted as a
    convention difference, not as over the bound.
    """
    worst = norm.as_int(worst, "worst")
    if worst < 0:
        raise ValueError(f"worst={worst} must be >= 0")
    got, want = np.asarray(actual), np.asarray(reference)
    if got.shape != want.shape:
        return Comparison(name, got.shape, want.shape, got.size, got.size, math.inf, math.inf, ())
    wide = np.result_type(got, want, np.float64)
    got, want = got.astype(wide), want.astype(wide)
    limit = np.broadcast_to(np.asarray(bound, np.float64), want.shape)
    limit = np.where(np.isnan(limit) | ~np.isfinite(want), 0.0, limit)  # a non-finite reference: exact
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, and finite values far apart
        diff = np.abs(got - want)
        same = (np.isnan(got) & np.isnan(want)) | (np.isinf(want) & (got == want))
        diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))  # a NaN met by a number: inf
    if convention is not None and np.shape(convention) != want.shape:
        raise ValueError(
            f"convention has shape {np.shape(convention)}; expected the reference's {want.shape}"
        )
    other = np.zeros(want.shape, bool) if convention is None else np.asarray(convention) & np.isnan(got)
    other &= ~np.isnan(want)
    diff = np.where(other, 0.0, diff)
    ratio = np.divide(diff, limit, out=np.where(diff > 0, np.inf, 0.0), where=limit > 0)
    order = np.lexsort((np.arange(ratio.size), -ratio.ravel()))[:worst]  # worst first, then in index order
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
        convention=int(np.count_nonzero(other)),
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
    transposed: bool = False,
    spec: ConvSpec | None = None,
    **keywords: Any,
) -> None:
    """Assert that ``actual`` is ``which`` of the convolution of ``x`` and ``w`` up to round-off in ``dtype``.

    Like ``numpy.testing.assert_allclose``, but the tolerance is not a
    choice: each element is compared with a float64 reference within its own
    rigorous forward-error bound (:func:`~refconv.testing.reference_and_bound`, :func:`compare`),
    so a failure is a bug, not round-off. NaN must match NaN, and infinities must match.

    Parameters
    ----------
    actual : array_like
        The result under test (``y``, ``dx``, ``dw`` or ``db``).
    x, w, b, which, dy, dtype, transposed, spec, **keywords
        As for :func:`~refconv.testing.reference_and_bound`; ``dtype`` defaults to ``actual``'s.
        A drawn case is checked with ``spec=case.spec`` (its keywords, transposed or not).
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
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    actual_arr = norm.as_array(actual, "actual")
    used = actual_arr.dtype if dtype is None else norm.as_dtype(dtype, "dtype")
    if norm.kind(used) not in "iufc":
        raise TypeError(f"dtype={used} is not an integer, float or complex dtype")
    s = _problem(np.shape(x), np.shape(w), norm.dtypes_of(x=x, w=w), transposed, spec, keywords)
    reference, bound = reference_and_bound(x, w, b, which=which, dy=dy, dtype=used, spec=s)
    masks = conventions(s, x, w, dy, which=[which])
    verdict = compare(f"{which}", actual_arr, reference, bound, worst, masks.get(which))
    if not verdict.ok:
        if spec is not None:
            config = spec.source()
        else:
            config = f"x {np.shape(x)}, w {np.shape(w)}" + ("" if dy is None else f", dy {np.shape(dy)}")
            given = {**keywords, **({"transposed": True} if transposed else {})}
            config += ", " + (", ".join(f"{k}={v!r}" for k, v in given.items()) or "defaults")
        raise AssertionError(f"{verdict.report(dtype=used)}\n  config: {config}")
