"""torch: ``F.conv{1,2,3}d`` and ``F.conv_transpose{1,2,3}d`` with autograd.

Signed ``(lo, hi)`` padding is ``F.pad`` first (pad, then crop, so that a crop
larger than the input works as in XLA); the words are torch's ``"valid"``
and, at stride 1, ``"same"`` (torch rejects ``"same"`` at other strides and
has no ``"same_lower"``: those are explicit pads); a padding mode is
``F.pad(mode=...)``, as ``nn.Conv`` does. A transposed convolution runs at
padding 0 and crops (or pads) ``(lo, hi)`` afterwards. torch has no input
dilation, no batch groups and no convolution of more than 3 spatial dims;
its only layout is ``NC...``, so other layouts are permuted in and out.

Three variants run the same program on other kernels of torch's: ``torch-compile`` (the
forward given to ``torch.compile(fullgraph=True, dynamic=False)``: TorchInductor's generated C++
for the forward and the backward on the CPU, seconds of compiling a case), ``torch-channels-last``
(``x``, ``w`` and ``dy`` in ``torch.channels_last`` / ``channels_last_3d`` memory, which picks
other kernels; 2-d and 3-d) and ``torch-no-mkldnn`` (under ``torch.backends.mkldnn.flags(enabled=
False)``: torch's own kernels instead of oneDNN's).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from refconv import padding_modes
from refconv._spec import ConvSpec
from refconv.backends.base import FLOATS, Backend, Program, Unsupported, require


def _check(s: ConvSpec) -> None:
    require(s, "torch", max_ndim=3, padding_modes=tuple(padding_modes.FRAMEWORK_NAMES["torch"]))


def _perm(s: ConvSpec, role: str) -> tuple[int, ...] | None:
    perm: tuple[int, ...] | None = getattr(s.layout, role)
    return perm


def _forward(s: ConvSpec) -> str:
    _check(s)
    pads = [v for lo, hi in reversed(s.padding) for v in (lo, hi)]  # F.pad: last dim first
    lines = ["def forward(x, w, b):"]
    for name, role in (("x", "lhs"), ("w", "rhs")):
        perm = _perm(s, role)
        if perm is not None:
            lines.append(f"    {name} = {name}.permute{perm}  # to torch's layout")
    if s.transposed:
        lines.append(
            f"    y = F.conv_transpose{s.ndim}d(x, w, None, stride={s.stride}, "
            f"output_padding={s.output_padding}, groups={s.groups}, dilation={s.dilation})"
        )
        lines.append(f"    y = F.pad(y, {[-v for v in pads]}) + b.reshape({(1, -1) + (1,) * s.ndim})")
    else:
        convolve = f"F.conv{s.ndim}d"
        arguments = f"stride={s.stride}, dilation={s.dilation}, groups={s.groups}"
        if s.padding_mode != "zeros":
            mode = padding_modes.FRAMEWORK_NAMES["torch"][s.padding_mode]
            lines.append(f"    x = F.pad(x, {pads}, mode={mode!r})")
            lines.append(f"    y = {convolve}(x, w, b, {arguments})")
        elif s.padding_word == "valid" or (s.padding_word == "same" and all(st == 1 for st in s.stride)):
            lines.append(f"    y = {convolve}(x, w, b, {arguments}, padding={s.padding_word!r})")
        else:
            grow, crop = [max(v, 0) for v in pads], [min(v, 0) for v in pads]
            lines.append(f"    x = F.pad(F.pad(x, {grow}), {crop})")
            lines.append(f"    y = {convolve}(x, w, b, {arguments})")
    perm = _perm(s, "out")
    if perm is not None:
        lines.append(
            f"    y = y.permute{tuple(int(i) for i in np.argsort(perm))}  # back to the given layout"
        )
    lines.append("    return y")
    return "\n".join(lines)


#: What each variant changes, as a line after ``forward``, the memory format of x, w and dy, a context.
VARIANTS = {
    "torch": ("", "", ""),
    "torch-compile": ("forward = torch.compile(forward, fullgraph=True, dynamic=False)", "", ""),
    "torch-channels-last": ("", "channels_last", ""),
    "torch-no-mkldnn": ("", "", "torch.backends.mkldnn.flags(enabled=False)"),
}


def program(s: ConvSpec, device: str = "cpu", variant: str = "torch") -> Program:
    """torch autograd of the convolution (or the transposed one) on ``device`` (``"cpu"`` or ``"cuda"``),
    as ``variant`` of :data:`VARIANTS` runs it."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise Unsupported("torch sees no cuda device")
    after, memory, context = VARIANTS[variant]
    if memory and s.ndim not in (2, 3):
        raise Unsupported(f"torch's channels_last memory formats are 2-d and 3-d (a {s.ndim}-d convolution)")
    memory = "" if not memory else "channels_last" if s.ndim == 2 else "channels_last_3d"
    setup = f"""
import torch
import torch.nn.functional as F

{_forward(s)}
{after}
"""
    bfloat16 = s.dtype.name == "bfloat16"  # torch.tensor takes no ml_dtypes array: through float32, exactly

    def tensor(name: str, grad: str = "") -> str:
        value = f"{name}.astype(np.float32), dtype=torch.bfloat16" if bfloat16 else name
        return f"torch.tensor({value}, device={device!r}{grad})"

    out = ".float().numpy().astype(x.dtype)" if bfloat16 else ".numpy()"
    laid = f".to(memory_format=torch.{memory})" if memory else ""
    leaves = (f"leaves = [{tensor('x')}{laid}, {tensor('w')}{laid}, {tensor('b')}]\n"
              "leaves = [t.requires_grad_() for t in leaves]")  # fmt: skip
    backward = f"y = forward(*leaves)\ny.backward({tensor('dy')}{laid})"
    if context:
        backward = f"with {context}:\n" + "\n".join(f"    {line}" for line in backward.splitlines())
    run = f"""
b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
{leaves}
{backward}
got = {{"y": y.detach().cpu(){out}}}
got.update((name, np.zeros_like(a) if t.grad is None else t.grad.cpu(){out})
           for name, a, t in zip(("dx", "dw", "db"), (x, w, b), leaves))
"""
    return Program(setup, run)


BACKEND = Backend("torch", ("torch",), FLOATS, True, program, extra="torch")
COMPILE = Backend(
    "torch-compile", ("torch",), FLOATS, True, partial(program, variant="torch-compile"), extra="torch"
)
CHANNELS_LAST = Backend(
    "torch-channels-last",
    ("torch",),
    FLOATS,
    True,
    partial(program, variant="torch-channels-last"),
    extra="torch",
)
NO_MKLDNN = Backend(
    "torch-no-mkldnn", ("torch",), FLOATS, True, partial(program, variant="torch-no-mkldnn"), extra="torch"
)
