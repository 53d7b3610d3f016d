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

from refconv._convspec import ConvSpec
from refconv.testing.bounds import reference_and_bound


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
    actual_arr = np.asarray(actual)
    used = np.dtype(dtype if dtype is not None else actual_arr.dtype)
    reference, bound = reference_and_bound(
        x, w, b, which=which, dy=dy, dtype=used, transposed=transposed, spec=spec, **keywords
    )
    verdict = compare(f"{which}", actual_arr, reference, bound, worst)
    if not verdict.ok:
        if spec is not None:
            config = spec.source()
        else:
            config = f"x {np.shape(x)}, w {np.shape(w)}" + ("" if dy is None else f", dy {np.shape(dy)}")
            given = {**keywords, **({"transposed": True} if transposed else {})}
            config += ", " + (", ".join(f"{k}={v!r}" for k, v in given.items()) or "defaults")
        raise AssertionError(f"{verdict.report(dtype=used)}\n  config: {config}")
