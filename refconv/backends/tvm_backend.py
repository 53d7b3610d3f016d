"""TVM: TOPI's convolution and transposed convolution, built by TE and compiled for the CPU (``llvm``).

Forward only (TOPI has no gradients). A convolution is ``topi.nn.conv`` (N-d, groups), with
refconv's padding as its ``[lo..., hi...]`` and the spec's layouts as its ``data_layout`` and
``kernel_layout`` (its output is in the data layout, so ``y``'s must be ``x``'s). A transposed
convolution is ``topi.nn.group_conv{1,2,3}d_transpose_nc...``, PyTorch's padding and weight
layout: ``[top, left, bottom, right]`` in 2-d, ``[front, top, left, back, bottom, right]`` in 3-d,
one symmetric number in 1-d; no dilation, ``NC...`` only. TOPI pads and does not crop (no negative
padding), has no padding words (the spec's resolved padding is used), no input dilation, batch
groups or padding modes. The bias is ``topi.add`` in the same function.
"""

from __future__ import annotations

from refconv._convspec import ConvSpec
from refconv.backends.base import Backend, Program, Unsupported, cpu_only, require

__all__ = ["BACKEND", "program"]

_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}


def _operator(s: ConvSpec) -> str:
    """The TOPI expression of ``Y`` from the placeholders ``X`` and ``W``."""
    require(s, "TOPI", max_ndim=3)
    if any(v < 0 for pair in s.padding for v in pair):
        raise Unsupported(f"TOPI pads and does not crop (padding={s.padding})")
    if not s.transposed:
        lhs, rhs, out = s.dimension_numbers or (f"NC{_SPATIAL[s.ndim]}", f"OI{_SPATIAL[s.ndim]}", "")
        if out and out != lhs:
            raise Unsupported(f"topi.nn.conv's output is in its data layout ({lhs}), not {out}")
        pads = [lo for lo, _ in s.padding] + [hi for _, hi in s.padding]
        return (f"topi.nn.conv(X, W, {list(s.stride)}, {pads}, {list(s.dilation)}, {s.groups}, "
                f"data_layout={lhs!r}, kernel_layout={rhs!r})")  # fmt: skip
    if s.dimension_numbers is not None:
        raise Unsupported("TOPI's transposed convolutions are NC... only")
    if any(d != 1 for d in s.dilation):
        raise Unsupported(f"TOPI's transposed convolutions have no dilation (dilation={s.dilation})")
    name = {
        1: "group_conv1d_transpose_ncw",
        2: "group_conv2d_transpose_nchw",
        3: "group_conv3d_transpose_ncdhw",
    }
    if s.ndim == 1:
        (lo, hi), = s.padding  # fmt: skip
        if lo != hi:
            raise Unsupported(
                f"TOPI's 1-d transposed padding is one number for both sides (padding={s.padding})"
            )
        padding: object = lo
    else:
        padding = [lo for lo, _ in s.padding] + [hi for _, hi in s.padding]
    output_padding = s.output_padding[0] if s.ndim == 1 else list(s.output_padding)
    return (f"topi.nn.{name[s.ndim]}(X, W, {list(s.stride)}, {padding!r}, X.dtype, {output_padding!r}, "
            f"{s.groups})")  # fmt: skip


def program(s: ConvSpec, device: str = "cpu") -> Program:
    """TOPI's operator for ``s`` with its bias, built by TE, compiled for ``llvm`` and run on the CPU."""
    cpu_only(device, "the tvm backend compiles for llvm (the CPU)")
    setup = f"""
import tvm
from tvm import te, topi


def forward(x, w, b):
    X = te.placeholder(x.shape, str(x.dtype), "x")
    W = te.placeholder(w.shape, str(w.dtype), "w")
    Y = {_operator(s)}
    placeholders, arrays = [X, W], [x, w]
    if b is not None:
        B = te.placeholder(b.shape, str(b.dtype), "b")
        channel = {(s.dimension_numbers[2].index("C") if s.dimension_numbers else 1)}
        Y = topi.add(Y, topi.reshape(B, [len(b) if i == channel else 1 for i in range(len(Y.shape))]))
        placeholders, arrays = [X, W, B], [x, w, b]
    function = tvm.compile(tvm.IRModule({{"main": te.create_prim_func([*placeholders, Y])}}), target="llvm")
    device = tvm.cpu()
    y = tvm.runtime.tensor(np.zeros([int(n) for n in Y.shape], x.dtype), device)
    function(*(tvm.runtime.tensor(a, device) for a in arrays), y)
    return y.numpy()
"""
    return Program(setup, 'got = {"y": forward(x, w, b)}')


BACKEND = Backend("tvm", ("tvm",), ("float64", "float32", "float16"), False, program, extra="tvm")
