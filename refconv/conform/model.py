"""The feature model: what a convolution configuration can be, as factors with a few values each.

Every :class:`~refconv.cases.Case` has one value of each factor of :data:`FACTORS` per spatial dim
(:func:`classify`); the small-scope enumeration, the covering arrays and the coverage a report
states all speak of these values, and the documentation's table of what the search covers is
:data:`FACTORS` itself. The first value of each factor is the plain one.

The geometric factors (stride to output) are those of one spatial dim; which of their
combinations exist is not written down as rules but found, by classifying every small 1-d
geometry (:func:`geometries`): a combination is possible exactly when some geometry has it, and
:func:`realise` builds a case from the smallest such geometry. The other factors have two rules
between them (:func:`consistent`). A factor that does not apply takes its plain value: a
convolution's output padding is ``0``, a transposed convolution's input dilation is ``1``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from refconv import geometry
from refconv._convspec import ConvSpec
from refconv._spec import spec
from refconv.cases import Case
from refconv.conform.covering import coverable, covered, covering_array

__all__ = [
    "FACTORS", "GEOMETRIC", "Geometry", "array", "classify", "consistent", "coverage", "enumeration",
    "factors", "geometries", "realise",
]  # fmt: skip

#: Each factor and its values, the plain value first; ``dtype`` takes its values from the run.
FACTORS: dict[str, tuple[Any, ...]] = {
    "rank": (1, 2, 3),
    "transposed": (False, True),
    # "2", "3": a stride of 2, or of 3 or more, no longer than the kernel; "above_kernel": longer
    "stride": ("1", "2", "3", "above_kernel"),
    "dilation": ("1", "2"),  # "2": 2 or more
    "input_dilation": ("1", "2"),
    # "same_odd", "same_lower_odd": the word's total padding is odd, so its sides differ
    "padding": (
        "none",
        "symmetric",
        "asymmetric",
        "negative",
        "valid",
        "same",
        "same_odd",
        "same_lower",
        "same_lower_odd",
    ),
    "output_padding": ("0", "positive"),  # the transposed convolution's; realised as max(s, d) - 1
    "padding_mode": ("zeros", "reflect", "replicate", "circular", "symmetric"),
    "remainder": ("0", "positive"),  # r: rows no window reaches (of the adjoint, when transposed)
    # "padding_only": some output element's window holds no element of x (padding or inserted zeros)
    "output": ("many", "1", "padding_only"),
    "groups": ("1", "grouped", "depthwise"),
    "channels": ("1", "several"),  # per group: C_in / groups and C_out / (groups * batch_groups)
    "batch_groups": ("1", "2"),
    "layout": ("channels_first", "channels_last"),
    "bias": (True, False),
    "batch": ("1", "several", "empty"),
    "dtype": ("float64",),
}
#: The factors of one spatial dim, decided by its geometry.
GEOMETRIC = ("transposed", "stride", "dilation", "input_dilation", "padding", "output_padding",
             "padding_mode", "remainder", "output")  # fmt: skip

Row = Mapping[str, Any]


def factors(dtypes: Sequence[str] = ("float64",)) -> dict[str, tuple[Any, ...]]:
    """:data:`FACTORS` with the run's ``dtypes`` as the values of ``dtype``."""
    return {**FACTORS, "dtype": tuple(dtypes)}


@dataclass(frozen=True)
class Geometry:
    """One spatial dim of a problem: sizes and parameters, and the padding word or mode of all dims."""

    n: int
    k: int
    stride: int
    dilation: int = 1
    input_dilation: int = 1
    padding: tuple[int, int] = (0, 0)
    output_padding: int = 0
    transposed: bool = False
    word: str | None = None
    mode: str = "zeros"

    @property
    def size(self) -> tuple[int, ...]:
        """The order of geometries, smaller first, by the sum of sizes and parameters over their
        plain values, then by each of them."""
        lo, hi = self.padding
        total = self.n + self.k + self.stride + self.dilation + self.input_dilation + abs(lo) + abs(hi)
        total += self.output_padding + (self.word is not None) + (self.mode != "zeros")
        return (total, self.n, self.k, self.stride, self.dilation, self.input_dilation, abs(lo) + abs(hi))


