"""One case type: a convolution problem with its arrays, as every tool of refconv describes it.

A :class:`Case` is a :class:`~refconv.ConvSpec`, whether the problem has a bias, the seed its
arrays are drawn from and the feature it exercises. The curated conformance suite, the
hypothesis search, the golden vectors, the documentation's tables, ``refconv check`` and the
tests all describe their problems as cases and draw ``x, w, b, dy`` one way,
:meth:`Case.arrays`. A problem's results are named by :data:`ARRAYS`. A case of the
convolution's family (the patches, the local or the deformable convolution on the spec's
windows: :mod:`refconv.operators`) has its operator, its operands (:meth:`Case.operands`) and
its results (:attr:`Case.results`).

Examples
--------
>>> import refconv
>>> from refconv.cases import Case
>>> case = Case(refconv.spec((2, 3, 7), (4, 3, 3), stride=2), seed=1)
>>> case
Case(refconv.spec((2, 3, 7), (4, 3, 3), stride=(2,), dtype='float64'), seed=1)
>>> x, w, b, dy = case.arrays()
>>> x.shape, w.shape, b.shape, dy.shape
((2, 3, 7), (4, 3, 3), (4,), (2, 4, 3))
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Union

import numpy as np
from numpy.typing import DTypeLike, NDArray

from refconv import _normalize as norm
from refconv._convspec import ConvSpec
from refconv._spec import spec
from refconv.operators import CONV, Operator, operand_shapes, result_names

__all__ = ["ARRAYS", "DTYPES", "Arrays", "Case", "Results", "case"]

#: The names of a problem's results, the output and the VJPs for input, weight and bias.
ARRAYS = ("y", "dx", "dw", "db")
#: The dtypes refconv computes in (bfloat16 from ml_dtypes).
DTYPES = (
    "float64", "float32", "float16", "bfloat16", "complex128", "complex64",
    "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8",
)  # fmt: skip
#: One implementation's answer to a problem, an array per name of :data:`ARRAYS`.
Results = dict[str, NDArray[Any]]
Seed = Union[int, tuple[int, ...]]


class Arrays(NamedTuple):
    """A case's operands, in its spec's layout and dtype; ``b`` is None without a bias."""

    x: NDArray[Any]
    w: NDArray[Any]
    b: NDArray[Any] | None
    dy: NDArray[Any]


@dataclass(frozen=True)
class Case:
    """One problem with its arrays: a spec, whether it has a bias, a seed, and the feature it exercises.

    ``feature`` names the group of the curated suite it belongs to (``"search"`` for a drawn
    one). ``drawn_in`` is the dtype the values are rounded to when they were drawn for another
    case: :meth:`widened` keeps a float16 case's values exactly in float64. ``op`` is the
    function the case calls on the spec's windows (:mod:`refconv.operators`): the convolution
    by default, or one of its family.
    """

    spec: ConvSpec
    bias: bool = True
    seed: Seed = 0
    feature: str = "search"
    drawn_in: np.dtype[Any] | None = None
    op: Operator = CONV

    def arrays(self) -> Arrays:
        """``x, w, b, dy`` drawn from ``numpy.random.default_rng(seed)`` in that order.

        Floats are standard normal, complex numbers have standard normal real and imaginary
        parts, integers are uniform in ``[-8, 8]`` (``[0, 8]`` unsigned): small enough that
        every product and most sums are exact in every dtype.
        """
        s, rng = self.spec, np.random.default_rng(self.seed)
        x = self._draw(rng, s.given_shape("x"))
        w = self._draw(rng, s.given_shape("w"))
        b = self._draw(rng, (s.y_shape[1],)) if self.bias else None
        return Arrays(x, w, b, self._draw(rng, s.given_shape("y")))

    def operands(self) -> dict[str, NDArray[Any] | None]:
        """The operands of the case's operator by name, drawn as :meth:`arrays` draws them, in the
        order of :func:`refconv.operators.operand_shapes` (a convolution's: :meth:`arrays`)."""
        if self.op == CONV:
            return dict(self.arrays()._asdict())
        rng = np.random.default_rng(self.seed)
        shapes = operand_shapes(self.op, self.spec, self.bias)
        return {name: None if shape is None else self._draw(rng, shape) for name, shape in shapes.items()}

    @property
    def results(self) -> tuple[str, ...]:
        """Names of the case's results (:data:`ARRAYS` for a convolution)."""
        return result_names(self.op)

    def _draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[Any]:
        dtype = self.spec.dtype
        kind = norm.kind(self.drawn_in or dtype)
        if kind in "iu":
            values: NDArray[Any] = rng.integers(-8 if kind == "i" else 0, 9, shape)
        elif kind == "c":
            values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        else:
            values = rng.standard_normal(shape)
        if self.drawn_in is not None:
            values = values.astype(self.drawn_in)
        return values.astype(dtype)

    def in_dtype(self, dtype: DTypeLike) -> Case:
        """The same problem, arrays drawn and computed in ``dtype``."""
        return replace(self, spec=_respec(self.spec, dtype, self.spec.options()))

    def widened(self) -> Case:
        """The same problem on the same values, in float64 (complex128 for complex cases).

        The values are this case's, rounded to its dtype, so that float64 implementations
        compute exactly what a low-precision one was given; ``preferred_element_type`` is dropped.
        """
        wide = np.complex128 if norm.kind(self.spec.dtype) == "c" else np.float64
        options = {k: v for k, v in self.spec.options().items() if k != "preferred_element_type"}
        return replace(
            self, spec=_respec(self.spec, wide, options), drawn_in=self.drawn_in or self.spec.dtype
        )

    @functools.cached_property
    def id(self) -> str:
        """A name that stays the same as long as the problem does, ``feature-dtype-hash``.

        ``hash`` is 8 hex digits of the SHA-256 of the problem's canonical text (the spec's
        :meth:`~refconv.ConvSpec.source`, ``bias=False`` without a bias, and ``drawn_in``), so an
        id does not depend on a run's order, seed, shard or budget, nor on refconv's version
        unless the problem itself changes; the seed is left out on purpose: ``--seed`` draws
        other values for the same problems, and a file of known failures still names them.

        >>> from refconv.cases import case
        >>> case("stride", (3, 4, 11), (5, 4, 3), stride=3).id
        'stride-float64-44814ac3'
        """
        text = self.spec.source() + ("" if self.bias else ", bias=False")
        text += "" if self.drawn_in is None else f", drawn_in={self.drawn_in.name}"
        text += "" if self.op == CONV else f", op={self.op.source()}"
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return f"{self.feature}-{self.spec.dtype.name}-{digest}"

    def to_json(self) -> dict[str, Any]:
        """The case as JSON values (:meth:`from_json` rebuilds it): shapes, keywords, dtype, bias,
        seed, feature; ``drawn_in`` when set."""
        s = self.spec
        data = {"x_shape": list(s.given_shape("x")), "w_shape": list(s.given_shape("w")),
                "transposed": s.transposed, "options": jsonable(s.options()), "dtype": s.dtype.name,
                "bias": self.bias, "seed": jsonable(self.seed), "feature": self.feature}  # fmt: skip
        data |= {} if self.drawn_in is None else {"drawn_in": self.drawn_in.name}
        return data | ({} if self.op == CONV else {"op": jsonable(self.op.__dict__)})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        """The case :meth:`to_json` wrote; a ValueError or TypeError names what is wrong."""
        try:
            options = {name: as_tuples(value) for name, value in data["options"].items()}
            s = spec(tuple(data["x_shape"]), tuple(data["w_shape"]), transposed=data["transposed"],
                     dtype=data["dtype"], **options)  # fmt: skip
            drawn_in = None if data.get("drawn_in") is None else norm.as_dtype(data["drawn_in"], "drawn_in")
            op = CONV if data.get("op") is None else Operator(**data["op"])
            return cls(s, data["bias"], as_tuples(data["seed"]), data["feature"], drawn_in, op)
        except KeyError as missing:
            raise ValueError(f"a case's JSON has no {missing}: {data!r}"[:300]) from None

    def __repr__(self) -> str:
        parts = [self.spec.source()]
        parts += [] if self.bias else ["bias=False"]
        parts += [] if self.seed == 0 else [f"seed={self.seed!r}"]
        parts += [] if self.feature == "search" else [f"feature={self.feature!r}"]
        parts += [] if self.drawn_in is None else [f"drawn_in=np.dtype({self.drawn_in.name!r})"]
        parts += [] if self.op == CONV else [f"op={self.op.source()}"]
        return f"Case({', '.join(parts)})"


def case(
    feature: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    *,
    transposed: bool = False,
    bias: bool = True,
    seed: Seed = 0,
    dtype: DTypeLike = "float64",
    **keywords: Any,
) -> Case:
    """A :class:`Case` from shapes and keywords: the way the suites and grids are written."""
    s = spec(x_shape, w_shape, transposed=transposed, dtype=dtype, **keywords)
    return Case(s, bias=bias, seed=seed, feature=feature)


def jsonable(value: Any) -> Any:
    """Keywords (and nested tuples, dicts, dtypes) as JSON values: lists, and a dtype by its name."""
    if isinstance(value, dict):
        return {name: jsonable(v) for name, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    return value.name if isinstance(value, np.dtype) else value


def as_tuples(value: Any) -> Any:
    """JSON lists (and nested lists) as the tuples refconv's parameters take."""
    return tuple(as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _respec(s: ConvSpec, dtype: DTypeLike, options: dict[str, Any]) -> ConvSpec:
    return spec(s.given_shape("x"), s.given_shape("w"), transposed=s.transposed, dtype=dtype, **options)
