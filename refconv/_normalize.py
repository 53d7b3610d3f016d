"""Validation of single arguments: ints, per-dim values, padding, shapes, arrays, dtypes.

The pieces :func:`refconv.spec` is built from. Every misuse is caught here,
before any array work, with a ValueError or TypeError that names the
parameter and the values.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv.geometry import ConvParams, Padding, Shape

IntOrInts = Union[int, Sequence[int]]
PaddingLike = Union[str, int, Sequence[int], Sequence[Sequence[int]]]
PADDING_WORDS = ("valid", "same", "same_lower")

_NUMERIC_KINDS = "iufc"


def _shown(value: Any) -> Any:
    """``value`` as messages show it: arrays as (nested) lists, on one line."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def as_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {_shown(value)!r}") from None


def as_flag(value: Any, name: str) -> bool:
    """A flag: ``True``, ``False`` or a NumPy bool, nothing else (``"no"`` is not False)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_shown(value)!r}")
    return bool(value)


def padding_word(padding: Any) -> str | None:
    """The padding word ``padding`` spells, lower case (a 0-d string array counts), or None."""
    if isinstance(padding, np.ndarray) and padding.ndim == 0 and padding.dtype.kind in "US":
        padding = str(padding)
    return padding.lower() if isinstance(padding, str) and padding.lower() in PADDING_WORDS else None


def _is_sequence(value: Any) -> bool:
    """A list, tuple or array of at least one dim (a 0-d array is a scalar)."""
    if isinstance(value, np.ndarray):
        return value.ndim > 0
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def per_dim(value: Any, name: str, ndim: int, minimum: int = 1) -> Shape:
    """An int, or one int per spatial dim, each ``>= minimum``, as a tuple of ``ndim`` ints."""
    if _is_sequence(value):
        items = tuple(as_int(v, name) for v in value)
        if len(items) != ndim:
            raise ValueError(
                f"{name}={_shown(value)!r} has {len(items)} entries; "
                f"expected 1 int or {ndim} (one per spatial dim)"
            )
    else:
        items = (as_int(value, name),) * ndim
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
        p = as_int(padding, "padding")
        return ((p, p),) * ndim
    items = list(padding)
    if len(items) != ndim:
        raise ValueError(f"padding={padding!r} has {len(items)} entries; {expected}")
    if all(not _is_sequence(item) for item in items):
        return tuple((p, p) for p in (as_int(item, "padding") for item in items))
    pairs = []
    for item in items:
        if not _is_sequence(item) or len(item) != 2:
            raise ValueError(f"padding={padding!r} mixes ints and pairs or has a bad pair; {expected}")
        lo, hi = (as_int(v, "padding") for v in item)
        pairs.append((lo, hi))
    return tuple(pairs)


def conv_params(
    ndim: int,
    stride: IntOrInts,
    padding: PaddingLike,
    dilation: IntOrInts,
    input_dilation: IntOrInts,
    groups: int,
    batch_groups: int,
) -> ConvParams:
    """The :class:`~refconv.geometry.ConvParams` of these values for ``ndim`` spatial dims, each checked.

    The defaults live in one place, :func:`refconv.spec`'s signature.
    """
    groups = as_int(groups, "groups")
    batch_groups = as_int(batch_groups, "batch_groups")
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


def kind(dtype: np.dtype[Any]) -> str:
    """NumPy's kind letter, with ml_dtypes' floats (bfloat16, float8_*) as ``"f"``."""
    if _is_ml_float(dtype):
        return "f"
    return dtype.kind


def as_array(value: ArrayLike, name: str) -> NDArray[Any]:
    """``value`` as an ndarray of a numeric (integer, float or complex) dtype; ml_dtypes floats count."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; refconv does not read masks: pass {name}.filled(0) for masked "
            f"elements as zeros, or {name}.data for the values under the mask"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} is not array-like: {error}") from None
    if kind(array.dtype) not in _NUMERIC_KINDS:
        raise TypeError(f"{name} has dtype {array.dtype}; expected an integer, float or complex dtype")
    return array


def dtypes_of(**values: ArrayLike | None) -> list[np.dtype[Any]]:
    """The dtypes of the given operands (None: absent), each checked by :func:`as_array` under its name."""
    return [as_array(value, name).dtype for name, value in values.items() if value is not None]


def as_shape(value: Any, name: str) -> Shape:
    """A shape: a sequence of non-negative ints."""
    if not _is_sequence(value):
        raise TypeError(f"{name} must be a sequence of ints, got {value!r}")
    shape = tuple(as_int(v, name) for v in value)
    if any(v < 0 for v in shape):
        raise ValueError(f"{name}={shape} has a negative size")
    return shape


def spatial_ndim(shape: Shape, name: str) -> int:
    """Number of spatial dims of an ``(N or C_out, C, *spatial)`` shape; 0 or more (0: a grouped matmul)."""
    if len(shape) < 2:
        raise ValueError(
            f"{name} has shape {shape}; expected (batch/out, channels, *spatial) with >= 0 spatial dims"
        )
    return len(shape) - 2


