"""MLX: ``mx.conv_general`` and the ``mx.conv_transpose*d`` functions, with ``mx.vjp`` (Linux CPU build).

MLX is channels-last: inputs ``(N, *spatial, C)``, weights ``(C_out, *k, C_in // groups)`` (a
transposed weight is rearranged to that from PyTorch's ``(C_in, C_out // groups, *k)``); other
layouts are transposed in and out. ``conv_general`` takes everything refconv's general convolution
has but batch groups: stride, kernel and input dilation, padding as ``([lo...], [hi...])``
(negative values crop), groups. A transposed convolution with ``lo == hi`` per dim goes through
``mx.conv_transpose{1,2,3}d`` (MLX's own API, PyTorch's semantics); with ``lo != hi``, through
``conv_general(flip=True, input_dilation=stride)``, which those functions are built on.
``mx.pad`` has reflect and edge (replicate) modes; circular is unsupported. MLX states its own
limits: 1 to 3 spatial dims, groups only in 1-d and 2-d. float64 arrays are built as float64
(``mx.array(a, dtype=mx.float64)``): MLX would silently make them float32.
"""

from __future__ import annotations

import numpy as np

from refconv._spec import ConvSpec
from refconv.backends.base import FLOATS, Backend, Program, Unsupported, cpu_only, require

MLX_MODES = {"reflect": "reflect", "replicate": "edge"}


def _check(s: ConvSpec) -> None:
    require(s, "MLX", max_ndim=3, input_dilation=True, padding_modes=("reflect", "replicate"))  # mx.pad
    if s.groups > 1 and s.ndim == 3:
        raise Unsupported("MLX has groups in 1-d and 2-d convolutions only")


def _perms(s: ConvSpec) -> tuple[list[int], list[int], list[int]]:
    """Given x to ``(N, *spatial, C)``; given w to MLX's weight; MLX's y to the given layout."""
    nd = s.ndim
    last = [0, *range(2, nd + 2), 1]
    x_perm = last if s.layout.lhs is None else [s.layout.lhs[i] for i in last]
    w_canonical = list(s.layout.rhs) if s.layout.rhs is not None else list(range(nd + 2))
    w_perm = [w_canonical[i] for i in last]  # (O, I, *k) -> (O, *k, I); transposed handled in forward
    back = [0, nd + 1, *range(1, nd + 1)]
    y_perm = back if s.layout.out is None else [back[i] for i in np.argsort(s.layout.out)]
    return x_perm, w_perm, y_perm


def _forward(s: ConvSpec) -> str:
    _check(s)
    x_perm, w_perm, y_perm = _perms(s)
    lo, hi = [p[0] for p in s.padding], [p[1] for p in s.padding]
    lines = ["def forward(x, w, b):", f"    x = mx.transpose(x, {x_perm})  # to (N, *spatial, C)"]
    if s.transposed:
        c_in, o_group, *kernel = s.w_shape
        g = s.groups
        canonical = [0, 1, *range(2, s.ndim + 2)] if s.layout.rhs is None else list(s.layout.rhs)
        lines += [
            f"    w = mx.transpose(w, {canonical})  # to (C_in, C_out // groups, *k)",
            f"    w = mx.reshape(w, {[g, c_in // g, o_group, *kernel]})",
            f"    w = mx.reshape(mx.moveaxis(w, 1, -1), {[g * o_group, *kernel, c_in // g]})",
        ]
        if lo == hi:
            symmetric = lo[0] if s.ndim == 1 else lo
            arguments = (f"stride={list(s.stride) if s.ndim > 1 else s.stride[0]}, padding={symmetric}, "
                         f"dilation={list(s.dilation) if s.ndim > 1 else s.dilation[0]}, "
                         f"output_padding={list(s.output_padding) if s.ndim > 1 else s.output_padding[0]}, "
                         f"groups={g}")  # fmt: skip
            lines.append(f"    y = mx.conv_transpose{s.ndim}d(x, w, {arguments})")
        else:
            front = [d * (k - 1) - p for d, k, p in zip(s.dilation, kernel, lo, strict=True)]
            back = [
                d * (k - 1) - p + o
                for d, k, p, o in zip(s.dilation, kernel, hi, s.output_padding, strict=True)
            ]
            lines.append(
                f"    y = mx.conv_general(x, w, stride=1, padding=({front}, {back}), "
                f"kernel_dilation={list(s.dilation)}, input_dilation={list(s.stride)}, groups={g}, flip=True)"
            )
    else:
        lines.append(f"    w = mx.transpose(w, {w_perm})  # to (C_out, *k, C_in // groups)")
        if s.padding_mode != "zeros":
            widths = [(0, 0), *s.padding, (0, 0)]
            lines.append(f"    x = mx.pad(x, {widths}, mode={MLX_MODES[s.padding_mode]!r})")
            lo = hi = [0] * s.ndim
        lines.append(
            f"    y = mx.conv_general(x, w, stride={list(s.stride)}, padding=({lo}, {hi}), "
            f"kernel_dilation={list(s.dilation)}, input_dilation={list(s.input_dilation)}, groups={s.groups})"
        )
    lines += ["    y = y + b", f"    return mx.transpose(y, {y_perm})  # back to the given layout"]
    return "\n".join(lines)


def program(s: ConvSpec, device: str = "cpu") -> Program:
    """``mx.vjp`` of the convolution (or the transposed one) on MLX's CPU device."""
    cpu_only(device, "the mlx backend runs on MLX's CPU device (the Linux build has no GPU)")
    setup = f"""
import mlx.core as mx

{_forward(s)}
"""
    run = f"""
b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
def array(a):  # an explicit dtype: MLX would make a float64 array float32
    if a.dtype.name == "bfloat16":
        return mx.array(a.astype(np.float32), dtype=mx.bfloat16)
    return mx.array(a, dtype=getattr(mx, a.dtype.name))
(y,), (dx, dw, db) = mx.vjp(forward, [array(a) for a in (x, w, b)], [array(dy)])
mx.eval(y, dx, dw, db)
got = {{name: np.array(t.astype(mx.float32)).astype(a.dtype) if a.dtype.name == "bfloat16" else np.array(t)
       for name, t, a in zip(("y", "dx", "dw", "db"), (y, dx, dw, db), (dy, x, w, b))}}
"""
    return Program(setup, run)


BACKEND = Backend("mlx", ("mlx",), FLOATS, True, program, extra="mlx")
