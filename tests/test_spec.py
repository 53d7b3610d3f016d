"""The front door: refconv.spec normalises once, is frozen, prints readably, and gives its keywords back.

And it is the only door: no module of refconv other than refconv/_spec.py reads a keyword's value
(calls the normalisers of refconv._normalize that turn keywords into parameters), so a reader who
follows ``padding`` from any public function reaches the kernel through one normalisation.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refconv
from tests.cases import CASES, TRANSPOSED, Case
from tests.strategies import configurations, transpose_configurations

REFCONV = Path(refconv.__file__).parent


def test_a_spec_prints_the_problem_as_a_reader_would_write_it() -> None:
    """Width 7 at stride 2 with a 4-wide kernel: 'same' gives ceil(7/2) = 4 outputs, total padding
    (4 - 1) * 2 + 4 - 7 = 3, split 1 before and 2 after."""
    s = refconv.spec((2, 3, 5, 7), (4, 3, 3, 4), stride=2, padding="same", groups=1, dtype=np.float32)
    assert str(s) == (
        "conv: x (2, 3, 5, 7), w (4, 3, 3, 4) -> y (2, 4, 3, 4)\n"
        "  stride (2, 2), padding ((1, 1), (1, 2)) (from 'same'), dilation (1, 1)\n"
        "  padding_mode 'zeros', float32, accumulated in float32"
    )
    t = refconv.spec((2, 6, 5), (6, 2, 3), transposed=True, stride=2, output_padding=1, groups=3,
                     dtype=[np.float16, np.float16])  # fmt: skip
    assert str(t) == (
        "conv_transpose: x (2, 6, 5), w (6, 2, 3) -> y (2, 6, 12)\n"
        "  stride (2,), padding ((0, 0),), dilation (1,), output_padding (1,), groups 3\n"
        "  padding_mode 'zeros', float16, accumulated in float32"
    )
    b = refconv.spec((4, 3, 5), (6, 3, 2), batch_groups=2, input_dilation=2)
    assert str(b).splitlines()[1] == (
        "  stride (1,), padding ((0, 0),), dilation (1,), input_dilation (2,), batch_groups 2"
    )


def test_a_spec_shows_shapes_in_the_callers_layout_and_keeps_canonical_ones() -> None:
    s = refconv.spec((2, 7, 6, 4), (3, 2, 4, 5), dimension_numbers=("NHWC", "HWIO", "NHWC"))
    assert (s.x_shape, s.w_shape, s.y_shape) == ((2, 4, 7, 6), (5, 4, 3, 2), (2, 5, 5, 5))
    assert s.given_shape("y") == (2, 5, 5, 5)
    assert str(s).splitlines()[:2] == [
        "conv: x (2, 7, 6, 4) NHWC, w (3, 2, 4, 5) HWIO -> y (2, 5, 5, 5) NHWC",
        "  as x_shape, w_shape, y_shape in refconv's order: x (2, 4, 7, 6), w (5, 4, 3, 2) -> y (2, 5, 5, 5)",
    ]


@pytest.mark.parametrize(
    ("shapes", "keywords"),
    [
        (((2, 7, 6, 4), (3, 2, 4, 5)), dict(dimension_numbers=("NHWC", "HWIO", "NHWC"), stride=2)),
        (((2, 3, 5), (3, 4, 2)), dict(transposed=True, stride=2, output_padding=1, dtype="float32")),
        (((2, 3, 5), (4, 3, 2)), dict(padding="same", preferred_element_type=np.float32)),
    ],
)
def test_a_specs_repr_is_the_call_that_rebuilds_it(shapes: Any, keywords: dict[str, Any]) -> None:
    """A failing hypothesis example or assertion shows the compact call, not the record's 19 fields."""
    s = refconv.spec(*shapes, **keywords)
    assert repr(s).startswith("refconv.spec(")
    assert eval(repr(s), {"refconv": refconv, "np": np}) == s


