"""Random configurations of every parameter, drawn by hypothesis, through the public API only.

Each is checked against refconv.naive, and against jax and torch where
installed and able to express it, with the float64 round-off bounds.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from refconv import naive
from refconv.backends import available
from tests.cases import Case
from tests.conftest import EXAMPLES
from tests.helpers import assert_results_close, case_results, judged, with_seed
from tests.strategies import configurations, transpose_configurations


@given(configurations(max_ndim=4, min_ndim=0), st.integers(0, 2**32 - 1))
def test_random_configurations_match_naive(case: Case, seed: int) -> None:
    assume(math.prod(case.spec.given_shape("x")) <= 4000)
    arrays = with_seed(case, seed).arrays()
    assert_results_close(case, case_results(case, arrays), case_results(case, arrays, naive), arrays)


def _check_against(oracle: str, case: Case, seed: int) -> None:
    pytest.importorskip(oracle)
    outcome = judged(oracle, with_seed(case, seed))
    assert outcome.verdict == "agree", f"{oracle}: {outcome.verdict}: {outcome.detail}"  # the strategy draws
    # only what the oracle expresses: unsupported is a failure too


# jax compiles every new shape (~0.5 s each), so the oracle tests take half the examples
@settings(max_examples=max(EXAMPLES // 2, 1))
@given(case=configurations(), seed=st.integers(0, 2**32 - 1))
def test_random_configurations_match_jax(case: Case, seed: int) -> None:
    _check_against("jax", case, seed)


@settings(max_examples=max(EXAMPLES // 2, 1))
@given(case=configurations(torch_only=True), seed=st.integers(0, 2**32 - 1))
def test_random_configurations_match_torch(case: Case, seed: int) -> None:
    _check_against("torch", case, seed)


@settings(max_examples=max(EXAMPLES // 2, 1))
@given(transpose_configurations())
def test_random_transposed_configurations_match_naive_and_oracles(case: Case) -> None:
    arrays = case.arrays()
    got = case_results(case, arrays)
    assert_results_close(case, got, case_results(case, arrays, naive), arrays)
    for oracle in available():
        outcome = judged(oracle, case)  # jax: output_padding >= stride is unsupported; the others check it
        assert outcome.verdict in ("agree", "unsupported"), f"{oracle}: {outcome.verdict}: {outcome.detail}"
