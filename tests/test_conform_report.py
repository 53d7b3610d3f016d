"""A report in words, Markdown and JSON: the verdict table by feature, the failures, the summary."""

from __future__ import annotations

import json

from refconv import conform
from refconv.cases import case
from refconv.conform import Confirmation, Failure, Outcome, Report


def _report() -> Report:
    agree = Outcome(case("basic", (1, 2, 5), (3, 2, 2)), "agree", "worst |diff|/bound 0.1 (y)")
    crashed = Outcome(
        case("groups", (1, 2, 5), (2, 1, 2), groups=2), "crashed", "the process running it died"
    )
    confirmation = Confirmation({"refconv.naive": ("agree", ""), "jax": ("agree", "")})
    return Report(
        "mine", "mine 1.0", ("float64",), [agree, crashed], [Failure(crashed, "print(1)\n", confirmation)]
    )


def test_the_table_has_a_column_for_each_verdict_that_occurs() -> None:
    report = _report()
    assert report.rows() == [["feature", "agree", "crashed"], ["basic", "1", "0"], ["groups", "0", "1"]]
    assert report.totals()["crashed"] == 1
    assert not report.ok


def test_the_text_has_each_failure_with_its_confirmation_and_reproducer() -> None:
    report = _report()
    text = report.to_text()
    crashed = report.outcomes[1].case
    assert f"--- {crashed.id}: crashed: the process running it died\n" in text
    assert crashed.id.startswith("groups-float64-")
    assert "confirmed: refconv.naive and jax compute refconv's values" in text
    assert text.rstrip().endswith("mine (mine 1.0), float64: 1 agree, 1 crashed; FAILURES (0 s)")


def test_the_json_is_structured_and_round_trips_the_confirmation() -> None:
    data = json.loads(json.dumps(_report().to_json()))
    assert data["table"]["groups"]["crashed"] == 1
    assert set(data["table"]["basic"]) == set(conform.VERDICTS)
    failure = data["failures"][0]
    assert failure["spec"] == "refconv.spec((1, 2, 5), (2, 1, 2), groups=2, dtype='float64')"
    assert failure["confirmed"] == {"refconv.naive": {"verdict": "agree", "detail": ""},
                                    "jax": {"verdict": "agree", "detail": ""}}  # fmt: skip
    assert Confirmation.from_json(failure["confirmed"]).confirmed


def test_markdown_has_the_table_and_the_reproducer_in_a_code_block() -> None:
    markdown = _report().to_markdown()
    assert markdown.startswith("## mine\n")
    assert "| feature | agree | crashed |" in markdown
    assert "```python\nprint(1)\n```" in markdown


def test_an_in_process_run_says_it_trusted_the_backend() -> None:
    report = _report()
    report.isolated = False
    assert report.summary().endswith("; in-process: the backend was trusted not to crash or hang")