def test_a_spec_is_frozen() -> None:
    s = refconv.spec((2, 3, 7), (4, 3, 3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.stride = (2,)  # type: ignore[misc]


@given(st.one_of(configurations(max_ndim=3), transpose_configurations(max_ndim=3)))
def test_a_spec_comes_back_from_its_options(case: Case) -> None:
    s = case.spec
    again = refconv.spec(s.given_shape("x"), s.given_shape("w"), transposed=s.transposed, **s.options())
    assert again == s


@pytest.mark.parametrize("case", [pytest.param(c, id=c.feature) for c in CASES + TRANSPOSED])
def test_the_grids_specs_come_back_from_their_options(case: Case) -> None:
    s = case.spec
    assert (
        refconv.spec(
            case.spec.given_shape("x"),
            case.spec.given_shape("w"),
            transposed=case.spec.transposed,
            **s.options(),
        )
        == s
    )


def test_the_dtype_is_the_operands_result_type_or_the_preferred_one() -> None:
    assert refconv.spec((1, 1, 3), (1, 1, 2), dtype=[np.int8, np.float32]).dtype == np.float32
    s = refconv.spec((1, 1, 3), (1, 1, 2), dtype=np.float16, preferred_element_type=np.float32)
    assert (s.dtype, s.accumulate) == (np.dtype(np.float32), np.dtype(np.float32))
    assert refconv.spec((1, 1, 3), (1, 1, 2)).dtype == np.float64  # a problem without arrays


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: refconv.conv(np.ones((1, 1, 3)), np.ones((1, 1, 2)), output_padding=1),  # type: ignore[call-arg]
         "conv() got an unexpected keyword argument 'output_padding'"),
        (lambda: refconv.conv_vjp(np.ones((1, 1, 3)), np.ones((1, 1, 2)), np.ones((1, 1, 2)),
                                  transposed=True),  # type: ignore[call-arg]
         "conv_vjp() got an unexpected keyword argument 'transposed'"),
        (lambda: refconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 2)), input_dilation=2),  # type: ignore[call-arg]
         "conv_transpose() got an unexpected keyword argument 'input_dilation'"),
        (lambda: refconv.naive.conv_transpose_vjp(np.ones((1, 1, 3)), np.ones((1, 1, 2)), np.ones((1, 1, 4)),
                                                  padding_mode="reflect"),  # type: ignore[call-arg]
         "conv_transpose_vjp() got an unexpected keyword argument 'padding_mode'"),
        (lambda: refconv.spec((1, 1, 3), (1, 1, 2), transposed=True, batch_groups=2),
         "batch_groups=2 is not a parameter of the transposed convolution"),
        (lambda: refconv.spec((1, 1, 3), (1, 1, 2), transposed=True, input_dilation=2),
         "input_dilation=2 is not a parameter of the transposed convolution"),
        (lambda: refconv.spec((1, 1, 3), (1, 1, 2), transposed=True, padding_mode="reflect"),
         "padding_mode='reflect' is not a parameter of the transposed convolution"),
        (lambda: refconv.spec((1, 1, 3), (1, 1, 2), output_shape=(4,)),
         "output_padding, output_shape and strict_output_padding are keywords of the transposed "
         "convolution only"),
        (lambda: refconv.spec((1, 1, 3), (1, 1, 2), output_padding=1),
         "output_padding, output_shape and strict_output_padding are keywords of the transposed "
         "convolution only"),
        (lambda: refconv.spec((1, 1, 3), (1, 1, 2), strict_output_padding=True),
         "output_padding, output_shape and strict_output_padding are keywords of the transposed "
         "convolution only"),
    ],
)  # fmt: skip
def test_a_keyword_a_function_does_not_take_is_a_type_error_naming_it(call: object, message: str) -> None:
    with pytest.raises(TypeError) as error:
        call()  # type: ignore[operator]
    assert str(error.value) == message


NORMALISERS = {"conv_params", "per_dim", "padding_pairs", "dtypes"}


@pytest.mark.parametrize("path", sorted(REFCONV.glob("*.py")), ids=lambda p: p.name)
def test_only_the_front_door_turns_keywords_into_parameters(path: Path) -> None:
    """refconv._normalize's normalisers are called in refconv/_spec.py and nowhere else."""
    allowed = {"_spec.py": NORMALISERS, "_normalize.py": NORMALISERS}
    called = {
        node.func.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in NORMALISERS
    }
    assert called <= allowed.get(path.name, set()), f"{path.name} normalises {sorted(called)} itself"


