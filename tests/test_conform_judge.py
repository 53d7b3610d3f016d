"""The judge: one verdict per case, whatever the backend does, and never a pass it did not earn.

Every hostile backend of tests/hostile_backends.py gets exactly its verdict on the case it
attacks, in a worker process (the default); a correct backend agrees on the same case.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import refconv
from refconv.backends import get
from refconv.cases import case
from refconv.conform import FAILING, VERDICTS, Judge, assess
from tests import hostile_backends
from tests.fake_backends import correct

TARGET = case("padding_modes", (2, 3, 5), (4, 3, 2), padding=((1, 2),), padding_mode="circular")


@pytest.mark.parametrize(("name", "expected"), sorted(hostile_backends.VERDICTS.items()))
def test_every_hostile_backend_gets_its_verdict(name: str, expected: tuple[str, str]) -> None:
    backend = get(f"tests.hostile_backends:{name}")
    target = TARGET.in_dtype(backend.dtypes[0])
    with Judge(backend, timeout=2) as judge:
        outcome = judge.judge(target)
        assert (outcome.verdict, outcome.headline[: len(expected[1])]) == expected, outcome.detail
        assert outcome.verdict in FAILING
        after = judge.judge(case("basic", (2, 3, 5), (4, 3, 2), dtype=backend.dtypes[0]))
        assert after.verdict == "agree", after.detail  # the same judge goes on, with a new worker if need be


def test_in_process_judging_still_catches_mutation_and_wrong_dtypes() -> None:
    for name in ("mutates_x", "mutates_w", "float64_for_float32", "returns_lists", "unprintable"):
        backend = get(f"tests.hostile_backends:{name}")
        outcome = Judge(backend, isolate=False).judge(TARGET.in_dtype(backend.dtypes[0]))
        assert outcome.verdict == hostile_backends.VERDICTS[name][0], (name, outcome.detail)


def test_a_dtype_the_backend_does_not_claim_is_unsupported_and_runs_nothing() -> None:
    backend = get("tests.hostile_backends:segfaults")  # claims float64 only
    outcome = Judge(backend).judge(TARGET.in_dtype("float32"))
    assert (outcome.verdict, outcome.detail) == (
        "unsupported",
        "tests.hostile_backends:segfaults claims float64",
    )


def test_without_a_gradients_attribute_only_what_is_returned_is_judged() -> None:
    backend = get("tests.hostile_backends:forward_only")
    with Judge(backend) as judge:
        good = judge.judge(case("basic", (1, 2, 5), (3, 2, 2)))
        assert (good.verdict, good.answered) == ("agree", ("y",))
        bad = judge.judge(TARGET)
        assert (bad.verdict, bad.array, bad.answered) == ("disagree", "y", ("y",))


def test_a_backend_that_claims_gradients_and_returns_none_is_invalid() -> None:
    def claims(spec: Any, x: Any, w: Any, b: Any, dy: Any) -> dict[str, Any]:
        return {"y": correct(spec, x, w, b, dy)["y"]}

    claims.gradients = True  # type: ignore[attr-defined]
    backend = refconv.backends.function_backend(claims, "claims")
    outcome = Judge(backend, isolate=False).judge(case("basic", (1, 2, 5), (3, 2, 2)))
    assert (outcome.verdict, outcome.detail) == ("invalid", "returned no dx, dw, db")


def test_assess_judges_results_against_given_values_within_the_bound() -> None:
    """assess compares with refconv's reference, or with given values (as the tests' helper does);
    a value moved by 1e-9 is far above float64's bound for these sums of a few products."""
    c = case("basic", (2, 3, 6), (4, 3, 2), stride=2)
    x, w, b, dy = c.arrays()
    got = refconv.testing.results(c.spec, x, w, b, dy)
    assert assess(c, got).verdict == "agree"
    assert assess(c, got, expected=got).verdict == "agree"
    moved = {**got, "dw": got["dw"] + 1e-9}
    outcome = assess(c, moved)
    assert (outcome.verdict, outcome.array) == ("disagree", "dw")
    assert assess(c, got, expected=moved).verdict == "disagree"
    short = {**got, "dx": got["dx"][..., :-1]}
    assert (assess(c, short).verdict, assess(c, short).array) == ("shape", "dx")


def test_the_verdicts_are_every_failure_and_the_three_that_are_not() -> None:
    assert set(VERDICTS) == {*FAILING, "agree", "convention", "unsupported"}
    assert len(set(VERDICTS)) == len(VERDICTS)


def test_an_integer_case_is_judged_exactly() -> None:
    """int8 results wrap as NumPy's int8 arithmetic does, and the bound is 0: one unit off fails."""
    c = case("basic", (2, 3, 6), (4, 3, 2), dtype="int8")
    x, w, b, dy = c.arrays()
    got = refconv.testing.results(c.spec, x, w, b, dy)
    assert assess(c, got).verdict == "agree"
    off = {**got, "y": got["y"] + np.int8(1)}
    assert assess(c, off).verdict == "disagree"
