"""How strong the default conformance run is: after how many cases it finds each bug of fake_backends.py.

``python -m tests.search_strength`` prints the table that docs/verification.rst shows
(docs/_static/search_strength.csv); tests/test_search_strength.py checks that the search still
finds every bug within :data:`LIMIT` cases and that the committed table is this measurement.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator

from refconv import backends
from refconv.cases import Case
from refconv.conform import FAILING, Judge, Settings, phase_cases
from refconv.conform.judge import Outcome
from tests import fake_backends

#: The default run's cases are judged in its order up to this many; a bug not found by then is unfound.
LIMIT = 500
#: Where the docs read the table.
TABLE = "docs/_static/search_strength.csv"


def ordered(dtypes: tuple[str, ...]) -> Iterator[tuple[str, Case]]:
    """The default run's cases before its random draws, in its order, with their phase."""
    settings = Settings(dtypes=dtypes)
    for phase in settings.taken:
        if phase != "random":
            for case in phase_cases(phase, settings):
                yield phase, case


def first_failure(name: str) -> tuple[int, str, Outcome] | None:
    """The number of cases judged until the first failure of fake backend ``name``, its phase and outcome."""
    backend = backends.get(f"tests.fake_backends:{name}")
    with Judge(backend, isolate=False) as judge:
        for count, (phase, case) in enumerate(ordered(backend.dtypes), start=1):
            if count > LIMIT:
                return None
            outcome = judge.judge(case)
            if outcome.verdict in FAILING:
                return count, phase, outcome
    return None


def table() -> list[dict[str, str]]:
    """One row per bug: its name, whether and after how many cases it was found, in which phase, how."""
    rows = []
    for name in fake_backends.BUGS:
        found = first_failure(name)
        if found is None:
            rows.append({"bug": name, "cases": "not found", "phase": "", "verdict": ""})
        else:
            count, phase, outcome = found
            rows.append({"bug": name, "cases": str(count), "phase": phase, "verdict": outcome.verdict})
    return rows


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["bug", "cases", "phase", "verdict"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


if __name__ == "__main__":
    text = to_csv(table())
    if sys.argv[1:] == ["--write"]:
        with open(TABLE, "w") as f:
            f.write(text)
    print(text, end="")
