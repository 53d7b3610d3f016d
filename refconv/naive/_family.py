"""The convolution's family by accumulation: patches, fold, the locally connected and the deformable
convolution (see :mod:`refconv.naive`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv._familyspec import (
    DeformOptions,
    LocalOptions,
    PatchesOptions,
    deform_spec,
    local_spec,
    patches_spec,
)
from refconv._spec import ConvSpec
from refconv.geometry import Shape
from refconv.naive._loops import ALL, IEEE, _at, _bias_sums, _cotangent, _plus_bias, _taps


def _patch_taps(s: ConvSpec, filter_shape: Sequence[int]) -> tuple[Shape, list[tuple[Shape, slice, Shape]]]:
    """The output shape and ``(j, channels, i)``: window ``j`` copies input position ``i`` into the
    patch channels ``c K + t`` of every input channel ``c``, ``t`` the tap's row-major number."""
    kernel = tuple(filter_shape)
    k = math.prod(kernel)
    out_spatial, taps = _taps(s.x_shape[2:], kernel, s.params, s.padding_mode)
    return out_spatial, [(j, slice(int(np.ravel_multi_index(t, kernel)), None, k), i) for j, t, i in taps]


def conv_patches(
    x: ArrayLike, filter_shape: Sequence[int], **options: Unpack[PatchesOptions]
) -> NDArray[Any]:
    """:func:`refconv.conv_patches` from the definition: ``p[n, c K + t, j] = x[n, c, i]`` for each read."""
    x = norm.as_array(x, "x")
    s = patches_spec("conv_patches", x.shape, filter_shape, [x.dtype], options)
    x_c = s.operand(x, "x", "x")
    out_spatial, taps = _patch_taps(s, filter_shape)
    p = np.zeros((s.x_shape[0], s.x_shape[1] * math.prod(filter_shape), *out_spatial), s.accumulate)
    for j, channels, i in taps:
        p[_at(ALL, channels, *j)] = x_c[_at(ALL, ALL, *i)]
    return s.result(p, "y")


def fold(
    patches: ArrayLike, x_shape: Sequence[int], filter_shape: Sequence[int], **options: Unpack[PatchesOptions]
) -> NDArray[Any]:
    """:func:`refconv.fold` by accumulation: ``dx[n, c, i] += g[n, c K + t, j]`` for each read."""
    g = norm.as_array(patches, "patches")
    s = patches_spec("fold", x_shape, filter_shape, [g.dtype], options)
    out_spatial, taps = _patch_taps(s, filter_shape)
    g_c = _cotangent(s, g, (s.x_shape[0], s.x_shape[1] * math.prod(filter_shape), *out_spatial), "patches")
    dx = np.zeros(s.x_shape, s.accumulate)
    with np.errstate(**IEEE):
        for j, channels, i in taps:
            dx[_at(ALL, ALL, *i)] += g_c[_at(ALL, channels, *j)]
    return s.result(dx, "x")


def _local_operands(
    caller: str, x: ArrayLike, w: ArrayLike, filter_shape: Sequence[int], other: list[Any], options: Any
) -> tuple[ConvSpec, NDArray[Any], NDArray[Any], Shape, list[tuple[Shape, slice, Shape]]]:
    x, w = norm.as_array(x, "x"), norm.as_array(w, "w")
    s = local_spec(caller, x.shape, w.shape, filter_shape, [x.dtype, w.dtype, *other], options)
    out_spatial, taps = _patch_taps(s, filter_shape)
    return (
        s,
        s.operand(x, "x", "x"),
        s.layout.to_canonical(w, "rhs", "w").astype(s.accumulate),
        out_spatial,
        taps,
    )


def conv_local(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    *,
    filter_shape: Sequence[int],
    **options: Unpack[LocalOptions],
) -> NDArray[Any]:
    """:func:`refconv.conv_local` from the definition: ``y[n, o, j] += x[n, c, i] w[o, c K + t, j]``."""
    dtypes = [] if b is None else [norm.as_array(b, "b").dtype]
    s, x_c, w_c, out_spatial, taps = _local_operands("conv_local", x, w, filter_shape, dtypes, options)
    y = np.zeros((s.x_shape[0], w_c.shape[0], *out_spatial), s.accumulate)
    with np.errstate(**IEEE):
        for j, channels, i in taps:
            y[_at(ALL, ALL, *j)] += x_c[_at(ALL, ALL, *i)] @ w_c[_at(ALL, channels, *j)].T
    if b is not None and norm.as_array(b, "b").shape != (w_c.shape[0],):
        raise ValueError(
            f"b has shape {norm.as_array(b, 'b').shape}; expected ({w_c.shape[0]},), one per output channel"
        )
    return s.result(y if b is None else _plus_bias(y, norm.as_array(b, "b").astype(s.accumulate)), "y")


