"""The torch adapter: F.conv*d and F.conv_transpose*d with autograd; signed padding as F.pad."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import (
    assert_agrees_on_the_curated_suite,
    assert_writes_a_program_or_says_why,
    source,
)


def test_torch_writes_a_program_for_every_curated_case_or_says_why() -> None:
    assert_writes_a_program_or_says_why("torch")


def test_torch_pads_then_crops_signed_padding_and_uses_its_own_words() -> None:
    assert "F.pad(F.pad(x, [0, 0, 1, 0]), [0, 0, 0, -1])" in source("torch", (1, 2, 5, 4), (3, 2, 2, 2),
                                                                   padding=((1, -1), (0, 0)))  # fmt: skip
    assert "padding='same'" in source("torch", (1, 2, 5), (3, 2, 3), padding="same")
    assert "mode='circular'" in source("torch", (1, 2, 5), (3, 2, 3), padding=1, padding_mode="circular")


@pytest.mark.parametrize("keywords", [dict(batch_groups=2), dict(input_dilation=2)])
def test_torch_cannot_express_batch_groups_or_input_dilation(keywords: dict[str, int]) -> None:
    with pytest.raises(Unsupported, match="torch has no"):
        source("torch", (2, 2, 5), (2, 2, 2), **keywords)


def test_torch_agrees_with_refconv_on_the_curated_suite() -> None:
    assert_agrees_on_the_curated_suite(
        "torch",
        {
            r"torch has no input dilation",
            r"torch has no batch groups",
            r"torch has no symmetric padding mode",
        },
        zero_size_limits={
            r"Kernel size can't be greater than actual input size",  # an empty output
            # no input channels: torch's forward gives 0 output channels instead of 3
            r"grad_output\[0\] has a shape of .*\[2, 3, 4, 3\]\) and output\[0\] .*\[2, 0, 4, 3\]",
            r"Only zero batch or zero channel inputs are supported",  # an empty transposed input
        },
    )
