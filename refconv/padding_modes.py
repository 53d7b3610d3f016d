r"""Padding modes, in one place: what the padding holds when it is not zeros.

``padding_mode="zeros" | "reflect" | "replicate" | "circular"``, as PyTorch's
``nn.Conv`` modules define them, and ``"symmetric"``, NumPy's name for the half-sample reflection
that repeats the edge (``np.pad`` and ``jnp.pad``'s ``"symmetric"``, TensorFlow's ``SYMMETRIC``,
``scipy.ndimage``'s ``"reflect"``; PyTorch has no such mode). A non-zero mode is a linear map :math:`P`
applied to the input before a zero-padded convolution, so the convolution
with a mode is :math:`\operatorname{conv}(P x)` and its input VJP is
:math:`P^T` of the zero-padded one: each padded position's cotangent is added
back onto the element it copied (the *fold*). This module holds

* the limits each mode puts on the padding (:func:`check`), enforced by :func:`refconv.spec`;
* the definition per padded position (:func:`source`), which :mod:`refconv.naive` walks;
* the vectorised gather the fast path uses (:func:`index`, :func:`pad`) and its VJP, the fold
  (:func:`fold`);
* what each framework calls each mode (:data:`FRAMEWORK_NAMES`).

Derived in :doc:`/transpose` (section "Padding modes").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv._nonfinite import IEEE
from refconv.geometry import ConvParams, Padding, Shape

__all__ = [
    "FRAMEWORK_NAMES",
    "PADDING_MODES",
    "apply",
    "check",
    "fold",
    "index",
    "pad",
    "source",
    "without_padding",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular", "symmetric")

#: What each framework's pad or convolution calls refconv's modes; a mode a framework lacks is absent.
#: ``numpy`` is ``np.pad`` (and ``jnp.pad``); ``torch`` is ``F.pad`` and ``nn.Conv``'s
#: ``padding_mode``; ``onnx`` is the ``Pad`` operator (``wrap`` from opset 19); ``tensorflow`` is
#: ``tf.pad``; ``ndimage`` is ``scipy.ndimage``'s ``mode`` (its ``"wrap"`` is not periodic with
#: period n at every size, its ``"grid-wrap"`` is).
FRAMEWORK_NAMES: dict[str, dict[str, str]] = {
    "numpy": {
        "zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap",
        "symmetric": "symmetric",
    },
    "torch": {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"},
    "onnx": {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"},
    "tensorflow": {"zeros": "CONSTANT", "reflect": "REFLECT", "symmetric": "SYMMETRIC"},
    "ndimage": {
        "zeros": "constant", "reflect": "mirror", "replicate": "nearest", "circular": "grid-wrap",
        "symmetric": "reflect",
    },
}  # fmt: skip


def check(mode: Any, x_spatial: Shape, p: ConvParams) -> str:
    """``mode``, validated with PyTorch's limits: padding >= 0, ``< n`` for reflect, ``<= n`` for circular
    (and symmetric: one reflection of the input, as circular is one copy of it).

    A non-zero mode also needs input dilation 1 (what would the inserted zeros
    copy?), and replicate an element to copy where it pads (``n >= 1``).
    """
    if not isinstance(mode, str) or mode not in PADDING_MODES:
        raise ValueError(f"padding_mode={mode!r} is not one of {PADDING_MODES}")
    if mode == "zeros":
        return mode
    if any(d != 1 for d in p.input_dilation):
        raise ValueError(f"padding_mode={mode!r} needs input_dilation=1, got {p.input_dilation}")
    if any(v < 0 for pair in p.padding for v in pair):
        raise ValueError(f"padding_mode={mode!r} needs padding >= 0, got padding={p.padding}")
    for size, (lo, hi) in zip(x_spatial, p.padding, strict=True):
        limit = {"reflect": size - 1, "circular": size, "symmetric": size}.get(
            mode, size if size == 0 else max(lo, hi)
        )
        if max(lo, hi) > limit:
            bound = {"reflect": "smaller than", "circular": "at most", "symmetric": "at most"}.get(
                mode, "zero for an empty"
            )
            raise ValueError(
                f"padding_mode={mode!r} needs padding {bound} the input size in every spatial dim "
                f"(as in PyTorch): padding={p.padding}, x spatial shape {x_spatial}"
            )
    return mode


def source(offset: int, n: int, mode: str) -> int | None:
    """The input element that padded position ``offset`` (``-lo`` .. ``n - 1 + hi``) holds, if any.

    From PyTorch's definitions, one position at a time: zeros hold nothing;
    replicate repeats the nearest edge; circular wraps around; reflect mirrors
    at the edges without repeating them; symmetric (NumPy's) mirrors them
    repeating the edge. :mod:`refconv.naive` walks this.

    Examples
    --------
    >>> from refconv.padding_modes import source
    >>> [source(i, 4, "reflect") for i in range(-2, 6)]
    [2, 1, 0, 1, 2, 3, 2, 1]
    >>> [source(i, 4, "symmetric") for i in range(-2, 6)]
    [1, 0, 0, 1, 2, 3, 3, 2]
    """
    if 0 <= offset < n:
        return offset
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if offset < 0 else n - 1
    if mode == "circular":
        return offset % n
    if mode == "symmetric":  # the mirror sits half a sample outside each edge
        return -offset - 1 if offset < 0 else 2 * n - 1 - offset
    return -offset if offset < 0 else 2 * (n - 1) - offset


def index(size: int, lo: int, hi: int, mode: str) -> NDArray[np.intp]:
    """Which input element each of the ``lo + size + hi`` padded positions copies, as one array.

    ``np.pad`` of ``arange(size)`` with NumPy's name for the mode
    (:data:`FRAMEWORK_NAMES`): an implementation independent of :func:`source`.
    """
    mode_name = FRAMEWORK_NAMES["numpy"][mode]
    return np.pad(np.arange(size), (lo, hi), mode=mode_name)  # type: ignore[call-overload, no-any-return]


def pad(x: NDArray[Any], padding: Padding, mode: str) -> NDArray[Any]:
    """``x`` padded per spatial dim by ``(lo, hi)`` copies of its own elements (a new array): :math:`P x`."""
    for axis, (lo, hi) in enumerate(padding, start=2):
        x = np.take(x, index(x.shape[axis], lo, hi, mode), axis=axis)
    return x


def fold(g: NDArray[Any], x_shape: Shape, padding: Padding, mode: str) -> NDArray[Any]:
    """VJP of :func:`pad`, :math:`P^T g`: each padded position's cotangent added onto the element it copied.

    The transpose of a gather is a scatter-add: per spatial dim, ``out[index[j]] += g[j]``
    (``np.add.at``, so that the several positions copying one element all count).
    """
    for axis in reversed(range(2, len(x_shape))):
        lo, hi = padding[axis - 2]
        folded = np.zeros((*g.shape[:axis], x_shape[axis], *g.shape[axis + 1 :]), g.dtype)
        with np.errstate(**IEEE):
            np.add.at(
                np.moveaxis(folded, axis, 0), index(x_shape[axis], lo, hi, mode), np.moveaxis(g, axis, 0)
            )
        g = folded
    return g


def without_padding(p: ConvParams) -> ConvParams:
    """``p`` with zero padding: the convolution that follows :func:`pad`."""
    return replace(p, padding=((0, 0),) * len(p.padding))


def apply(x: NDArray[Any], p: ConvParams, mode: str) -> tuple[NDArray[Any], ConvParams]:
    """``x`` padded by ``mode`` and ``p`` left with zero padding; both unchanged for ``"zeros"``.

    The convolution with a padding mode is the zero-padded convolution of these.
    """
    if mode == "zeros":
        return x, p
    return pad(x, p.padding, mode), without_padding(p)
