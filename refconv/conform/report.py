"""A conformance run's report: the verdicts by feature, and each shrunk failure with its reproducer.

Text for a terminal, Markdown for an issue or a pull request, JSON for a machine (and for the
documentation's pages, which render the committed runs).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from refconv.cases import Case
from refconv.conform import xfails as known
from refconv.conform.judge import VERDICTS, Outcome
from refconv.conform.reproduce import Confirmation
from refconv.conform.shrink import kind

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
    skipped: int = 0  # known failures not judged (xfail_mode="skip")

    def line(self) -> str:
        """``pairs: 42 of 42 cases, finished; covers 942/942 pairs, 8,962/11,515 triples``."""
        state = "finished" if self.finished else "NOT finished (budget)"
        of = f" of {self.planned:,}" if self.planned else ""
        skipped = f" ({self.skipped:,} known failures skipped)" if self.skipped else ""
        covers = ", ".join(f"{c:,}/{n:,} {kind}" for kind, (c, n) in self.coverage.items())
        line = f"{self.name}: {self.judged:,}{of} cases{skipped}, {state}"
        return line + (f"; covers {covers}" if covers else "")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "planned": self.planned, "judged": self.judged, "finished": self.finished,
                "skipped": self.skipped,
                "coverage": {kind: list(pair) for kind, pair in self.coverage.items()}}  # fmt: skip


@dataclass(frozen=True)
class Failure:
    """A failure shrunk to its smallest case, its reproducer, who confirmed refconv's values, and
    the judged case it was ``found`` as (the one the shrinking started from)."""

    outcome: Outcome
    reproducer: str
    confirmation: Confirmation
    found: Outcome | None = None


@dataclass
class Report:
    """Every outcome of a conformance run, and the shrunk failures with their reproducers.

    ``interrupted`` says the run was stopped (Ctrl-C) before it finished; ``isolated`` that the
    backend ran in worker processes (False: in refconv's own process, trusted not to crash);
    ``phases`` what each phase judged and covered. ``xfails`` are the run's known failures
    (:mod:`refconv.conform.xfails`): a failure one of them expects is XFAIL, a case one of them
    names that agrees is XPASS (a failure of the run if ``xfail_strict``); ``skipped`` the cases
    not judged because they are listed (``xfail_mode="skip"``).
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
    xfails: list[known.Xfail] = dataclasses.field(default_factory=list)
    xfail_strict: bool = False
    skipped: list[Case] = dataclasses.field(default_factory=list)
    seed: int = 0
    shard: tuple[int, int] = (1, 1)

    def judged_in(self, phase: str) -> list[Outcome]:
        """The outcomes of the phase called ``phase`` (none if the run did not take it)."""
        start = 0
        for p in self.phases:
            if p.name == phase:
                return self.outcomes[start : start + p.judged]
            start += p.judged
        return []

    def xfail(self, outcome: Outcome) -> known.Xfail | None:
        """The known failure that expects ``outcome`` (XFAIL) or names it though it agrees (XPASS)."""
        return known.match(self.xfails, outcome) if self.xfails else None

    def expected(self) -> list[Outcome]:
        """The failures a known failure expects (XFAIL)."""
        return [o for o in self.outcomes if o.failed and self.xfail(o) is not None]

    def xpassed(self) -> list[Outcome]:
        """The listed cases that agree (XPASS)."""
        return [o for o in self.outcomes if not o.failed and self.xfail(o) is not None]

    def new(self) -> list[Outcome]:
        """The failures no known failure expects: what makes a run fail."""
        return [o for o in self.outcomes if o.failed and self.xfail(o) is None]

    def unmatched(self) -> list[known.Xfail]:
        """The known-failure lines that name no case this run judged or skipped (none for a shard:
        its file lists the other shards' cases too, and the merged report checks the lines)."""
        if self.shard[1] > 1:
            return []
        cases = [o.case for o in self.outcomes] + self.skipped
        return [x for x in self.xfails if not any(x.matches(c) for c in cases)]

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
        """No failure but known ones (and, with ``xfail_strict``, no known one that now agrees)."""
        return not self.new() and not (self.xfail_strict and self.xpassed())

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
        return f"{head}: {counts or 'no cases'}{self._known()}; {outcome} ({self.seconds:.0f} s){trust}"

    def _known(self) -> str:
        """``, of the failures 12 XFAIL and 1 new; 1 XPASS; 3 known skipped`` (empty without xfails)."""
        if not self.xfails:
            return ""
        parts = [f"of the failures {len(self.expected())} XFAIL and {len(self.new())} new"]
        if self.xpassed():
            strict = " (strict: a failure)" if self.xfail_strict else ""
            parts.append(f"{len(self.xpassed())} XPASS{strict}")
        if self.skipped:
            parts.append(f"{len(self.skipped)} known skipped")
        return ", " + "; ".join(parts)

    def xfail_lines(self) -> list[str]:
        """Each XPASS case and each known-failure line that named nothing, for the text report."""
        lines = []
        for outcome in self.xpassed():
            entry = self.xfail(outcome)
            assert entry is not None
            lines.append(f"XPASS {outcome.case.id} ({entry.where}: {entry.pattern}): {outcome.verdict}")
        lines += [f"warning: {x.where}: {x.pattern!r} matches no case of this run" for x in self.unmatched()]
        return lines

    def to_text(self) -> str:
        rows = self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                           enumerate(zip(row, widths, strict=True))) for row in rows]  # fmt: skip
        if self.phases:
            lines += ["", *(phase.line() for phase in self.phases)]
        if self.xfail_lines():
            lines += ["", *self.xfail_lines()]
        for failure in self.failures:
            outcome = failure.outcome
            title = f"--- {outcome.case.id}: {outcome.verdict}: {outcome.headline}{_found(failure)}"
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
        if self.xfail_lines():
            lines += ["", *(f"- {line}" for line in self.xfail_lines())]
        for failure in self.failures:
            outcome = failure.outcome
            lines += ["", f"### {outcome.case.id}: {outcome.verdict}", "", outcome.headline + _found(failure)]
            lines += ["", failure.confirmation.line(), "", "```python", failure.reproducer.rstrip(), "```"]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """Everything the report holds (:meth:`from_json` reads it back), and its table and verdict."""
        index = {id(o): i for i, o in enumerate(self.outcomes)}
        return {
            "backend": self.backend, "version": self.version, "dtypes": list(self.dtypes),
            "seconds": round(self.seconds, 3), "ok": self.ok, "interrupted": self.interrupted,
            "isolated": self.isolated, "seed": self.seed, "shard": list(self.shard), "table": self.table(),
            "phases": [phase.to_json() for phase in self.phases],
            "xfails": {
                "strict": self.xfail_strict, "expected": len(self.expected()), "new": len(self.new()),
                "xpassed": [o.case.id for o in self.xpassed()], "skipped": [c.id for c in self.skipped],
                "unmatched": [f"{x.where}: {x.pattern}" for x in self.unmatched()],
                "lines": [dataclasses.asdict(x) for x in self.xfails],
                "skipped_cases": [c.to_json() for c in self.skipped],
            } if self.xfails else None,
            "outcomes": [self._case(o) for o in self.outcomes],
            "failures": [
                {**self._case(f.outcome), "confirmed": f.confirmation.to_json(), "reproducer": f.reproducer,
                 "found": None if f.found is None else index.get(id(f.found))}
                for f in self.failures
            ],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """The report :meth:`to_json` wrote (the comparisons behind each verdict are not kept)."""
        outcomes = [_outcome(o) for o in data["outcomes"]]
        xfails = data.get("xfails") or {}
        report = cls(
            data["backend"], data["version"], tuple(data["dtypes"]), outcomes, seconds=data["seconds"],
            interrupted=data["interrupted"], isolated=data["isolated"], seed=data.get("seed", 0),
            shard=tuple(data.get("shard", (1, 1))),
            phases=[Phase(p["name"], p["planned"], p["judged"], p["finished"],
                          {k: tuple(v) for k, v in p["coverage"].items()}, p.get("skipped", 0))
                    for p in data["phases"]],
            xfails=[known.Xfail(**x) for x in xfails.get("lines", [])],
            xfail_strict=xfails.get("strict", False),
            skipped=[Case.from_json(c) for c in xfails.get("skipped_cases", [])],
        )  # fmt: skip
        for f in data["failures"]:
            found = None if f.get("found") is None else outcomes[f["found"]]
            confirmation = Confirmation.from_json(f["confirmed"])
            report.failures.append(Failure(_outcome(f), f["reproducer"], confirmation, found))
        return report

    def to_junit(self) -> str:
        """JUnit XML, one ``testcase`` per judged case (named by its id, classed by backend and
        feature): a failure (its verdict, detail and the reproducer of its kind), ``skipped``
        (unsupported, XFAIL, or a known failure not judged), or a pass; a strict XPASS is a failure.
        No per-case time: a run times the whole, not each case."""
        suite = ET.Element("testsuite", name=f"refconv conform {self.backend}")
        properties = ET.SubElement(suite, "properties")
        described = {"backend": self.backend, "version": self.version, "dtypes": ",".join(self.dtypes),
                     "interrupted": str(self.interrupted).lower()}  # fmt: skip
        for name, value in described.items():
            ET.SubElement(properties, "property", name=name, value=value)
        failures = skipped = 0
        for outcome in self.outcomes:
            case = ET.SubElement(suite, "testcase", classname=self._class(outcome.case), name=outcome.case.id)
            entry = self.xfail(outcome)
            if outcome.verdict == "unsupported":
                ET.SubElement(case, "skipped", message=f"unsupported: {outcome.headline}")
                skipped += 1
            elif outcome.failed and entry is not None:
                ET.SubElement(case, "skipped", type="xfail", message=self._xfail(entry, outcome))
                skipped += 1
            elif outcome.failed or (entry is not None and self.xfail_strict):
                what = outcome.verdict if outcome.failed else "XPASS(strict)"
                head = outcome.headline if entry is None else self._xfail(entry, outcome)
                failure = ET.SubElement(case, "failure", type=what, message=f"{what}: {head}")
                failure.text = self._failure_text(outcome)
                failures += 1
        for listed in self.skipped:
            case = ET.SubElement(suite, "testcase", classname=self._class(listed), name=listed.id)
            ET.SubElement(
                case, "skipped", type="xfail", message="a known failure, not judged (--xfail-mode skip)"
            )
            skipped += 1
        totals = {"tests": len(self.outcomes) + len(self.skipped), "failures": failures, "errors": 0,
                  "skipped": skipped}  # fmt: skip
        root = ET.Element("testsuites", name="refconv conform")
        for element in (root, suite):
            for name, count in totals.items():
                if element is suite or name != "skipped":  # Jenkins' schema has no skipped count on the root
                    element.set(name, str(count))
            element.set("time", f"{self.seconds:.3f}")
        root.append(suite)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def _class(self, case: Case) -> str:
        return f"refconv.conform.{self.backend}.{case.feature}"

    @staticmethod
    def _xfail(entry: known.Xfail, outcome: Outcome) -> str:
        reason = f" ({entry.reason})" if entry.reason else ""
        return f"{entry.where}: {entry.pattern}{reason}; {outcome.verdict}: {outcome.headline}"

    def _failure_text(self, outcome: Outcome) -> str:
        """The detail and the case, then the reproducer of the failure shrunk from it, or of its kind."""
        text = f"{outcome.detail}\n\n{outcome.case!r}"
        for failure in self.failures:
            if failure.found is outcome:
                small = failure.outcome.case.id
                return f"{text}\n\nminimal reproducer (shrunk to {small}):\n{failure.reproducer}"
        for failure in self.failures:
            if failure.found is not None and kind(failure.found) == kind(outcome):
                found, small = failure.found.case.id, failure.outcome.case.id
                return (
                    f"{text}\n\nthe same kind of failure as {found}, shrunk to {small}:\n{failure.reproducer}"
                )
        return text

    def _case(self, outcome: Outcome) -> dict[str, Any]:
        case = outcome.case
        entry = self.xfail(outcome)
        xfail = None if entry is None else "XFAIL" if outcome.failed else "XPASS"
        return {"id": case.id, "feature": case.feature, "verdict": outcome.verdict, "detail": outcome.detail,
                "spec": case.spec.source(), "bias": case.bias, "seed": case.seed, "array": outcome.array,
                "answered": list(outcome.answered), "case": case.to_json(),
                **({"op": case.op.source()} if case.op.name != "conv" else {}),
                **({"xfail": xfail} if self.xfails else {})}  # fmt: skip


def _outcome(data: dict[str, Any]) -> Outcome:
    """An outcome of a report's JSON: its case, verdict, detail, answered arrays and the array at fault."""
    case = Case.from_json(data["case"])
    return Outcome(
        case, data["verdict"], data["detail"], tuple(data.get("answered", ())), (), data.get("array", "")
    )


def _found(failure: Failure) -> str:
    """`` (found as <id>)`` when the failure was shrunk from another case: the id a known-failures
    file lists, since that is the case the next run judges."""
    found = failure.found
    return "" if found is None or found.case.id == failure.outcome.case.id else f" (found as {found.case.id})"
