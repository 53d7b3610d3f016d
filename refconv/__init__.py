"""refconv: a reference for the general N-d convolution and its vector-Jacobian products.

Pure, stateless NumPy functions. The forward pass is one general convolution
(stride, kernel and input dilation, signed per-side padding, feature and
batch groups); every VJP is a call of it with parameters computed by
:mod:`refconv.geometry`. Every function starts by normalising its arguments
into one :class:`~refconv.ConvSpec` (:func:`refconv.spec`).
:mod:`refconv.naive` computes the same from the definition with loops, as an
independent check; :mod:`refconv.testing` compares anyone's results with
refconv's within their round-off bounds.
"""

from __future__ import annotations

import importlib
from typing import Any

from refconv import naive
from refconv._convspec import ConvOptions, ConvSpec, TransposeOptions
from refconv._explain import explain
from refconv._spec import spec
from refconv._version import __version__ as __version__
from refconv.conv import conv, conv_output_shape
from refconv.deform import deform_conv, deform_conv_vjp
from refconv.jvp import conv_jvp, conv_vjp_vjp
from refconv.local import conv_local, conv_local_vjp
from refconv.patches import conv_patches, fold
from refconv.transpose import conv_transpose, conv_transpose_vjp
from refconv.vjp import conv_bias_vjp, conv_input_vjp, conv_vjp, conv_weight_vjp

__all__ = [
    "ConvOptions",
    "ConvSpec",
    "TransposeOptions",
    "conv",
    "conv_bias_vjp",
    "conv_input_vjp",
    "conv_jvp",
    "conv_local",
    "conv_local_vjp",
    "conv_output_shape",
    "conv_patches",
    "conv_transpose",
    "conv_transpose_vjp",
    "conv_vjp",
    "conv_vjp_vjp",
    "conv_weight_vjp",
    "deform_conv",
    "deform_conv_vjp",
    "explain",
    "fold",
    "naive",
    "spec",
    "testing",
]

#: Subpackages loaded on first use (``refconv.testing`` as ``numpy.testing``): the functions above
#: need none of them.
_LAZY = ("backends", "cases", "conform", "testing", "vectors")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"refconv.{name}")
    raise AttributeError(f"module 'refconv' has no attribute {name!r}")
