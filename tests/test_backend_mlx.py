"""The MLX adapter: mx.conv_general and mx.conv_transpose*d with mx.vjp, channels-last."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import assert_writes_a_program_or_says_why, source


def test_mlx_writes_a_program_for_every_curated_case_or_says_why() -> None:
    assert_writes_a_program_or_says_why("mlx")


def test_mlx_takes_input_dilation_and_asymmetric_transposed_padding_through_conv_general() -> None:
    assert "input_dilation=[2]" in source("mlx", (1, 2, 5), (3, 2, 2), input_dilation=2)
    text = source("mlx", (1, 2, 5), (2, 3, 3), transposed=True, stride=2, padding=((1, 0),))
    assert "flip=True" in text


def test_mlx_has_no_circular_padding_and_no_groups_in_3d() -> None:
    with pytest.raises(Unsupported, match="MLX has no circular padding mode"):
        source("mlx", (1, 2, 5), (3, 2, 2), padding=1, padding_mode="circular")
    with pytest.raises(Unsupported, match="groups in 1-d and 2-d"):
        source("mlx", (1, 2, 3, 3, 3), (2, 1, 2, 2, 2), groups=2)
