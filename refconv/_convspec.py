"""What every refconv function passes inward: :class:`ConvSpec`, one convolution problem, normalised.

:func:`refconv.spec` (``refconv/_spec.py``) builds one from shapes, dtypes and keywords; this module
holds the record itself and the typed keywords (:class:`ConvOptions`, :class:`TransposeOptions`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Union, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv._layout import Layout
from refconv.geometry import ConvParams, Padding, Shape, TransposeParams, transpose_conv_params

__all__ = ["ROLES", "ConvOptions", "ConvSpec", "DimensionNumbers", "TransposeOptions"]

IntOrInts = norm.IntOrInts
PaddingLike = norm.PaddingLike
DimensionNumbers = Union[tuple[str, str, str], None]
#: The roles of a convolution's arrays: the input, the weight and the output (or their cotangents).
ROLES = {"x": "lhs", "w": "rhs", "y": "out"}


class ConvOptions(TypedDict, total=False):
    """The keywords of :func:`refconv.conv` and of every function of the same convolution."""

    stride: IntOrInts
    padding: PaddingLike
    dilation: IntOrInts
    input_dilation: IntOrInts
    groups: int
    batch_groups: int
    padding_mode: str
    dimension_numbers: DimensionNumbers
    preferred_element_type: DTypeLike | None


class TransposeOptions(TypedDict, total=False):
    """The keywords of :func:`refconv.conv_transpose` and its VJPs."""

    stride: IntOrInts
    padding: PaddingLike
    output_padding: IntOrInts
    dilation: IntOrInts
    groups: int
    output_shape: Sequence[int] | None
    strict_output_padding: bool
    dimension_numbers: DimensionNumbers
    preferred_element_type: DTypeLike | None


@dataclass(frozen=True, repr=False)
class ConvSpec:
    """A convolution problem, normalised and validated by :func:`spec`; the only thing refconv passes inward.

    Shapes and per-dim parameters are in refconv's canonical order: ``x`` is
    ``(N, C_in, *spatial)``, ``w`` is ``(C_out, C_in // groups, *kernel)``
    (``(C_in, C_out // groups, *kernel)`` when ``transposed``) and ``y``
    ``(N // batch_groups, C_out, *out)``, spatial dims in the kernel spec's
    order when ``dimension_numbers`` is given (:meth:`given_shape` has the
    caller's order). ``padding`` is always ``(lo, hi)`` pairs; ``padding_word``
    remembers the word they came from. For a transposed convolution
    (PyTorch's semantics) ``stride``, ``padding``, ``dilation`` and ``groups``
    are those of the convolution it transposes, ``input_dilation`` is 1 and
    ``batch_groups`` 1. ``dtype`` is the result's dtype, ``accumulate`` the one
    sums are computed in.

    ``print(s)`` shows the shapes as the caller gives them (in the layout of
    ``dimension_numbers``, each labelled with its layout string) and, when that
    differs, the canonical ``x_shape``, ``w_shape`` and ``y_shape``;
    ``repr(s)`` is :meth:`source`, the call that rebuilds it.
    """

    x_shape: Shape
    w_shape: Shape
    y_shape: Shape
    stride: Shape
    padding: Padding
    dilation: Shape
    input_dilation: Shape
    dtype: np.dtype[Any]
    accumulate: np.dtype[Any]
    groups: int = 1
    batch_groups: int = 1
    padding_mode: str = "zeros"
    padding_word: str | None = None
    transposed: bool = False
    output_padding: Shape = ()
    strict_output_padding: bool = False
    dimension_numbers: DimensionNumbers = None
    preferred_element_type: np.dtype[Any] | None = None
    layout: Layout = field(default=Layout(), repr=False, compare=False)

    @property
    def ndim(self) -> int:
        """The number of spatial dims."""
        return len(self.stride)

    @property
    def empty(self) -> bool:
        """True when the problem has no product at all (``x``, ``w`` or ``y`` has no element).

        Every output, VJP and second-order term is a sum over triples of an
        element of each of the three (``<conv(x, w), dy>`` is trilinear), so all
        are zero (a bias still adds itself); no convolution is computed.
        """
        return 0 in (math.prod(self.x_shape), math.prod(self.w_shape), math.prod(self.y_shape))

    @property
    def params(self) -> ConvParams:
        """The convolution's geometry; for a transposed one, that of the convolution it transposes."""
        return ConvParams(
            self.stride, self.padding, self.dilation, self.input_dilation, self.groups, self.batch_groups
        )

    @property
    def transpose(self) -> TransposeParams:
        """The geometry of a transposed convolution (:attr:`transposed` specs only)."""
        if not self.transposed:
            raise ValueError("this spec is a convolution, not a transposed one")
        return TransposeParams(self.stride, self.padding, self.output_padding, self.dilation, self.groups)

    @property
    def general(self) -> ConvParams:
        """The general convolution that computes ``y``: :attr:`params`, or for a transposed convolution
        the one of :func:`refconv.geometry.transpose_conv_params` (with the flipped, swapped kernel)."""
        if self.transposed:
            return transpose_conv_params(self.w_shape[2:], self.transpose)
        return self.params

    @property
    def general_w_shape(self) -> Shape:
        """The shape of that general convolution's kernel, ``(C_out, C_in // groups, *kernel)``."""
        if self.transposed:
            c_in, o_group, *kernel = self.w_shape
            return (o_group * self.groups, c_in // self.groups, *kernel)
        return self.w_shape

    def given_shape(self, role: str) -> Shape:
        """The shape of ``"x"``, ``"w"`` or ``"y"`` in the caller's layout (``dimension_numbers``)."""
        canonical = {"x": self.x_shape, "w": self.w_shape, "y": self.y_shape}[role]
        return self.layout.shape_from_canonical(canonical, ROLES[role])

    @overload
    def operand(self, value: None, role: str, name: str) -> None: ...
    @overload
    def operand(self, value: ArrayLike, role: str, name: str) -> NDArray[Any]: ...
    def operand(self, value: ArrayLike | None, role: str, name: str) -> NDArray[Any] | None:
        """``value``, an array of role ``"x"``, ``"w"`` or ``"y"`` named ``name``, checked, made canonical.

        Its shape must be :meth:`given_shape`; the result is a view in the
        canonical layout, in the accumulation dtype (a copy if that differs).
        None (an absent tangent) stays None.
        """
        if value is None:
            return None
        array = norm.as_array(value, name)
        expected = self.given_shape(role)
        if array.shape != expected:
            what = {"x": "input", "w": "weight", "y": "output"}[role]
            raise ValueError(f"{name} has shape {array.shape}; expected the {what} shape {expected}")
        return self.layout.to_canonical(array, ROLES[role], name).astype(self.accumulate, copy=False)

    def bias(self, value: ArrayLike | None, name: str = "b") -> NDArray[Any] | None:
        """A bias (or its tangent) of shape ``(C_out,)`` in the accumulation dtype; None stays None."""
        if value is None:
            return None
        array = norm.as_array(value, name)
        if array.shape != (self.y_shape[1],):
            raise ValueError(
                f"{name} has shape {array.shape}; expected ({self.y_shape[1]},), one per output channel"
            )
        return array.astype(self.accumulate, copy=False)

    def result(self, array: NDArray[Any], role: str) -> NDArray[Any]:
        """A canonical result of role ``"x"``, ``"w"``, ``"y"`` or ``"b"``, in the caller's layout and dtype.

        Always a contiguous array that shares no memory with an input. A value beyond the output
        dtype's range becomes infinity, as IEEE rounds it, without NumPy's cast warning.
        """
        if role != "b":
            array = self.layout.from_canonical(array, ROLES[role])
        with np.errstate(over="ignore"):  # a narrower float overflows; no cast here is an invalid operation
            return np.ascontiguousarray(array.astype(self.dtype, copy=False))

    def options(self) -> dict[str, Any]:
        """The keywords, other than defaults, of this problem's public functions.

        :func:`refconv.conv` and its VJPs take them, or for a transposed spec
        :func:`refconv.conv_transpose` and its VJP; with :attr:`transposed`
        they give the spec back: ``spec(x, w, transposed=s.transposed,
        **s.options()) == s`` for ``x`` and ``w`` the :meth:`given_shape` of
        ``"x"`` and ``"w"`` (:func:`refconv.testing.assert_conv_close` takes
        ``spec=s`` instead).
        """
        ones = (1,) * self.ndim
        given: dict[str, tuple[Any, Any]] = {  # name: (value, default)
            "stride": (self.stride, ones),
            "padding": (self.padding_word or self.padding, ((0, 0),) * self.ndim),
            "dilation": (self.dilation, ones),
            "groups": (self.groups, 1),
            "dimension_numbers": (self.dimension_numbers, None),
            "preferred_element_type": (self.preferred_element_type, None),
        }
        if self.transposed:
            given["output_padding"] = (self.output_padding, (0,) * self.ndim)
            given["strict_output_padding"] = (self.strict_output_padding, False)
        else:
            given["input_dilation"] = (self.input_dilation, ones)
            given["batch_groups"] = (self.batch_groups, 1)
            given["padding_mode"] = (self.padding_mode, "zeros")
        return {name: value for name, (value, default) in given.items() if value != default}

    def source(self) -> str:
        """A Python expression that rebuilds this spec: ``refconv.spec(x_shape, w_shape, ..., dtype=...)``."""
        options = {
            k: (f"np.dtype({v.name!r})" if isinstance(v, np.dtype) else repr(v))
            for k, v in self.options().items()
        }
        arguments = [repr(self.given_shape("x")), repr(self.given_shape("w"))]
        arguments += [f"{k}={v}" for k, v in options.items()]
        if self.transposed:
            arguments.append("transposed=True")
        arguments.append(f"dtype={self.dtype.name!r}")
        return f"refconv.spec({', '.join(arguments)})"

    def __repr__(self) -> str:
        return self.source()

    def __str__(self) -> str:
        kind = "conv_transpose" if self.transposed else "conv"
        x, w, y = (self.given_shape(role) for role in "xwy")
        if self.dimension_numbers is None:
            lines = [f"{kind}: x {x}, w {w} -> y {y}"]
        else:
            lhs, rhs, out = self.dimension_numbers
            lines = [
                f"{kind}: x {x} {lhs}, w {w} {rhs} -> y {y} {out}",
                f"  as x_shape, w_shape, y_shape in refconv's order: x {self.x_shape}, w {self.w_shape} "
                f"-> y {self.y_shape}",
            ]
        word = f" (from {self.padding_word!r})" if self.padding_word else ""
        geometry = [f"stride {self.stride}", f"padding {self.padding}{word}", f"dilation {self.dilation}"]
        if self.transposed:
            geometry.append(f"output_padding {self.output_padding}")
        if any(d != 1 for d in self.input_dilation):
            geometry.append(f"input_dilation {self.input_dilation}")
        groups = [f"{name} {value}" for name, value in self._group_counts() if value > 1]
        lines.append("  " + ", ".join(geometry + groups))
        lines.append(f"  padding_mode {self.padding_mode!r}, {self.dtype}, accumulated in {self.accumulate}")
        return "\n".join(lines)

    def _group_counts(self) -> tuple[tuple[str, int], ...]:
        return ("groups", self.groups), ("batch_groups", self.batch_groups)
