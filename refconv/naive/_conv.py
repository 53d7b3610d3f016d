"""The convolution, its VJPs and the transposed convolution, by accumulation (see :mod:`refconv.naive`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv._spec import ConvOptions, ConvSpec, TransposeOptions, bias_cotangent, conv_spec, transpose_spec
from refconv.geometry import Shape, TransposeParams
from refconv.naive._loops import (
    ALL,
    IEEE,
    Tap,
    _at,
    _bias_sums,
    _blocks,
    _cotangent,
    _output_shape,
    _plus_bias,
    _taps,
)


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
