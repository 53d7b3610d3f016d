r"""The independent road: the convolution and its VJPs as loops straight from the definition.

Nothing here is shared with the fast path but the front door,
:func:`refconv.spec` (argument normalisation and validation), and the
per-position definition of the padding modes
(:func:`refconv.padding_modes.source`). No output-size formula, no VJP
padding, no flipped kernel: each function walks the output positions and kernel taps,
finds the input element each tap reads by following it back through stride,
kernel dilation, padding and input dilation, and accumulates, as the classic
hand derivations of backprop do:

.. math::
    y[n, o, j] \mathrel{+}= x[n, c, i]\, w[o, c, t], \quad
    dx[n, c, i] \mathrel{+}= w[o, c, t]\, dy[n, o, j], \quad
    dw[o, c, t] \mathrel{+}= x[n, c, i]\, dy[n, o, j], \quad
    db[o] \mathrel{+}= dy[n, o, j]

for every output position ``j`` and tap ``t`` whose window element
``s j + d t`` of the padded, dilated input is the input element ``i``.
Slow (a Python loop over positions, taps and groups); use small shapes.
Every function takes the same arguments, keywords and defaults as its
namesake in :mod:`refconv` and returns the same shapes and dtypes.

Examples
--------
>>> import numpy as np, refconv
>>> from refconv import naive
>>> rng = np.random.default_rng(0)
>>> x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2))
>>> keywords = dict(stride=(2, 3), padding=((2, -1), (0, 3)), dilation=(2, 1), groups=2)
>>> y = naive.conv(x, w, **keywords)
>>> y.shape  # (10 - 5) // 2 + 1 = 3 and (11 - 2) // 3 + 1 = 4 windows
(2, 6, 3, 4)
>>> bool(np.allclose(y, refconv.conv(x, w, **keywords), rtol=0, atol=1e-12))  # 12 products each
True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv import padding_modes
from refconv._spec import ConvOptions, ConvSpec, TransposeOptions, bias_cotangent, conv_spec, transpose_spec
from refconv.geometry import ConvParams, Shape, TransposeParams

__all__ = [
    "conv",
    "conv_bias_vjp",
    "conv_input_vjp",
    "conv_output_shape",
    "conv_transpose",
    "conv_transpose_vjp",
    "conv_vjp",
    "conv_weight_vjp",
]

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


def _cotangent(s: ConvSpec, dy: ArrayLike, shape: Shape) -> NDArray[Any]:
    """``dy`` checked against this module's own canonical output ``shape``; canonical, accumulation dtype."""
    expected = s.layout.shape_from_canonical(shape, "out")
    array = norm.as_array(dy, "dy")
    if array.shape != expected:
        raise ValueError(f"dy has shape {array.shape}; expected the output shape {expected}")
    return s.layout.to_canonical(array, "out", "dy").astype(s.accumulate)


def conv_output_shape(x_shape: Shape, w_shape: Shape, **options: Unpack[ConvOptions]) -> tuple[int, ...]:
    """Shape of :func:`conv`'s output, counted from the definition (the windows that fit)."""
    s = conv_spec("conv_output_shape", x_shape, w_shape, [], options)
    return s.layout.shape_from_canonical(_output_shape(s), "out")


