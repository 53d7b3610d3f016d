"""PaddlePaddle: ``F.conv{1,2,3}d`` and ``F.conv{1,2,3}d_transpose`` with autograd, on the CPU.

Paddle's padding takes a ``(lo, hi)`` pair per spatial dim itself (``[[0, 0], [0, 0], [lo, hi],
...]``); a negative side is a slice of ``x`` first (Paddle pads, it does not crop). Its ``"SAME"``
is refconv's ``"same"`` (the odd row at the end) and ``"VALID"`` refconv's ``"valid"``;
``"same_lower"`` is its explicit pairs. A padding mode is ``F.pad(mode=...)`` first, as PyTorch's
``nn.Conv`` does (Paddle's names are PyTorch's: no symmetric). A transposed convolution takes the
pairs and ``output_padding`` (< ``max(stride, dilation)``), PyTorch's weight layout. Paddle has no
input dilation and no batch groups; other layouts are transposed in and out around ``NC...``.
"""

from __future__ import annotations

import numpy as np

from refconv import padding_modes
from refconv._convspec import ConvSpec
from refconv.backends.base import Backend, Program, Unsupported, cpu_only, require

__all__ = ["BACKEND", "program"]

#: PaddlePaddle's padding words.
PADDLE_WORDS = {"same": "SAME", "valid": "VALID"}


def _padding(s: ConvSpec) -> tuple[list[str], str]:
    """The slices that crop ``x`` where a side is negative, and the conv's ``padding`` argument."""
    if s.padding_word in PADDLE_WORDS and not s.transposed:
        return [], repr(PADDLE_WORDS[s.padding_word])
    crops = []
    if any(v < 0 for pair in s.padding for v in pair):
        if s.transposed:
            raise Unsupported(f"Paddle's transposed padding is not negative (padding={s.padding})")
        cut = ", ".join(
            f"{-min(lo, 0)}:{x + min(hi, 0)}" for x, (lo, hi) in zip(s.x_shape[2:], s.padding, strict=True)
        )
        crops.append(f"    x = x[:, :, {cut}]  # Paddle pads, it does not crop")
    pairs = [[0, 0], [0, 0], *([max(lo, 0), max(hi, 0)] for lo, hi in s.padding)]
    return crops, repr(pairs)


def _forward(s: ConvSpec) -> str:
    require(s, "Paddle", max_ndim=3, padding_modes=tuple(padding_modes.FRAMEWORK_NAMES["torch"]))
    lines = ["def forward(x, w, b):"]
    for name, role in (("x", "lhs"), ("w", "rhs")):
        perm = getattr(s.layout, role)
        if perm is not None:
            lines.append(f"    {name} = paddle.transpose({name}, {list(perm)})  # to Paddle's NC... layout")
    arguments = f"stride={list(s.stride)}, dilation={list(s.dilation)}, groups={s.groups}"
    if s.transposed:
        crops, padding = _padding(s)
        lines.append(f"    y = F.conv{s.ndim}d_transpose(x, w, b, padding={padding}, "
                     f"output_padding={list(s.output_padding)}, {arguments})")  # fmt: skip
    elif s.padding_mode != "zeros":
        pads = [v for lo, hi in reversed(s.padding) for v in (lo, hi)]  # F.pad: the last dim first
        mode = padding_modes.FRAMEWORK_NAMES["torch"][s.padding_mode]
        layout = {1: "NCL", 2: "NCHW", 3: "NCDHW"}[s.ndim]
        lines.append(f"    x = F.pad(x, {pads}, mode={mode!r}, data_format={layout!r})")
        lines.append(f"    y = F.conv{s.ndim}d(x, w, b, padding=0, {arguments})")
    else:
        crops, padding = _padding(s)
        lines += crops
        lines.append(f"    y = F.conv{s.ndim}d(x, w, b, padding={padding}, {arguments})")
    out = s.layout.out
    if out is not None:
        lines.append(
            f"    y = paddle.transpose(y, {[int(i) for i in np.argsort(out)]})  # back to the given layout"
        )
    lines.append("    return y")
    return "\n".join(lines)


def program(s: ConvSpec, device: str = "cpu") -> Program:
    """Paddle's autograd of the convolution (or the transposed one) on the CPU."""
    cpu_only(device, "the paddle backend runs on the CPU (its CPU wheel)")
    setup = f"""
import paddle
import paddle.nn.functional as F

paddle.set_device("cpu")
{_forward(s)}
"""
    run = f"""
b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
leaves = [paddle.to_tensor(a, stop_gradient=False) for a in (x, w, b)]
y = forward(*leaves)
y.backward(paddle.to_tensor(dy))
got = {{"y": y.numpy()}}
got.update((name, np.zeros_like(a) if t.grad is None else t.grad.numpy())
           for name, a, t in zip(("dx", "dw", "db"), (x, w, b), leaves))
"""
    return Program(setup, run)


BACKEND = Backend("paddle", ("paddle",), ("float64", "float32"), True, program, extra="paddle")
