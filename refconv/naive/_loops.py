"""The loops' common parts: which input element each tap of each window reads, found from the definition."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv import padding_modes
from refconv._spec import ConvSpec
from refconv.geometry import ConvParams, Shape

Tap = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]

#: NumPy's warnings off inside the sums: with NaN or inf in an operand, IEEE's result is the answer.
IEEE: dict[str, Any] = {"invalid": "ignore", "over": "ignore"}
ALL = slice(None)


def _at(*parts: int | slice) -> tuple[int | slice, ...]:
    """A basic (non-fancy) index from ints and slices."""
    return parts


def _taps_1d(
    n: int, k: int, s: int, d: int, dil: int, lo: int, hi: int, mode: str
) -> tuple[int, list[tuple[int, int, int]]]:
    """Output count and the ``(j, t, i)`` triples of one spatial dim, found from the definition.

    Input element ``i`` sits at ``lo + dil * i`` of the padded, dilated input,
    which spans ``[0, end)``, ``end = lo + dil * (n - 1) + 1 + hi`` (``lo + hi``
    for an empty input). Window ``j`` reads ``s * j + d * t`` for taps ``t < k``,
    and exists while its last tap is inside: the windows start at ``0, s, 2 s,
    ...`` below ``end - d (k - 1)``, counted by the length of that range (not
    walked, so a huge padding costs nothing here). The triples are found from
    the positions that hold an element: each input element's own position, or
    with a padding mode (``dil == 1``) every position, holding a copy of
    :func:`refconv.padding_modes.source`; a position ``q`` is read by tap ``t``
    of window ``(q - d t) / s`` where that is a whole window number.
    """
    end = lo + hi + (dil * (n - 1) + 1 if n else 0)
    windows = _windows_1d(n, k, s, d, dil, lo, hi)
    held: list[tuple[int, int | None]]  # (padded position, the element it holds or None)
    if mode == "zeros":
        held = [(lo + dil * i, i) for i in range(n)]
    else:
        held = [(q, padding_modes.source(q - lo, n, mode)) for q in range(max(end, 0))]
    triples = []
    for q, i in held:
        for t in range(k):
            j, off_window = divmod(q - d * t, s)
            if i is not None and not off_window and 0 <= j < windows:
                triples.append((j, t, i))
    return windows, sorted(triples)


def _windows_1d(n: int, k: int, s: int, d: int, dil: int, lo: int, hi: int) -> int:
    """How many windows one spatial dim has: those starting at ``0, s, 2 s, ...`` whose last tap
    ``d (k - 1)`` is inside the padded, dilated input ``[0, end)`` (:func:`_taps_1d`), counted by the
    length of that range, not walked."""
    end = lo + hi + (dil * (n - 1) + 1 if n else 0)
    return len(range(0, end - d * (k - 1), s))


def _taps(x_spatial: Shape, w_spatial: Shape, p: ConvParams, mode: str) -> tuple[Shape, list[Tap]]:
    """Output spatial shape and every ``(j, t, i)`` multi-index triple that reads a real input element."""
    per_dim = [
        _taps_1d(n, k, s, d, dil, lo, hi, mode)
        for n, k, s, d, dil, (lo, hi) in zip(
            x_spatial, w_spatial, p.stride, p.dilation, p.input_dilation, p.padding, strict=True
        )
    ]
    out_spatial = tuple(m for m, _ in per_dim)
    taps = [
        (tuple(j for j, _, _ in combo), tuple(t for _, t, _ in combo), tuple(i for _, _, i in combo))
        for combo in itertools.product(*(triples for _, triples in per_dim))
    ]
    return out_spatial, taps


def _blocks(x_shape: Shape, w_shape: Shape, p: ConvParams) -> Iterator[tuple[slice, slice, slice]]:
    """``(input batch, input channels, output channels)`` slices of each group.

    Batch group ``a`` is input batch block ``a``; feature group ``g`` is input
    channel block ``g``; together they own output channel block ``a * G + g``.
    """
    n, c, o = x_shape[0], x_shape[1], w_shape[0]
    nb, ci, co = n // p.batch_groups, c // p.groups, o // (p.batch_groups * p.groups)
    for a in range(p.batch_groups):
        for g in range(p.groups):
            block = a * p.groups + g
            yield (
                slice(a * nb, (a + 1) * nb),
                slice(g * ci, (g + 1) * ci),
                slice(block * co, (block + 1) * co),
            )


def _output_shape(s: ConvSpec) -> Shape:
    """The output shape in canonical order, counted from the definition (not :attr:`ConvSpec.y_shape`)."""
    p = s.params
    out_spatial = [
        _windows_1d(n, k, stride, d, dil, lo, hi)
        for n, k, stride, d, dil, (lo, hi) in zip(
            s.x_shape[2:], s.w_shape[2:], p.stride, p.dilation, p.input_dilation, p.padding, strict=True
        )
    ]
    return (s.x_shape[0] // s.batch_groups, s.w_shape[0], *out_spatial)


def _cotangent(s: ConvSpec, dy: ArrayLike, shape: Shape, name: str = "dy") -> NDArray[Any]:
    """``dy`` (or the output-shaped array ``name``) checked against this module's own canonical output
    ``shape``; canonical, in the accumulation dtype."""
    expected = s.layout.shape_from_canonical(shape, "out")
    array = norm.as_array(dy, name)
    if array.shape != expected:
        raise ValueError(f"{name} has shape {array.shape}; expected the output shape {expected}")
    return s.layout.to_canonical(array, "out", name).astype(s.accumulate)


def _plus_bias(y: NDArray[Any], b: NDArray[Any] | None) -> NDArray[Any]:
    """``y`` with ``b[o]`` added to every element of output channel ``o`` (nothing for no bias)."""
    with np.errstate(**IEEE):
        return y if b is None else y + b.reshape((1, -1) + (1,) * (y.ndim - 2))


def _bias_sums(dy: NDArray[Any]) -> NDArray[Any]:
    """``db[o] += dy[n, o, j]`` for every batch element and position, one at a time."""
    db = np.zeros(dy.shape[1], dy.dtype)
    with np.errstate(**IEEE):
        for j in itertools.product(*map(range, dy.shape[2:])):
            for n in range(dy.shape[0]):
                db += dy[_at(n, ALL, *j)]
    return db
