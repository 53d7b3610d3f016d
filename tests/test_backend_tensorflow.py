"""The TensorFlow adapters (eager, graph, XLA): channels-last, filters (*k, C_in, C_out), and tf.pad."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import assert_writes_a_program_or_says_why, source


@pytest.mark.parametrize("name", ["tensorflow", "tensorflow-graph", "tensorflow-xla"])
def test_tensorflow_writes_a_program_for_every_curated_case_or_says_why(name: str) -> None:
    assert_writes_a_program_or_says_why(name)


def test_tensorflow_runs_channels_last_with_its_filter_layout() -> None:
    text = source("tensorflow", (1, 2, 5, 4), (3, 2, 2, 2))
    assert "tf.transpose(x, [0, 2, 3, 1])" in text
    assert "tf.transpose(w, [2, 3, 1, 0])" in text
    assert "tf.transpose(y, [0, 3, 1, 2])" in text


def test_tensorflow_wraps_the_graph_and_xla_modes() -> None:
    assert "@tf.function(jit_compile=True)" in source("tensorflow-xla", (1, 2, 5), (3, 2, 2))
    assert "@tf.function\n" in source("tensorflow-graph", (1, 2, 5), (3, 2, 2))


def test_tensorflow_has_no_replicate_padding() -> None:
    with pytest.raises(Unsupported, match=r"tf\.nn has no replicate padding mode"):
        source("tensorflow", (1, 2, 5), (3, 2, 2), padding=1, padding_mode="replicate")
