"""The Keras adapter: keras.ops convolutions, whose padding is a word and whose output_padding is Keras's."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import assert_writes_a_program_or_says_why, source


def test_keras_writes_a_program_for_every_curated_case_or_says_why() -> None:
    assert_writes_a_program_or_says_why("keras")


def test_keras_spells_padding_as_its_words_only() -> None:
    assert "padding='same'" in source("keras", (1, 2, 7), (3, 2, 3), padding=1)
    with pytest.raises(Unsupported, match="Keras pads by 'valid' or 'same' only"):
        source("keras", (1, 2, 7), (3, 2, 3), padding=((2, 0),))


def test_keras_translates_a_pytorch_output_padding_into_its_own() -> None:
    """Keras's 'valid' output is (n - 1) s + k_hat + output_padding: PyTorch's o = 1 at padding 0."""
    text = source("keras", (1, 2, 5), (2, 3, 3), transposed=True, stride=2, output_padding=1)
    assert "padding='valid', output_padding=1" in text


def test_keras_has_no_groups_in_conv_transpose() -> None:
    with pytest.raises(Unsupported, match=r"keras\.ops\.conv_transpose has no groups"):
        source("keras", (1, 2, 5), (2, 3, 3), transposed=True, groups=2)


def test_keras_cannot_say_a_negative_total_padding_of_a_transposed_convolution() -> None:
    """TF clamps a negative 'same' total to 0 and adds the extra rows at the end: PyTorch's padding
    ((-1, 0),) puts its extra row at the start, which no Keras word gives (found by the enumeration)."""
    with pytest.raises(Unsupported, match=r"cannot give padding=\(\(-1, 0\),\)"):
        source("keras", (1, 1, 1), (1, 1, 1), transposed=True, stride=2, padding=((-1, 0),))
    # the extra row at the end is expressible: padding 0 and output_padding 1 are Keras's 'valid' with o = 1
    text = source("keras", (1, 1, 1), (1, 1, 1), transposed=True, stride=2, output_padding=1)
    assert "padding='valid', output_padding=1" in text
