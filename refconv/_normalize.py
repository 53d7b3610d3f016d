"""Argument normalisation and validation, shared by the fast path and :mod:`refconv.naive`.

Every misuse is caught here, before any array work, with a ValueError or
TypeError that names the parameter and the values.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv.geometry import (
    ConvParams,
    Padding,
    Shape,
    TransposeParams,
    dilated_shape,
    padded_shape,
    same_padding,
    transpose_output_spatial_shape,
)

IntOrInts = Union[int, Sequence[int]]
PaddingLike = Union[str, int, Sequence[int], Sequence[Sequence[int]]]
PADDING_WORDS = ("valid", "same", "same_lower")

_NUMERIC_KINDS = "iufc"


def _shown(value: Any) -> Any:
    """``value`` as messages show it: arrays as (nested) lists, on one line."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {_shown(value)!r}") from None


def _is_sequence(value: Any) -> bool:
    """A list, tuple or array of at least one dim (a 0-d array is a scalar)."""
    if isinstance(value, np.ndarray):
        return value.ndim > 0
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def per_dim(value: Any, name: str, ndim: int, minimum: int = 1) -> Shape:
    """An int, or one int per spatial dim, each ``>= minimum``, as a tuple of ``ndim`` ints."""
    if _is_sequence(value):
        items = tuple(_as_int(v, name) for v in value)
        if len(items) != ndim:
            raise ValueError(
                f"{name}={_shown(value)!r} has {len(items)} entries; "
                f"expected 1 int or {ndim} (one per spatial dim)"
            )
    else:
        items = (_as_int(value, name),) * ndim
    if any(v < minimum for v in items):
        raise ValueError(f"{name}={_shown(value)!r} must be >= {minimum} in every spatial dim")
    return items


def padding_pairs(padding: Any, ndim: int) -> Padding:
    """An int, one int per spatial dim, or one signed ``(lo, hi)`` pair per spatial dim."""
    expected = f"expected one of {PADDING_WORDS}, an int, {ndim} ints or {ndim} (lo, hi) pairs"
    padding = _shown(padding)
    if isinstance(padding, (str, bytes)):
        raise ValueError(f"padding={padding!r} is not supported; {expected}")
    if not _is_sequence(padding):
        p = _as_int(padding, "padding")
        return ((p, p),) * ndim
    items = list(padding)
    if len(items) != ndim:
        raise ValueError(f"padding={padding!r} has {len(items)} entries; {expected}")
    if all(not _is_sequence(item) for item in items):
        return tuple((p, p) for p in (_as_int(item, "padding") for item in items))
    pairs = []
    for item in items:
        if not _is_sequence(item) or len(item) != 2:
            raise ValueError(f"padding={padding!r} mixes ints and pairs or has a bad pair; {expected}")
        lo, hi = (_as_int(v, "padding") for v in item)
        pairs.append((lo, hi))
    return tuple(pairs)


def conv_params(
    ndim: int,
    *,
    stride: IntOrInts = 1,
    padding: PaddingLike = 0,
    dilation: IntOrInts = 1,
    input_dilation: IntOrInts = 1,
    groups: int = 1,
    batch_groups: int = 1,
) -> ConvParams:
    """Normalise the keyword arguments of a convolution with ``ndim`` spatial dims.

    The defaults are those of :func:`refconv.conv`; an unknown keyword is a TypeError.
    """
    groups = _as_int(groups, "groups")
    batch_groups = _as_int(batch_groups, "batch_groups")
    if groups < 1 or batch_groups < 1:
        raise ValueError(f"groups={groups} and batch_groups={batch_groups} must be >= 1")
    if groups > 1 and batch_groups > 1:
        raise ValueError(
            f"at most one of groups={groups} and batch_groups={batch_groups} may be > 1 (as in XLA)"
        )
    return ConvParams(
        stride=per_dim(stride, "stride", ndim),
        padding=padding_pairs(padding, ndim),
        dilation=per_dim(dilation, "dilation", ndim),
        input_dilation=per_dim(input_dilation, "input_dilation", ndim),
        groups=groups,
        batch_groups=batch_groups,
    )


def _kind(dtype: np.dtype[Any]) -> str:
    """NumPy's kind letter, with ml_dtypes' floats (bfloat16, float8_*) as ``"f"``."""
    if dtype.type.__module__ == "ml_dtypes" and "float" in dtype.name:
        return "f"
    return dtype.kind


