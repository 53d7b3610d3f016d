"""Keras 3: ``keras.ops.conv``, ``conv_transpose`` and ``depthwise_conv`` on the TensorFlow backend.

Gradients come from ``tf.GradientTape`` around the Keras ops. Keras is channels-last by default
(kernels ``(*k, C_in // groups, C_out)``, transposed ``(*k, C_out, C_in)``); other layouts are
transposed in and out. Its padding is a word, ``"valid"`` or ``"same"`` (TF's split): explicit
pairs are expressible only where they equal one of them; ``padding_mode='reflect'`` is
``keras.ops.pad(mode="reflect")`` then ``"valid"`` (``keras.ops.pad`` has no replicate or
circular mode). Groups are implicit in ``conv``'s kernel; a depthwise problem (1-d or 2-d, one
input channel per group) goes through ``depthwise_conv``; ``conv_transpose`` has no groups.

A transposed convolution's ``output_padding`` means something else in Keras than in PyTorch:
Keras computes the output size as ``(n - 1) s + k_hat + output_padding`` for ``"valid"`` and
``(n - 1) s + (k_hat mod 2) + output_padding`` for ``"same"``, then lets TF split the padding as
for ``"SAME"``. A PyTorch ``(padding (lo, hi), output_padding o)`` is expressible when every dim
fits one word: ``"valid"`` with ``lo = hi = 0`` and ``o < s``; ``"same"`` with ``o = 0``,
``hi - lo`` in ``{0, 1}`` and ``max(k_hat - s, 0) <= lo + hi <= k_hat - 1``, or with ``lo = hi = 0``
and ``k_hat + o <= s``. (TF clamps a negative total padding to 0, so a negative ``lo + hi`` is
never Keras's: its extra rows come at the end, as output padding, the last case.)
"""

from __future__ import annotations

from typing import Any

from refconv._spec import ConvSpec
from refconv.backends import channels_last
from refconv.backends.base import FLOATS, Backend, Program, Unsupported, cpu_only, require
from refconv.geometry import ConvParams, dilated_size, same_padding


def _check(s: ConvSpec) -> None:
    require(s, "keras.ops", max_ndim=3, padding_modes=("reflect",))  # keras.ops.pad: reflect, symmetric


def _conv_word(s: ConvSpec) -> str:
    """The Keras padding word that spells the spec's padding, or Unsupported."""
    if s.padding_mode != "zeros" or all(p == (0, 0) for p in s.padding):
        return "valid"
    unit = ConvParams(s.stride, ((0, 0),) * s.ndim, s.dilation, (1,) * s.ndim)
    if s.padding == same_padding(s.x_shape[2:], s.w_shape[2:], unit):
        return "same"
    raise Unsupported(f"Keras pads by 'valid' or 'same' only, not padding={s.padding}")


def _transpose_word(s: ConvSpec) -> tuple[str, list[int]]:
    """The Keras padding word and output_padding of a PyTorch transposed convolution, or Unsupported."""
    if s.groups != 1:
        raise Unsupported(f"keras.ops.conv_transpose has no groups (groups={s.groups})")
    for word in ("valid", "same"):
        extra = []
        for k, d, st, (lo, hi), o in zip(s.w_shape[2:], s.dilation, s.stride, s.padding, s.output_padding,
                                         strict=True):  # fmt: skip
            k_hat = dilated_size(k, d)
            if word == "valid" and lo == hi == 0 and o < st:
                extra.append(o)
            elif word == "same" and o == 0 and hi - lo in (0, 1) and max(k_hat - st, 0) <= lo + hi < k_hat:
                extra.append(k_hat - lo - hi - k_hat % 2)
            elif word == "same" and lo == hi == 0 and k_hat + o <= st:
                extra.append(k_hat + o - k_hat % 2)
            else:
                break
        else:
            return word, extra
    raise Unsupported(
        f"Keras's 'valid'/'same' with its output_padding cannot give padding={s.padding}, "
        f"output_padding={s.output_padding}"
    )


def _forward(s: ConvSpec) -> str:
    _check(s)
    return channels_last.forward(s, "keras.ops.transpose", _body(s))


def _body(s: ConvSpec) -> list[str]:
    """The lines that compute ``y`` from channels-last ``x`` and a Keras kernel ``w``."""
    lines: list[str] = []
    nd = s.ndim

    def unit(values: tuple[int, ...]) -> Any:
        """One int per spatial dim as Keras writes it: a list, or an int in 1-d."""
        return list(values) if nd > 1 else values[0]

    if s.transposed:
        word, extra = _transpose_word(s)
        lines.append(
            f"    y = keras.ops.conv_transpose(x, w, {unit(s.stride)}, padding={word!r}, "
            f"output_padding={unit(tuple(extra))}, dilation_rate={unit(s.dilation)})"
        )
    else:
        word = _conv_word(s)
        if s.padding_mode == "reflect":
            lines.append(f"    x = keras.ops.pad(x, {[(0, 0), *s.padding, (0, 0)]}, mode='reflect')")
        depthwise = nd <= 2 and s.w_shape[1] == 1 and s.groups == s.x_shape[1] and s.groups > 1
        arguments = f"{unit(s.stride)}, padding={word!r}, dilation_rate={unit(s.dilation)}"
        if depthwise:
            multiplier = s.w_shape[0] // s.groups
            lines.append(f"    w = keras.ops.reshape(w, {[*s.w_shape[2:], s.groups, multiplier]})")
            lines.append(f"    y = keras.ops.depthwise_conv(x, w, {arguments})")
        else:
            lines.append(f"    y = keras.ops.conv(x, w, {arguments})")
    return lines


def program(s: ConvSpec, device: str = "cpu") -> Program:
    """``tf.GradientTape`` around ``keras.ops`` convolutions (TensorFlow backend), eagerly."""
    cpu_only(device, "the keras backend runs on the CPU (tensorflow-cpu)")
    setup = f"""
import os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import tensorflow as tf

{_forward(s)}
"""
    run = f"""
b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
x_t, w_t, b_t, dy_t = (tf.constant(a) for a in (x, w, b, dy))
with tf.GradientTape() as tape:
    tape.watch([x_t, w_t, b_t])
    y = forward(x_t, w_t, b_t)
results = (y, *tape.gradient(y, [x_t, w_t, b_t], output_gradients=dy_t))
got = {{name: np.zeros_like(a) if r is None else r.numpy()
       for name, a, r in zip(("y", "dx", "dw", "db"), (dy, x, w, b), results)}}
"""
    return Program(setup, run)


BACKEND = Backend("keras", ("keras", "tensorflow"), FLOATS, True, program, extra="keras")
