r"""The independent road: the convolution and its VJPs as loops straight from the definition.

Nothing here is shared with the fast path but argument normalisation
(``refconv._normalize``). No output-size formula, no VJP padding, no
flipped kernel: each function walks the output positions and kernel taps,
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
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv._layout import Layout, layout
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
ALL = slice(None)


def _at(*parts: int | slice) -> tuple[int | slice, ...]:
    """A basic (non-fancy) index from ints and slices."""
    return parts


def _source(offset: int, n: int, mode: str) -> int | None:
    """The input element a padded position ``offset`` (``-lo`` .. ``n - 1 + hi``) holds, if any.

    From PyTorch's definitions: zeros hold nothing; replicate repeats the nearest
    edge; circular wraps around; reflect mirrors at the edges without repeating them.
    """
    if 0 <= offset < n:
        return offset
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if offset < 0 else n - 1
    if mode == "circular":
        return offset % n
    return -offset if offset < 0 else 2 * (n - 1) - offset


def _taps_1d(
    n: int, k: int, s: int, d: int, dil: int, lo: int, hi: int, mode: str = "zeros"
) -> tuple[int, list[tuple[int, int, int]]]:
    """Output count and the ``(j, t, i)`` triples of one spatial dim, found by walking the windows.

    Input element ``i`` sits at ``lo + dil * i`` of the padded, dilated input,
    which spans ``[0, lo + dil * (n - 1) + 1 + hi)``. Window ``j`` reads
    ``s * j + d * t`` for taps ``t < k``, and exists while its last tap is inside.
    A padded position holds zero, or with a padding mode (``dil == 1``) a copy of ``_source``.
    """
    end = lo + dil * (n - 1) + 1 + hi
    triples = []
    j = 0
    while s * j + d * (k - 1) < end:
        for t in range(k):
            offset = s * j + d * t - lo
            if offset % dil:
                continue
            i = _source(offset // dil, n, mode)
            if i is not None:
                triples.append((j, t, i))
        j += 1
    return j, triples


def _taps(x_spatial: Shape, w_spatial: Shape, p: ConvParams, mode: str = "zeros") -> tuple[Shape, list[Tap]]:
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


def _output_shape(x_shape: Shape, w_shape: Shape, p: ConvParams) -> Shape:
    out_spatial, _ = _taps(x_shape[2:], w_shape[2:], p)
    return (x_shape[0] // p.batch_groups, w_shape[0], *out_spatial)


def _params(x_shape: Shape, w_shape: Shape, keywords: dict[str, Any]) -> tuple[ConvParams, str]:
    keywords = dict(keywords)
    mode = keywords.pop("padding_mode", "zeros")
    p = norm.checked_params(x_shape, w_shape, **keywords)
    return p, norm.checked_padding_mode(mode, x_shape, p)


def _layout(keywords: dict[str, Any], ndim: int, kernel_pair: str = "OI") -> tuple[Layout, dict[str, Any]]:
    """The layout of ``dimension_numbers`` (shared normalisation) and the remaining keywords."""
    rest = dict(keywords)
    rest.pop("preferred_element_type", None)
    return layout(rest.pop("dimension_numbers", None), ndim, kernel_pair), rest


def _cast(keywords: dict[str, Any], *arrays: NDArray[Any]) -> tuple[np.dtype[Any], list[NDArray[Any]]]:
    """Output dtype and ``arrays`` in the accumulation dtype (shared normalisation's policy)."""
    acc, out = norm.dtypes(*arrays, preferred=keywords.get("preferred_element_type"))
    return out, [a.astype(acc) for a in arrays]


def _cotangent(dy: ArrayLike, x_shape: Shape, w_shape: Shape, p: ConvParams) -> NDArray[Any]:
    dy_arr = norm.as_array(dy, "dy")
    norm.check_cotangent(dy_arr, _output_shape(x_shape, w_shape, p))
    return dy_arr


def conv_output_shape(x_shape: Shape, w_shape: Shape, **keywords: Any) -> tuple[int, ...]:
    """Shape of :func:`conv`'s output, counted by walking the windows."""
    xs, ws = norm.as_shape(x_shape, "x_shape"), norm.as_shape(w_shape, "w_shape")
    lay, keywords = _layout(keywords, len(xs) - 2)
    xs, ws = lay.shape_to_canonical(xs, "lhs", "x_shape"), lay.shape_to_canonical(ws, "rhs", "w_shape")
    return lay.shape_from_canonical(_output_shape(xs, ws, _params(xs, ws, keywords)[0]), "out")


def conv(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, **keywords: Any) -> NDArray[Any]:
    """:func:`refconv.conv` from the definition: ``y[n, o, j] = b[o] + sum x[n, c, i] w[o, c, t]``."""
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    options = keywords
    lay, keywords = _layout(keywords, x_arr.ndim - 2)
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    p, mode = _params(x_arr.shape, w_arr.shape, keywords)
    arrays = [x_arr, w_arr]
    if b is not None:
        b_arr = norm.as_array(b, "b")
        norm.check_bias(b_arr, w_arr.shape[0])
        arrays.append(b_arr)
    out, arrays = _cast(options, *arrays)
    x_arr, w_arr = arrays[:2]
    out_spatial, taps = _taps(x_arr.shape[2:], w_arr.shape[2:], p, mode)
    y = np.zeros((x_arr.shape[0] // p.batch_groups, w_arr.shape[0], *out_spatial), x_arr.dtype)
    for batch, c_in, c_out in _blocks(x_arr.shape, w_arr.shape, p):
        for j, t, i in taps:
            y[_at(ALL, c_out, *j)] += x_arr[_at(batch, c_in, *i)] @ w_arr[_at(c_out, ALL, *t)].T
    if b is not None:
        y += arrays[2].reshape((1, -1) + (1,) * len(out_spatial))
    return lay.from_canonical(y, "out").astype(out)


def conv_input_vjp(
    x_shape: Shape, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **keywords: Any
) -> NDArray[Any]:
    """:func:`refconv.conv_input_vjp` by accumulation: ``dx[n, c, i] += w[o, c, t] dy[n, o, j]``."""
    xs, w_arr = norm.as_shape(x_shape, "x_shape"), norm.as_array(w, "w")
    options = keywords
    lay, keywords = _layout(keywords, len(xs) - 2)
    xs, w_arr = lay.shape_to_canonical(xs, "lhs", "x_shape"), lay.to_canonical(w_arr, "rhs", "w")
    dy = lay.to_canonical(norm.as_array(dy, "dy"), "out", "dy")
    p, mode = _params(xs, w_arr.shape, keywords)
    dy_arr = _cotangent(dy, xs, w_arr.shape, p)
    out, (w_arr, dy_arr) = _cast(options, w_arr, dy_arr)
    dx = np.zeros(xs, w_arr.dtype)
    w_arr = np.conj(w_arr) if conjugate else w_arr  # PyTorch: dx += conj(dy/dx) dy
    _, taps = _taps(xs[2:], w_arr.shape[2:], p, mode)
    for batch, c_in, c_out in _blocks(xs, w_arr.shape, p):
        for j, t, i in taps:
            dx[_at(batch, c_in, *i)] += dy_arr[_at(ALL, c_out, *j)] @ w_arr[_at(c_out, ALL, *t)]
    return lay.from_canonical(dx, "lhs").astype(out)


def conv_weight_vjp(
    x: ArrayLike, w_shape: Shape, dy: ArrayLike, *, conjugate: bool = False, **keywords: Any
) -> NDArray[Any]:
    """:func:`refconv.conv_weight_vjp` by accumulation: ``dw[o, c, t] += x[n, c, i] dy[n, o, j]``."""
    x_arr, ws = norm.as_array(x, "x"), norm.as_shape(w_shape, "w_shape")
    options = keywords
    lay, keywords = _layout(keywords, x_arr.ndim - 2)
    x_arr, ws = lay.to_canonical(x_arr, "lhs", "x"), lay.shape_to_canonical(ws, "rhs", "w_shape")
    dy = lay.to_canonical(norm.as_array(dy, "dy"), "out", "dy")
    p, mode = _params(x_arr.shape, ws, keywords)
    dy_arr = _cotangent(dy, x_arr.shape, ws, p)
    out, (x_arr, dy_arr) = _cast(options, x_arr, dy_arr)
    dw = np.zeros(ws, x_arr.dtype)
    x_arr = np.conj(x_arr) if conjugate else x_arr  # PyTorch: dw += conj(dy/dw) dy
    _, taps = _taps(x_arr.shape[2:], ws[2:], p, mode)
    for batch, c_in, c_out in _blocks(x_arr.shape, ws, p):
        for j, t, i in taps:
            dw[_at(c_out, ALL, *t)] += dy_arr[_at(ALL, c_out, *j)].T @ x_arr[_at(batch, c_in, *i)]
    return lay.from_canonical(dw, "rhs").astype(out)


def conv_bias_vjp(
    dy: ArrayLike,
    *,
    conjugate: bool = False,
    dimension_numbers: Any = None,
    preferred_element_type: Any = None,
) -> NDArray[Any]:
    """:func:`refconv.conv_bias_vjp` by accumulation: ``db[o] += dy[n, o, j]`` at every position.

    The bias enters with coefficient 1, so both conventions give the same ``db``.
    """
    dy_arr = norm.as_array(dy, "dy")
    norm.spatial_ndim(dy_arr.shape, "dy")
    dy_arr = layout(dimension_numbers, dy_arr.ndim - 2).to_canonical(dy_arr, "out", "dy")
    out, (dy_arr,) = _cast(dict(preferred_element_type=preferred_element_type), dy_arr)
    db = np.zeros(dy_arr.shape[1], dy_arr.dtype)
    for j in itertools.product(*map(range, dy_arr.shape[2:])):
        for n in range(dy_arr.shape[0]):
            db += dy_arr[_at(n, ALL, *j)]
    return db.astype(out)


def conv_vjp(
    x: ArrayLike, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **keywords: Any
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`refconv.conv_vjp` by accumulation: ``(dx, dw, db)``."""
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    preferred = keywords.get("preferred_element_type")
    _, dtype = norm.dtypes(x_arr, w_arr, norm.as_array(dy, "dy"), preferred=preferred)
    return (
        conv_input_vjp(x_arr.shape, w_arr, dy, conjugate=conjugate, **keywords).astype(dtype, copy=False),
        conv_weight_vjp(x_arr, w_arr.shape, dy, conjugate=conjugate, **keywords).astype(dtype, copy=False),
        conv_bias_vjp(
            dy, dimension_numbers=keywords.get("dimension_numbers"), preferred_element_type=preferred
        ).astype(dtype, copy=False),
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


def conv_transpose(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, **keywords: Any) -> NDArray[Any]:
    """:func:`refconv.conv_transpose` by scattering: ``y[n, o, s i + d t - lo] += x[n, c, i] w[c, o, t]``."""
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    options = keywords
    lay, keywords = _layout(keywords, x_arr.ndim - 2, kernel_pair="IO")
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    t = norm.checked_transpose_params(x_arr.shape, w_arr.shape, **keywords)
    arrays = [x_arr, w_arr]
    if b is not None:
        arrays.append(norm.as_array(b, "b"))
        norm.check_bias(arrays[2], w_arr.shape[1] * t.groups)
    out_dtype, arrays = _cast(options, *arrays)
    x_arr, w_arr = arrays[:2]
    out, taps = _transpose_taps(x_arr.shape, w_arr.shape, t)
    y = np.zeros((x_arr.shape[0], w_arr.shape[1] * t.groups, *out), x_arr.dtype)
    for c_in, c_out in _transpose_blocks(x_arr.shape, w_arr.shape, t.groups):
        for i, k, o in taps:
            y[_at(ALL, c_out, *o)] += x_arr[_at(ALL, c_in, *i)] @ w_arr[_at(c_in, ALL, *k)]
    if b is not None:
        y += arrays[2].reshape((1, -1) + (1,) * len(out))
    return lay.from_canonical(y, "out").astype(out_dtype)


def conv_transpose_vjp(
    x: ArrayLike, w: ArrayLike, dy: ArrayLike, *, conjugate: bool = False, **keywords: Any
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`refconv.conv_transpose_vjp` by accumulation over the same scatter triples."""
    x_arr, w_arr = norm.as_array(x, "x"), norm.as_array(w, "w")
    options = keywords
    lay, keywords = _layout(keywords, x_arr.ndim - 2, kernel_pair="IO")
    x_arr, w_arr = lay.to_canonical(x_arr, "lhs", "x"), lay.to_canonical(w_arr, "rhs", "w")
    t = norm.checked_transpose_params(x_arr.shape, w_arr.shape, **keywords)
    out, taps = _transpose_taps(x_arr.shape, w_arr.shape, t)
    dy_arr = lay.to_canonical(norm.as_array(dy, "dy"), "out", "dy")
    norm.check_cotangent(dy_arr, (x_arr.shape[0], w_arr.shape[1] * t.groups, *out))
    out_dtype, (x_arr, w_arr, dy_arr) = _cast(options, x_arr, w_arr, dy_arr)
    dx, dw = np.zeros(x_arr.shape, x_arr.dtype), np.zeros(w_arr.shape, x_arr.dtype)
    w_partner = np.conj(w_arr) if conjugate else w_arr  # PyTorch: accumulate against conj(partner)
    x_partner = np.conj(x_arr) if conjugate else x_arr
    for c_in, c_out in _transpose_blocks(x_arr.shape, w_arr.shape, t.groups):
        for i, k, o in taps:
            dx[_at(ALL, c_in, *i)] += dy_arr[_at(ALL, c_out, *o)] @ w_partner[_at(c_in, ALL, *k)].T
            dw[_at(c_in, ALL, *k)] += x_partner[_at(ALL, c_in, *i)].T @ dy_arr[_at(ALL, c_out, *o)]
    db = conv_bias_vjp(dy_arr).astype(out_dtype)
    return (
        lay.from_canonical(dx, "lhs").astype(out_dtype),
        lay.from_canonical(dw, "rhs").astype(out_dtype),
        db,
    )
