"""A conformance run: its phases of cases, then each failure shrunk, confirmed and reproduced.

The phases (:data:`~refconv.conform.PHASES`), in order: the curated suite in the run's first dtype,
the covering array of every pair of feature values, the small-scope enumeration, the covering
array of every triple, the curated suite in the run's other dtypes, then random draws
(:mod:`refconv.conform.model` has the covering arrays and the enumeration). Small and systematic first, so
that what a run finds does not depend on luck or on how fast the backend is; a budget stops the
run between two cases and the report says which phases finished.

:func:`~refconv.conform.run` judges a backend through one :class:`~refconv.conform.Judge` (one worker
process per backend), so every phase sees the same verdicts. Ctrl-C stops the run between cases and
the report holds what was judged so far (``interrupted``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from refconv.backends.base import Backend
from refconv.cases import Case
from refconv.conform import model
from refconv.conform.database import Failures, in_shard
from refconv.conform.judge import DEFAULT_TIMEOUT, FAILING, Judge, Outcome, as_operator
from refconv.conform.report import Failure, Phase, Report
from refconv.conform.reproduce import confirm, reproducer
from refconv.conform.search import features_of, scope, search
from refconv.conform.shrink import hypothesis_shrink, kind, shrink, size
from refconv.conform.suite import curated
from refconv.conform.xfails import Xfail
from refconv.testing.strategies import FEATURES

__all__ = ["PHASES", "SHRINK_SECONDS", "SUITES", "XFAIL_MODES", "Progress", "Settings", "phase_cases", "run"]

#: A run's phases, in the order it takes them (``phases=`` picks some; the order stays this one).
PHASES = ("curated", "pairs", "enumeration", "triples", "dtypes", "random")
#: The older way to choose: every phase, the curated suite alone (in every dtype), or every phase but it.
SUITES = {
    "all": PHASES, "curated": ("curated", "dtypes"), "search": ("pairs", "enumeration", "triples", "random"),
}  # fmt: skip
#: A failure gets this many seconds of shrinking by default, whatever the budget.
SHRINK_SECONDS = 60.0
#: What a run does with a case its known failures list: judge it (XFAIL or XPASS), or skip it.
XFAIL_MODES = ("run", "skip")


@dataclass(frozen=True)
class Progress:
    """What a run is doing: ``phase`` (of :data:`~refconv.conform.PHASES`, or ``"shrink"``, ``"confirm"``).

    ``done`` of ``total`` cases (``total`` None for the random draws), and the last outcome.
    """

    phase: str
    done: int
    total: int | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True)
class Settings:
    """How a run goes; every value is checked when the settings are made (a ValueError naming it).

    ``phases`` are those of :data:`~refconv.conform.PHASES` to take (``suite``, the older
    spelling, names a set of them: give one or the other). ``examples`` is the number of random
    draws. ``shard=(k, n)`` takes the k-th of n deterministic slices: every n-th case of each phase
    from the k-th, and ``examples // n`` draws with its own seed, so that n machines together do
    one run's work.
    ``timeout`` is per case, ``shrink_seconds`` per failure (beyond the budget);
    ``isolate=False`` trusts the backend to run in this process. ``xfails`` are the known failures
    (:mod:`refconv.conform.xfails`): with ``xfail_mode="run"`` their cases are judged and not
    shrunk, with ``"skip"`` not even judged; ``xfail_strict`` makes a listed case that agrees fail
    the run. ``only_features`` and ``skip_features`` (of :data:`refconv.testing.FEATURES`) select
    cases by the features they use (:func:`refconv.conform.search.features_of`): only those whose
    features are all among the first, none that uses one of the second; the random draws vary
    only the features left. ``problems`` are cases of a user's own (read from benchdnn or
    MIOpenDriver problems by :mod:`refconv.formats`), judged first in their own dtypes (the
    ``problems`` phase); with them, ``phases=()`` takes no other phase. ``database`` is a
    hypothesis example database
    (:func:`refconv.conform.database.open_directory`) of failures to judge first (the ``replay``
    phase) and to remember this run's new ones in; None (the default) reads and writes nothing.
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
    phases: tuple[str, ...] | None = None
    xfails: tuple[Xfail, ...] = ()
    xfail_mode: str = "run"
    xfail_strict: bool = False
    only_features: tuple[str, ...] | None = None
    skip_features: tuple[str, ...] = ()
    database: Any = None
    problems: tuple[Case, ...] = ()

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"suite={self.suite!r}: expected one of {', '.join(SUITES)}")
        if self.phases is not None:
            unknown = [p for p in self.phases if p not in PHASES]
            if unknown or not (self.phases or self.problems) or isinstance(self.phases, str):
                raise ValueError(f"phases={self.phases!r}: expected some of {', '.join(PHASES)}")
            if self.suite != "all":
                raise ValueError(f"phases={self.phases!r} and suite={self.suite!r}: give one of them")
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
        if self.xfail_mode not in XFAIL_MODES:
            raise ValueError(f"xfail_mode={self.xfail_mode!r}: expected one of {', '.join(XFAIL_MODES)}")
        for name in ("only_features", "skip_features"):
            chosen = getattr(self, name)
            unknown = [f for f in chosen or () if f not in FEATURES]
            if unknown or isinstance(chosen, str):
                raise ValueError(f"{name}={chosen!r}: expected some of {', '.join(FEATURES)}")
        if not all(isinstance(x, Xfail) for x in self.xfails):
            raise TypeError(f"xfails={self.xfails!r}: expected Xfail lines (refconv.conform.xfails.parse)")
        if self.database is not None and not all(
            callable(getattr(self.database, name, None)) for name in ("fetch", "save", "delete")
        ):
            raise TypeError(f"database={self.database!r}: expected a hypothesis example database")

    @property
    def features(self) -> tuple[str, ...]:
        """The features a case may use, ``only_features`` (default every one) but ``skip_features``."""
        return tuple(f for f in self.only_features or FEATURES if f not in self.skip_features)

    def wants(self, case: Case) -> bool:
        """Whether the run judges ``case``: it uses no feature but :attr:`features`."""
        return features_of(case) <= set(self.features)

    @property
    def taken(self) -> tuple[str, ...]:
        """The phases the run takes, in :data:`~refconv.conform.PHASES` order (``dtypes`` only with
        more than one dtype: it has no case otherwise)."""
        chosen = SUITES[self.suite] if self.phases is None else self.phases
        return tuple(p for p in PHASES if p in chosen and (p != "dtypes" or len(self.dtypes) > 1))


