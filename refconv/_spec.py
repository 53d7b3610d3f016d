r"""The front door: one normalised, validated description of a convolution problem.

Every public function of refconv (and of :mod:`refconv.naive`) starts the same
way: it builds a :class:`ConvSpec` with :func:`spec` from the shapes and dtypes
of its operands and its keywords, and from then on passes nothing else. A
keyword is read, checked and normalised here, once; below this module no
function sees a keyword. A spec is also what the tools take (``refconv
explain`` prints one, :mod:`refconv.backends` translates one into a framework's
call), so that every tool and backend talks about the same problem.

Examples
--------
>>> import refconv
>>> s = refconv.spec((8, 3, 32, 32), (16, 3, 5, 5), stride=2, padding="same")
>>> print(s)
conv: x (8, 3, 32, 32), w (16, 3, 5, 5) -> y (8, 16, 16, 16)
  stride (2, 2), padding ((1, 2), (1, 2)) (from 'same'), dilation (1, 1)
  padding_mode 'zeros', float64, accumulated in float64
>>> s.padding, s.y_shape
(((1, 2), (1, 2)), (8, 16, 16, 16))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypedDict, Union, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv import geometry, padding_modes
from refconv._layout import Layout, layout
from refconv.geometry import (
    ConvParams,
    Padding,
    Shape,
    TransposeParams,
    dilated_shape,
    padded_shape,
    same_padding,
    transpose_conv_params,
    transpose_output_spatial_shape,
    transpose_same_padding,
)

__all__ = ["ConvOptions", "ConvSpec", "TransposeOptions", "conv_spec", "spec", "transpose_spec"]

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


@dataclass(frozen=True)
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

        Always a contiguous array that shares no memory with an input.
        """
        if role != "b":
            array = self.layout.from_canonical(array, ROLES[role])
        return np.ascontiguousarray(array.astype(self.dtype, copy=False))

    def options(self) -> dict[str, Any]:
        """The keywords, other than defaults, that give this spec back: ``spec(x, w, **s.options())``.

        ``x`` and ``w`` are :meth:`given_shape` of ``"x"`` and ``"w"``; the tools
        call the public functions on the same problem with these.
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

    def __str__(self) -> str:
        kind = "conv_transpose" if self.transposed else "conv"
        x, w, y = (self.given_shape(role) for role in "xwy")
        lines = [f"{kind}: x {x}, w {w} -> y {y}"]
        if self.dimension_numbers is not None:
            lines[0] += f", dimension_numbers={self.dimension_numbers}"
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


def spec(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    *,
    stride: IntOrInts = 1,
    padding: PaddingLike = 0,
    dilation: IntOrInts = 1,
    input_dilation: IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
    padding_mode: str = "zeros",
    dimension_numbers: DimensionNumbers = None,
    preferred_element_type: DTypeLike | None = None,
    transposed: bool = False,
    output_padding: IntOrInts = 0,
    output_shape: Sequence[int] | None = None,
    strict_output_padding: bool = False,
    dtype: DTypeLike | Sequence[DTypeLike] | None = None,
) -> ConvSpec:
    r"""Normalise and validate one convolution problem: the front door of every refconv function.

    Parameters
    ----------
    x_shape, w_shape : sequence of int
        Shapes of the input and the weight, in the layout of ``dimension_numbers``.
    stride, padding, dilation, input_dilation, groups, batch_groups, padding_mode
        As in :func:`refconv.conv`.
    dimension_numbers, preferred_element_type
        As in :func:`refconv.conv`.
    transposed : bool
        Describe :func:`refconv.conv_transpose` instead: ``w_shape`` is then
        ``(C_in, C_out // groups, *kernel)``, and ``output_padding`` or
        ``output_shape`` (as in :func:`refconv.conv_transpose`) may be given;
        ``input_dilation``, ``batch_groups``, a padding word and a padding
        mode may not.
    output_padding, output_shape, strict_output_padding
        As in :func:`refconv.conv_transpose`.
    dtype : dtype or sequence of dtypes, optional
        The operands' dtype, or each operand's: the result is their NumPy
        result type, or ``preferred_element_type``. None (a problem without
        arrays, as for :func:`refconv.conv_output_shape`): float64, or
        ``preferred_element_type`` if given.

    Returns
    -------
    ConvSpec
        Frozen; prints readably.

    Raises
    ------
    ValueError, TypeError
        On any inconsistent shape or parameter, naming it and its values.
    """
    xs, ws = norm.as_shape(x_shape, "x_shape"), norm.as_shape(w_shape, "w_shape")
    ndim = norm.spatial_ndim(xs, "x")
    lay = layout(dimension_numbers, ndim, kernel_pair="IO" if transposed else "OI")
    xs, ws = lay.shape_to_canonical(xs, "lhs", "x"), lay.shape_to_canonical(ws, "rhs", "w")
    norm.spatial_ndim(ws, "w")
    if len(xs) != len(ws):
        raise ValueError(f"x has shape {xs} and w has shape {ws}: their ranks differ")
    if dtype is None or (_is_dtype_list(dtype) and not dtype):
        dtype = np.float64 if preferred_element_type is None else (
            norm.as_dtype(preferred_element_type, "preferred_element_type"))  # fmt: skip
    given = [norm.as_dtype(d, "dtype") for d in (dtype if _is_dtype_list(dtype) else [dtype])]  # type: ignore[union-attr]
    accumulate, out = norm.dtypes(given, preferred_element_type)
    common = ConvSpec(
        x_shape=xs, w_shape=ws, y_shape=(), stride=(), padding=(), dilation=(), input_dilation=(),
        dimension_numbers=None if dimension_numbers is None else tuple(dimension_numbers),  # type: ignore[arg-type]
        dtype=out, accumulate=accumulate, layout=lay,
        preferred_element_type=None if preferred_element_type is None else np.dtype(preferred_element_type),
    )  # fmt: skip
    if transposed:
        _only_for_conv(input_dilation=input_dilation, batch_groups=batch_groups, padding_mode=padding_mode)
        return _transpose_spec(
            common, stride, padding, output_padding, dilation, groups, output_shape, strict_output_padding
        )
    if output_shape is not None or output_padding != 0 or strict_output_padding:
        raise TypeError(
            "output_padding, output_shape and strict_output_padding are keywords of the transposed "
            "convolution only"
        )
    p, word = _conv_params(xs, ws, stride, padding, dilation, input_dilation, groups, batch_groups)
    mode = padding_modes.check(padding_mode, xs[2:], p)
    return replace(
        common, y_shape=geometry.output_shape(xs, ws, p), padding_mode=mode, padding_word=word, **_flat(p)
    )


def conv_spec(
    caller: str, x_shape: Sequence[int], w_shape: Sequence[int], dtypes: Sequence[DTypeLike],
    options: ConvOptions,
) -> ConvSpec:  # fmt: skip
    """The door of the convolution's functions: :func:`spec` of their keywords, and of no other.

    ``caller`` names the public function in the TypeError for a keyword it does not take.
    """
    _check_keywords(caller, options, ConvOptions)
    return spec(x_shape, w_shape, dtype=list(dtypes), **options)


def transpose_spec(
    caller: str, x_shape: Sequence[int], w_shape: Sequence[int], dtypes: Sequence[DTypeLike],
    options: TransposeOptions,
) -> ConvSpec:  # fmt: skip
    """The door of the transposed convolution's functions, as :func:`conv_spec`."""
    _check_keywords(caller, options, TransposeOptions)
    return spec(x_shape, w_shape, dtype=list(dtypes), transposed=True, **options)


def bias_cotangent(
    dy: ArrayLike, dimension_numbers: DimensionNumbers, preferred_element_type: DTypeLike | None
) -> tuple[NDArray[Any], np.dtype[Any]]:
    """The door of the bias VJP, which has no convolution to describe: ``dy`` checked, canonical, in
    the accumulation dtype, and the result's dtype."""
    array = norm.as_array(dy, "dy")
    norm.spatial_ndim(array.shape, "dy")
    canonical = layout(dimension_numbers, array.ndim - 2).to_canonical(array, "out", "dy")
    accumulate, out = norm.dtypes([array.dtype], preferred_element_type)
    return canonical.astype(accumulate, copy=False), out


def _check_keywords(caller: str, options: Any, allowed: Any) -> None:
    unknown = sorted(set(options) - set(allowed.__annotations__))
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")


def _is_dtype_list(dtype: Any) -> bool:
    return isinstance(dtype, (list, tuple))


def _flat(p: ConvParams) -> dict[str, Any]:
    return {f.name: getattr(p, f.name) for f in fields(p)}


def _only_for_conv(**given: Any) -> None:
    defaults = {"input_dilation": 1, "batch_groups": 1, "padding_mode": "zeros"}
    for name, value in given.items():
        if value != defaults[name]:
            raise TypeError(f"{name}={value!r} is not a parameter of the transposed convolution")


def _conv_params(
    xs: Shape, ws: Shape, stride: IntOrInts, padding: PaddingLike, dilation: IntOrInts,
    input_dilation: IntOrInts, groups: int, batch_groups: int,
) -> tuple[ConvParams, str | None]:  # fmt: skip
    """The convolution's geometry after every check, and the padding word it came from."""
    word = padding.lower() if isinstance(padding, str) and padding.lower() in norm.PADDING_WORDS else None
    p = norm.conv_params(
        len(xs) - 2, stride, 0 if word else padding, dilation, input_dilation, groups, batch_groups
    )
    if word is not None:
        p = replace(p, padding=_padding_for_word(word, xs[2:], ws[2:], p))
    _check_conv_shapes(xs, ws, p)
    return p, word


def _padding_for_word(word: str, x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> Padding:
    if any(dil != 1 for dil in p.input_dilation):
        raise ValueError(
            f"padding={word!r} with input_dilation={p.input_dilation} is ambiguous (JAX rejects it too); "
            "give explicit (lo, hi) pairs"
        )
    if word == "valid":
        return ((0, 0),) * len(x_spatial)
    return same_padding(x_spatial, w_spatial, p, lower=word == "same_lower")


def _check_conv_shapes(x_shape: Shape, w_shape: Shape, p: ConvParams) -> None:
    """Channel counts, group divisibility and that every window fits in the padded input."""
    (n, c), (o, i) = x_shape[:2], w_shape[:2]
    g, bg = p.groups, p.batch_groups
    if c % g or o % g:
        raise ValueError(f"groups={g} must divide in_channels={c} and out_channels={o}")
    if c // g != i:
        raise ValueError(
            f"w has {i} input channels but x has in_channels={c} with groups={g}: expected {c // g}"
        )
    if n % bg or o % bg:
        raise ValueError(f"batch_groups={bg} must divide the batch size {n} and out_channels={o}")
    _check_spatial_sizes(x_shape, w_shape)
    padded = padded_shape(x_shape[2:], p)
    k_hat = dilated_shape(w_shape[2:], p.dilation)
    for axis, (size, k) in enumerate(zip(padded, k_hat, strict=True)):
        if k > size:
            raise ValueError(
                f"in spatial dim {axis} the dilated kernel (size {k}, from w shape {w_shape} and "
                f"dilation={p.dilation}) is larger than the padded input (size {size}, from x shape "
                f"{x_shape}, input_dilation={p.input_dilation} and padding={p.padding})"
            )


def _check_spatial_sizes(x_shape: Shape, w_shape: Shape) -> None:
    if 0 in x_shape[2:] or 0 in w_shape[2:]:
        raise ValueError(f"spatial sizes must be >= 1: x has shape {x_shape}, w has shape {w_shape}")


def _transpose_spec(
    common: ConvSpec, stride: IntOrInts, padding: PaddingLike, output_padding: IntOrInts,
    dilation: IntOrInts, groups: int, output_shape: Sequence[int] | None, strict: bool,
) -> ConvSpec:  # fmt: skip
    """The spec of a transposed convolution, after every check (PyTorch's rules; ONNX's padding words)."""
    xs, ws = common.x_shape, common.w_shape
    ndim = len(xs) - 2
    word = padding.lower() if isinstance(padding, str) and padding.lower() in norm.PADDING_WORDS else None
    p = norm.conv_params(ndim, stride, 0 if word else padding, dilation, 1, groups, 1)
    c_in, g = xs[1], p.groups
    if ws[0] != c_in:
        raise ValueError(
            f"w has shape {ws}; expected (C_in, C_out // groups, *kernel) with C_in={c_in}, x's channels"
        )
    if c_in % g:
        raise ValueError(f"groups={g} must divide in_channels={c_in}")
    _check_spatial_sizes(xs, ws)
    t = TransposeParams(
        p.stride, p.padding, norm.per_dim(output_padding, "output_padding", ndim, minimum=0), p.dilation, g
    )
    if output_shape is not None:
        if any(t.output_padding) or word is not None:
            given = f"output_padding={output_padding!r}" if word is None else f"padding={padding!r}"
            raise ValueError(f"give {given} or output_shape={output_shape!r}, not both")
        t = replace(t, output_padding=_output_padding_for(output_shape, xs, ws, t))
    _check_output_padding(t, strict)
    if word is not None:
        pairs = ((0, 0),) * ndim if word == "valid" else transpose_same_padding(
            ws[2:], t.stride, t.dilation, t.output_padding, lower=word == "same_lower")  # fmt: skip
        t, p = replace(t, padding=pairs), replace(p, padding=pairs)
    out = transpose_output_spatial_shape(xs[2:], ws[2:], t)
    if any(size < 1 for size in out):
        raise ValueError(
            f"padding={t.padding} leaves no output: x shape {xs}, w shape {ws}, stride={t.stride}, "
            f"dilation={t.dilation} give output size {out}"
        )
    return replace(
        common, y_shape=(xs[0], ws[1] * g, *out), transposed=True, output_padding=t.output_padding,
        padding_word=word, strict_output_padding=strict, **_flat(p),
    )  # fmt: skip


def _check_output_padding(t: TransposeParams, strict: bool) -> None:
    """``output_padding < max(stride, dilation)`` (PyTorch's rule), or ``< stride`` when ``strict``."""
    limit = t.stride if strict else tuple(max(s, d) for s, d in zip(t.stride, t.dilation, strict=True))
    if any(o >= m for o, m in zip(t.output_padding, limit, strict=True)):
        rule = (
            (
                f"stride={limit} in every spatial dim (strict_output_padding=True: ONNX's, TensorFlow's and "
                "Keras's rule)"
            )
            if strict
            else f"max(stride, dilation)={limit} in every spatial dim (as in PyTorch)"
        )
        raise ValueError(f"output_padding={t.output_padding} must be smaller than {rule}")


def _output_padding_for(output_shape: Any, x_shape: Shape, w_shape: Shape, t: TransposeParams) -> Shape:
    """The output_padding that gives the requested spatial (or full) output shape."""
    wanted = norm.as_shape(output_shape, "output_shape")
    ndim = len(x_shape) - 2
    full = (x_shape[0], w_shape[1] * t.groups)
    if len(wanted) == ndim + 2 and wanted[:2] == full:
        wanted = wanted[2:]
    if len(wanted) != ndim:
        raise ValueError(
            f"output_shape={wanted} must be {ndim} spatial sizes or the full shape {full} + spatial"
        )
    smallest = transpose_output_spatial_shape(x_shape[2:], w_shape[2:], t)
    extra = tuple(o - s for o, s in zip(wanted, smallest, strict=True))
    if any(e < 0 for e in extra):
        raise ValueError(
            f"output_shape={wanted} is smaller than the smallest output {smallest} of these parameters"
        )
    return extra
