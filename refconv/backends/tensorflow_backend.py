"""TensorFlow: ``tf.nn`` convolutions with ``tf.GradientTape``; eager, in ``tf.function``, and under XLA.

Three backends run the same program: ``tensorflow`` eagerly, ``tensorflow-graph`` inside
``tf.function`` (static shapes, traced separately) and ``tensorflow-xla`` inside
``tf.function(jit_compile=True)``. Without XLA, TF's CPU kernels refuse some configurations its
API accepts (gradients of dilated or grouped convolutions in float64 and float16, grouped 3-d
convolutions, ...): those cases are ``raised``, with TF's own message.

The translation (checked against TF 2.21):

* Layout: TF's convolutions run channels-last (``NWC``, ``NHWC``, ``NDHWC``, its default, the
  only one all its CPU kernels take), filters ``(*k, C_in // groups, C_out)`` (``(*k, C_out //
  groups, C_in)`` when transposed); the arrays are transposed in and out with ``tf.transpose``.
* ``conv1d``, ``conv2d``, ``conv3d`` (not ``tf.nn.convolution``, which refuses stride with
  dilation); groups are implicit in the filter's shape. A depthwise 2-d problem (one input
  channel per group) goes through ``tf.nn.depthwise_conv2d``, TF's own depthwise API.
* Padding: the words ``'same'`` and ``'valid'`` are TF's ``'SAME'`` and ``'VALID'``; non-negative
  pairs are ``conv2d``'s explicit padding; any other padding (1-d and 3-d, crops, ``same_lower``)
  is ``tf.pad`` and a slice, then ``'VALID'``; ``padding_mode='reflect'`` is ``tf.pad(mode='REFLECT')``.
  ``tf.pad`` has no replicate or circular mode: unsupported.
* Transposed: ``tf.nn.conv_transpose`` with its required ``output_shape``; the words as TF's
  (``'same'`` without output_padding: TF's SAME splits for an ``n * stride`` output); in 2-d with
  non-negative padding and ``output_padding < stride``, explicit padding; otherwise the full
  ``'VALID'`` transposed convolution, then the padding cropped (or zero rows added).
* No input dilation, batch groups or convolutions of more than 3 spatial dims: unsupported.
"""

from __future__ import annotations

from collections.abc import Callable

from refconv._spec import ConvSpec
from refconv.backends import channels_last
from refconv.backends.base import FLOATS, Backend, Program, cpu_only, require
from refconv.geometry import dilated_size

TF_WORDS = {"same": "SAME", "valid": "VALID"}


def _check(s: ConvSpec) -> None:
    require(s, "tf.nn", max_ndim=3, padding_modes=("reflect",))  # tf.pad: REFLECT, SYMMETRIC, CONSTANT


def _pad_and_crop(
    s: ConvSpec, name: str, pairs: tuple[tuple[int, int], ...], sizes: tuple[int, ...]
) -> list[str]:
    """Lines that pad (``tf.pad``) and crop (a slice) the spatial dims of a channels-last ``name``."""
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    lines = []
    if any(v for pair in grow for v in pair):
        mode = "'REFLECT'" if s.padding_mode == "reflect" else "'CONSTANT'"
        lines.append(f"    {name} = tf.pad({name}, {[[0, 0], *map(list, grow), [0, 0]]}, mode={mode})")
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        cuts = []
        for (lo, hi), n, (g_lo, g_hi) in zip(pairs, sizes, grow, strict=True):
            size = n + g_lo + g_hi
            cuts.append(f"{max(-lo, 0)}:{size - max(-hi, 0)}")
        lines.append(f"    {name} = {name}[:, {', '.join(cuts)}, :]")
    return lines


def _conv_lines(s: ConvSpec) -> list[str]:
    nd, spatial = s.ndim, s.x_shape[2:]
    depthwise = nd == 2 and s.w_shape[1] == 1 and s.groups == s.x_shape[1] and s.groups > 1
    lines: list[str] = []
    if s.padding_word in TF_WORDS and s.padding_mode == "zeros":
        padding = repr(TF_WORDS[s.padding_word])
    elif nd == 2 and s.padding_mode == "zeros" and all(v >= 0 for pair in s.padding for v in pair):
        padding = repr([[0, 0], *map(list, s.padding), [0, 0]])
    else:
        lines, padding = _pad_and_crop(s, "x", s.padding, spatial), "'VALID'"
    if depthwise:
        multiplier = s.w_shape[0] // s.groups
        lines.append(
            f"    w = tf.reshape(w, {[*s.w_shape[2:], s.groups, multiplier]})  # (H, W, C_in, multiplier)"
        )
        lines.append(
            f"    y = tf.nn.depthwise_conv2d(x, w, strides={[1, *s.stride, 1]}, padding={padding}, "
            f"dilations={list(s.dilation)})"
        )
    elif nd == 3:
        lines.append(
            f"    y = tf.nn.conv3d(x, w, strides={[1, *s.stride, 1]}, padding={padding}, "
            f"dilations={[1, *s.dilation, 1]})"
        )
    else:
        lines.append(
            f"    y = tf.nn.conv{nd}d(x, w, {list(s.stride) if nd == 2 else s.stride[0]}, {padding}, "
            f"dilations={list(s.dilation) if nd == 2 else s.dilation[0]})"
        )
    return lines


