"""The operators a case can call: the convolution and the family around it, on one spec's windows.

A :class:`~refconv.cases.Case` is a convolution problem (a :class:`~refconv.ConvSpec`) and an
:class:`Operator`: ``conv`` computes the spec's convolution; ``patches``
(:func:`refconv.conv_patches`, its VJP :func:`refconv.fold`), ``local``
(:func:`refconv.conv_local`) and ``deform`` (:func:`refconv.deform_conv`) compute their
function on the same windows: the spec's input shape, kernel size, stride, padding, dilations
and layout. The spec's weight shape says the kernel (``filter_shape`` is its spatial dims) and,
for ``local`` and ``deform``, the output channels; a patches case's weight is ``(1, C, *k)``.
So every tool that describes, draws, shrinks or reports a convolution does the same for the
family, and the conformance search reaches the family through the convolutions it draws
(:func:`refconv.conform.judge.as_operator`).

Each function here takes the operator and the spec: which spec it can have (:func:`unsupported`),
its operands' shapes in the order they are drawn (:func:`operand_shapes`), its results' names
(:func:`result_names`), the call's keywords (:func:`keywords`) and its results through refconv or
:mod:`refconv.naive` (:func:`compute`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv._convspec import ConvSpec
from refconv._familyspec import local_w_shape, patches_spec

__all__ = [
    "CONV",
    "OPERANDS",
    "OPERATORS",
    "Operator",
    "compute",
    "keywords",
    "operand_shapes",
    "result_names",
    "unsupported",
]

#: The names of the operators, the convolution (a transposed one too) first, then its family.
OPERATORS = ("conv", "patches", "local", "deform")
#: Each operator's operands by name, in the order a case draws them (:func:`operand_shapes`).
OPERANDS = {
    "conv": ("x", "w", "b", "dy"),
    "patches": ("x", "dy"),
    "local": ("x", "w", "b", "dy"),
    "deform": ("x", "w", "b", "offset", "mask", "dy"),
}


@dataclass(frozen=True)
class Operator:
    """Which function a case calls on its spec's windows, and the deformable convolution's own choices.

    ``offset_groups`` (``G_o``, dividing the input channels) and ``mask`` (ONNX's optional
    modulation mask: deformable convolution v2 with it, v1 without) are the deformable
    convolution's; the other operators keep the defaults.
    """

    name: str = "conv"
    offset_groups: int = 1
    mask: bool = True

    def __post_init__(self) -> None:
        if self.name not in OPERATORS:
            raise ValueError(f"operator {self.name!r}: expected one of {', '.join(OPERATORS)}")
        groups = self.offset_groups
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"offset_groups={groups!r} must be a whole number >= 1")
        if self.name != "deform" and (groups != 1 or not self.mask):
            raise ValueError(f"offset_groups and mask are the deformable convolution's, not {self.name}'s")

    def source(self) -> str:
        """A Python expression that rebuilds it."""
        extra = "" if self.name != "deform" else f", offset_groups={self.offset_groups}, mask={self.mask}"
        return f"Operator({self.name!r}{extra})"


#: The convolution itself (or the transposed convolution, as the spec says).
CONV = Operator()


def unsupported(op: Operator, s: ConvSpec) -> str | None:
    """Why ``op`` cannot be called on the windows of ``s``, or None when it can.

    The patches and the local convolution have every keyword of :func:`refconv.conv` but groups,
    batch groups and the transposed form; the deformable convolution has ONNX DeformConv's: stride,
    padding, dilation and groups, channels first, in real floats. The family's results are in the
    operands' dtype (no ``preferred_element_type``). The deformable convolution is judged in
    float64 only: a sample point rounded in a narrower dtype moves its interpolation weights by
    ``u |q|``, an error its round-off bound (``K`` products of the same weights) does not hold.
    """
    if op.name == "conv":
        return None
    if s.transposed or (s.groups != 1 and op.name != "deform") or s.batch_groups != 1:
        return f"{op.name} has no transposed form, {'' if op.name == 'deform' else 'groups, '}or batch groups"
    if s.preferred_element_type is not None:
        return f"{op.name}'s result is in its operands' dtype (no preferred_element_type)"
    if op.name != "deform":
        return None
    if any(d != 1 for d in s.input_dilation) or s.padding_mode != "zeros" or s.dimension_numbers is not None:
        return "deform has ONNX DeformConv's keywords: no input dilation, padding mode or layout"
    if s.dtype != np.dtype(np.float64):
        return f"deform is judged in float64 only (a sample point rounded in {s.dtype} moves its weights)"
    if s.x_shape[1] % op.offset_groups:
        return f"offset_groups={op.offset_groups} does not divide in_channels={s.x_shape[1]}"
    return None


def _patches(s: ConvSpec) -> ConvSpec:
    """The spec of the patches of ``s``'s input, on its windows."""
    return patches_spec(
        "operators", s.given_shape("x"), s.w_shape[2:], [s.dtype], keywords(Operator("patches"), s)
    )