def classify(case: Case) -> list[dict[str, Any]]:
    """The factor values of ``case``, one row per spatial dim (the geometric factors differ by dim)."""
    s = case.spec
    c_in, c_out, g, bg = s.x_shape[1], s.y_shape[1], s.groups, s.batch_groups
    depthwise = g > 1 and c_in == g
    common = {
        "rank": s.ndim,
        "groups": "1" if g == 1 else "depthwise" if depthwise else "grouped",
        "channels": "1" if c_in // g <= 1 and c_out // (g * bg) <= 1 else "several",
        "batch_groups": "1" if bg == 1 else "2",
        "layout": "channels_first" if _channels_first(s) else "channels_last",
        "bias": case.bias,
        "batch": "empty" if s.x_shape[0] == 0 else "1" if s.x_shape[0] == bg else "several",
        "dtype": s.dtype.name,
    }
    return [{**_dim(s, d), **common} for d in range(s.ndim)]


def _channels_first(s: ConvSpec) -> bool:
    if s.dimension_numbers is None:
        return True
    lhs = s.dimension_numbers[0]
    return lhs[:2] == "NC"


def _dim(s: ConvSpec, d: int) -> dict[str, Any]:
    """The geometric factors of spatial dim ``d`` of ``s``."""
    _n, k, m = s.x_shape[2 + d], s.w_shape[2 + d], s.y_shape[2 + d]
    stride, dilation, (lo, hi) = s.stride[d], s.dilation[d], s.padding[d]
    if s.padding_word is not None:
        padding = s.padding_word + ("_odd" if s.padding_word != "valid" and lo != hi else "")
    elif lo == hi == 0:
        padding = "none"
    elif min(lo, hi) < 0:
        padding = "negative"
    else:
        padding = "symmetric" if lo == hi else "asymmetric"
    if s.transposed:
        r = geometry.remainder(s.y_shape[2:], s.w_shape[2:], s.params)[d]
        output_padding = s.output_padding[d]
    else:
        r = geometry.remainder(s.x_shape[2:], s.w_shape[2:], s.params)[d] if m else 0
        output_padding = 0
    return {
        "transposed": s.transposed,
        "stride": "1" if stride == 1 else "above_kernel" if stride > k else "2" if stride == 2 else "3",
        "dilation": "1" if dilation == 1 else "2",
        "input_dilation": "1" if s.input_dilation[d] == 1 else "2",
        "padding": padding,
        "output_padding": "0" if output_padding == 0 else "positive",
        "padding_mode": s.padding_mode,
        "remainder": "0" if r == 0 else "positive",
        "output": "empty"
        if m == 0
        else "padding_only"
        if _reads_nothing(s, d)
        else "1"
        if m == 1
        else "many",
    }


def _reads_nothing(s: ConvSpec, d: int) -> bool:
    """Whether some output element of dim ``d`` has no element of x in its window.

    In the general convolution that computes the problem (``spec.general``), the elements of x sit
    at ``lo + t * input_dilation`` of the padded input, and output ``i`` reads ``i * s + j * d``.
    A padding mode fills the padding with elements of x: its windows always read some.
    """
    if s.padding_mode != "zeros":
        return False
    p, n, k, m = s.general, s.x_shape[2 + d], s.w_shape[2 + d], s.y_shape[2 + d]
    lo = p.padding[d][0]
    real = {lo + t * p.input_dilation[d] for t in range(n)}
    return any(real.isdisjoint(i * p.stride[d] + j * p.dilation[d] for j in range(k)) for i in range(m))


def _candidates() -> Iterator[Geometry]:
    """Every small 1-d geometry: sizes to 6, kernels to 4, strides to 4, dilations to 2, paddings to 3."""
    pairs = [(lo, hi) for lo in range(-2, 4) for hi in range(-2, 4)]
    for n, k, stride, dilation in itertools.product(range(1, 7), range(1, 5), range(1, 5), (1, 2)):
        for input_dilation in (1, 2):
            for padding in pairs:
                yield Geometry(n, k, stride, dilation, input_dilation, padding)
                if input_dilation == 1 and min(padding) >= 0:  # (0, 0): a dim a mode does not pad
                    for mode in ("reflect", "replicate", "circular", "symmetric"):
                        yield Geometry(n, k, stride, dilation, 1, padding, mode=mode)
            for word in ("same", "valid", "same_lower"):
                yield Geometry(n, k, stride, dilation, input_dilation, word=word)
        for padding in [p for p in pairs if min(p) >= -1 and max(p) <= 2]:
            for output_padding in sorted({0, max(stride, dilation) - 1}):
                yield Geometry(n, k, stride, dilation, 1, padding, output_padding, True)
        for word in ("same", "valid", "same_lower"):
            for output_padding in sorted({0, max(stride, dilation) - 1}):
                yield Geometry(n, k, stride, dilation, 1, (0, 0), output_padding, True, word)


