"""refconv agrees with jax.vjp, torch autograd and refconv.naive on every case of both grids."""

from __future__ import annotations

import pytest

from refconv import naive
from refconv.backends import ORACLES
from tests.cases import TRANSPOSED, Case, cases
from tests.helpers import assert_backend_agrees, assert_results_close, case_results

GRID = cases() + cases(grid=TRANSPOSED)


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("case", GRID)
def test_conv_and_vjps_match_oracle(case: Case, oracle: str) -> None:
    pytest.importorskip(oracle)
    assert_backend_agrees(oracle, case)


@pytest.mark.parametrize("case", GRID)
def test_conv_and_vjps_match_naive(case: Case) -> None:
    assert_results_close(case, case_results(case), case_results(case, module=naive))