def conv_local_vjp(
    x: ArrayLike,
    w: ArrayLike,
    dy: ArrayLike,
    *,
    filter_shape: Sequence[int],
    conjugate: bool = False,
    **options: Unpack[LocalOptions],
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`refconv.conv_local_vjp` by accumulation: ``dx[n, c, i] += dy[n, o, j] w[o, c K + t, j]``,
    ``dw[o, c K + t, j] += dy[n, o, j] x[n, c, i]``, ``db[o] += dy[n, o, j]``."""
    dy_a = norm.as_array(dy, "dy")
    s, x_c, w_c, out_spatial, taps = _local_operands(
        "conv_local_vjp", x, w, filter_shape, [dy_a.dtype], options
    )
    flip = norm.as_flag(conjugate, "conjugate") and s.accumulate.kind == "c"
    dy_c = _cotangent(s, dy_a, (s.x_shape[0], w_c.shape[0], *out_spatial))
    dy_c = np.conj(dy_c) if flip else dy_c
    dx, dw = np.zeros(s.x_shape, s.accumulate), np.zeros(w_c.shape, s.accumulate)
    with np.errstate(**IEEE):
        for j, channels, i in taps:
            dx[_at(ALL, ALL, *i)] += dy_c[_at(ALL, ALL, *j)] @ w_c[_at(ALL, channels, *j)]
            dw[_at(ALL, channels, *j)] += dy_c[_at(ALL, ALL, *j)].T @ x_c[_at(ALL, ALL, *i)]
    grads = [np.conj(g) if flip else g for g in (dx, dw, _bias_sums(dy_c))]
    return s.result(grads[0], "x"), s.result(grads[1], "w"), s.result(grads[2], "b")


def _corners(x: NDArray[Any], q: list[float]) -> list[tuple[tuple[int, ...], float, list[float]]]:
    """The neighbours of the point ``q`` that are elements of ``x`` (spatial), each with its weight and
    the weight's derivative in each coordinate: ``prod(1 - f or f)``, ``f = q - floor(q)``."""
    low = [math.floor(v) for v in q]
    frac = [v - lo for v, lo in zip(q, low, strict=True)]
    found = []
    for bits in itertools.product((0, 1), repeat=len(q)):
        index = tuple(lo + b for lo, b in zip(low, bits, strict=True))
        if all(0 <= i < n for i, n in zip(index, x.shape, strict=True)):
            factors = [f if b else 1 - f for f, b in zip(frac, bits, strict=True)]
            slopes = [
                (1 if b else -1) * math.prod(factors[:e] + factors[e + 1 :]) for e, b in enumerate(bits)
            ]
            found.append((index, math.prod(factors), slopes))
    return found


def _deform_loops(
    caller: str,
    x: ArrayLike,
    w: ArrayLike,
    offset: ArrayLike,
    dy: ArrayLike | None,
    mask: ArrayLike | None,
    options: Any,
    b: ArrayLike | None = None,
) -> tuple[ConvSpec, dict[str, NDArray[Any]], dict[str, NDArray[Any]]]:
    """Every term of the deformable convolution and of its VJPs, added one by one: the results, and the
    sums of the terms' absolute values (for round-off bounds). ``b`` counts in the dtypes only."""
    x_a, w_a, off_a = norm.as_array(x, "x"), norm.as_array(w, "w"), norm.as_array(offset, "offset")
    m_a = None if mask is None else norm.as_array(mask, "mask")
    optional = [(m_a, "mask"), (dy, "dy"), (b, "b")]
    dtypes = [
        x_a.dtype,
        w_a.dtype,
        off_a.dtype,
        *(norm.as_array(a, name).dtype for a, name in optional if a is not None),
    ]
    s, groups = deform_spec(
        caller, x_a.shape, w_a.shape, off_a.shape, None if m_a is None else m_a.shape, dtypes, options
    )
    n, c, o, kernel, out, nd = s.x_shape[0], s.x_shape[1], s.w_shape[0], s.w_shape[2:], s.y_shape[2:], s.ndim
    taps, per_group, o_group = math.prod(kernel), c // groups, o // s.groups
    xc, wc, off = (a.astype(s.accumulate) for a in (x_a, w_a, off_a))
    mc = np.ones((n, groups * taps, *out), s.accumulate) if m_a is None else m_a.astype(s.accumulate)
    dyc = np.zeros(s.y_shape, s.accumulate) if dy is None else _cotangent(s, dy, s.y_shape)
    got = {
        "y": np.zeros(s.y_shape, s.accumulate),
        "dx": np.zeros(xc.shape, s.accumulate),
        "dw": np.zeros(wc.shape, s.accumulate),
        "doffset": np.zeros(off.shape, s.accumulate),
        "dmask": np.zeros(mc.shape, s.accumulate),
    }
    sums = {name: np.zeros(a.shape, np.float64) for name, a in got.items()}
    with np.errstate(**IEEE):
        for b, j, t, ci in itertools.product(range(n), np.ndindex(*out), np.ndindex(*kernel), range(c)):
            g, k, outs = (
                ci // per_group,
                int(np.ravel_multi_index(t, kernel)),
                slice(ci // (c // s.groups) * o_group, (ci // (c // s.groups) + 1) * o_group),
            )
            row = (g * taps + k) * nd
            q = [
                st * j[e] + d * t[e] - lo + off[_at(b, row + e, *j)]
                for e, (st, d, (lo, _)) in enumerate(zip(s.stride, s.dilation, s.padding, strict=True))
            ]
            found = _corners(xc[b, ci], q)
            value = sum((weight * xc[_at(b, ci, *i)] for i, weight, _ in found), 0.0)
            size = sum((weight * abs(xc[_at(b, ci, *i)]) for i, weight, _ in found), 0.0)
            mask_at, kernel_at, dy_at = (
                mc[_at(b, g * taps + k, *j)],
                wc[_at(outs, ci % (c // s.groups), *t)],
                dyc[_at(b, outs, *j)],
            )
            got["y"][_at(b, outs, *j)] += kernel_at * mask_at * value
            sums["y"][_at(b, outs, *j)] += np.abs(kernel_at * mask_at) * size
            a, a_size = np.sum(kernel_at * dy_at), np.sum(np.abs(kernel_at * dy_at))
            got["dw"][_at(outs, ci % (c // s.groups), *t)] += dy_at * mask_at * value
            sums["dw"][_at(outs, ci % (c // s.groups), *t)] += np.abs(dy_at * mask_at) * size
            got["dmask"][_at(b, g * taps + k, *j)] += a * value
            sums["dmask"][_at(b, g * taps + k, *j)] += a_size * size
            for i, weight, slopes in found:
                got["dx"][_at(b, ci, *i)] += a * mask_at * weight
                sums["dx"][_at(b, ci, *i)] += a_size * abs(mask_at) * weight
                for e, slope in enumerate(slopes):
                    got["doffset"][_at(b, row + e, *j)] += a * mask_at * slope * xc[_at(b, ci, *i)]
                    sums["doffset"][_at(b, row + e, *j)] += a_size * abs(mask_at * slope * xc[_at(b, ci, *i)])
    return s, got, sums


def deform_conv(
    x: ArrayLike,
    w: ArrayLike,
    offset: ArrayLike,
    b: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    **options: Unpack[DeformOptions],
) -> NDArray[Any]:
    """:func:`refconv.deform_conv` from the definition: ``y[n, o, j] += w[o, c, t] m V(p + offset)``, each
    sample the sum of its in-bounds corners."""
    s, got, _ = _deform_loops("deform_conv", x, w, offset, None, mask, options, b)
    bias = None if b is None else norm.as_array(b, "b")
    if bias is not None and bias.shape != (s.y_shape[1],):
        raise ValueError(f"b has shape {bias.shape}; expected ({s.y_shape[1]},), one per output channel")
    return s.result(_plus_bias(got["y"], None if bias is None else bias.astype(s.accumulate)), "y")


def deform_conv_vjp(
    x: ArrayLike,
    w: ArrayLike,
    offset: ArrayLike,
    dy: ArrayLike,
    mask: ArrayLike | None = None,
    **options: Unpack[DeformOptions],
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`refconv.deform_conv_vjp` by accumulation: each term's share added to ``dx``, ``dw``,
    ``db``, ``doffset`` (the corner weights' slopes) and ``dmask``."""
    s, got, _ = _deform_loops("deform_conv_vjp", x, w, offset, dy, mask, options)
    db = _bias_sums(_cotangent(s, dy, s.y_shape))
    return (
        s.result(got["dx"], "x"),
        s.result(got["dw"], "w"),
        s.result(db, "b"),
        s.result(got["doffset"], "b"),
        s.result(got["dmask"], "b"),
    )


def deform_conv_sums(
    x: ArrayLike,
    w: ArrayLike,
    offset: ArrayLike,
    dy: ArrayLike,
    mask: ArrayLike | None = None,
    **options: Unpack[DeformOptions],
) -> dict[str, NDArray[Any]]:
    """The sum of the absolute values of the terms each element of ``y``, ``dx``, ``dw``, ``doffset``
    and ``dmask`` adds (without the bias): the :math:`S` of its round-off bound
    (:func:`refconv.testing.rounding_bound`)."""
    return _deform_loops("deform_conv_sums", x, w, offset, dy, mask, options)[2]
