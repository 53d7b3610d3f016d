"""refconv agrees with jax.vjp, torch autograd and refconv.naive on every case of both grids."""

from __future__ import annotations

import pytest

from refconv import naive
from refconv.backends import ORACLES, Unsupported
from tests.cases import TRANSPOSED, Case, cases
from tests.helpers import assert_results_close, case_results

GRID = cases() + cases(grid=TRANSPOSED)


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("case", GRID)
def test_conv_and_vjps_match_oracle(case: Case, oracle: str) -> None:
    pytest.importorskip(oracle)
    arrays = case.arrays()
    try:
        expected = ORACLES[oracle](case.spec(), *arrays)
    except Unsupported as reason:
        pytest.skip(f"{oracle}: {reason}")
    assert_results_close(case, case_results(case), expected)


@pytest.mark.parametrize("case", GRID)
def test_conv_and_vjps_match_naive(case: Case) -> None:
    assert_results_close(case, case_results(case), case_results(case, module=naive))
