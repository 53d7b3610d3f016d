"""refconv agrees with jax.vjp, torch autograd and refconv.naive on every case of the grid."""

from __future__ import annotations

import pytest

from refconv import naive
from refconv.oracles import ORACLES, Unsupported
from tests.cases import Case, cases
from tests.helpers import assert_results_match, params, refconv_results


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("case", cases())
def test_conv_and_vjps_match_oracle(case: Case, oracle: str) -> None:
    pytest.importorskip(oracle)
    x, w, b, dy = case.arrays()
    try:
        expected = ORACLES[oracle](x, w, b, dy, params(case))
    except Unsupported as reason:
        pytest.skip(f"{oracle}: {reason}")
    assert_results_match(case, refconv_results(case), expected)


@pytest.mark.parametrize("case", cases())
def test_conv_and_vjps_match_naive(case: Case) -> None:
    assert_results_match(case, refconv_results(case), refconv_results(case, module=naive))