def conv(
    x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, **options: Unpack[ConvOptions]
) -> NDArray[Any]:
    """:func:`refconv.conv` from the definition: ``y[n, o, j] = b[o] + sum x[n, c, i] w[o, c, t]``."""
    s, x_c, w_c, b_c = _forward_operands(conv_spec, "conv", x, w, b, options)
    out_spatial, taps = _taps(s.x_shape[2:], s.w_shape[2:], s.params, s.padding_mode)
    y = np.zeros((s.x_shape[0] // s.batch_groups, s.w_shape[0], *out_spatial), s.accumulate)
    with np.errstate(**IEEE):
        for batch, c_in, c_out in _blocks(s.x_shape, s.w_shape, s.params):
            for j, t, i in taps:
                y[_at(ALL, c_out, *j)] += x_c[_at(batch, c_in, *i)] @ w_c[_at(c_out, ALL, *t)].T
    return s.result(_plus_bias(y, b_c), "y")


def _forward_operands(
    door: Any, caller: str, x: ArrayLike, w: ArrayLike, b: ArrayLike | None, options: Any
) -> tuple[ConvSpec, NDArray[Any], NDArray[Any], NDArray[Any] | None]:
    """The spec of a forward function's call through ``door``, and its operands, canonical."""
    x, w = norm.as_array(x, "x"), norm.as_array(w, "w")
    s: ConvSpec = door(caller, x.shape, w.shape, norm.dtypes_of(x=x, w=w, b=b), options)
    return s, s.operand(x, "x", "x"), s.operand(w, "w", "w"), s.bias(b)


def _plus_bias(y: NDArray[Any], b: NDArray[Any] | None) -> NDArray[Any]:
    """``y`` with ``b[o]`` added to every element of output channel ``o`` (nothing for no bias)."""
    with np.errstate(**IEEE):
        return y if b is None else y + b.reshape((1, -1) + (1,) * (y.ndim - 2))


def conv_input_vjp(
    x_shape: Shape, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[ConvOptions]
) -> NDArray[Any]:
    """:func:`refconv.conv_input_vjp` by accumulation: ``dx[n, c, i] += w[o, c, t] dy[n, o, j]``."""
    s, w_c, dy_c, taps = _vjp_problem("conv_input_vjp", "w", w, x_shape, dy, conjugate, options)
    dx = np.zeros(s.x_shape, s.accumulate)  # PyTorch's conjugate=True: dx += conj(dy/dx) dy
    with np.errstate(**IEEE):
        for batch, c_in, c_out in _blocks(s.x_shape, s.w_shape, s.params):
            for j, t, i in taps:
                dx[_at(batch, c_in, *i)] += dy_c[_at(ALL, c_out, *j)] @ w_c[_at(c_out, ALL, *t)]
    return s.result(dx, "x")


def _vjp_problem(
    caller: str, role: str, array: ArrayLike, other: Shape, dy: ArrayLike, conjugate: bool, options: Any
) -> tuple[ConvSpec, NDArray[Any], NDArray[Any], list[Any]]:
    """The spec of a VJP's call (``array`` is its x or w, ``other`` the other's shape), that operand
    canonical (conjugated for PyTorch's convention), the cotangent canonical, and the taps."""
    a, dy, conjugate = (
        norm.as_array(array, role),
        norm.as_array(dy, "dy"),
        norm.as_flag(conjugate, "conjugate"),
    )
    x_shape, w_shape = (a.shape, other) if role == "x" else (other, a.shape)
    s = conv_spec(caller, x_shape, w_shape, [a.dtype, dy.dtype], options)
    a_c, dy_c = s.operand(a, role, role), _cotangent(s, dy, _output_shape(s))
    _, taps = _taps(s.x_shape[2:], s.w_shape[2:], s.params, s.padding_mode)
    return s, np.conj(a_c) if conjugate else a_c, dy_c, taps


def conv_weight_vjp(
    x: ArrayLike, w_shape: Shape, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[ConvOptions]
) -> NDArray[Any]:
    """:func:`refconv.conv_weight_vjp` by accumulation: ``dw[o, c, t] += x[n, c, i] dy[n, o, j]``."""
    s, x_c, dy_c, taps = _vjp_problem("conv_weight_vjp", "x", x, w_shape, dy, conjugate, options)
    dw = np.zeros(s.w_shape, s.accumulate)  # PyTorch's conjugate=True: dw += conj(dy/dw) dy
    with np.errstate(**IEEE):
        for batch, c_in, c_out in _blocks(s.x_shape, s.w_shape, s.params):
            for j, t, i in taps:
                dw[_at(c_out, ALL, *t)] += dy_c[_at(ALL, c_out, *j)].T @ x_c[_at(batch, c_in, *i)]
    return s.result(dw, "w")


def conv_bias_vjp(
    dy: ArrayLike,
    *,
    conjugate: bool = False,
    dimension_numbers: tuple[str, str, str] | None = None,
    preferred_element_type: DTypeLike | None = None,
) -> NDArray[Any]:
    """:func:`refconv.conv_bias_vjp` by accumulation: ``db[o] += dy[n, o, j]`` at every position.

    The bias enters with coefficient 1, so both conventions give the same ``db``.
    """
    norm.as_flag(conjugate, "conjugate")
    dy_c, out = bias_cotangent(dy, dimension_numbers, preferred_element_type)
    return _bias_sums(dy_c).astype(out)


def _bias_sums(dy: NDArray[Any]) -> NDArray[Any]:
    """``db[o] += dy[n, o, j]`` for every batch element and position, one at a time."""
    db = np.zeros(dy.shape[1], dy.dtype)
    with np.errstate(**IEEE):
        for j in itertools.product(*map(range, dy.shape[2:])):
            for n in range(dy.shape[0]):
                db += dy[_at(n, ALL, *j)]
    return db


def conv_vjp(
    x: ArrayLike, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[ConvOptions]
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`refconv.conv_vjp` by accumulation: ``(dx, dw, db)``."""
    x, w, dy = norm.as_array(x, "x"), norm.as_array(w, "w"), norm.as_array(dy, "dy")
    s = conv_spec("conv_vjp", x.shape, w.shape, [x.dtype, w.dtype, dy.dtype], options)
    db = _bias_sums(_cotangent(s, dy, _output_shape(s)))  # dy is checked before the three loops
    return (
        conv_input_vjp(x.shape, w, dy, conjugate=conjugate, **options).astype(s.dtype, copy=False),
        conv_weight_vjp(x, w.shape, dy, conjugate=conjugate, **options).astype(s.dtype, copy=False),
        db.astype(s.dtype),
    )


def _scatter_1d(n: int, k: int, s: int, d: int, lo: int, out: int) -> list[tuple[int, int, int]]:
    """``(i, t, o)`` triples of a transposed convolution: input ``i`` through tap ``t`` lands on ``o``.

    From the definition: ``o = s * i + d * t - lo``, kept when inside ``[0, out)``.
    """
    return [(i, t, s * i + d * t - lo) for i in range(n) for t in range(k) if 0 <= s * i + d * t - lo < out]


def _transpose_taps(x_shape: Shape, w_shape: Shape, t: TransposeParams) -> tuple[Shape, list[Tap]]:
    """Output spatial shape (PyTorch's documented formula) and every ``(i, t, o)`` multi-index triple."""
    out = tuple(
        (n - 1) * s + d * (k - 1) + 1 - lo - hi + o
        for n, k, s, d, (lo, hi), o in zip(
            x_shape[2:], w_shape[2:], t.stride, t.dilation, t.padding, t.output_padding, strict=True
        )
    )
    per_dim = [
        _scatter_1d(n, k, s, d, lo, size)
        for n, k, s, d, (lo, _), size in zip(
            x_shape[2:], w_shape[2:], t.stride, t.dilation, t.padding, out, strict=True
        )
    ]
    taps = [
        (tuple(i for i, _, _ in combo), tuple(k for _, k, _ in combo), tuple(o for _, _, o in combo))
        for combo in itertools.product(*per_dim)
    ]
    return out, taps


def _transpose_blocks(x_shape: Shape, w_shape: Shape, groups: int) -> Iterator[tuple[slice, slice]]:
    """``(input channels, output channels)`` slices of each group of a transposed convolution."""
    ci, co = x_shape[1] // groups, w_shape[1]
    for g in range(groups):
        yield slice(g * ci, (g + 1) * ci), slice(g * co, (g + 1) * co)


def conv_transpose(
    x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, **options: Unpack[TransposeOptions]
) -> NDArray[Any]:
    """:func:`refconv.conv_transpose` by scattering: ``y[n, o, s i + d t - lo] += x[n, c, i] w[c, o, t]``."""
    s, x_c, w_c, b_c = _forward_operands(transpose_spec, "conv_transpose", x, w, b, options)
    out, taps = _transpose_taps(s.x_shape, s.w_shape, s.transpose)
    y = np.zeros((s.x_shape[0], s.w_shape[1] * s.groups, *out), s.accumulate)
    with np.errstate(**IEEE):
        for c_in, c_out in _transpose_blocks(s.x_shape, s.w_shape, s.groups):
            for i, k, o in taps:
                y[_at(ALL, c_out, *o)] += x_c[_at(ALL, c_in, *i)] @ w_c[_at(c_in, ALL, *k)]
    return s.result(_plus_bias(y, b_c), "y")


def conv_transpose_vjp(
    x: ArrayLike, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **options: Unpack[TransposeOptions]
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`refconv.conv_transpose_vjp` by accumulation over the same scatter triples."""
    x, w, dy = norm.as_array(x, "x"), norm.as_array(w, "w"), norm.as_array(dy, "dy")
    conjugate = norm.as_flag(conjugate, "conjugate")
    s = transpose_spec("conv_transpose_vjp", x.shape, w.shape, [x.dtype, w.dtype, dy.dtype], options)
    out, taps = _transpose_taps(s.x_shape, s.w_shape, s.transpose)
    dy_c = _cotangent(s, dy, (s.x_shape[0], s.w_shape[1] * s.groups, *out))
    x_c, w_c = s.operand(x, "x", "x"), s.operand(w, "w", "w")
    dx, dw = np.zeros(s.x_shape, s.accumulate), np.zeros(s.w_shape, s.accumulate)
    w_partner = np.conj(w_c) if conjugate else w_c  # PyTorch: accumulate against conj(partner)
    x_partner = np.conj(x_c) if conjugate else x_c
    with np.errstate(**IEEE):
        for c_in, c_out in _transpose_blocks(s.x_shape, s.w_shape, s.groups):
            for i, k, o in taps:
                dx[_at(ALL, c_in, *i)] += dy_c[_at(ALL, c_out, *o)] @ w_partner[_at(c_in, ALL, *k)].T
                dw[_at(c_in, ALL, *k)] += x_partner[_at(ALL, c_in, *i)].T @ dy_c[_at(ALL, c_out, *o)]
    return s.result(dx, "x"), s.result(dw, "w"), s.result(_bias_sums(dy_c), "b")
