"""A backend's parts: require's one wording, a program that is the code it runs, the install hint."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import refconv
from refconv.backends import BUILTIN, Program, Unsupported, require


@pytest.mark.parametrize(
    ("keywords", "shapes", "message"),
    [
        (dict(max_ndim=2), ((1, 1, 2, 2, 2), (1, 1, 1, 1, 1)),
         "fw has no 3-d convolution (1 to 2 spatial dims)"),
        ({}, ((1, 1, 4), (1, 1, 2), dict(input_dilation=2)),
         "fw has no input dilation (input_dilation=(2,))"),
        ({}, ((2, 1, 4), (2, 1, 2), dict(batch_groups=2)), "fw has no batch groups (batch_groups=2)"),
        (dict(padding_modes=("reflect",)), ((1, 1, 4), (1, 1, 2), dict(padding=1, padding_mode="circular")),
         "fw has no circular padding mode (only reflect)"),
        ({}, ((1, 1, 4), (1, 1, 2), dict(preferred_element_type=np.float64)),
         "fw has no preferred_element_type (the operands' dtype is the result's)"),
    ],
)  # fmt: skip
def test_require_names_what_the_framework_lacks(
    keywords: dict[str, Any], shapes: tuple[Any, ...], message: str
) -> None:
    s = refconv.spec(shapes[0], shapes[1], **(shapes[2] if len(shapes) > 2 else {}))
    with pytest.raises(Unsupported) as reason:
        require(s, "fw", **keywords)
    assert str(reason.value) == message


def test_a_program_is_its_source_and_runs_it() -> None:
    program = Program("def forward(x, w, b):\n    return x * 2", "got = {'y': forward(x, w, b)}")
    assert program.source() == "def forward(x, w, b):\n    return x * 2\n\ngot = {'y': forward(x, w, b)}\n"
    got = program(np.ones(2), np.ones(1), None, np.ones(2))
    assert got["y"].tolist() == [2.0, 2.0]
    assert program.forward()(np.ones(1), None, None).tolist() == [2.0]


def test_a_missing_framework_is_named_with_the_extra_that_installs_it() -> None:
    assert BUILTIN["mlx"].install_hint() == 'pip install "refconv[mlx]"'
    assert BUILTIN["onnxruntime"].install_hint() == 'pip install "refconv[onnxruntime]"'
    assert BUILTIN["refconv.naive"].installed()
