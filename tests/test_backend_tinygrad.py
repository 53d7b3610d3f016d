"""The tinygrad adapter: Tensor.conv2d / conv_transpose2d (any rank) and gradient, on its PYTHON device."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import assert_writes_a_program_or_says_why, source


def test_tinygrad_writes_a_program_for_every_curated_case_or_says_why() -> None:
    assert_writes_a_program_or_says_why("tinygrad")


def test_tinygrad_pads_in_flat_last_dim_first_order() -> None:
    assert "padding=(0, 3, 1, 2)" in source("tinygrad", (1, 2, 5, 6), (3, 2, 2, 2), padding=((1, 2), (0, 3)))


def test_tinygrad_has_no_input_dilation() -> None:
    with pytest.raises(Unsupported, match="tinygrad has no input dilation"):
        source("tinygrad", (1, 2, 5), (3, 2, 2), input_dilation=2)
