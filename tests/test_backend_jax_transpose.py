"""jax's lax.conv_transpose three ways (refconv's kernel flipped by the program, transpose_kernel, and
use_consistent_padding): every transposed case it can say agrees, and its padding words are jax's."""

from __future__ import annotations

import importlib.util
import inspect

import pytest

from refconv import backends, conform
from refconv.backends import Unsupported
from refconv.backends.jax_transpose_backend import jax_words
from refconv.cases import case
from tests.backend_helpers import assert_writes_a_program_or_says_why, source

NAMES = ["jax-conv-transpose", "jax-conv-transpose-kernel", "jax-conv-transpose-consistent"]
#: transposed cases of every kind the adapters translate: padding pairs and output padding, dilation,
#: a channels-last layout, both of jax's words where they are refconv's and where they are not
CASES = [
    case("t", (2, 3, 5), (3, 4, 3), transposed=True, stride=2, padding=1, output_padding=1),
    case("t", (2, 3, 5, 4), (3, 2, 3, 2), transposed=True, stride=(2, 3), dilation=(2, 1),
         padding=((1, 0), (0, 2))),
    case("t", (2, 5, 3), (4, 3, 2), dimension_numbers=("NWC", "WIO", "NWC"), transposed=True, stride=3),
    case("t", (2, 3, 7), (3, 2, 4), transposed=True, stride=2, padding="same"),
    case("t", (2, 3, 7), (3, 2, 4), transposed=True, stride=2, padding="valid"),
    case("t", (2, 3, 7), (3, 2, 2), transposed=True, stride=3, padding="same"),
    case("t", (3, 2, 6), (2, 3, 5), transposed=True, stride=2, padding="same_lower", dilation=2),
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_each_writes_a_program_for_every_transposed_curated_case_or_says_why(name: str) -> None:
    assert_writes_a_program_or_says_why(name, transposed_only=True)


def test_the_pairs_are_those_of_the_convolution_of_the_dilated_input() -> None:
    # refconv's (lo, hi) = (1, 1), k = 3, op = 1: jax's pairs (d (k - 1) - lo, d (k - 1) - hi + op)
    plain = source("jax-conv-transpose", (1, 2, 5), (2, 3, 3), transposed=True, stride=2, padding=1,
                   output_padding=1)  # fmt: skip
    assert "((1, 2),), rhs_dilation=(1,)" in plain
    consistent = source("jax-conv-transpose-consistent", (1, 2, 5), (2, 3, 3), transposed=True, padding=1)
    assert "((1, 1),), rhs_dilation=(1,)" in consistent
    assert "use_consistent_padding=True" in consistent
    with pytest.raises(Unsupported, match="no output padding"):
        source(
            "jax-conv-transpose-consistent", (1, 2, 5), (2, 3, 3), transposed=True, stride=2, output_padding=1
        )
    with pytest.raises(Unsupported, match="no groups"):
        source("jax-conv-transpose", (1, 4, 5), (4, 1, 3), transposed=True, groups=2)
    with pytest.raises(Unsupported, match="is a transposed convolution"):
        source("jax-conv-transpose", (1, 4, 5), (4, 4, 3))


@pytest.mark.parametrize(("word", "k", "stride"), [(w, k, s) for w in ("same", "valid") for k in range(1, 8)
                                                    for s in range(1, 5)])  # fmt: skip
def test_the_words_pairs_are_jaxs_own(word: str, k: int, stride: int) -> None:
    pytest.importorskip("jax")
    from jax._src.lax.convolution import _conv_transpose_padding  # the function the adapter's is read from

    assert jax_words(word, k, stride) == tuple(_conv_transpose_padding(k, stride, word.upper()))


def _has_consistent_padding() -> bool:
    from jax import lax

    return "use_consistent_padding" in inspect.signature(lax.conv_transpose).parameters


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_each_agrees_with_refconv_on_every_transposed_case_it_can_say(name: str) -> None:
    cases = [*CASES, *(c for c in conform.curated() if c.spec.transposed and c.feature != "zero_sizes")]
    with conform.Judge(backends.get(name), isolate=False) as judge:
        outcomes = [judge.judge(c) for c in cases]
    if name == "jax-conv-transpose-consistent" and not _has_consistent_padding():
        assert {o.verdict for o in outcomes} == {"unsupported"}
        assert any("has no use_consistent_padding" in o.headline for o in outcomes)
        return
    assert {o.verdict for o in outcomes} <= {"agree", "unsupported"}, [
        (o.case, o.headline) for o in outcomes if o.verdict not in ("agree", "unsupported")
    ]
    assert sum(o.verdict == "agree" for o in outcomes) >= len(cases) // 2


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_an_empty_input_gives_jaxs_output_one_longer_than_refconvs() -> None:
    # jax dilates an empty dim to nothing, where refconv's (PyTorch's) formula reads (n - 1) s + 1 = 1 - s:
    # the docs' frameworks page classifies it as a convention at the zero-size edge
    empty = case("zero_sizes", (2, 3, 0), (3, 2, 3), stride=2, transposed=True)
    with conform.Judge(backends.get("jax-conv-transpose"), isolate=False) as judge:
        outcome = judge.judge(empty)
    assert outcome.verdict == "shape"
    assert outcome.headline == "y: shape (2, 2, 2) != expected (2, 2, 1)"
