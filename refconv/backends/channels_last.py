"""Channels-last permutations, for the frameworks whose convolutions run ``N, *spatial, C`` (TF, Keras)."""

from __future__ import annotations

import numpy as np

from refconv._convspec import ConvSpec

__all__ = ["forward", "permutations"]


def permutations(s: ConvSpec) -> tuple[list[int] | None, list[int] | None, list[int] | None]:
    """Given x to ``N, *spatial, C``; given w to the filter ``(*k, C_in // groups, C_out)`` (transposed:
    ``(*k, C_out // groups, C_in)``); channels-last y back to the given layout. None: no change."""
    nd = s.ndim
    last = [0, *range(2, nd + 2), 1]
    kernel = [*range(2, nd + 2), 1, 0]  # (O, I, *k) -> (*k, I, O); transposed (I, O/g, *k) -> (*k, O/g, I)

    def compose(given: tuple[int, ...] | None, then: list[int]) -> list[int] | None:
        perm = then if given is None else [given[i] for i in then]
        return None if perm == list(range(nd + 2)) else perm

    back = [0, nd + 1, *range(1, nd + 1)]  # channels-last y to canonical
    out = back if s.layout.out is None else [int(back[i]) for i in np.argsort(s.layout.out)]
    return (
        compose(s.layout.lhs, last),
        compose(s.layout.rhs, kernel),
        (None if out == list(range(nd + 2)) else out),
    )


def forward(s: ConvSpec, transpose: str, body: list[str]) -> str:
    """The source of ``forward(x, w, b)``: x and w moved to channels-last by ``transpose`` (the
    framework's own transpose function), the ``body`` lines that compute ``y``, the bias, and ``y``
    moved back to the given layout."""
    x_perm, w_perm, y_perm = permutations(s)
    lines = ["def forward(x, w, b):"]
    if x_perm is not None:
        lines.append(f"    x = {transpose}(x, {x_perm})  # to channels-last")
    if w_perm is not None:
        lines.append(f"    w = {transpose}(w, {w_perm})  # to the filter layout")
    lines += [*body, "    y = y + b"]
    if y_perm is not None:
        lines.append(f"    y = {transpose}(y, {y_perm})  # back to the given layout")
    return "\n".join([*lines, "    return y"])
