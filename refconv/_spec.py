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

import difflib
import math
import os
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from refconv import _normalize as norm
from refconv import geometry, padding_modes
from refconv._convspec import ConvOptions, ConvSpec, DimensionNumbers, TransposeOptions
from refconv._layout import layout
from refconv.geometry import (
    ConvParams,
    Padding,
    Shape,
    TransposeParams,
    input_vjp_params,
    padded_shape,
    same_padding,
    transpose_output_spatial_shape,
    transpose_same_padding,
)

__all__ = [
    "MAX_ELEMENTS",
    "ConvOptions",
    "ConvSpec",
    "TransposeOptions",
    "check_sizes",
    "conv_spec",
    "max_elements",
    "spec",
    "transpose_spec",
]

#: The default of ``REFCONV_MAX_ELEMENTS``: the most elements any one array a computation allocates
#: may have (2**28: 2 GiB in float64, so that the fast path's window copies, at most twice the
#: larger of input and output, stay within about 10 GiB).
MAX_ELEMENTS = 1 << 28
#: The most elements NumPy can index in one array, and so the most any spec may describe.
INDEXABLE = int(np.iinfo(np.intp).max)

IntOrInts = norm.IntOrInts
PaddingLike = norm.PaddingLike


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
        ``input_dilation``, ``batch_groups`` and a padding mode may not. A
        padding word is read as :func:`refconv.conv_transpose` reads it.
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
    transposed = norm.as_flag(transposed, "transposed")
    strict_output_padding = norm.as_flag(strict_output_padding, "strict_output_padding")
    ndim = norm.spatial_ndim(xs, "x")
    lay = layout(dimension_numbers, ndim, kernel_pair="IO" if transposed else "OI")
    xs, ws = lay.shape_to_canonical(xs, "lhs", "x"), lay.shape_to_canonical(ws, "rhs", "w")
    norm.spatial_ndim(ws, "w")
    if len(xs) != len(ws):
        raise ValueError(f"x has shape {xs} and w has shape {ws}: their ranks differ")
    no_dtype = dtype is None or (_is_dtype_list(dtype) and not dtype)
    from_preferred = no_dtype and preferred_element_type is not None
    if no_dtype:
        dtype = np.float64 if preferred_element_type is None else (
            norm.as_dtype(preferred_element_type, "preferred_element_type"))  # fmt: skip
    given = [norm.as_dtype(d, "dtype") for d in (dtype if _is_dtype_list(dtype) else [dtype])]  # type: ignore[union-attr]
    for d in given:
        if norm.kind(d) not in "iufc":
            name = "preferred_element_type" if from_preferred else "dtype"
            raise TypeError(f"{name}={dtype!r} holds {d}; expected integer, float or complex dtypes")
    accumulate, out = norm.dtypes(given, preferred_element_type)
    common = ConvSpec(
        x_shape=xs, w_shape=ws, y_shape=(), stride=(), padding=(), dilation=(), input_dilation=(),
        dimension_numbers=None if dimension_numbers is None else tuple(dimension_numbers),  # type: ignore[arg-type]
        dtype=out, accumulate=accumulate, layout=lay,
        preferred_element_type=None if preferred_element_type is None else np.dtype(preferred_element_type),
    )  # fmt: skip
    if transposed:
        _only_for_conv(ndim, input_dilation, batch_groups, padding_mode)
        s = _transpose_spec(
            common, stride, padding, output_padding, dilation, groups, output_shape, strict_output_padding
        )
        return check_sizes(s, INDEXABLE, "the most NumPy can index", vjp=False)
    if (
        output_shape is not None
        or any(norm.per_dim(output_padding, "output_padding", ndim, 0))
        or (strict_output_padding)
    ):
        raise TypeError(
            "output_padding, output_shape and strict_output_padding are keywords of the transposed "
            "convolution only"
        )
    p, word = _conv_params(xs, ws, stride, padding, dilation, input_dilation, groups, batch_groups)
    mode = padding_modes.check(padding_mode, xs[2:], p)
    s = replace(
        common, y_shape=geometry.output_shape(xs, ws, p), padding_mode=mode, padding_word=word, **_flat(p)
    )
    return check_sizes(s, INDEXABLE, "the most NumPy can index", vjp=False)


def conv_spec(
    caller: str, x_shape: Sequence[int], w_shape: Sequence[int], dtypes: Sequence[DTypeLike],
    options: ConvOptions,
) -> ConvSpec:  # fmt: skip
    """The door of the convolution's functions: :func:`spec` of their keywords, and of no other.

    ``caller`` names the public function in the TypeError for a keyword it does not take.
    """
    check_keywords(caller, options, ConvOptions)
    s = spec(x_shape, w_shape, dtype=list(dtypes), **options)
    if caller.endswith("output_shape"):
        return s
    return check_sizes(s, max_elements(), "REFCONV_MAX_ELEMENTS", vjp="vjp" in caller)