def operand_shapes(op: Operator, s: ConvSpec, bias: bool) -> dict[str, tuple[int, ...] | None]:
    """The operands of ``op`` on ``s``, each name's shape in the spec's layout (None: not given), in
    the order a case draws them; ``dy`` is the cotangent of ``y``."""
    if op.name == "conv":
        b = (s.y_shape[1],) if bias else None
        return {"x": s.given_shape("x"), "w": s.given_shape("w"), "b": b, "dy": s.given_shape("y")}
    if op.name == "patches":
        p = _patches(s)
        return {"x": s.given_shape("x"), "dy": p.given_shape("y")}
    o = s.w_shape[0]
    if op.name == "local":
        p = _patches(s)
        w = p.layout.shape_from_canonical(local_w_shape(p, o), "rhs")
        y = p.layout.shape_from_canonical((s.y_shape[0], o, *s.y_shape[2:]), "out")
        return {"x": s.given_shape("x"), "w": w, "b": (o,) if bias else None, "dy": y}
    n, out, taps = s.x_shape[0], s.y_shape[2:], math.prod(s.w_shape[2:]) * op.offset_groups
    return {
        "x": s.x_shape, "w": s.w_shape, "b": (o,) if bias else None,
        "offset": (n, taps * s.ndim, *out), "mask": (n, taps, *out) if op.mask else None, "dy": s.y_shape,
    }  # fmt: skip


def result_names(op: Operator) -> tuple[str, ...]:
    """The results of ``op``: ``y`` and the VJP of each operand (``dx`` of ``x`` and so on)."""
    if op.name == "patches":
        return ("y", "dx")
    if op.name == "deform":
        return ("y", "dx", "dw", "db", "doffset", *(("dmask",) if op.mask else ()))
    return ("y", "dx", "dw", "db")


def keywords(op: Operator, s: ConvSpec) -> dict[str, Any]:
    """The keywords of ``op``'s public function for ``s`` (``filter_shape`` not among them)."""
    options = s.options()
    if op.name in ("patches", "local"):
        return {k: v for k, v in options.items() if k not in ("groups", "batch_groups")}
    return options


def compute(
    op: Operator,
    s: ConvSpec,
    operands: Mapping[str, NDArray[Any] | None],
    module: ModuleType,
    which: Any = None,
) -> dict[str, NDArray[Any]]:
    """The results of ``op`` on ``operands`` (by :func:`operand_shapes`' names) through ``module``:
    :mod:`refconv` or :mod:`refconv.naive` (the convolution through
    :func:`refconv.testing.results`); those of ``which`` (default every one)."""
    names = result_names(op) if which is None else tuple(which)
    x, w, b, dy = (operands.get(name) for name in ("x", "w", "b", "dy"))
    k, kernel = keywords(op, s), s.w_shape[2:]
    out: dict[str, NDArray[Any]] = {}
    if op.name == "patches":
        if "y" in names:
            out["y"] = module.conv_patches(x, kernel, **k)
        if "dx" in names:
            out["dx"] = module.fold(dy, s.given_shape("x"), kernel, **k)
    elif op.name == "local":
        if "y" in names:
            out["y"] = module.conv_local(x, w, b, filter_shape=kernel, **k)
        if set(names) - {"y"}:
            out.update(
                zip(
                    ("dx", "dw", "db"), module.conv_local_vjp(x, w, dy, filter_shape=kernel, **k), strict=True
                )
            )
    elif op.name == "deform":
        offset, mask = operands["offset"], operands.get("mask")
        if "y" in names:
            out["y"] = module.deform_conv(x, w, offset, b, mask, **k)
        if set(names) - {"y"}:
            got = module.deform_conv_vjp(x, w, offset, dy, mask, **k)
            out.update(zip(("dx", "dw", "db", "doffset", "dmask"), got, strict=True))
    else:
        raise ValueError("the convolution's results are refconv.testing.results'")
    return {name: out[name] for name in names}
