"""A failure's reproducer runs on its own and shows the failing array over its bound; the
confirmation says who else computes refconv's values."""

from __future__ import annotations

import pytest

from refconv import backends, conform
from refconv.cases import case
from refconv.conform import Confirmation, Judge
from tests.conform_helpers import FAKE, fake_run, printed_ratios, ratio


def test_the_reproducer_runs_and_shows_the_failing_array_over_its_bound() -> None:
    source = fake_run("swapped_weight_vjp").failures[0].reproducer
    lines = printed_ratios(source)
    assert set(lines) == {"y", "dx", "dw", "db"}
    assert ratio(lines["dw"]) > 1  # the bug
    assert all(ratio(lines[name]) <= 1 for name in ("y", "dx", "db"))  # and nothing else
    assert f"from {FAKE} import swapped_weight_vjp" in source
    assert "# as a refconv case: Case(refconv.spec(" in source


def test_the_reproducer_of_an_empty_batch_keeps_its_shapes() -> None:
    report = fake_run("keeps_one_image")
    assert sorted(f.outcome.case.spec.transposed for f in report.failures) == [False, True]
    for failure in report.failures:
        assert failure.outcome.case.spec.x_shape[0] == 0
        lines = printed_ratios(failure.reproducer)
        assert lines["y"].startswith("y has shape (1, ")
        assert all(ratio(lines[name]) == 0 for name in ("dx", "dw", "db"))  # empty: nothing to differ


def test_a_function_that_returns_only_y_gets_a_reproducer_of_y() -> None:
    backend = backends.get("tests.hostile_backends:forward_only")
    target = case("padding_modes", (2, 3, 5), (4, 3, 2), padding=((1, 2),), padding_mode="circular")
    with Judge(backend) as judge:
        outcome = judge.judge(target)
    lines = printed_ratios(conform.reproducer(backend, outcome))
    assert set(lines) == {"y"}
    assert ratio(lines["y"]) > 1


@pytest.mark.parametrize(
    ("verdicts", "line"),
    [
        ({"refconv.naive": "agree", "jax": "agree", "torch": "unsupported"},
         "confirmed: refconv.naive and jax compute refconv's values (torch unsupported)"),
        ({"refconv.naive": "agree", "torch": "unsupported"},
         "NOT confirmed: only refconv.naive computes refconv's values (torch unsupported)"),
        ({"refconv.naive": "disagree", "jax": "agree"},
         "NOT confirmed: only jax computes refconv's values (refconv.naive disagree)"),
    ],
)  # fmt: skip
def test_a_failure_is_confirmed_only_by_naive_and_a_second_implementation(
    verdicts: dict[str, str], line: str
) -> None:
    confirmation = Confirmation({name: (verdict, "") for name, verdict in verdicts.items()})
    assert confirmation.line() == line
    assert confirmation.confirmed == line.startswith("confirmed")
    assert Confirmation.from_json(confirmation.to_json()) == confirmation
