"""What the conformance tests share: runs of the broken backends (each once per test process) and
a reproducer run to read what it prints."""

from __future__ import annotations

import contextlib
import functools
import io

from refconv import backends, conform
from refconv.conform import Outcome, Report

FAKE = "tests.fake_backends"


@functools.cache
def fake_run(
    name: str, examples: int = 100, phases: tuple[str, ...] = ("curated", "pairs", "random")
) -> Report:
    """``refconv conform`` of ``tests.fake_backends:<name>`` in every dtype it claims (cached).

    Without the enumeration and the triples by default: these runs test the shrinker and the
    reproducers, and tests/test_search_strength.py measures what each phase finds."""
    backend = backends.get(f"{FAKE}:{name}")
    return conform.run(backend, backend.dtypes, examples=examples, phases=phases)


def only_failure(report: Report) -> Outcome:
    """The one failure of a report, after checking that refconv's values were confirmed on it."""
    (outcome,) = confirmed_failures(report)
    return outcome


def confirmed_failures(report: Report) -> list[Outcome]:
    """The failures of a report, after checking that refconv's values were confirmed on each:
    naive computes them, and every installed oracle computes them or cannot express the problem."""
    assert not report.ok
    assert report.failures
    for failure in report.failures:
        verdicts = failure.confirmation.verdicts
        assert verdicts["refconv.naive"][0] == "agree", verdicts
        oracles = {name: verdict for name, (verdict, _) in verdicts.items() if name in backends.ORACLES}
        assert set(oracles.values()) <= {"agree", "unsupported"}, verdicts
        if "agree" in oracles.values():
            assert failure.confirmation.line().startswith("confirmed: refconv.naive and "), verdicts
        else:
            assert failure.confirmation.line().startswith("NOT confirmed: only refconv.naive"), verdicts
    return [failure.outcome for failure in report.failures]


def printed_ratios(source: str) -> dict[str, str]:
    """Run a reproducer; its printed line per array: 'y worst |diff| / bound: 3.2' or 'y has shape ...'."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<reproducer>", "exec"), {})
    return {line.split()[0]: line for line in out.getvalue().splitlines()}


def ratio(line: str) -> float:
    return float(line.rsplit(":", 1)[1])
