"""Shards put back together: the reports of ``--shard 1/N`` ... ``N/N`` as the one report of the whole run.

Shard ``k`` of ``n`` judges every ``n``-th case of each phase from the ``k``-th
(:func:`~refconv.conform.phase_cases`), so case ``i`` of a phase is case ``i // n`` of shard
``i % n + 1``: :func:`merge` interleaves the shards' cases back into the order one unsharded run
judges them, phase by phase, and recomputes each phase's coverage. The random draws are each
shard's own (its seed is the run's and its shard number); they follow in shard order. The
replayed failures (``--database``) are shared out by a hash of each case
(:func:`refconv.conform.database.in_shard`) and come back in their one order. Of the
shards' shrunk failures it keeps one per kind and dtype, the smallest, as one run does.
"""

from __future__ import annotations

from collections.abc import Sequence

from refconv.conform import database, model
from refconv.conform.judge import Outcome
from refconv.conform.report import Failure, Phase, Report
from refconv.conform.shrink import kind, size

__all__ = ["merge"]


def merge(shards: Sequence[Report]) -> Report:
    """One report of the shards ``1/N`` to ``N/N`` of a run; a ValueError says why they do not fit."""
    if not shards:
        raise ValueError("no reports to merge")
    first = shards[0]
    n = first.shard[1]
    for name in ("backend", "version", "dtypes", "seed", "isolated"):
        values = {repr(getattr(r, name)) for r in shards}
        if len(values) > 1:
            raise ValueError(f"the shards differ in {name}: {', '.join(sorted(values))}")
    numbers = sorted(r.shard for r in shards)
    if numbers != [(k, n) for k in range(1, n + 1)]:
        shown = ", ".join(f"{k}/{m}" for k, m in numbers)
        raise ValueError(f"expected the shards 1/{n} to {n}/{n} once each, got {shown}")
    if [p.name for r in shards for p in r.phases] != [p.name for p in first.phases] * n:
        raise ValueError("the shards took different phases")
    ordered = sorted(shards, key=lambda r: r.shard)
    report = Report(first.backend, first.version, first.dtypes, isolated=first.isolated, seed=first.seed,
                    xfails=list(first.xfails), xfail_strict=first.xfail_strict)  # fmt: skip
    report.seconds = sum(r.seconds for r in ordered)
    report.interrupted = any(r.interrupted for r in ordered)
    report.skipped = [c for r in ordered for c in r.skipped]
    spans = [_spans(r) for r in ordered]
    for index, phase in enumerate(first.phases):
        parts = [s[index] for s in spans]
        if phase.name == "replay":  # each shard's share of the remembered failures, in their one order
            outcomes = sorted((o for part in parts for o in part), key=lambda o: database.order(o.case))
        elif phase.name == "random":
            outcomes = [o for part in parts for o in part]
        else:
            outcomes = _interleaved(parts)
        shard_phases = [r.phases[index] for r in ordered]
        merged = Phase(phase.name, sum(p.planned for p in shard_phases), len(outcomes),
                       all(p.finished for p in shard_phases))  # fmt: skip
        merged.skipped = sum(p.skipped for p in shard_phases)
        expressed = [o.case for o in outcomes if o.verdict != "unsupported"]
        merged.coverage = {
            name: model.coverage(expressed, t, first.dtypes) for name, t in (("pairs", 2), ("triples", 3))
        }
        report.phases.append(merged)
        report.outcomes += outcomes
    report.failures = _failures([f for r in ordered for f in r.failures])
    return report


def _spans(report: Report) -> list[list[Outcome]]:
    """A report's outcomes, phase by phase."""
    spans, start = [], 0
    for phase in report.phases:
        spans.append(report.outcomes[start : start + phase.judged])
        start += phase.judged
    return spans


def _interleaved(parts: Sequence[Sequence[Outcome]]) -> list[Outcome]:
    """Case ``i`` is case ``i // n`` of part ``i % n``: the unsharded order (a part cut short by a
    budget leaves a gap, and the order of the rest is kept)."""
    longest = max((len(p) for p in parts), default=0)
    return [part[i] for i in range(longest) for part in parts if i < len(part)]


def _failures(failures: Sequence[Failure]) -> list[Failure]:
    """One failure per kind and dtype, found as the smallest case, in the order one run shrinks them."""
    kept: list[Failure] = []
    seen: set[tuple[str, ...]] = set()
    for failure in sorted(failures, key=lambda f: size((f.found or f.outcome).case)):
        found = failure.found or failure.outcome
        key = (*kind(found), found.case.spec.dtype.name)
        small = (*kind(failure.outcome), failure.outcome.case.spec.dtype.name)
        if key in seen:
            continue
        seen |= {key, small}
        kept.append(failure)
    return kept