def transpose_spec(
    caller: str, x_shape: Sequence[int], w_shape: Sequence[int], dtypes: Sequence[DTypeLike],
    options: TransposeOptions,
) -> ConvSpec:  # fmt: skip
    """The door of the transposed convolution's functions, as :func:`conv_spec`."""
    check_keywords(caller, options, TransposeOptions)
    s = spec(x_shape, w_shape, dtype=list(dtypes), transposed=True, **options)
    return check_sizes(s, max_elements(), "REFCONV_MAX_ELEMENTS", vjp="vjp" in caller)


def max_elements() -> int:
    """``REFCONV_MAX_ELEMENTS`` from the environment, or :data:`MAX_ELEMENTS`: the most elements one
    array of a computation may have."""
    value = os.environ.get("REFCONV_MAX_ELEMENTS")
    if value is None:
        return MAX_ELEMENTS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(
            f"REFCONV_MAX_ELEMENTS={value!r} must be a positive integer (default {MAX_ELEMENTS})"
        )
    return limit


def check_sizes(s: ConvSpec, limit: int, limit_name: str, *, vjp: bool) -> ConvSpec:
    """``s``, after checking that no array its computation allocates has more than ``limit`` elements.

    The arrays: ``x``, ``w`` and ``y``, the dilated, padded input of the general convolution that
    computes ``y`` (and of the weight VJP), and with ``vjp`` the stride-dilated, padded cotangent of
    the convolution that computes the input VJP. Computed from the spec's sizes alone, in microseconds,
    before anything is allocated; a ValueError names the parameter that makes the largest one large.
    """
    shapes = {"x": s.x_shape, "w": s.w_shape, "y": s.y_shape}
    p, w_spatial = s.general, s.general_w_shape[2:]
    if not s.empty:  # an empty problem allocates zeros of x's, w's or y's shape, nothing else
        shapes["the padded input"] = (*s.x_shape[:2], *padded_shape(s.x_shape[2:], p))
        if vjp:
            q = input_vjp_params(s.x_shape[2:], w_spatial, p)
            shapes["the padded cotangent of the input VJP"] = (
                *s.y_shape[:2],
                *padded_shape(s.y_shape[2:], q),
            )
    what, shape = max(shapes.items(), key=lambda item: math.prod(item[1]))
    if math.prod(shape) <= limit:
        return s
    name, value = _largest_term(s, what)
    raise ValueError(
        f"{name}={value!r} makes {what} {shape}, {math.prod(shape):,} elements: more than "
        f"{limit_name} ({limit:,})"
    )


def _largest_term(s: ConvSpec, what: str) -> tuple[str, Any]:
    """The parameter whose term in the sizes is the largest, and its value (for :func:`check_sizes`).

    Not mutated (``nox -s mutation``): it picks which parameter a message names, a heuristic of
    words (as the messages themselves are), not a formula; tests/test_sizes.py checks its picks.
    """
    # pragma: no mutate block
    n, k = s.x_shape[2:], s.w_shape[2:]
    terms: dict[str, int] = {
        "x_shape": max(s.x_shape),
        "w_shape": max(s.w_shape) if what != "x" else 0,
        "padding": max((max(lo, 0) + max(hi, 0) for lo, hi in s.padding), default=0) if what != "x" else 0,
        "input_dilation": max(
            ((dd - 1) * (ni - 1) for dd, ni in zip(s.input_dilation, n, strict=True)), default=0
        ),
        "dilation": max(((d - 1) * (ki - 1) for d, ki in zip(s.dilation, k, strict=True)), default=0),
        "stride": max(((st - 1) * (ni - 1) for st, ni in zip(s.stride, n, strict=True)), default=0)
        if s.transposed
        else 0,
        "output_padding": max(s.output_padding, default=0),
    }
    name = max(terms, key=lambda key: terms[key])
    values = {"x_shape": s.x_shape, "w_shape": s.w_shape, "padding": s.padding,
              "input_dilation": s.input_dilation, "dilation": s.dilation, "stride": s.stride,
              "output_padding": s.output_padding}  # fmt: skip
    return name, values[name]


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


def check_keywords(caller: str, options: Any, *allowed: Any) -> None:
    """A TypeError naming ``caller`` for a keyword none of the TypedDicts ``allowed`` has (with the
    nearest name it does have, for a typo such as ``strides``)."""
    names = [name for typed in allowed for name in typed.__annotations__]
    unknown = sorted(set(options) - set(names))
    if unknown:
        near = difflib.get_close_matches(unknown[0], names, n=1, cutoff=0.75)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}{hint}")


def _is_dtype_list(dtype: Any) -> bool:
    return isinstance(dtype, (list, tuple))


def _flat(p: ConvParams) -> dict[str, Any]:
    return {f.name: getattr(p, f.name) for f in fields(p)}


