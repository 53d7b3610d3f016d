"""Selecting cases by feature (--only-features, --skip-features) and dtype (--skip-dtypes): the run judges
exactly the cases that use the features left, in every phase and in the random draws."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refconv import backends, conform
from refconv.cases import case
from refconv.conform import Settings, phase_cases
from refconv.conform.search import features_of
from refconv.testing import FEATURES, conv_configs

PADDED_OUTPUT = {"output_padding", "output_shape"}  # one problem, two spellings: features_of says both


def test_a_case_uses_the_features_its_spec_shows() -> None:
    assert features_of(case("basic", (2, 3, 7), (4, 3, 3), bias=False)) == frozenset()
    assert features_of(case("basic", (2, 3, 7), (4, 3, 3))) == {"bias"}
    depthwise = case("x", (0, 4, 7, 6), (8, 1, 3, 3), groups=4, stride=(1, 2), padding=((1, -1), (0, 0)))
    assert features_of(depthwise) == {"bias", "groups", "depthwise", "stride", "padding", "negative_padding",
                                      "empty_batch"}  # fmt: skip
    word = case("x", (2, 3, 4, 5), (3, 2, 3, 2), stride=2, padding="same", output_padding=1, transposed=True)
    assert features_of(word) == {"bias", "transposed", "stride", "padding_words", *PADDED_OUTPUT}
    moded = case("x", (2, 3, 7, 6), (4, 3, 3, 3), padding=(2, 1), padding_mode="reflect", bias=False,
                 dilation=(1, 2))  # fmt: skip
    assert features_of(moded) == {"padding", "padding_modes", "dilation"}
    laid = case("x", (4, 7, 6, 3), (3, 2, 3, 4), dimension_numbers=("NHWC", "HWIO", "NHWC"), bias=False,
                input_dilation=(2, 1), batch_groups=2)  # fmt: skip
    assert features_of(laid) == {"layouts", "input_dilation", "batch_groups"}


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sets(st.sampled_from(FEATURES)))
def test_every_case_conv_configs_draws_uses_only_the_features_it_was_given(
    data: st.DataObject, chosen: set[str]
) -> None:
    """The strategy (written apart) is the oracle of what 'uses a feature' means."""
    drawn = data.draw(conv_configs(features=sorted(chosen)))
    used = features_of(drawn)
    assert used - PADDED_OUTPUT - {"depthwise"} <= chosen, (drawn, used, chosen)
    if used & PADDED_OUTPUT:
        assert chosen & PADDED_OUTPUT, (drawn, chosen)
    if "depthwise" in used:  # one channel per group: groups alone may draw it, depthwise makes it likely
        assert "groups" in chosen, (drawn, chosen)


def test_only_and_skip_select_the_cases_of_every_phase() -> None:
    s = Settings(only_features=("stride", "padding", "bias"), skip_features=("bias",))
    assert s.features == ("stride", "padding")
    for name in ("curated", "pairs", "enumeration", "triples"):
        cases = phase_cases(name, s)
        everything = phase_cases(name)
        assert cases == [c for c in everything if features_of(c) <= {"stride", "padding"}]
        assert len(cases) < len(everything), name
    assert phase_cases("curated", s)  # a stride case without a bias, for one


def test_a_run_judges_and_draws_only_cases_without_a_skipped_feature() -> None:
    backend = backends.get("tests.fake_backends:correct")
    report = conform.run(backend, ("float64",), phases=("curated", "random"), examples=30, isolate=False,
                         skip_features=("transposed", "bias"))  # fmt: skip
    assert report.ok
    judged = [o.case for o in report.outcomes]
    assert len([c for c in judged if c.feature == "search"]) == 30
    assert not any({"transposed", "bias"} & features_of(c) for c in judged)
    curated = [c for c in conform.curated() if not {"transposed", "bias"} & features_of(c)]
    assert [c for c in judged if c.feature != "search"] == curated


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"only_features": ("strides",)}, "only_features=('strides',): expected some of stride, "),
        ({"skip_features": "stride"}, "skip_features='stride': expected some of"),
    ],
)
def test_an_unknown_feature_is_named(keywords: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(**keywords)  # type: ignore[arg-type]


@pytest.mark.process
def test_the_command_takes_the_selection_options() -> None:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "refconv", "conform", "tests.fake_backends:correct", "--phases", "curated",
         "--skip-dtypes", "float32", "--only-features", "stride,padding,bias", "--quiet", "--json", "-"],
        capture_output=True, text=True, check=False, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["dtypes"] == ["float64"]
    wanted = [c for c in conform.curated() if features_of(c) <= {"stride", "padding", "bias"}]
    assert [o["id"] for o in data["outcomes"]] == [c.id for c in wanted]
