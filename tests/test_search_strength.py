"""The default conformance run finds every bug of tests/fake_backends.py, early: the measured strength
of the search, and the table docs/verification.rst shows is this measurement."""

from __future__ import annotations

import statistics
from pathlib import Path

from refconv import backends
from refconv.conform import Judge
from tests import fake_backends
from tests.search_strength import LIMIT, TABLE, ordered, table, to_csv

ROOT = Path(__file__).parents[1]


def test_the_default_run_finds_every_known_bug_within_500_cases_median_under_50() -> None:
    rows = table()
    assert len(rows) == len(fake_backends.BUGS) >= 20
    unfound = [row["bug"] for row in rows if row["cases"] == "not found"]
    assert not unfound, f"not found within the first {LIMIT} cases: {unfound}"
    counts = [int(row["cases"]) for row in rows]
    assert max(counts) <= LIMIT
    assert statistics.median(counts) <= 50
    # the phases after the curated suite find what it misses
    assert {row["phase"] for row in rows} >= {"curated", "pairs"}
    committed = (ROOT / TABLE).read_text()
    assert committed == to_csv(rows), "the table changed: python -m tests.search_strength --write"


def test_the_correct_backend_passes_the_same_cases() -> None:
    backend = backends.get("tests.fake_backends:correct")
    with Judge(backend, isolate=False) as judge:
        cases = [case for _, case in ordered(backend.dtypes)][:LIMIT]
        verdicts = {judge.judge(case).verdict for case in cases}
    assert verdicts == {"agree"}
