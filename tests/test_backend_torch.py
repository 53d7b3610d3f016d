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
            r"torch has no 0-d convolution",
            r"torch has no symmetric padding mode",
        },
        zero_size_limits={
            r"Kernel size can't be greater than actual input size",  # an empty output
            # no input channels: torch's forward gives 0 output channels instead of 3
            r"grad_output\[0\] has a shape of .*\[2, 3, 4, 3\]\) and output\[0\] .*\[2, 0, 4, 3\]",
            r"Only zero batch or zero channel inputs are supported",  # an empty transposed input
        },
    )


@pytest.mark.parametrize("name", ["torch-channels-last", "torch-no-mkldnn"])
def test_torchs_other_kernels_agree_on_the_curated_suite(name: str) -> None:
    assert_agrees_on_the_curated_suite(
        name,
        {
            r"torch has no input dilation",
            r"torch has no batch groups",
            r"torch has no 0-d convolution",
            r"torch has no symmetric padding",
            r"channels_last memory formats are 2-d and 3-d",
        },
        zero_size_limits={
            r"Kernel size can't be greater than actual input size",
            r"grad_output\[0\] has a shape of .*\[2, 3, 4, 3\]\) and output\[0\] .*\[2, 0, 4, 3\]",
            *(
                []
                if name == "torch-channels-last"
                else [r"Only zero batch or zero channel inputs are supported"]
            ),
        },
        most=name != "torch-channels-last",  # no 1-d memory format: the 1-d cases are unsupported
    )


def test_torch_compile_compiles_the_forward_whole_and_static() -> None:
    text = source("torch-compile", (2, 3, 7), (4, 3, 3), stride=2)
    assert "forward = torch.compile(forward, fullgraph=True, dynamic=False)" in text
    assert "with torch.backends.mkldnn.flags(enabled=False):" in source(
        "torch-no-mkldnn", (2, 3, 7), (4, 3, 3)
    )
    assert ".to(memory_format=torch.channels_last_3d)" in source(
        "torch-channels-last", (2, 3, 4, 5, 6), (4, 3, 2, 2, 2)
    )
