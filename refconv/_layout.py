"""``dimension_numbers``: JAX's string layouts, e.g. ``("NHWC", "HWIO", "NHWC")``, for any spatial rank.

Argument normalisation, shared by the fast path and :mod:`refconv.naive`:
arrays in a given layout are viewed in refconv's canonical one (``NC...``,
``OI...``, ``NC...``), computed on, and results transposed back. As in JAX,
spatial dims are matched by letter, and their order (that of per-dim
parameters such as ``stride``) is the order in the kernel's spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Perm = tuple[int, ...]


@dataclass(frozen=True)
class Layout:
    """Permutations taking each operand from its given layout to the canonical one (None: canonical)."""

    lhs: Perm | None = None
    rhs: Perm | None = None
    out: Perm | None = None

    def to_canonical(self, array: NDArray[Any], which: str, name: str) -> NDArray[Any]:
        """A view of ``array`` (an ``lhs``, ``rhs`` or ``out`` operand) in the canonical layout."""
        perm = self._perm(which, array.shape, name)
        return array if perm is None else array.transpose(perm)

    def shape_to_canonical(self, shape: Sequence[int], which: str, name: str) -> tuple[int, ...]:
        perm = self._perm(which, shape, name)
        return tuple(shape) if perm is None else tuple(shape[i] for i in perm)

    def shape_from_canonical(self, shape: Sequence[int], which: str) -> tuple[int, ...]:
        perm: Perm | None = getattr(self, which)
        return tuple(shape) if perm is None else tuple(shape[i] for i in np.argsort(perm))

    def _perm(self, which: str, shape: Sequence[int], name: str) -> Perm | None:
        perm: Perm | None = getattr(self, which)
        if perm is not None and len(shape) != len(perm):
            raise ValueError(f"{name} has shape {tuple(shape)}; its layout has {len(perm)} dims")
        return perm

    def from_canonical(self, array: NDArray[Any], which: str) -> NDArray[Any]:
        """``array`` moved from the canonical layout to the given one (a new contiguous array if moved)."""
        perm: Perm | None = getattr(self, which)
        return array if perm is None else np.ascontiguousarray(array.transpose(np.argsort(perm)))


def _spec_perm(spec: str, pair: str, rhs_spec: str, index: int, given: Any) -> Perm:
    if len(spec) != len(set(spec)) or any(spec.count(c) != 1 for c in pair):
        raise ValueError(
            f"dimension_numbers={given!r}: entry {index} ({spec!r}) must hold {pair[0]!r} and {pair[1]!r} "
            "exactly once and no letter twice"
        )
    spatial = sorted((i for i, c in enumerate(spec) if c not in pair), key=lambda i: rhs_spec.index(spec[i]))
    return (spec.index(pair[0]), spec.index(pair[1]), *spatial)


def layout(dimension_numbers: Any, ndim: int, kernel_pair: str = "OI") -> Layout:
    """Parse ``dimension_numbers`` (None: canonical) for ``ndim`` spatial dims.

    ``kernel_pair`` names the kernel's (first, second) canonical axes: ``"OI"``
    for :func:`refconv.conv`, ``"IO"`` for :func:`refconv.conv_transpose`,
    whose weight is ``(C_in, C_out // groups, *kernel)``.
    """
    if dimension_numbers is None:
        return Layout()
    is_sequence = isinstance(dimension_numbers, (list, tuple))
    specs = tuple(dimension_numbers) if is_sequence else ()
    if len(specs) != 3 or not all(isinstance(s, str) for s in specs):
        raise TypeError(
            f"dimension_numbers={dimension_numbers!r} must be three strings, e.g. ('NHWC', 'HWIO', 'NHWC')"
        )
    rhs_spec = specs[1]
    if any(len(s) != ndim + 2 for s in specs):
        raise ValueError(f"dimension_numbers={dimension_numbers!r} must have {ndim + 2} letters per entry")
    spatial = [set(s) - set(pair) for s, pair in zip(specs, ("NC", kernel_pair, "NC"), strict=True)]
    if not spatial[0] == spatial[1] == spatial[2]:
        raise ValueError(f"dimension_numbers={dimension_numbers!r}: the entries name different spatial dims")
    perms = [
        _spec_perm(spec, pair, rhs_spec, i, dimension_numbers)
        for i, (spec, pair) in enumerate(zip(specs, ("NC", kernel_pair, "NC"), strict=True))
    ]
    return Layout(*perms)
