"""The jax adapter: lax.conv_general_dilated and jax.vjp, every parameter, layouts as given."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import (
    assert_agrees_on_the_curated_suite,
    assert_writes_a_program_or_says_why,
    source,
)


def test_jax_writes_a_program_for_every_curated_case_or_says_why() -> None:
    assert_writes_a_program_or_says_why("jax")


def test_jax_takes_the_padding_words_and_layouts_as_its_own() -> None:
    assert "'SAME_LOWER'" in source("jax", (1, 2, 5), (3, 2, 2), padding="same_lower")
    laid = source("jax", (1, 5, 2), (2, 2, 3), dimension_numbers=("NWC", "WIO", "NWC"))
    assert "dimension_numbers=('NWC', 'WIO', 'NWC')" in laid
    assert "batch_group_count=2" in source("jax", (2, 2, 5), (2, 2, 2), batch_groups=2)


def test_jax_cannot_express_a_transposed_output_padding_of_the_stride() -> None:
    with pytest.raises(Unsupported, match=r"output_padding=\(2,\) >= stride=\(1,\)"):
        source("jax", (1, 2, 5), (2, 3, 3), transposed=True, dilation=3, output_padding=2)


def test_jax_agrees_with_refconv_on_the_curated_suite() -> None:
    assert_agrees_on_the_curated_suite("jax", {r"output_padding=\(2,\) >= stride=\(1,\)"})