def _only_for_conv(ndim: int, input_dilation: Any, batch_groups: Any, padding_mode: Any) -> None:
    """A TypeError for a convolution-only keyword given a value other than its default, with a
    transposed convolution; each value checked first as the convolution checks it."""
    given = {
        "input_dilation": (
            input_dilation,
            norm.per_dim(input_dilation, "input_dilation", ndim) != (1,) * ndim,
        ),
        "batch_groups": (batch_groups, norm.as_int(batch_groups, "batch_groups") != 1),
        "padding_mode": (padding_mode, not isinstance(padding_mode, str) or padding_mode != "zeros"),
    }
    for name, (value, other) in given.items():
        if other:
            raise TypeError(f"{name}={value!r} is not a parameter of the transposed convolution")


def _conv_params(
    xs: Shape, ws: Shape, stride: IntOrInts, padding: PaddingLike, dilation: IntOrInts,
    input_dilation: IntOrInts, groups: int, batch_groups: int,
) -> tuple[ConvParams, str | None]:  # fmt: skip
    """The convolution's geometry after every check, and the padding word it came from."""
    word = norm.padding_word(padding)
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
    _check_kernel_sizes(w_shape)
    for axis, size in enumerate(padded_shape(x_shape[2:], p)):
        if size < 0:
            raise ValueError(
                f"padding={p.padding} crops more than the input has in spatial dim {axis}: x shape "
                f"{x_shape} and input_dilation={p.input_dilation} leave a padded size of {size} (as JAX, "
                "refconv needs it >= 0; a kernel longer than the padded input gives an empty output)"
            )


def _check_kernel_sizes(w_shape: Shape) -> None:
    """A kernel of size 0 has no taps: no window, so no output size (XLA rejects it too)."""
    if 0 in w_shape[2:]:
        raise ValueError(f"w has shape {w_shape}: a kernel's spatial sizes must be >= 1")


def _transpose_spec(
    common: ConvSpec, stride: IntOrInts, padding: PaddingLike, output_padding: IntOrInts,
    dilation: IntOrInts, groups: int, output_shape: Sequence[int] | None, strict: bool,
) -> ConvSpec:  # fmt: skip
    """The spec of a transposed convolution, after every check (PyTorch's rules; ONNX's padding words)."""
    xs, ws = common.x_shape, common.w_shape
    ndim = len(xs) - 2
    word = norm.padding_word(padding)
    p = norm.conv_params(ndim, stride, 0 if word else padding, dilation, 1, groups, 1)
    c_in, g = xs[1], p.groups
    if ws[0] != c_in:
        raise ValueError(
            f"w has shape {ws}; expected (C_in, C_out // groups, *kernel) with C_in={c_in}, x's channels"
        )
    if c_in % g:
        raise ValueError(f"groups={g} must divide in_channels={c_in}")
    _check_kernel_sizes(ws)
    t = TransposeParams(
        p.stride, p.padding, norm.per_dim(output_padding, "output_padding", ndim, minimum=0), p.dilation, g
    )
    if output_shape is not None:
        if any(t.output_padding) or word is not None:
            given = f"output_padding={output_padding!r}" if word is None else f"padding={padding!r}"
            raise ValueError(f"give {given} or output_shape={output_shape!r}, not both")
        t = replace(t, output_padding=_output_padding_for(output_shape, xs, ws, t))
    _check_output_padding(
        t, strict, None if output_shape is None else f"output_shape={output_shape!r} needs "
    )
    if word is not None:
        pairs = ((0, 0),) * ndim if word == "valid" else transpose_same_padding(
            ws[2:], t.stride, t.dilation, t.output_padding, lower=word == "same_lower")  # fmt: skip
        t, p = replace(t, padding=pairs), replace(p, padding=pairs)
    out = transpose_output_spatial_shape(xs[2:], ws[2:], t)
    if any(size < 0 for size in out):
        raise ValueError(
            f"padding={t.padding} crops more than the output has: x shape {xs}, w shape {ws}, "
            f"stride={t.stride}, dilation={t.dilation} and output_padding={t.output_padding} give "
            f"output size {out}"
        )
    return replace(
        common, y_shape=(xs[0], ws[1] * g, *out), transposed=True, output_padding=t.output_padding,
        padding_word=word, strict_output_padding=strict, **_flat(p),
    )  # fmt: skip


def _check_output_padding(t: TransposeParams, strict: bool, source: str | None = None) -> None:
    """``output_padding < max(stride, dilation)`` (PyTorch's rule), or ``< stride`` when ``strict``.

    ``source`` starts the message when the output padding came from another argument (``output_shape``).
    """
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
        given = f"output_padding={t.output_padding}" if source is None else (
            f"{source}output_padding={t.output_padding}, which")  # fmt: skip
        raise ValueError(f"{given} must be smaller than {rule}")


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