def as_array(value: ArrayLike, name: str) -> NDArray[Any]:
    """``value`` as an ndarray of a numeric (integer, float or complex) dtype; ml_dtypes floats count."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} is not array-like: {error}") from None
    if _kind(array.dtype) not in _NUMERIC_KINDS:
        raise TypeError(f"{name} has dtype {array.dtype}; expected an integer, float or complex dtype")
    return array


def as_shape(value: Any, name: str) -> Shape:
    """A shape: a sequence of non-negative ints."""
    if not _is_sequence(value):
        raise TypeError(f"{name} must be a sequence of ints, got {value!r}")
    shape = tuple(_as_int(v, name) for v in value)
    if any(v < 0 for v in shape):
        raise ValueError(f"{name}={shape} has a negative size")
    return shape


def spatial_ndim(shape: Shape, name: str) -> int:
    """Number of spatial dims of an ``(N or C_out, C, *spatial)`` shape; at least 1."""
    if len(shape) < 3:
        raise ValueError(
            f"{name} has shape {shape}; expected (batch/out, channels, *spatial) with >= 1 spatial dim"
        )
    return len(shape) - 2


def checked_params(x_shape: Shape, w_shape: Shape, **keywords: Any) -> ConvParams:
    """The :class:`~refconv.geometry.ConvParams` of ``keywords`` for these shapes, after every check."""
    ndim = spatial_ndim(x_shape, "x")
    spatial_ndim(w_shape, "w")
    if len(x_shape) != len(w_shape):
        raise ValueError(f"x has shape {x_shape} and w has shape {w_shape}: their ranks differ")
    padding = keywords.pop("padding", 0)
    word = padding.lower() if isinstance(padding, str) and padding.lower() in PADDING_WORDS else None
    p = conv_params(ndim, padding=0 if word else padding, **keywords)
    if word is not None:
        p = replace(p, padding=_padding_for_word(word, padding, x_shape[2:], w_shape[2:], p))
    check_conv_shapes(x_shape, w_shape, p)
    return p


def _padding_for_word(word: str, given: str, x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> Padding:
    if any(dil != 1 for dil in p.input_dilation):
        raise ValueError(
            f"padding={given!r} with input_dilation={p.input_dilation} is ambiguous (JAX rejects it too); "
            "give explicit (lo, hi) pairs"
        )
    if word == "valid":
        return ((0, 0),) * len(x_spatial)
    return same_padding(x_spatial, w_spatial, p, lower=word == "same_lower")


def check_conv_shapes(x_shape: Shape, w_shape: Shape, p: ConvParams) -> None:
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
    if 0 in x_shape[2:] or 0 in w_shape[2:]:
        raise ValueError(f"spatial sizes must be >= 1: x has shape {x_shape}, w has shape {w_shape}")
    padded = padded_shape(x_shape[2:], p)
    k_hat = dilated_shape(w_shape[2:], p.dilation)
    for axis, (size, k) in enumerate(zip(padded, k_hat, strict=True)):
        if k > size:
            raise ValueError(
                f"in spatial dim {axis} the dilated kernel (size {k}, from w shape {w_shape} and "
                f"dilation={p.dilation}) is larger than the padded input (size {size}, from x shape "
                f"{x_shape}, input_dilation={p.input_dilation} and padding={p.padding})"
            )


def check_bias(b: NDArray[Any], out_channels: int) -> None:
    if b.shape != (out_channels,):
        raise ValueError(f"b has shape {b.shape}; expected ({out_channels},), one per output channel")


def check_cotangent(dy: NDArray[Any], expected: Shape) -> None:
    if dy.shape != tuple(expected):
        raise ValueError(f"dy has shape {dy.shape}; expected the output shape {tuple(expected)}")


def result_dtype(*arrays: NDArray[Any]) -> np.dtype[Any]:
    """The dtype of the result: NumPy's result type of the inputs."""
    try:
        return np.result_type(*arrays)
    except TypeError:  # numpy's DTypePromotionError, e.g. bfloat16 with float16
        raise TypeError(f"the inputs' dtypes {[str(a.dtype) for a in arrays]} have no common type") from None


