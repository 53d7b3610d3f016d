"""Covering arrays: rows in which every t values of t different factors appear together somewhere.

A small deterministic greedy generator of my own (AETG's one-row-at-a-time scheme without its
random restarts): each row starts from the first tuple not yet covered, then takes for each other
factor, in order, the value that covers the most uncovered tuples with the values already chosen
(the plain value first on a tie), as long as the row stays :func:`~refconv.conform.model.consistent`.
A maintained library does not fit: allpairspy has no constraints on partial rows, PICT is a C++
program; the model's constraints need a predicate on partial rows, and the rows must be the same
on every machine, which a seeded library would not promise across its versions.

A tuple is *coverable* if some full row has it; ``consistent`` answers that for a partial row
exactly, so every coverable tuple ends up covered.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Tuple", "coverable", "covered", "covering_array"]

#: A t-tuple of values, as its ``(factor, value)`` pairs in the factors' order.
Tuple = tuple[tuple[str, Any], ...]


def coverable(
    factors: Mapping[str, Sequence[Any]], strength: int, valid: Callable[[dict[str, Any]], bool]
) -> set[Tuple]:
    """Every ``strength``-tuple of values of different factors that ``valid`` allows."""
    found: set[Tuple] = set()
    for names in itertools.combinations(factors, strength):
        for values in itertools.product(*(factors[name] for name in names)):
            t = tuple(zip(names, values, strict=True))
            if valid(dict(t)):
                found.add(t)
    return found


def covered(rows: Iterable[Mapping[str, Any]], factors: Sequence[str], strength: int) -> set[Tuple]:
    """The ``strength``-tuples the ``rows`` have (a row may lack factors: those it has count)."""
    found: set[Tuple] = set()
    for row in rows:
        present = [(name, row[name]) for name in factors if name in row]
        found.update(itertools.combinations(present, strength))
    return found


def covering_array(
    factors: Mapping[str, Sequence[Any]], strength: int, valid: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Rows (a value per factor) that cover every coverable ``strength``-tuple; the same rows every time."""
    return [dict(row) for row in _array(tuple((k, tuple(v)) for k, v in factors.items()), strength, valid)]


@functools.cache
def _array(
    factors: tuple[tuple[str, tuple[Any, ...]], ...], strength: int, valid: Callable[[dict[str, Any]], bool]
) -> tuple[tuple[tuple[str, Any], ...], ...]:
    names = [name for name, _ in factors]
    values = dict(factors)
    order = {name: i for i, name in enumerate(names)}
    uncovered = coverable(values, strength, valid)
    pending = sorted(uncovered, key=lambda t: [(order[n], values[n].index(v)) for n, v in t])
    rows = []
    while uncovered:
        while pending[0] not in uncovered:
            pending.pop(0)
        row = dict(pending[0])
        for name in names:
            if name in row:
                continue
            best, gain = None, -1
            for value in values[name]:
                trial = {**row, name: value}
                if not valid(trial):
                    continue
                new = _gain(trial, name, strength, uncovered, order)
                if new > gain:
                    best, gain = value, new
            if best is None:  # valid() promised a completion: a bug in it
                raise AssertionError(f"no value of {name} completes {row}")
            row[name] = best
        full = tuple((name, row[name]) for name in names)
        uncovered -= set(itertools.combinations(full, strength))
        rows.append(full)
    return tuple(rows)


def _gain(row: dict[str, Any], name: str, strength: int, uncovered: set[Tuple], order: dict[str, int]) -> int:
    """How many uncovered tuples with ``row[name]`` the assigned values of ``row`` complete."""
    others = sorted(((n, v) for n, v in row.items() if n != name), key=lambda item: order[item[0]])
    count = 0
    for rest in itertools.combinations(others, strength - 1):
        t = tuple(sorted((*rest, (name, row[name])), key=lambda item: order[item[0]]))
        count += t in uncovered
    return count
