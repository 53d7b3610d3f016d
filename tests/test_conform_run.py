"""A run: the curated suite, the search and the failures, through one judge; stopped, it keeps what it has."""

from __future__ import annotations

import math
from typing import Any

import pytest

from refconv import backends, conform
from refconv.conform import Progress, Settings
from tests.conform_helpers import fake_run


def test_a_correct_convolution_agrees_on_every_case() -> None:
    report = fake_run("correct")
    assert report.ok
    assert not report.failures
    # refconv.naive expresses everything: each curated case in both dtypes, and every draw, agrees
    assert report.totals() == {**dict.fromkeys(conform.VERDICTS, 0), "agree": 2 * len(conform.CURATED) + 100}


def test_shards_partition_the_curated_suite() -> None:
    backend = backends.get("tests.fake_backends:correct")
    whole = conform.run(backend, ("float64",), suite="curated")
    parts = [conform.run(backend, ("float64",), suite="curated", shard=(k, 3)) for k in (1, 2, 3)]
    keys = [repr(o.case) for part in parts for o in part.outcomes]
    assert len(keys) == len(set(keys)) == len(whole.outcomes)
    assert set(keys) == {repr(o.case) for o in whole.outcomes}


def test_an_interrupted_run_keeps_what_it_judged_and_says_so() -> None:
    def stop_after_five(event: Progress) -> None:
        if event.done == 5:
            raise KeyboardInterrupt

    report = conform.run(backends.get("tests.fake_backends:correct"), ("float64",), progress=stop_after_five)
    assert report.interrupted
    assert len(report.outcomes) == 5
    assert "INTERRUPTED" in report.summary()
    assert report.to_json()["interrupted"] is True


def test_a_run_reports_its_phases_shrinking_and_confirming_included() -> None:
    events: list[str] = []
    backend = backends.get("tests.fake_backends:refuses_groups")
    conform.run(backend, ("float64",), suite="curated", progress=lambda e: events.append(e.phase))
    assert events[0] == "curated"
    assert {"shrink", "confirm"} <= set(events)
    assert events.index("shrink") < events.index("confirm")


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        (dict(examples=-5), "examples=-5 must be a whole number >= 0"),
        (dict(examples=2.5), "examples=2.5 must be a whole number >= 0"),
        (dict(budget=-1.0), "budget=-1.0 must be a number of seconds > 0"),
        (dict(budget=math.nan), "budget=nan must be a number of seconds > 0"),
        (dict(timeout=0.0), "timeout=0.0 must be a finite number of seconds > 0"),
        (dict(timeout=math.inf), "timeout=inf must be a finite number of seconds > 0"),
        (dict(shard=(3, 2)), "shard=(3, 2): K must be between 1 and N"),
        (dict(suite="most"), "suite='most': expected one of all, curated, search"),
        (dict(dtypes=()), "dtypes=(): give at least one dtype"),
    ],
)
def test_every_setting_is_checked_before_the_run(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^\w+=") as error:
        Settings(**keywords)
    assert str(error.value) == message