def as_dtype(value: Any, name: str) -> np.dtype[Any]:
    """``value`` as a NumPy dtype, or a TypeError naming ``name``."""
    for attempt in ("as given", "with ml_dtypes"):
        if attempt == "with ml_dtypes" and not (isinstance(value, str) and _registers_ml_dtypes()):
            break  # "bfloat16" and the like: NumPy knows their names once ml_dtypes is imported
        try:
            dtype: np.dtype[Any] = np.dtype(value)
        except (TypeError, ValueError):  # ValueError: a malformed structured-dtype description
            continue
        return dtype
    raise TypeError(f"{name}={value!r} is not a dtype")


def _registers_ml_dtypes() -> bool:
    """Import ml_dtypes (which registers bfloat16 and friends with NumPy); whether it is installed."""
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        return False
    return True


def result_dtype(*given: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype of the result: NumPy's result type, extended to ml_dtypes' floats by one fixed rule.

    For NumPy's own dtypes this is ``numpy.result_type``. Where an ml_dtypes float (bfloat16,
    float8_*, ...) meets another dtype, the pair promotes by ``_promote_pair``, the rule that
    ml_dtypes 0.7 registers with NumPy, computed here so that the result does not depend on the
    installed ml_dtypes (before 0.7 its table had holes: bfloat16 with float16 had no common type).
    """
    if not any(_is_ml_float(d) for d in given):
        return np.result_type(*given)  # every numeric NumPy dtype promotes (as_array checked them)
    out = given[0]
    for dtype in given[1:]:
        out = _promote_pair(out, dtype)
    return out


def _is_ml_float(dtype: np.dtype[Any]) -> bool:
    return dtype.type.__module__ == "ml_dtypes" and "float" in dtype.name


def _promote_pair(a: np.dtype[Any], b: np.dtype[Any]) -> np.dtype[Any]:
    """Two dtypes, at least one an ml_dtypes float: the narrower of the two if it holds the other
    exactly, else float32; with a NumPy dtype, as float16 would promote, except that two
    different floats give at least float32 (and a bool or 8-bit integer keeps the ml_dtypes float)."""
    if not (_is_ml_float(a) or _is_ml_float(b)):
        return np.promote_types(a, b)
    if _is_ml_float(a) and _is_ml_float(b):  # a float holds itself: the same dtype is itself
        return a if _holds(a, b) else b if _holds(b, a) else np.dtype(np.float32)
    custom, other = (a, b) if _is_ml_float(a) else (b, a)
    if other.kind == "f":
        return np.promote_types(other, np.float32)
    promoted = np.promote_types(np.float16, other)
    return custom if promoted == np.float16 else promoted


def _holds(a: np.dtype[Any], b: np.dtype[Any]) -> bool:
    """Whether float dtype ``a`` represents every value of float dtype ``b`` exactly."""
    fa, fb = _float_range(a), _float_range(b)
    return fa[0] >= fb[0] and fa[1] <= fb[1] and fa[2] >= fb[2] and fa[3] >= fb[3] and fa[4] >= fb[4]


def _float_range(dtype: np.dtype[Any]) -> tuple[float, float, int, bool, bool]:
    """(largest value, smallest subnormal, mantissa bits, has infinities, has negative values)."""
    import ml_dtypes

    info = ml_dtypes.finfo(dtype)
    has_inf = bool(np.isinf(np.asarray(np.inf).astype(dtype).astype(np.float64)))  # without: NaN, no warning
    return float(info.max), float(info.smallest_subnormal), int(info.nmant), has_inf, float(info.min) < 0


def accumulation_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype sums are accumulated in by default: at least float32 for floats, 64-bit for integers.

    float16, bfloat16 and narrower floats accumulate in float32; float32,
    float64 and complex in themselves; signed integers in int64, unsigned in uint64.
    """
    letter = kind(dtype)
    if letter == "f" and dtype.itemsize < 4:
        return np.dtype(np.float32)
    if letter in "iu":
        return np.dtype(np.int64 if letter == "i" else np.uint64)
    return dtype


def dtypes(given: Sequence[np.dtype[Any]], preferred: Any = None) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """``(accumulate, output)`` dtypes for operands of dtypes ``given`` and ``preferred_element_type``.

    The output is the inputs' result type, or ``preferred`` (JAX's rules: integer to integer or
    float, float to float, complex to complex, signedness kept, never narrower; a TypeError
    otherwise). Sums accumulate in :func:`~refconv._normalize.accumulation_dtype` of the wider of the
    two; integer inputs in that of ``preferred``, to which XLA converts them (so unsigned inputs with
    a signed preferred type sum in int64, not in the float64 NumPy would promote uint64 and int64 to).
    """
    out = result_dtype(*given)
    if preferred is None:
        return accumulation_dtype(out), out
    wanted = as_dtype(preferred, "preferred_element_type")
    have, asked = kind(out), kind(wanted)
    if asked not in _NUMERIC_KINDS or not (have == asked or have + asked in ("iu", "ui", "if", "uf")):
        raise TypeError(f"preferred_element_type={wanted} does not suit inputs of dtype {out} (JAX's rules)")
    if (have == "i" and asked == "u") or wanted.itemsize < out.itemsize:
        raise TypeError(
            f"preferred_element_type={wanted} is narrower than, or drops the sign of, the inputs' {out}"
        )
    if have in "iu":
        return accumulation_dtype(wanted), wanted
    return np.promote_types(accumulation_dtype(out), accumulation_dtype(wanted)), wanted