def test_options_are_exactly_the_keywords_that_differ_from_the_defaults() -> None:
    """Each keyword alone, away from its default, comes back alone and per spatial dim; at its default
    it is left out (a padding of one row on one side, ((1, 0),), is not the default ((0, 0),))."""
    f32 = np.dtype(np.float32)
    table: list[tuple[bool, tuple[int, ...], tuple[int, ...], dict[str, Any], dict[str, Any]]] = [
        (False, (2, 4, 7), (6, 4, 3), {}, {}),
        (True, (2, 4, 7), (4, 3, 3), {}, {}),
        (False, (2, 4, 7), (6, 4, 3), dict(stride=2), dict(stride=(2,))),
        (False, (2, 4, 7), (6, 4, 3), dict(padding=((1, 0),)), dict(padding=((1, 0),))),
        (False, (2, 4, 7), (6, 4, 3), dict(padding=((0, 1),)), dict(padding=((0, 1),))),
        (False, (2, 4, 7), (6, 4, 3), dict(padding="SAME"), dict(padding="same")),
        (False, (2, 4, 7), (6, 4, 3), dict(dilation=2), dict(dilation=(2,))),
        (False, (2, 4, 7), (6, 2, 3), dict(groups=2), dict(groups=2)),
        (False, (2, 4, 7), (6, 4, 3), dict(input_dilation=2), dict(input_dilation=(2,))),
        (False, (2, 4, 7), (6, 4, 3), dict(batch_groups=2), dict(batch_groups=2)),
        (False, (2, 4, 7), (6, 4, 3), dict(padding_mode="reflect"), dict(padding_mode="reflect")),
        (False, (2, 7, 4), (3, 4, 6), dict(dimension_numbers=("NWC", "WIO", "NWC")),
         dict(dimension_numbers=("NWC", "WIO", "NWC"))),
        (False, (2, 4, 7), (6, 4, 3), dict(preferred_element_type="float32", dtype=np.float16),
         dict(preferred_element_type=f32)),
        (True, (2, 4, 7), (4, 3, 3), dict(stride=2, output_padding=1),
         dict(stride=(2,), output_padding=(1,))),
        (True, (2, 4, 7), (4, 3, 3), dict(strict_output_padding=True), dict(strict_output_padding=True)),
        (True, (2, 4, 7), (4, 3, 3), dict(stride=2, padding="Same"), dict(stride=(2,), padding="same")),
    ]  # fmt: skip
    for transposed, x, w, keywords, want in table:
        s = refconv.spec(x, w, transposed=transposed, **keywords)
        assert s.options() == want, keywords
        assert refconv.spec(x, w, transposed=transposed, dtype=keywords.get("dtype"), **s.options()) == s


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "keywords", "start"),
    [
        ((3,), (1, 1, 2), {}, "x has shape (3,); expected"),
        ((1, 1, 3), (1,), {}, "w has shape (1,); expected"),
        ((1, 1, 3), (1,), dict(transposed=True), "w has shape (1,); expected"),
        ((1, 1, 3), (1, 1), {}, "x has shape (1, 1, 3) and w has shape (1, 1): their ranks differ"),
        ((1, 3, 1), (2, 1, 1, 1), dict(dimension_numbers=("NWC", "WIO", "NWC")),
         "w has shape (2, 1, 1, 1); its layout"),
        ((1, 1, 3), (1, 1, 2), dict(dtype="nonsense"), "dtype='nonsense' is not a dtype"),
        ((1, 1, 3), (1, 1, 2), dict(dtype=[np.float32, "nonsense"]), "dtype='nonsense' is not a dtype"),
        ((1, 1, 3), (1, 1, 2), dict(dtype=3.5), "dtype=3.5 is not a dtype"),
        ((1, 1, 3), (1, 1, 2), dict(preferred_element_type=3.5), "preferred_element_type=3.5 is not a dtype"),
        ((1, 1, 3), (1, 1, 2), dict(dtype=np.float32, preferred_element_type=3.5),
         "preferred_element_type=3.5 is not a dtype"),
        ((3, 4, 7), (4, 4, 3), dict(batch_groups=2),
         "batch_groups=2 must divide the batch size 3 and out_channels=4"),
        ((4, 4, 7), (3, 4, 3), dict(batch_groups=2),
         "batch_groups=2 must divide the batch size 4 and out_channels=3"),
        ((1, 1, 5, 5), (1, 1, 0, 3), {},
         "w has shape (1, 1, 0, 3): a kernel's spatial sizes must be >= 1"),
        ((1, 1, 5, 5), (1, 1, 3, 0), {},
         "w has shape (1, 1, 3, 0): a kernel's spatial sizes must be >= 1"),
    ],
)  # fmt: skip
def test_a_bad_shape_or_dtype_of_a_problem_is_named_first(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], keywords: dict[str, object], start: str
) -> None:
    with pytest.raises((ValueError, TypeError)) as error:
        refconv.spec(x_shape, w_shape, **keywords)  # type: ignore[arg-type]
    assert str(error.value).startswith(start), str(error.value)


def test_a_problem_without_arrays_is_in_the_preferred_element_type() -> None:
    """dtype None (no arrays, as for conv_output_shape): float64, or the preferred_element_type given."""
    s = refconv.spec((1, 1, 3), (1, 1, 2), preferred_element_type=np.float32)
    assert (s.dtype, s.accumulate) == (np.dtype(np.float32), np.dtype(np.float32))
    assert refconv.spec((1, 1, 3), (1, 1, 2), preferred_element_type="int16").dtype == np.int16
    assert refconv.spec((1, 1, 3), (1, 1, 2), dtype=[]).dtype == np.float64