def _options(g: Geometry) -> dict[str, Any]:
    """The keywords of a 1-d geometry (for one dim of a problem: each a 1-tuple)."""
    options: dict[str, Any] = {"stride": (g.stride,), "dilation": (g.dilation,)}
    options["padding"] = g.word if g.word is not None else (g.padding,)
    if g.transposed:
        options["output_padding"] = (g.output_padding,)
    else:
        options["input_dilation"] = (g.input_dilation,)
        if g.mode != "zeros":
            options["padding_mode"] = g.mode
    return options


@functools.cache
def geometries() -> dict[tuple[Any, ...], tuple[Geometry, ...]]:
    """Every small 1-d geometry that is valid, by its geometric factor values, smallest first.

    Its keys are exactly the combinations of :data:`GEOMETRIC` values a problem can have (within
    the sizes tried: inputs to 6, kernels and strides to 4, dilations to 2, paddings from -2 to 3).
    """
    found: dict[tuple[Any, ...], list[Geometry]] = {}
    for g in sorted(_candidates(), key=lambda g: g.size):
        try:
            s = spec((1, 1, g.n), (1, 1, g.k), transposed=g.transposed, **_options(g))
        except ValueError:
            continue
        row = _dim(s, 0)
        if row["output"] != "empty":
            found.setdefault(tuple(row[f] for f in GEOMETRIC), []).append(g)
    return {key: tuple(found[key]) for key in found}


@functools.cache
def _masks() -> dict[tuple[str, Any], int]:
    """For each geometric factor value, the set of keys of :func:`geometries` with it, as bits."""
    masks: dict[tuple[str, Any], int] = {}
    for bit, key in enumerate(geometries()):
        for factor, value in zip(GEOMETRIC, key, strict=True):
            masks[factor, value] = masks.get((factor, value), 0) | 1 << bit
    return masks


def consistent(row: Row) -> bool:
    """Whether some problem has every factor value of ``row`` (a partial row: some factors).

    The rules: batch groups only with ``groups`` 1 and not transposed (as in XLA); a grouped
    convolution has several channels per group; the geometric values must be those of some
    geometry (:func:`geometries`).
    """
    if row.get("batch_groups") == "2":
        if row.get("groups", "1") != "1" or row.get("transposed") is True:
            return False
        row = {**row, "transposed": False}
    if row.get("groups") == "grouped" and row.get("channels") == "1":
        return False
    masks, every = _masks(), (1 << len(geometries())) - 1
    for factor in GEOMETRIC:
        if factor in row:
            every &= masks.get((factor, row[factor]), 0)
    return every != 0


