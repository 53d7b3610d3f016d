"""A conformance run's report: the verdicts by feature, and each shrunk failure with its reproducer.

Text for a terminal, Markdown for an issue or a pull request, JSON for a machine (and for the
documentation's pages, which render the committed runs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from refconv.conform.judge import FAILING, VERDICTS, Outcome
from refconv.conform.reproduce import Confirmation

__all__ = ["Failure", "Phase", "Report"]


@dataclass
class Phase:
    """One phase of a run: its cases (``planned``; the random draws' number), how many were judged,
    whether it ``finished`` (every case judged before the budget ran out), and the ``coverage`` its
    expressed cases reached: for ``"pairs"`` and ``"triples"``, (covered, coverable) tuples of
    feature values (:mod:`refconv.conform.model`)."""

    name: str
    planned: int = 0
    judged: int = 0
    finished: bool = False
    coverage: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)

    def line(self) -> str:
        """``pairs: 42 of 42 cases, finished; covers 942/942 pairs, 8,962/11,515 triples``."""
        state = "finished" if self.finished else "NOT finished (budget)"
        of = f" of {self.planned:,}" if self.planned else ""
        covers = ", ".join(f"{c:,}/{n:,} {kind}" for kind, (c, n) in self.coverage.items())
        return f"{self.name}: {self.judged:,}{of} cases, {state}" + (f"; covers {covers}" if covers else "")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "planned": self.planned, "judged": self.judged, "finished": self.finished,
                "coverage": {kind: list(pair) for kind, pair in self.coverage.items()}}  # fmt: skip


@dataclass(frozen=True)
class Failure:
    """A failure shrunk to its smallest case, its reproducer, and who confirmed refconv's values."""

    outcome: Outcome
    reproducer: str
    confirmation: Confirmation


@dataclass
class Report:
    """Every outcome of a conformance run, and the shrunk failures with their reproducers.

    ``interrupted`` says the run was stopped (Ctrl-C) before it finished; ``isolated`` that the
    backend ran in worker processes (False: in refconv's own process, trusted not to crash);
    ``phases`` what each phase judged and covered.
    """

    backend: str
    version: str
    dtypes: tuple[str, ...]
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)
    failures: list[Failure] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    isolated: bool = True
    phases: list[Phase] = dataclasses.field(default_factory=list)

    def table(self) -> dict[str, dict[str, int]]:
        """Counts of each verdict per feature (``"pairs"``, ``"enumeration"``, ``"triples"`` for those
        phases' cases, ``"search"`` for the random draws)."""
        counts: dict[str, dict[str, int]] = {}
        for outcome in self.outcomes:
            row = counts.setdefault(outcome.case.feature, dict.fromkeys(VERDICTS, 0))
            row[outcome.verdict] += 1
        return counts

    def totals(self) -> dict[str, int]:
        total = dict.fromkeys(VERDICTS, 0)
        for row in self.table().values():
            for verdict, count in row.items():
                total[verdict] += count
        return total

    @property
    def ok(self) -> bool:
        return not any(o.verdict in FAILING for o in self.outcomes)

    def rows(self) -> list[list[str]]:
        """The table of verdicts by feature: a header row, then one row per feature; only the
        verdicts that occur (and ``agree``) have a column."""
        totals = self.totals()
        columns = [v for v in VERDICTS if v == "agree" or totals[v]]
        rows = [["feature", *columns]]
        for feature, counts in self.table().items():
            rows.append([feature, *(str(counts[v]) for v in columns)])
        return rows

    def summary(self) -> str:
        counts = ", ".join(f"{count} {name}" for name, count in self.totals().items() if count)
        if self.interrupted:
            outcome = "INTERRUPTED: the cases judged so far"
        else:
            outcome = "every case agrees or is unsupported" if self.ok else "FAILURES"
        head = f"{self.backend} ({self.version or 'your function'}), {', '.join(self.dtypes)}"
        trust = "" if self.isolated else "; in-process: the backend was trusted not to crash or hang"
        return f"{head}: {counts or 'no cases'}; {outcome} ({self.seconds:.0f} s){trust}"

    def to_text(self) -> str:
        rows = self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                           enumerate(zip(row, widths, strict=True))) for row in rows]  # fmt: skip
        if self.phases:
            lines += ["", *(phase.line() for phase in self.phases)]
        for failure in self.failures:
            outcome = failure.outcome
            title = f"--- {outcome.case.feature}: {outcome.verdict}: {outcome.headline}"
            lines += [
                "",
                title,
                failure.confirmation.line(),
                "minimal reproducer:",
                failure.reproducer.rstrip(),
            ]
        return "\n".join([*lines, "", self.summary()])

    def to_markdown(self) -> str:
        rows = self.rows()
        lines = [f"## {self.backend}", "", f"{self.summary()}", ""]
        lines += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        if self.phases:
            lines += ["", *(f"- {phase.line()}" for phase in self.phases)]
        for failure in self.failures:
            outcome = failure.outcome
            lines += ["", f"### {outcome.case.feature}: {outcome.verdict}", "", outcome.headline]
            lines += ["", failure.confirmation.line(), "", "```python", failure.reproducer.rstrip(), "```"]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "version": self.version, "dtypes": list(self.dtypes),
            "seconds": round(self.seconds, 1), "ok": self.ok, "interrupted": self.interrupted,
            "isolated": self.isolated, "table": self.table(),
            "phases": [phase.to_json() for phase in self.phases],
            "outcomes": [_case(o) for o in self.outcomes],
            "failures": [
                {**_case(f.outcome), "confirmed": f.confirmation.to_json(), "reproducer": f.reproducer}
                for f in self.failures
            ],
        }  # fmt: skip


def _case(outcome: Outcome) -> dict[str, Any]:
    case = outcome.case
    return {"feature": case.feature, "verdict": outcome.verdict, "detail": outcome.detail,
            "spec": case.spec.source(), "bias": case.bias, "seed": case.seed}  # fmt: skip
