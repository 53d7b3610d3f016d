"""refconv and refconv.naive as backends: judged like any other, in every dtype refconv computes."""

from __future__ import annotations

import pytest

from refconv.backends import BUILTIN
from refconv.cases import DTYPES, case
from refconv.conform import Judge


@pytest.mark.parametrize("name", ["refconv", "refconv.naive"])
@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != "bfloat16"])
def test_refconv_and_naive_agree_in_every_dtype(name: str, dtype: str) -> None:
    c = case("padding", (2, 3, 7), (4, 3, 3), stride=2, padding=((1, 2),), dtype=dtype)
    outcome = Judge(BUILTIN[name], isolate=False).judge(c)
    assert outcome.verdict == "agree", outcome.detail
    assert outcome.answered == ("y", "dx", "dw", "db")
