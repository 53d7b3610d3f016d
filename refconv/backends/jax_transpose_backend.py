"""jax's own transposed convolution, ``lax.conv_transpose``, and ``jax.vjp`` of it, in float64.

``lax.conv_transpose(x, k, strides, padding, rhs_dilation, dimension_numbers, transpose_kernel)``
is ``conv_general_dilated(x, k', 1, padding, lhs_dilation=strides, rhs_dilation)``: the convolution
of the stride-dilated input, whose ``padding`` pairs are that convolution's own, not the padding of
the convolution it transposes as in refconv (and PyTorch). refconv's transposed convolution with
padding ``(lo, hi)`` and output padding ``op`` is that with the pairs

.. math:: \\bigl(d (k - 1) - lo,\\; d (k - 1) - hi + op\\bigr)

and with ``k'`` refconv's kernel flipped in its spatial dims and its I and O swapped, which is
what ``transpose_kernel=True`` does to the kernel it is given. Three backends, one per way jax
spells it:

``jax-conv-transpose``
    ``transpose_kernel=False`` (jax's default): the program gives jax ``k'`` (flipped and swapped
    by NumPy, and ``dw`` flipped and swapped back), and the pairs above;
``jax-conv-transpose-kernel``
    ``transpose_kernel=True``: refconv's kernel as it is, and the pairs above;
``jax-conv-transpose-consistent``
    ``transpose_kernel=True, use_consistent_padding=True``: refconv's own ``(lo, hi)``, which jax
    turns into the pairs above itself; no output padding (unsupported), and every case
    unsupported in a jax without the keyword (0.4.35 has none, 0.10.2 has it).

A padding word goes to jax as its ``"SAME"`` or ``"VALID"`` where jax's pairs for it
(``_conv_transpose_padding``, read from jax) are refconv's; elsewhere as the pairs (the docs'
frameworks page has where they differ). ``conv_transpose`` has no groups; a plain convolution is
not a transposed one (both unsupported).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from refconv._spec import ConvSpec
from refconv.backends.base import FLOATS, Backend, Program, Unsupported
from refconv.backends.jax_backend import specs

__all__ = ["CONSISTENT", "KERNEL", "PLAIN", "jax_words"]


def jax_words(word: str, k_effective: int, stride: int) -> tuple[int, int]:
    """The pairs jax's ``conv_transpose`` gives its ``"SAME"`` and ``"VALID"`` in one dim, as
    ``jax/_src/lax/convolution.py``'s ``_conv_transpose_padding`` computes them."""
    if word == "same":
        length = k_effective + stride - 2
        before = k_effective - 1 if stride > k_effective - 1 else math.ceil(length / 2)
    else:
        length = k_effective + stride - 2 + max(k_effective - stride, 0)
        before = k_effective - 1
    return before, length - before


def _pairs(s: ConvSpec) -> tuple[tuple[int, int], ...]:
    """refconv's transposed padding as the pairs of the convolution jax computes."""
    return tuple(
        (d * (k - 1) - lo, d * (k - 1) - hi + op)
        for k, d, (lo, hi), op in zip(s.w_shape[2:], s.dilation, s.padding, s.output_padding, strict=True)
    )


def _padding(s: ConvSpec, consistent: bool) -> str:
    """The ``padding`` argument: jax's word where its pairs are refconv's, else pairs."""
    if s.padding_word in ("same", "valid"):
        k_effective = [d * (k - 1) + 1 for k, d in zip(s.w_shape[2:], s.dilation, strict=True)]
        word = [jax_words(s.padding_word, k, st) for k, st in zip(k_effective, s.stride, strict=True)]
        if tuple(word) == _pairs(s):
            return repr(s.padding_word.upper())
    if consistent:
        if any(s.output_padding):
            raise Unsupported("use_consistent_padding has no output padding")
        return repr(s.padding)
    return repr(_pairs(s))


#: The setup's check, where the program uses use_consistent_padding: a jax without it (0.4, at the
#: matrix's old end) cannot say the case, which is unsupported there, not raised.
_HAS_CONSISTENT_PADDING = """
import inspect

from refconv.backends import Unsupported

if "use_consistent_padding" not in inspect.signature(lax.conv_transpose).parameters:
    raise Unsupported(f"jax {jax.__version__}'s lax.conv_transpose has no use_consistent_padding")
"""


def _program(transpose_kernel: bool, consistent: bool) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        if device != "cpu":
            raise Unsupported("the jax-conv-transpose backends run on the CPU")
        if not s.transposed:
            raise Unsupported("lax.conv_transpose is a transposed convolution")
        if s.groups != 1:
            raise Unsupported(f"lax.conv_transpose has no groups (groups={s.groups})")
        if s.preferred_element_type is not None:
            raise Unsupported("the backend judges lax.conv_transpose in the operands' dtype")
        lhs, rhs, out = specs(s)  # rhs: refconv's transposed kernel, I its input channels
        # jax's O is that axis: in the kernel it swaps itself (transpose_kernel), and in k', whose
        # swap puts the output channels where refconv's I was
        swapped = rhs.translate(str.maketrans("IO", "OI"))
        spatial = [rhs.index(c) for c in rhs if c not in "IO"]
        bias = [-1 if i == out.index("C") else 1 for i in range(s.ndim + 2)]
        flip = f"np.flip(np.swapaxes({{}}, {rhs.index('I')}, {rhs.index('O')}), {tuple(spatial)})"
        kernel = "w" if transpose_kernel else flip.format("w")
        extra = ", use_consistent_padding=True" if consistent else ""
        setup = f"""
import jax
import jax.numpy as jnp
from jax import lax

jax.config.update("jax_enable_x64", True)


def forward(x, w, b):
    y = lax.conv_transpose(
        x, w, {s.stride}, {_padding(s, consistent)}, rhs_dilation={s.dilation},
        dimension_numbers={(lhs, swapped, out)},
        transpose_kernel={transpose_kernel}, precision=lax.Precision.HIGHEST{extra})
    return y + b.reshape({bias})
"""
        back = "" if transpose_kernel else f"dw = {flip.format('dw')}\n"
        run = f"""
b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
k = {kernel}
y, pullback = jax.vjp(forward, x, k, b)
# a y of another shape than refconv's takes no cotangent of refconv's: its VJPs are taken at
# zeros, and the verdict is about y's shape
cotangent = jnp.asarray(dy) if y.shape == dy.shape else jnp.zeros_like(y)
dx, dw, db = (np.asarray(t) for t in pullback(cotangent))
{back}got = {{"y": np.asarray(y), "dx": dx, "dw": dw, "db": db}}
"""
        return Program(setup + _HAS_CONSISTENT_PADDING if consistent else setup, run)

    return program


_DTYPES = (*FLOATS, "complex128", "complex64")
PLAIN = Backend("jax-conv-transpose", ("jax",), _DTYPES, True, _program(False, False), extra="jax")
KERNEL = Backend("jax-conv-transpose-kernel", ("jax",), _DTYPES, True, _program(True, False), extra="jax")
CONSISTENT = Backend(
    "jax-conv-transpose-consistent",
    ("jax",),
    _DTYPES,
    True,
    _program(True, True),
    extra="jax",
)