def _transpose_lines(s: ConvSpec) -> list[str]:
    nd = s.ndim
    k_hat = [dilated_size(k, d) for k, d in zip(s.w_shape[2:], s.dilation, strict=True)]
    out_channels = s.y_shape[1]
    batch = s.x_shape[0]
    # TF's words give the output shape asked for: 'SAME' splits k_hat - s for an n*s output (a negative
    # total: zero rows at the end) and 'VALID' accepts any output_padding below the stride
    word = {"same": not any(s.output_padding), "valid": True}.get(s.padding_word or "", False)
    if word and all(o < st for o, st in zip(s.output_padding, s.stride, strict=True)):
        shape = [batch, *s.y_shape[2:], out_channels]
        return [
            f"    y = tf.nn.conv_transpose(x, w, {shape}, {list(s.stride)}, "
            f"{TF_WORDS[s.padding_word or '']!r}, dilations={list(s.dilation)})"
        ]
    explicit = (
        nd == 2
        and all(v >= 0 for pair in s.padding for v in pair)
        and all(o < st for o, st in zip(s.output_padding, s.stride, strict=True))
    )
    if explicit:
        shape = [batch, *s.y_shape[2:], out_channels]
        return [
            f"    y = tf.nn.conv_transpose(x, w, {shape}, {list(s.stride)}, "
            f"{[[0, 0], *map(list, s.padding), [0, 0]]}, dilations={list(s.dilation)})"
        ]
    full = [(n - 1) * st + k for n, st, k in zip(s.x_shape[2:], s.stride, k_hat, strict=True)]
    lines = [
        f"    y = tf.nn.conv_transpose(x, w, {[batch, *full, out_channels]}, {list(s.stride)}, 'VALID', "
        f"dilations={list(s.dilation)})"
    ]
    # the transposed convolution's padding removes rows from the full output (negative: adds zero rows);
    # output_padding adds rows at the end
    pairs = tuple((-lo, -hi + o) for (lo, hi), o in zip(s.padding, s.output_padding, strict=True))
    return lines + _pad_and_crop_zero(pairs, tuple(full))


def _pad_and_crop_zero(pairs: tuple[tuple[int, int], ...], sizes: tuple[int, ...]) -> list[str]:
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    lines = []
    if any(v for pair in grow for v in pair):
        lines.append(f"    y = tf.pad(y, {[[0, 0], *map(list, grow), [0, 0]]})")
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        cuts = [f"{max(-lo, 0)}:{n + g_lo + g_hi - max(-hi, 0)}"
                for (lo, hi), n, (g_lo, g_hi) in zip(pairs, sizes, grow, strict=True)]  # fmt: skip
        lines.append(f"    y = y[:, {', '.join(cuts)}, :]")
    return lines


def _forward(s: ConvSpec) -> str:
    _check(s)
    return channels_last.forward(s, "tf.transpose", _transpose_lines(s) if s.transposed else _conv_lines(s))


def _program(mode: str) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        cpu_only(device, "the tensorflow backends run on the CPU (tensorflow-cpu)")
        setup = f"""
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

{_forward(s)}
"""
        wrap = {"eager": "", "graph": "@tf.function\n", "xla": "@tf.function(jit_compile=True)\n"}[mode]
        run = f"""
{wrap}def vjp(x, w, b, dy):
    with tf.GradientTape() as tape:
        tape.watch([x, w, b])
        y = forward(x, w, b)
    return (y, *tape.gradient(y, [x, w, b], output_gradients=dy))


b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
results = vjp(*(tf.constant(a) for a in (x, w, b, dy)))
got = {{name: np.zeros_like(a) if r is None else r.numpy()
       for name, a, r in zip(("y", "dx", "dw", "db"), (dy, x, w, b), results)}}
"""
        return Program(setup, run)

    return program


def _backend(name: str, mode: str) -> Backend:
    return Backend(name, ("tensorflow",), FLOATS, True, _program(mode), extra="tensorflow")


EAGER = _backend("tensorflow", "eager")  # tf.nn and tf.GradientTape, eagerly
GRAPH = _backend("tensorflow-graph", "graph")  # the same inside tf.function (graph mode, static shapes)
XLA = _backend("tensorflow-xla", "xla")  # the same inside tf.function(jit_compile=True)
