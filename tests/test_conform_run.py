"""A run: its phases (curated, pairs, enumeration, triples, dtypes, random) and the failures, through one
judge; stopped by a budget or Ctrl-C, it keeps what it has and says which phases finished."""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import pytest

from refconv import backends, conform
from refconv.conform import PHASES, Progress, Settings, model, phase_cases
from tests.conform_helpers import fake_run


def test_a_correct_convolution_agrees_on_every_case_of_every_phase() -> None:
    report = fake_run("correct", phases=conform.PHASES)
    assert report.ok
    assert not report.failures
    dtypes = ("float64", "float32")
    # refconv.naive expresses everything: each curated case in float64, each covering-array row,
    # the enumeration (in float64), the curated cases in float32, and every draw agree
    planned = {
        "curated": len(conform.CURATED),
        "pairs": len(model.array(2, dtypes)),
        "enumeration": len(list(model.enumeration(dtypes[:1]))),
        "triples": len(model.array(3, dtypes)),
        "dtypes": len(conform.CURATED),
        "random": 100,
    }
    assert [(p.name, p.planned, p.judged, p.finished) for p in report.phases] == [
        (name, count, count, True) for name, count in planned.items()
    ]
    assert report.totals() == {**dict.fromkeys(conform.VERDICTS, 0), "agree": sum(planned.values())}
    coverage = {p.name: p.coverage for p in report.phases}
    for phase, strength in (("pairs", "pairs"), ("triples", "pairs"), ("triples", "triples")):
        covered, coverable = coverage[phase][strength]
        assert covered == coverable > 0, (phase, strength)
    assert coverage["curated"]["pairs"][0] < coverage["curated"]["pairs"][1]  # why the arrays exist
    pairs, (covered, _) = planned["pairs"], coverage["pairs"]["pairs"]
    assert (
        f"pairs: {pairs} of {pairs} cases, finished; covers {covered:,}/{covered:,} pairs" in report.to_text()
    )


def test_phases_are_taken_in_their_order_whatever_order_they_are_named_in() -> None:
    events: list[str] = []
    backend = backends.get("tests.fake_backends:correct")
    report = conform.run(backend, ("float64",), phases=("triples", "curated"),
                         progress=lambda e: events.append(e.phase))  # fmt: skip
    assert [p.name for p in report.phases] == ["curated", "triples"]
    assert events == ["curated"] * len(conform.CURATED) + ["triples"] * len(model.array(3))
    assert [o.case for o in report.outcomes] == phase_cases("curated") + phase_cases("triples")


def test_a_budget_stops_the_run_between_cases_and_says_which_phases_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]  # the run's clock: one second per judged case

    def tick(event: Progress) -> None:
        clock[0] += 1.0

    module = sys.modules["refconv.conform.run"]  # the name refconv.conform.run is the function
    monkeypatch.setattr(module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    backend = backends.get("tests.fake_backends:correct")
    planned = len(model.array(2))
    report = conform.run(backend, ("float64",), phases=("pairs", "enumeration", "random"),
                         budget=planned + 7.0, progress=tick)  # fmt: skip
    pairs, enumeration, random = report.phases
    assert pairs.finished
    assert pairs.judged == pairs.planned == planned
    assert not enumeration.finished
    assert enumeration.judged == 7
    assert not random.finished
    assert random.judged == 0
    assert len(report.outcomes) == pairs.judged + enumeration.judged  # nothing judged is lost
    assert "enumeration: " in report.to_text()
    assert "NOT finished (budget)" in report.to_text()
    assert report.to_json()["phases"][1]["finished"] is False


def test_the_curated_suite_comes_first_in_one_dtype_and_in_the_others_after_the_arrays() -> None:
    """A slow backend reaches the covering arrays and the enumeration before it repeats the suite."""
    dtypes = ("float32", "float64", "float16")
    settings = Settings(dtypes=dtypes)
    first, others = phase_cases("curated", settings), phase_cases("dtypes", settings)
    assert {c.spec.dtype.name for c in first} == {"float32"}
    assert first + others == conform.curated(dtypes)
    assert settings.taken == PHASES
    assert "dtypes" not in Settings(dtypes=("float64",)).taken  # no case to judge
    assert Settings(suite="curated", dtypes=dtypes).taken == ("curated", "dtypes")  # the suite in every dtype


def test_shards_partition_every_phase() -> None:
    for phase in PHASES[:-1]:
        whole = phase_cases(phase, Settings(dtypes=("float64", "float32")))
        assert whole, phase
        parts = [phase_cases(phase, Settings(shard=(k, 3), dtypes=("float64", "float32"))) for k in (1, 2, 3)]
        keys = [repr(case) for part in parts for case in part]
        assert len(keys) == len(set(keys)) == len(whole), phase
        assert set(keys) == {repr(case) for case in whole}, phase


def test_shards_partition_the_curated_suite_of_a_run() -> None:
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
        (dict(phases=("pairs", "quads")), "phases=('pairs', 'quads'): expected some of " + ", ".join(PHASES)),
        (dict(phases=()), "phases=(): expected some of " + ", ".join(PHASES)),
        (dict(phases="pairs"), "phases='pairs': expected some of " + ", ".join(PHASES)),
        (dict(phases=("pairs",), suite="curated"), "phases=('pairs',) and suite='curated': give one of them"),
        (dict(dtypes=()), "dtypes=(): give at least one dtype"),
    ],
)
def test_every_setting_is_checked_before_the_run(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^\w+=") as error:
        Settings(**keywords)
    assert str(error.value) == message
