"""Shrinking a failure to a case that still fails the same way and that no simpler neighbour does.

:func:`refconv.conform.shrink` walks simpler neighbours (``neighbours``: one parameter moved toward its
default, one dim dropped, fewer channels, no bias, float64); a drawn failure first goes through
hypothesis's own shrinker (``hypothesis_shrink``). A failure is only ever replaced by one of
the same ``kind``, so that shrinking never turns one bug into another.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from refconv._spec import spec
from refconv.cases import Case
from refconv.conform.judge import Judge, Outcome
from refconv.testing.strategies import conv_configs

__all__ = ["hypothesis_shrink", "kind", "neighbours", "shrink", "size"]

PER_DIM = ("stride", "dilation", "input_dilation", "padding", "output_padding", "output_shape")


def kind(outcome: Outcome) -> tuple[str, ...]:
    """What a failure is, to shrink it without turning it into another and to report one of each.

    The verdict; the array it is about, or its detail without numbers; convolution or transposed.
    (Not the dtype: the shrinker moves a failure to float64 if it fails there alike.)
    """
    what = outcome.array or re.sub(r"[-\d.,() ]+", " ", outcome.headline)[:80].strip()
    return outcome.verdict, what, "transposed" if outcome.case.spec.transposed else "conv"


def size(case: Case) -> tuple[int, ...]:
    """How big a case is, to decide which of two is simpler (fewer dims, fewer elements, ...)."""
    s = case.spec
    geometry = sum(sum(v) - len(v) for v in (s.stride, s.dilation, s.input_dilation))
    return (s.ndim, int(s.x_shape[0] == 0), math.prod(s.x_shape) + math.prod(s.w_shape), geometry,
            sum(abs(lo) + abs(hi) for lo, hi in s.padding), int(case.bias),
            {"float64": 0, "float32": 1}.get(s.dtype.name, 2))  # fmt: skip


def shrink(judge: Judge, outcome: Outcome, deadline: float = math.inf) -> Outcome:
    """The failure ``outcome``, made as small as it goes: take any simpler neighbour that fails alike.

    A neighbour replaces the failure if the backend still fails it the same way (``kind``);
    neighbours in a dtype the backend does not claim are skipped. Stops when no neighbour does,
    or at ``deadline``.
    """
    current, wanted = outcome, kind(outcome)
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for candidate in sorted(neighbours(current.case), key=size):
            if candidate.spec.dtype.name not in judge.backend.dtypes:
                continue
            if size(candidate) >= size(current.case) and candidate.spec == current.case.spec:
                continue
            judged = judge.judge(candidate)
            if kind(judged) == wanted:
                current, improved = judged, True
                break
            if time.monotonic() >= deadline:
                break
    return current


@dataclass(frozen=True)
class _Rebuild:
    """Cases like ``case`` with other shapes, dtype or keywords; None where the result is invalid."""

    case: Case

    def __call__(
        self, x_shape: Sequence[int], w_shape: Sequence[int], dtype: Any = None, **changes: Any
    ) -> Case | None:
        s = self.case.spec
        merged = {k: v for k, v in {**_canonical(s.options()), **changes}.items() if v is not None}
        try:
            new = spec(tuple(x_shape), tuple(w_shape), transposed=s.transposed,
                       dtype=s.dtype if dtype is None else dtype, **merged)  # fmt: skip
        except (ValueError, TypeError):
            return None
        return replace(self.case, spec=new)


def _canonical(options: dict[str, Any]) -> dict[str, Any]:
    """The keywords in refconv's canonical layout: a rebuilt case has canonical shapes."""
    return {k: v for k, v in options.items() if k != "dimension_numbers"}


def neighbours(case: Case) -> Iterator[Case]:
    """Simpler neighbours of ``case``: one parameter moved toward its default, or one dim dropped."""
    s, make = case.spec, _Rebuild(case)
    x, w = list(s.x_shape), list(s.w_shape)
    options = _canonical(s.options())
    steps: list[Case | None] = []
    if s.ndim > 1:
        for drop in range(s.ndim):
            keep = [d for d in range(s.ndim) if d != drop]
            per_dim = {k: tuple(v[d] for d in keep) for k, v in options.items() if _is_per_dim(k, v, s.ndim)}
            steps.append(
                make([*x[:2], *(x[2 + d] for d in keep)], [*w[:2], *(w[2 + d] for d in keep)], **per_dim)
            )
    if case.bias:
        steps.append(replace(case, bias=False))
    steps.append(make(x, w))  # the canonical layout
    if s.padding_mode != "zeros":
        steps.append(make(x, w, padding_mode=None))
    if s.dtype != np.dtype(np.float64):
        steps.append(make(x, w, dtype=np.float64))
    if s.dtype.itemsize < 4:  # float16, bfloat16: float32 if float64 fails otherwise (or is not claimed)
        steps.append(make(x, w, dtype=np.float32))
    steps += _fewer_groups(case, make, x, w)
    steps += _size_steps(case, make, x, w)
    steps += _parameter_steps(case, make, x, w)
    yield from (step for step in steps if step is not None)