def phase_cases(name: str, settings: Settings | None = None) -> list[Case]:
    """The cases phase ``name`` judges, in order (not ``"random"``, whose draws depend on the backend).

    The curated suite in the first dtype (``curated``) and in each other dtype after it
    (``dtypes``): the pairs array already crosses every dtype with every other value, so a slow
    backend reaches the arrays and the enumeration before it repeats the suite. Each covering
    array row in its own dtype (``dtype`` is one of the model's factors); the enumeration in the
    first dtype only, where it is twice as deep for its time. A
    ``settings.seed`` other than 0 changes the arrays, not the configurations; ``settings.shard``
    takes its slice.
    """
    s = settings or Settings()
    if name not in PHASES or name == "random":
        raise ValueError(f"name={name!r}: expected one of {', '.join(PHASES[:-1])}")
    k, n = s.shard
    if name in ("curated", "dtypes"):
        cases = curated(s.dtypes[:1] if name == "curated" else s.dtypes[1:], s.seed)
    elif name == "enumeration":
        cases = list(model.enumeration(s.dtypes[:1]))
    else:
        cases = model.array(2 if name == "pairs" else 3, s.dtypes)
    if s.seed and name not in ("curated", "dtypes"):
        cases = [replace(c, seed=(s.seed, index)) for index, c in enumerate(cases)]
    if s.only_features is not None or s.skip_features:
        cases = [c for c in cases if s.wants(c)]
    return cases[k - 1 :: n]


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
    phases: Sequence[str] | None = None,
    xfails: Sequence[Xfail] = (),
    xfail_mode: str = "run",
    xfail_strict: bool = False,
    only_features: Sequence[str] | None = None,
    skip_features: Sequence[str] = (),
    database: Any = None,
    problems: Sequence[Case] = (),
    progress: Callable[[Progress], None] | None = None,
) -> Report:
    """Judge ``backend`` phase by phase (:data:`~refconv.conform.PHASES`), shrink each failure, reproduce it.

    The keywords are :class:`~refconv.conform.Settings`'; ``progress`` is called with a
    :class:`~refconv.conform.Progress` after each case and before each failure is shrunk and confirmed.
    """
    settings = Settings(suite, examples, budget, seed, shard, device, timeout, isolate, tuple(dtypes),
                        shrink_seconds, _names(phases), tuple(xfails), xfail_mode, xfail_strict,
                        _names(only_features), _names(skip_features), database, tuple(problems))  # fmt: skip
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
        report = Report(self.backend.name, self.backend.version(), s.dtypes, isolated=s.isolate,
                        xfails=list(s.xfails), xfail_strict=s.xfail_strict, seed=s.seed,
                        shard=s.shard)  # fmt: skip
        try:
            if s.problems:
                k, n = s.shard
                report.phases.append(Phase("problems"))
                self.phase(report, "problems", list(s.problems)[k - 1 :: n])
            if s.database is not None:
                report.phases.append(Phase("replay"))
                self.phase(report, "replay", self.replayed())
            for name in s.taken:
                report.phases.append(Phase(name))
                if name == "random":
                    self.search(report)
                else:
                    self.phase(report, name, phase_cases(name, s))
            self.failures(report)
            self.remember(report)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            for judge in self.judges.values():
                judge.close()
            report.seconds = time.monotonic() - self.start
            start = 0
            for phase in report.phases:
                phase.coverage = self.coverage(report.outcomes[start : start + phase.judged])
                start += phase.judged
        return report

    def phase(self, report: Report, name: str, cases: Sequence[Case]) -> None:
        """Judge the phase's cases in order until the deadline; the phase is finished if all were."""
        phase = report.phases[-1]
        phase.planned = len(cases)
        for index, case in enumerate(cases):
            if time.monotonic() >= self.deadline:
                return
            if self.skipped(case):
                report.skipped.append(case)
                phase.skipped += 1
                continue
            report.outcomes.append(self.judge_of(self.backend).judge(case))
            phase.judged += 1
            self.progress(Progress(name, index + 1, len(cases), report.outcomes[-1]))
        phase.finished = True

    def replayed(self) -> list[Case]:
        """The remembered failures this run judges first (its shard's slice of them, in its dtypes and
        features)."""
        s = self.settings
        remembered = Failures(s.database, self.backend.name).cases()
        mine = [c for c in remembered if in_shard(c, s.shard)]
        return [c for c in mine if c.spec.dtype.name in s.dtypes and s.wants(c)]

    def remember(self, report: Report) -> None:
        """Forget the replayed cases that no longer fail; remember the new failures of the random
        draws, and each shrunk failure with the case it was found as."""
        if self.settings.database is None:
            return
        failures = Failures(self.settings.database, self.backend.name)
        for outcome in report.judged_in("replay"):
            if not outcome.failed:
                failures.forget(outcome.case)
        drawn = [o.case for o in report.new() if o.case.feature == "search"]
        shrunk = [f.outcome.case for f in report.failures]
        found = [f.found.case for f in report.failures if f.found is not None]
        failures.remember([*drawn, *shrunk, *found])

    def skipped(self, case: Case) -> bool:
        """Whether ``case`` is a known failure that ``xfail_mode="skip"`` does not judge (a family
        backend's known failures name the case as its operator's problem)."""
        s = self.settings
        if s.xfail_mode != "skip":
            return False
        problem = as_operator(case, self.backend.operator)
        return not isinstance(problem, str) and any(x.matches(problem) for x in s.xfails)

    def coverage(self, outcomes: Sequence[Outcome]) -> dict[str, tuple[int, int]]:
        """The pairs and triples of feature values of the cases the backend expressed, and how many exist."""
        cases = [o.case for o in outcomes if o.verdict != "unsupported"]
        return {
            kind: model.coverage(cases, t, self.settings.dtypes) for kind, t in (("pairs", 2), ("triples", 3))
        }

    def scope(self, report: Report) -> dict[str, Any]:
        return {**scope(report.outcomes), "dtypes": self.settings.dtypes}

    def search(self, report: Report) -> None:
        """The random draws, in the ranks and features the earlier phases found expressible."""
        s = self.settings
        phase = report.phases[-1]
        k, n = s.shard
        phase.planned = max(s.examples // n, 1) if s.examples else 0
        if not phase.planned or time.monotonic() >= self.deadline:
            phase.finished = not phase.planned
            return
        where = self.scope(report)

        def judged(outcome: Outcome) -> None:
            report.outcomes.append(outcome)  # as it comes: an interrupted run keeps it
            phase.judged += 1
            self.progress(Progress("random", phase.judged, None, outcome))

        judge = _Skipping(self.judge_of(self.backend), self.skipped, report.skipped)
        search(judge, s.dtypes, phase.planned, self.deadline, s.seed * 1000 + k,  # type: ignore[arg-type]
               ranks=where["ranks"], features=[f for f in where["features"] if f in s.features],
               progress=judged)  # fmt: skip
        phase.finished = time.monotonic() < self.deadline

    def failures(self, report: Report) -> None:
        """Shrink one new failure (one no known failure expects) of each kind and dtype, confirm it and
        write its reproducer."""
        judge = self.judge_of(self.backend)
        new = (o for o in report.outcomes if o.verdict in FAILING and report.xfail(o) is None)
        failing = sorted(new, key=lambda o: size(o.case))
        seen: set[tuple[str, ...]] = set()
        for index, outcome in enumerate(failing):
            if (*kind(outcome), outcome.case.spec.dtype.name) in seen:
                continue  # one reproducer per kind of failure and dtype
            self.progress(Progress("shrink", index + 1, len(failing), outcome))
            found = outcome
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
            report.failures.append(Failure(small, source, confirm(self.backend, small, self.judge_of), found))


def _names(names: Sequence[str] | None) -> Any:
    """A sequence of names as a tuple; None, or a string, as it is (Settings refuses a string)."""
    return names if names is None or isinstance(names, str) else tuple(names)


class _Skipping:
    """The judge, but a known failure to skip comes back ``unsupported`` unjudged: the search draws
    another case in its place (and the run counts it in ``skipped``)."""

    def __init__(self, judge: Judge, skip: Callable[[Case], bool], skipped: list[Case]) -> None:
        self.inner, self.skip, self.skipped = judge, skip, skipped

    def judge(self, case: Case) -> Outcome:
        if self.skip(case):
            self.skipped.append(case)
            return Outcome(case, "unsupported", "a known failure (--xfail-mode skip)")
        return self.inner.judge(case)


def _same_problem(a: Outcome, b: Outcome) -> bool:
    """Whether two failures are one: the same kind, on the same case but maybe its dtype."""

    def problem(case: Case) -> str:
        return case.spec.source().rsplit(", dtype=", 1)[0]

    return kind(a) == kind(b) and problem(a.case) == problem(b.case)
