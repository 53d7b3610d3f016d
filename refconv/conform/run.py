"""A conformance run: the curated suite, the search, then each failure shrunk, confirmed and reproduced.

:func:`~refconv.conform.run` judges a backend through one :class:`~refconv.conform.Judge` (one worker
process per backend), so every phase sees the same verdicts. Ctrl-C stops the run between cases and
the report holds what was judged so far (``interrupted``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from refconv.backends.base import Backend
from refconv.cases import Case
from refconv.conform.judge import DEFAULT_TIMEOUT, FAILING, Judge, Outcome
from refconv.conform.report import Failure, Report
from refconv.conform.reproduce import confirm, reproducer
from refconv.conform.search import scope, search
from refconv.conform.shrink import hypothesis_shrink, kind, shrink, size
from refconv.conform.suite import curated

__all__ = ["SHRINK_SECONDS", "SUITES", "Progress", "Settings", "run"]

#: What a run judges: the curated suite and the search, or one of them.
SUITES = ("all", "curated", "search")
#: A failure gets this many seconds of shrinking by default, whatever the budget.
SHRINK_SECONDS = 60.0


@dataclass(frozen=True)
class Progress:
    """What a run is doing: ``phase`` (``"curated"``, ``"search"``, ``"shrink"``, ``"confirm"``), how far."""

    phase: str
    done: int
    total: int | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True)
class Settings:
    """How a run goes; every value is checked when the settings are made (a ValueError naming it).

    ``shard=(k, n)`` takes the k-th of n deterministic slices: every n-th curated case from the
    k-th, and a search of ``examples // n`` draws with its own seed, so that n machines
    together do one run's work. ``timeout`` is per case, ``shrink_seconds`` per failure (beyond
    the budget); ``isolate=False`` trusts the backend to run in this process.
    """

    suite: str = "all"
    examples: int = 200
    budget: float = math.inf
    seed: int = 0
    shard: tuple[int, int] = (1, 1)
    device: str = "cpu"
    timeout: float = DEFAULT_TIMEOUT
    isolate: bool = True
    dtypes: tuple[str, ...] = field(default=("float64",))
    shrink_seconds: float = SHRINK_SECONDS

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"suite={self.suite!r}: expected one of {', '.join(SUITES)}")
        if isinstance(self.examples, bool) or not isinstance(self.examples, int) or self.examples < 0:
            raise ValueError(f"examples={self.examples!r} must be a whole number >= 0")
        if not self.budget > 0:  # NaN is not > 0
            raise ValueError(f"budget={self.budget!r} must be a number of seconds > 0")
        for name in ("timeout", "shrink_seconds"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name}={value!r} must be a finite number of seconds > 0")
        k, n = self.shard
        if not 1 <= k <= n:
            raise ValueError(f"shard={self.shard}: K must be between 1 and N")
        if not self.dtypes:
            raise ValueError("dtypes=(): give at least one dtype")


def run(
    backend: Backend,
    dtypes: Sequence[str] = ("float64",),
    *,
    suite: str = "all",
    examples: int = 200,
    budget: float = math.inf,
    seed: int = 0,
    shard: tuple[int, int] = (1, 1),
    device: str = "cpu",
    timeout: float = DEFAULT_TIMEOUT,
    isolate: bool = True,
    shrink_seconds: float = SHRINK_SECONDS,
    progress: Callable[[Progress], None] | None = None,
) -> Report:
    """Judge ``backend`` on the curated suite and a property search, shrink every failure, write reproducers.

    The keywords are :class:`~refconv.conform.Settings`'; ``progress`` is called with a
    :class:`~refconv.conform.Progress` after each case and before each failure is shrunk and confirmed.
    """
    settings = Settings(
        suite, examples, budget, seed, shard, device, timeout, isolate, tuple(dtypes), shrink_seconds
    )
    return _Run(backend, settings, progress or (lambda _: None)).report()


class _Run:
    def __init__(self, backend: Backend, settings: Settings, progress: Callable[[Progress], None]) -> None:
        self.backend, self.settings, self.progress = backend, settings, progress
        self.judges: dict[str, Judge] = {}
        self.start = time.monotonic()
        self.deadline = self.start + settings.budget

    def judge_of(self, backend: Backend) -> Judge:
        """One judge (one worker process) per backend for the whole run."""
        if backend.name not in self.judges:
            s = self.settings
            self.judges[backend.name] = Judge(backend, s.device, s.timeout, s.isolate)
        return self.judges[backend.name]

    def report(self) -> Report:
        s = self.settings
        report = Report(self.backend.name, self.backend.version(), s.dtypes, isolated=s.isolate)
        try:
            self.curated(report)
            self.search(report)
            self.failures(report)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            for judge in self.judges.values():
                judge.close()
            report.seconds = time.monotonic() - self.start
        return report

    def curated(self, report: Report) -> None:
        k, n = self.settings.shard
        cases = (
            curated(self.settings.dtypes, self.settings.seed)[k - 1 :: n]
            if self.settings.suite != "search"
            else []
        )
        for index, case in enumerate(cases):
            report.outcomes.append(self.judge_of(self.backend).judge(case))
            self.progress(Progress("curated", index + 1, len(cases), report.outcomes[-1]))

    def scope(self, report: Report) -> dict[str, Any]:
        return {**scope(report.outcomes), "dtypes": self.settings.dtypes}

    def search(self, report: Report) -> None:
        s = self.settings
        if s.suite == "curated" or s.examples == 0 or time.monotonic() >= self.deadline:
            return
        k, n = s.shard
        where = self.scope(report)
        drawn = len(report.outcomes)

        def judged(outcome: Outcome) -> None:
            report.outcomes.append(outcome)  # as it comes: an interrupted run keeps it
            self.progress(Progress("search", len(report.outcomes) - drawn, None, outcome))

        examples, search_seed = max(s.examples // n, 1), s.seed * 1000 + k
        search(self.judge_of(self.backend), s.dtypes, examples, self.deadline, search_seed,
               ranks=where["ranks"], features=where["features"], progress=judged)  # fmt: skip

    def failures(self, report: Report) -> None:
        """Shrink one failure of each kind and dtype, confirm it and write its reproducer."""
        judge = self.judge_of(self.backend)
        failing = sorted((o for o in report.outcomes if o.verdict in FAILING), key=lambda o: size(o.case))
        seen: set[tuple[str, ...]] = set()
        for index, outcome in enumerate(failing):
            if (*kind(outcome), outcome.case.spec.dtype.name) in seen:
                continue  # one reproducer per kind of failure and dtype
            self.progress(Progress("shrink", index + 1, len(failing), outcome))
            limit = max(self.deadline, time.monotonic() + self.settings.shrink_seconds)
            if outcome.case.feature == "search":
                outcome = hypothesis_shrink(judge, outcome, self.scope(report), self.settings.examples,
                                            self.settings.seed, limit)  # fmt: skip
            small = shrink(judge, outcome, deadline=limit)
            seen |= {(*kind(o), o.case.spec.dtype.name) for o in (outcome, small)}
            if any(_same_problem(small, known.outcome) for known in report.failures):
                continue  # two failures that shrank to the same case (in whatever dtype)
            self.progress(Progress("confirm", index + 1, len(failing), small))
            source = reproducer(self.backend, small, self.settings.device)
            report.failures.append(Failure(small, source, confirm(self.backend, small, self.judge_of)))


def _same_problem(a: Outcome, b: Outcome) -> bool:
    """Whether two failures are one: the same kind, on the same case but maybe its dtype."""

    def problem(case: Case) -> str:
        return case.spec.source().rsplit(", dtype=", 1)[0]

    return kind(a) == kind(b) and problem(a.case) == problem(b.case)