def _is_per_dim(name: str, value: Any, ndim: int) -> bool:
    return name in PER_DIM and isinstance(value, tuple) and len(value) == ndim


def _fewer_groups(case: Case, make: _Rebuild, x: list[int], w: list[int]) -> list[Case | None]:
    s, steps = case.spec, []
    for name in ("groups", "batch_groups"):
        count = getattr(s, name)
        for fewer in range(1, count):  # the same per-group sizes, fewer groups
            x2, w2 = list(x), list(w)
            if s.transposed:
                x2[1] = w2[0] = x[1] // count * fewer
            elif name == "groups":
                x2[1], w2[0] = x[1] // count * fewer, w[0] // count * fewer
            else:
                x2[0], w2[0] = x[0] // count * fewer, w[0] // count * fewer
            steps.append(make(x2, w2, **{name: fewer if fewer > 1 else None}))
    return steps


def _size_steps(case: Case, make: _Rebuild, x: list[int], w: list[int]) -> list[Case | None]:
    s, steps = case.spec, []
    batch_unit = 1 if s.transposed else s.batch_groups
    if x[0] != batch_unit:  # fewer images, or one instead of none: an empty batch is an edge, not simpler
        steps.append(make([batch_unit, *x[1:]], w))
    channel_unit = s.groups
    if s.transposed:
        if x[1] > channel_unit:
            steps.append(make([x[0], channel_unit, *x[2:]], [channel_unit, *w[1:]]))
        if w[1] > 1:
            steps.append(make(x, [w[0], 1, *w[2:]]))
    else:
        if w[1] > 1:
            steps.append(make([x[0], channel_unit, *x[2:]], [w[0], 1, *w[2:]]))
        out_unit = s.groups * s.batch_groups
        if w[0] > out_unit:
            steps.append(make(x, [out_unit, *w[1:]]))
    for axis in range(2, len(x)):
        for smaller in range(1, x[axis]):
            steps.append(make([*x[:axis], smaller, *x[axis + 1 :]], w))
        for smaller in range(1, w[axis]):
            steps.append(make(x, [*w[:axis], smaller, *w[axis + 1 :]]))
    return steps


def _parameter_steps(case: Case, make: _Rebuild, x: list[int], w: list[int]) -> list[Case | None]:
    s, steps = case.spec, []
    if s.padding_word is not None:
        steps.append(make(x, w, padding=s.padding))  # the word's pairs: does the word itself matter?
    for name in ("stride", "dilation", "input_dilation"):
        values = getattr(s, name)
        for dim, value in enumerate(values):
            for smaller in range(1, value):
                steps.append(
                    make(x, w, **{name: tuple(smaller if d == dim else v for d, v in enumerate(values))})
                )
    if s.padding_word is None:
        for dim, (lo, hi) in enumerate(s.padding):
            for pair in ((0, hi), (lo, 0), (lo - _sign(lo), hi), (lo, hi - _sign(hi))):
                if pair != (lo, hi):
                    steps.append(
                        make(x, w, padding=tuple(pair if d == dim else p for d, p in enumerate(s.padding)))
                    )
    if s.transposed and any(s.output_padding):
        for dim, value in enumerate(s.output_padding):
            for smaller in range(value):
                op = tuple(smaller if d == dim else v for d, v in enumerate(s.output_padding))
                steps.append(make(x, w, output_padding=op, output_shape=None))
    return steps


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def hypothesis_shrink(
    judge: Judge, outcome: Outcome, scope: dict[str, Any], examples: int, seed: int, deadline: float
) -> Outcome:
    """hypothesis's own shrinker on a drawn failure: ``find`` the simplest draw that fails the same way.

    ``scope`` is the search's (:func:`refconv.testing.conv_configs`'s keywords: ranks, features, dtypes).
    """
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import HypothesisException, NoSuchExample

    wanted = kind(outcome)
    last: list[Outcome] = []

    def fails_alike(case: Case) -> bool:
        if time.monotonic() > deadline:
            return False
        judged = judge.judge(case)
        if kind(judged) == wanted:
            last.append(judged)
            return True
        return False

    try:
        found = find(
            conv_configs(**scope), fails_alike, random=random.Random(seed),
            settings=settings(max_examples=max(examples, 100), database=None, deadline=None,
                              suppress_health_check=list(HealthCheck)),
        )  # fmt: skip
    except (NoSuchExample, HypothesisException, BaseExceptionGroup):  # none found, or a flaky framework
        return outcome
    return next((o for o in reversed(last) if o.case == found), judge.judge(found))
