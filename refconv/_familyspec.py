"""The front door of the convolution's family: patches, fold and the locally connected convolution.

Each is described by the :class:`~refconv.ConvSpec` of a general convolution, so that the
checks, the layouts, the padding words and modes, the sizes and the dtypes are read once, by
:func:`refconv.spec`, as for every other function. The patches of ``x`` for a ``filter_shape``
are the convolution of ``x`` with the identity kernel, one output channel per input channel and
filter tap, ``groups`` the input channels (:doc:`/patches`): its spec is the patches' spec. The
locally connected convolution reads those patches (:doc:`/local`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

from numpy.typing import DTypeLike

from refconv import _normalize as norm
from refconv._convspec import ConvSpec, DimensionNumbers
from refconv._layout import layout
from refconv._spec import IntOrInts, PaddingLike, check_keywords, conv_spec
from refconv.geometry import Shape

__all__ = ["LocalOptions", "PatchesOptions", "local_spec", "local_w_shape", "patches_spec"]


class PatchesOptions(TypedDict, total=False):
    """The keywords of :func:`refconv.conv_patches` and :func:`refconv.fold` (the convolution's, but
    the groups: a patch holds every input channel)."""

    stride: IntOrInts
    padding: PaddingLike
    dilation: IntOrInts
    input_dilation: IntOrInts
    padding_mode: str
    dimension_numbers: DimensionNumbers
    preferred_element_type: DTypeLike | None


class LocalOptions(PatchesOptions, total=False):
    """The keywords of :func:`refconv.conv_local` and its VJP: the patches' keywords."""


def patches_spec(
    caller: str, x_shape: Sequence[int], filter_shape: Sequence[int], dtypes: Sequence[DTypeLike],
    options: Any, allowed: Any = PatchesOptions,
) -> ConvSpec:  # fmt: skip
    """The spec of the convolution of ``x`` with the identity kernel of ``filter_shape``.

    Its weight is ``(C K, 1, *filter_shape)`` with ``K = prod(filter_shape)`` and ``groups = C``
    (one group for ``C = 0``: a weight ``(0, 0, *filter_shape)``), in the layout of
    ``dimension_numbers``; ``filter_shape`` is in the order of the kernel spec's spatial dims, as
    every per-dim parameter (JAX's rule).
    """
    check_keywords(caller, options, allowed)
    xs = norm.as_shape(x_shape, "x_shape")
    ndim = norm.spatial_ndim(xs, "x")
    ks = norm.as_shape(filter_shape, "filter_shape")
    if len(ks) != ndim:
        raise ValueError(
            f"filter_shape={ks} has {len(ks)} entries; expected {ndim}, one per spatial dim of x {xs}"
        )
    lay = layout(options.get("dimension_numbers"), ndim)
    c = lay.shape_to_canonical(xs, "lhs", "x")[1]
    identity = lay.shape_from_canonical((c * math.prod(ks), 1 if c else 0, *ks), "rhs")
    return conv_spec(caller, xs, identity, dtypes, {**options, "groups": max(c, 1)})  # type: ignore[typeddict-item]


def local_w_shape(s: ConvSpec, out_channels: int) -> Shape:
    """The canonical weight shape of a locally connected convolution: ``(O, C K, *out)``."""
    return (out_channels, *s.y_shape[1:])


def local_spec(
    caller: str, x_shape: Sequence[int], w_shape: Sequence[int], filter_shape: Sequence[int],
    dtypes: Sequence[DTypeLike], options: Any,
) -> ConvSpec:  # fmt: skip
    """The patches' spec of a locally connected convolution, its weight's shape checked.

    ``w_shape`` must be ``(O, C K, *out)`` in the kernel's layout (JAX's: the kernel's spatial
    dims are the output's positions, its ``I`` dim the patch, channel major).
    """
    s = patches_spec(caller, x_shape, filter_shape, dtypes, options, LocalOptions)
    ws = norm.as_shape(w_shape, "w_shape")
    if len(ws) != len(s.x_shape):
        raise ValueError(f"w has shape {ws}; expected {len(s.x_shape)} dims, as x {s.given_shape('x')}")
    o = s.layout.shape_to_canonical(ws, "rhs", "w")[0]
    expected = s.layout.shape_from_canonical(local_w_shape(s, o), "rhs")
    if ws != expected:
        raise ValueError(
            f"w has shape {ws}; expected {expected}: (out_channels, C_in * prod(filter_shape) = "
            f"{s.y_shape[1]}, *out = {s.y_shape[2:]}) in the kernel's layout"
        )
    return s


class DeformOptions(TypedDict, total=False):
    """The keywords of :func:`refconv.deform_conv` and its VJP (ONNX DeformConv's attributes, in
    PyTorch's names; the offset groups are read from the offset's shape, as torchvision does)."""

    stride: IntOrInts
    padding: PaddingLike
    dilation: IntOrInts
    groups: int


def deform_spec(
    caller: str, x_shape: Sequence[int], w_shape: Sequence[int], offset_shape: Sequence[int],
    mask_shape: Sequence[int] | None, dtypes: Sequence[DTypeLike], options: Any,
) -> tuple[ConvSpec, int]:  # fmt: skip
    """The spec of the convolution a deformable one deforms, and its offset groups ``G_o``.

    ``offset`` must be ``(N, G_o K nd, *out)`` and ``mask`` ``(N, G_o K, *out)`` with ``G_o``
    dividing the input channels (``K`` the kernel's taps, ``nd`` its spatial dims); ``G_o`` is
    read from the offset, or the mask where the offset has no channels (``K nd = 0``), else 1.
    The operands are real: a sample point is real, and so is the interpolation.
    """
    check_keywords(caller, options, DeformOptions)
    s = conv_spec(caller, x_shape, w_shape, dtypes, options)
    if norm.kind(s.dtype) != "f":
        raise TypeError(f"{caller} interpolates: its operands must be real floats, not {s.dtype}")
    per_group = math.prod(s.w_shape[2:])  # the mask's channels per offset group; the offset's times nd
    shapes = {"offset": norm.as_shape(offset_shape, "offset_shape")}
    if mask_shape is not None:
        shapes["mask"] = norm.as_shape(mask_shape, "mask_shape")
    counts = {"offset": per_group * s.ndim, "mask": per_group}
    known = [(name, shape) for name, shape in shapes.items() if counts[name] and len(shape) > 1]
    groups, c = 1, s.x_shape[1]
    if known:
        name, shape = known[0]
        groups = shape[1] // counts[name]
        if shape[1] % counts[name] or groups < 1 or (c and c % groups):
            raise ValueError(
                f"{name} has {shape[1]} channels: {counts[name]} per offset group, and the offset groups "
                f"must divide in_channels={c}"
            )
    for name, shape in shapes.items():
        expected = (s.x_shape[0], groups * counts[name], *s.y_shape[2:])
        if shape != expected:
            raise ValueError(f"{name} has shape {shape}; expected {expected} for {groups} offset group(s)")
    return s, groups
