"""tinygrad: ``Tensor.conv2d`` and ``Tensor.conv_transpose2d`` (any number of spatial dims) and ``gradient``.

Both take refconv's (and PyTorch's) layouts and weight shapes directly; padding is a flat tuple
in ``F.pad`` order (the last dim first), negative values crop; a padding mode is
``Tensor.pad(mode=...)`` first. tinygrad has no input dilation and no batch groups, and no
layout other than ``NC...`` (others are transposed in and out). It runs on the device named by
``REFCONV_TINYGRAD_DEVICE`` (default ``PYTHON``, which needs no compiler; ``CPU`` needs clang).
"""

from __future__ import annotations

import os

import numpy as np

from refconv._spec import ConvSpec
from refconv.backends.base import FLOATS, Backend, Program, Unsupported, cpu_only, require

#: tinygrad's Tensor.pad modes besides constant, which are PyTorch's three.
TINYGRAD_MODES = ("reflect", "replicate", "circular")


def _forward(s: ConvSpec) -> str:
    require(s, "tinygrad", padding_modes=TINYGRAD_MODES, preferred_element_type=True)
    if s.preferred_element_type is not None and s.transposed:
        raise Unsupported("tinygrad's conv_transpose2d has no dtype= (preferred_element_type)")
    dtype = "" if s.preferred_element_type is None else f", dtype=dtypes.{s.preferred_element_type.name}"
    flat = tuple(v for lo, hi in reversed(s.padding) for v in (lo, hi))  # last dim first
    lines = ["def forward(x, w, b):"]
    for name, role in (("x", "lhs"), ("w", "rhs")):
        perm = getattr(s.layout, role)
        if perm is not None:
            lines.append(f"    {name} = {name}.permute{perm}  # to NC...")
    common = f"b, groups={s.groups}, stride={s.stride}, dilation={s.dilation}"
    if s.transposed:
        lines.append(
            f"    y = x.conv_transpose2d(w, {common}, padding={flat}, output_padding={s.output_padding})"
        )
    elif s.padding_mode != "zeros":
        pairs = tuple((0, 0) for _ in range(2)) + s.padding
        lines.append(f"    x = x.pad({pairs}, mode={s.padding_mode!r})")
        lines.append(f"    y = x.conv2d(w, {common}, padding=0{dtype})")
    else:
        lines.append(f"    y = x.conv2d(w, {common}, padding={flat}{dtype})")
    out = s.layout.out
    if out is not None:
        lines.append(f"    y = y.permute{tuple(int(i) for i in np.argsort(out))}  # back to the given layout")
    lines.append("    return y")
    return "\n".join(lines)


def program(s: ConvSpec, device: str = "cpu") -> Program:
    """tinygrad's ``gradient`` of the convolution (or the transposed one) for the cotangent ``dy``."""
    cpu_only(device, "the tinygrad backend runs on its PYTHON or CPU device")
    target = os.environ.get("REFCONV_TINYGRAD_DEVICE", "PYTHON")
    setup = f"""
import os
os.environ.setdefault("DEV", {target!r})
from tinygrad import Tensor, dtypes

{_forward(s)}
"""
    run = f"""
b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
def tensor(a):  # numpy has no bfloat16 for tinygrad: go through float32, exact for bfloat16 values
    if a.dtype.name == "bfloat16":
        return Tensor(a.astype(np.float32)).cast(dtypes.bfloat16)
    return Tensor(a)
x_t, w_t, b_t, dy_t = (tensor(a) for a in (x, w, b, dy))
y = forward(x_t, w_t, b_t)
dx, dw, db = y.gradient(x_t, w_t, b_t, gradient=dy_t)
got = {{name: t.float().numpy().astype(a.dtype) if a.dtype.name == "bfloat16" else t.numpy()
       for name, t, a in zip(("y", "dx", "dw", "db"), (y, dx, dw, db), (dy, x, w, b))}}
"""
    return Program(setup, run)


BACKEND = Backend("tinygrad", ("tinygrad",), FLOATS, True, program, extra="tinygrad")
