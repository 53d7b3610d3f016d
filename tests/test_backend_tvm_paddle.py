"""The TVM (TOPI) and PaddlePaddle adapters write a program for every curated case or say why, translating
padding as each API takes it (their verdicts: nox -s conform-tvm, conform-paddle, docs/frameworks.rst)."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import (
    assert_writes_a_program_or_says_why,
    source,
)


@pytest.mark.parametrize("name", ["tvm", "paddle"])
def test_each_writes_a_program_for_every_curated_case_or_says_why(name: str) -> None:
    assert_writes_a_program_or_says_why(name)


def test_tvm_takes_the_pairs_and_the_layouts_as_topis() -> None:
    conv = source(
        "tvm",
        (2, 5, 6, 3),
        (3, 2, 3, 4),
        padding=((1, 2), (0, 1)),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    assert (
        "topi.nn.conv(X, W, [1, 1], [1, 0, 2, 1], [1, 1], 1, data_layout='NHWC', kernel_layout='HWIO')"
        in conv
    )
    transposed = source(
        "tvm", (2, 3, 5, 4), (3, 2, 3, 2), transposed=True, stride=2, padding=((1, 0), (0, 1))
    )
    assert "topi.nn.group_conv2d_transpose_nchw(X, W, [2, 2], [1, 0, 0, 1], X.dtype, [0, 0], 1)" in transposed
    with pytest.raises(Unsupported, match="one number for both sides"):
        source("tvm", (2, 3, 5), (3, 2, 3), transposed=True, padding=((1, 0),))
    with pytest.raises(Unsupported, match="does not crop"):
        source("tvm", (2, 3, 5), (4, 3, 3), padding=((-1, 0),))


def test_paddle_takes_pairs_and_its_words_and_crops_with_a_slice() -> None:
    assert "padding=[[0, 0], [0, 0], [1, 2]]" in source("paddle", (2, 3, 7), (4, 3, 3), padding=((1, 2),))
    assert "padding='SAME'" in source("paddle", (2, 3, 7), (4, 3, 4), padding="same")
    cropped = source("paddle", (2, 3, 7), (4, 3, 3), padding=((-1, 2),))
    assert "x = x[:, :, 1:7]" in cropped
    assert "padding=[[0, 0], [0, 0], [0, 2]]" in cropped
    with pytest.raises(Unsupported, match="no symmetric padding mode"):
        source("paddle", (2, 3, 7), (4, 3, 3), padding=1, padding_mode="symmetric")