def realise(row: Row, seed: int = 0, feature: str = "search") -> Case | None:
    """The smallest case with every factor value of the full ``row``, or None if there is none.

    Dim ``i`` of a rank-r case takes the ``i``-th smallest geometry with the row's values, so the
    dims differ where they can; channels, batch and groups are the fewest the values allow, and
    C_in, C_out and N differ where they can.
    """
    if not consistent(row):
        return None
    found = geometries()[tuple(row[f] for f in GEOMETRIC)]
    dims = [found[min(i, len(found) - 1)] for i in range(row["rank"])]
    g = 1 if row["groups"] == "1" else 2
    bg = 1 if row["batch_groups"] == "1" else 2
    several = row["channels"] == "several"
    per_in = 1 if row["groups"] == "depthwise" or not several else 2
    per_out = 3 if several else 1
    c_in, c_out = g * per_in, g * bg * per_out
    batch = {"1": bg, "several": 2 * bg, "empty": 0}[row["batch"]]
    options = _keywords(dims)
    transposed = row["transposed"]
    options["groups"] = g
    if not transposed:
        options["batch_groups"] = bg
    x_shape: tuple[int, ...] = (batch, c_in, *(d.n for d in dims))
    w_shape: tuple[int, ...] = (c_in, c_out // g) if transposed else (c_out, per_in)
    kernel = tuple(d.k for d in dims)
    if row["layout"] == "channels_last":  # the kernel's canonical pair is (I, O) when transposed
        letters = "WHD"[: len(dims)][::-1]
        options["dimension_numbers"] = (f"N{letters}C", f"{letters}IO", f"N{letters}C")
        x_shape, w_shape = (batch, *x_shape[2:], c_in), (*kernel, *(w_shape if transposed else w_shape[::-1]))
    else:
        w_shape = (*w_shape, *kernel)
    s = spec(x_shape, w_shape, transposed=transposed, dtype=row["dtype"], **options)
    return Case(s, bias=row["bias"], seed=seed, feature=feature)


def _keywords(dims: Sequence[Geometry]) -> dict[str, Any]:
    """The keywords of a problem whose spatial dims are ``dims`` (of one kind: all transposed or not,
    one padding word or mode): each dim's tuples concatenated, the word or the mode kept."""
    each = [_options(d) for d in dims]
    joined = {}
    for key, value in each[0].items():
        joined[key] = (
            tuple(itertools.chain.from_iterable(o[key] for o in each)) if isinstance(value, tuple) else value
        )
    return joined


def enumeration(dtypes: Sequence[str] = ("float64",), max_size: int = 9) -> Iterator[Case]:
    """Every small configuration, smallest first: 1-d, then the same geometries in one dim of 2-d and 3-d.

    Each 1-d geometry of :func:`geometries` whose :attr:`Geometry.size` total is at most
    ``max_size`` (``max_size - 2`` in 2-d and 3-d), smallest first, in each dtype, with a bias;
    the shapes alternate between two images of one channel and one image of two input and three
    output channels. In 2-d the geometry is the first dim (H) and W is plain (size 2, kernel 1);
    in 3-d it is the last (W) and D, H are plain. With the default bound: 943 cases in 1-d,
    117 in each of 2-d and 3-d.
    """
    index = 0
    for rank, bound in ((1, max_size), (2, max_size - 2), (3, max_size - 2)):
        ordered = sorted((g for found in geometries().values() for g in found if g.size[0] <= bound),
                         key=lambda g: g.size)  # fmt: skip
        for g, dtype in itertools.product(ordered, dtypes):
            batch, c_in, c_out = (2, 1, 1) if index % 2 == 0 else (1, 2, 3)
            plain = Geometry(2, 1, 1, transposed=g.transposed, word=g.word, mode=g.mode)
            dims = {1: [g], 2: [g, plain], 3: [plain, plain, g]}[rank]
            options = _keywords(dims)
            w_shape = (c_in, c_out) if g.transposed else (c_out, c_in)
            s = spec((batch, c_in, *(d.n for d in dims)), (*w_shape, *(d.k for d in dims)),
                     transposed=g.transposed, dtype=dtype, **options)  # fmt: skip
            yield Case(s, bias=True, seed=index, feature="enumeration")
            index += 1


@functools.cache
def _coverable(dtypes: tuple[str, ...], strength: int) -> frozenset[Any]:
    return frozenset(coverable(factors(dtypes), strength, consistent))


def array(strength: int, dtypes: Sequence[str] = ("float64",), feature: str | None = None) -> list[Case]:
    """The covering array of ``strength`` over :data:`FACTORS`, each row realised (:func:`realise`).

    ``feature`` names the cases (default ``"pairs"`` or ``"triples"``); case ``i`` has seed ``i``.
    """
    rows = covering_array(factors(dtypes), strength, consistent)
    name = feature or {2: "pairs", 3: "triples"}.get(strength, f"{strength}-wise")
    cases = [realise(row, seed=index, feature=name) for index, row in enumerate(rows)]
    return [c for c in cases if c is not None]


def coverage(cases: Sequence[Case], strength: int, dtypes: Sequence[str] = ("float64",)) -> tuple[int, int]:
    """How many coverable ``strength``-tuples of factor values ``cases`` have, and how many there are."""
    wanted = _coverable(tuple(dtypes), strength)
    rows = [row for case in cases for row in classify(case)]
    return len(covered(rows, list(FACTORS), strength) & wanted), len(wanted)