def accumulation_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype sums are accumulated in by default: at least float32 for floats, 64-bit for integers.

    float16, bfloat16 and narrower floats accumulate in float32; float32,
    float64 and complex in themselves; signed integers in int64, unsigned in uint64.
    """
    kind = _kind(dtype)
    if kind == "f" and dtype.itemsize < 4:
        return np.dtype(np.float32)
    if kind in "iu":
        return np.dtype(np.int64 if kind == "i" else np.uint64)
    return dtype


def dtypes(*arrays: NDArray[Any], preferred: Any = None) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """``(accumulate, output)`` dtypes for these inputs and ``preferred_element_type``.

    The output is the inputs' result type, or ``preferred`` (JAX's rules: integer to integer or
    float, float to float, complex to complex, signedness kept, never narrower; a TypeError
    otherwise). Sums accumulate in :func:`~refconv._normalize.accumulation_dtype` of the wider of the two.
    """
    out = result_dtype(*arrays)
    if preferred is None:
        return accumulation_dtype(out), out
    try:
        wanted = np.dtype(preferred)
    except TypeError:
        raise TypeError(f"preferred_element_type={preferred!r} is not a dtype") from None
    given, asked = _kind(out), _kind(wanted)
    if asked not in _NUMERIC_KINDS or not (given == asked or given + asked in ("iu", "ui", "if", "uf")):
        raise TypeError(f"preferred_element_type={wanted} does not suit inputs of dtype {out} (JAX's rules)")
    if (given == "i" and asked == "u") or wanted.itemsize < out.itemsize:
        raise TypeError(
            f"preferred_element_type={wanted} is narrower than, or drops the sign of, the inputs' {out}"
        )
    if given in "iu" and asked == "f":
        return accumulation_dtype(wanted), wanted
    return np.promote_types(accumulation_dtype(out), accumulation_dtype(wanted)), wanted


def checked_transpose_params(
    x_shape: Shape,
    w_shape: Shape,
    *,
    stride: IntOrInts = 1,
    padding: PaddingLike = 0,
    output_padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
    output_shape: Any = None,
) -> TransposeParams:
    """The :class:`TransposeParams` of a transposed convolution, after every check (PyTorch's rules)."""
    ndim = spatial_ndim(x_shape, "x")
    spatial_ndim(w_shape, "w")
    if len(x_shape) != len(w_shape):
        raise ValueError(f"x has shape {x_shape} and w has shape {w_shape}: their ranks differ")
    p = conv_params(ndim, stride=stride, padding=padding, dilation=dilation, groups=groups)
    (c_in, g) = x_shape[1], p.groups
    if w_shape[0] != c_in:
        raise ValueError(
            f"w has shape {w_shape}; expected (C_in, C_out // groups, *kernel) with C_in={c_in}, x's channels"
        )
    if c_in % g:
        raise ValueError(f"groups={g} must divide in_channels={c_in}")
    if 0 in x_shape[2:] or 0 in w_shape[2:]:
        raise ValueError(f"spatial sizes must be >= 1: x has shape {x_shape}, w has shape {w_shape}")
    t = TransposeParams(
        p.stride, p.padding, per_dim(output_padding, "output_padding", ndim, minimum=0), p.dilation, g
    )
    if output_shape is not None:
        if any(t.output_padding):
            raise ValueError(
                f"give output_padding={output_padding!r} or output_shape={output_shape!r}, not both"
            )
        t = replace(t, output_padding=_output_padding_for(output_shape, x_shape, w_shape, t))
    limit = tuple(max(s, d) for s, d in zip(t.stride, t.dilation, strict=True))
    if any(o >= m for o, m in zip(t.output_padding, limit, strict=True)):
        raise ValueError(
            f"output_padding={t.output_padding} must be smaller than max(stride, dilation)={limit} "
            "in every spatial dim (as in PyTorch)"
        )
    out = transpose_output_spatial_shape(x_shape[2:], w_shape[2:], t)
    if any(size < 1 for size in out):
        raise ValueError(
            f"padding={t.padding} leaves no output: x shape {x_shape}, w shape {w_shape}, stride={t.stride}, "
            f"dilation={t.dilation} give output size {out}"
        )
    return t


def _output_padding_for(output_shape: Any, x_shape: Shape, w_shape: Shape, t: TransposeParams) -> Shape:
    """The output_padding that gives the requested spatial (or full) output shape."""
    wanted = as_shape(output_shape, "output_shape")
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


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def checked_padding_mode(mode: Any, x_shape: Shape, p: ConvParams) -> str:
    """``padding_mode``, with PyTorch's limits: padding >= 0, < n for reflect, <= n for circular."""
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode={mode!r} is not one of {PADDING_MODES}")
    if mode == "zeros":
        return str(mode)
    if any(d != 1 for d in p.input_dilation):
        raise ValueError(f"padding_mode={mode!r} needs input_dilation=1, got {p.input_dilation}")
    if any(v < 0 for pair in p.padding for v in pair):
        raise ValueError(f"padding_mode={mode!r} needs padding >= 0, got padding={p.padding}")
    limit = {"reflect": -1, "circular": 0}.get(mode)
    for size, (lo, hi) in zip(x_shape[2:], p.padding, strict=True):
        if limit is not None and max(lo, hi) > size + limit:
            bound = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(
                f"padding_mode={mode!r} needs padding {bound} the input size in every spatial dim "
                f"(as in PyTorch): padding={p.padding}, x spatial shape {x_shape[2:]}"
            )
    return str(mode)
