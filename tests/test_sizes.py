"""Sizes checked from the spec before anything is allocated: a ValueError naming the parameter, the size."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv._spec import INDEXABLE, MAX_ELEMENTS, check_sizes

ONE_4D, ONE_3D = np.ones((1, 1, 1, 1)), np.ones((1, 1, 1))

TOO_LARGE: list[tuple[str, Callable[[Any], Any], str]] = [
    # (what, the call given a module, the message's pattern)
    ("10^12 outputs", lambda m: m.conv(ONE_4D, ONE_4D, padding=500000),
     r"padding=\(\(500000, 500000\), \(500000, 500000\)\) makes y \(1, 1, 1000001, 1000001\), "
     r"1,000,002,000,001 elements: more than REFCONV_MAX_ELEMENTS \(268,435,456\)"),
    ("padding 2**63 - 1", lambda m: m.conv(ONE_4D, ONE_4D, padding=2**63 - 1),
     r"padding=.*9223372036854775807.* more than the most NumPy can index"),
    ("padding 2**40", lambda m: m.conv_vjp(ONE_4D, ONE_4D, ONE_4D, padding=2**40),
     r"padding=.*1099511627776.* more than the most NumPy can index"),
    ("input dilation 2**63", lambda m: m.conv(np.ones((1, 1, 2)), ONE_3D, input_dilation=2**63),
     r"input_dilation=\(9223372036854775808,\) makes y"),
    ("transposed stride 2**63 - 1", lambda m: m.conv_transpose(np.ones((1, 1, 2)), ONE_3D, stride=2**63 - 1),
     r"stride=\(9223372036854775807,\) makes y \(1, 1, 9223372036854775808\), .* elements: more than the "
     r"most NumPy can index \(9,223,372,036,854,775,807\)"),
    ("transposed dilation 10**6",
     lambda m: m.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), dilation=10**6),
     r"dilation=\(1000000, 1000000\) makes the padded input \(1, 1, 4000003, 4000003\)"),
    ("output padding", lambda m: m.conv_transpose(ONE_3D, ONE_3D, stride=10**9, output_padding=10**9 - 1),
     r"output_padding=\(999999999,\) makes y \(1, 1, 1000000000\)"),
    ("x's own shape", lambda m: m.conv_input_vjp((1, 1, 10**9), ONE_3D, ONE_3D),  # before dy's shape
     r"x_shape=\(1, 1, 1000000000\) makes x \(1, 1, 1000000000\)"),
]  # fmt: skip


@pytest.mark.parametrize("module", [refconv, naive])
@pytest.mark.parametrize(("what", "call", "pattern"), TOO_LARGE, ids=[t[0] for t in TOO_LARGE])
def test_a_problem_too_large_is_a_value_error_naming_the_parameter_before_any_allocation(
    module: Any, what: str, call: Callable[[Any], Any], pattern: str
) -> None:
    with pytest.raises(ValueError, match=pattern):  # once untraced: a first call may import lazily
        call(module)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=pattern):
            call(module)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak} bytes allocated before the error"


@pytest.mark.parametrize("module", [refconv, naive])
def test_output_shapes_of_huge_problems_are_counted_not_walked(module: Any) -> None:
    """conv_output_shape allocates nothing, so only what NumPy cannot index is refused."""
    assert module.conv_output_shape((1, 1, 1), (1, 1, 1), padding=10**12) == (1, 1, 2 * 10**12 + 1)
    with pytest.raises(ValueError, match=r"padding=.* more than the most NumPy can index"):
        module.conv_output_shape((1, 1, 1), (1, 1, 1), padding=2**63 - 1)


def test_the_limit_is_refconv_max_elements_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w = np.ones((1, 1, 10)), np.ones((1, 1, 3))
    assert refconv.conv(x, w).shape == (1, 1, 8)
    monkeypatch.setenv("REFCONV_MAX_ELEMENTS", "9")
    with pytest.raises(ValueError, match=r"x_shape=\(1, 1, 10\) makes x \(1, 1, 10\), 10 elements: more than "
                       r"REFCONV_MAX_ELEMENTS \(9\)"):  # fmt: skip
        naive.conv(x, w)
    monkeypatch.setenv("REFCONV_MAX_ELEMENTS", "10")
    assert np.array_equal(refconv.conv(x, w), naive.conv(x, w))
    for bad in ("0", "-5", "lots", "1e9"):
        monkeypatch.setenv("REFCONV_MAX_ELEMENTS", bad)
        with pytest.raises(ValueError, match=f"REFCONV_MAX_ELEMENTS={bad!r} must be a positive integer"):
            refconv.conv(x, w)
    monkeypatch.delenv("REFCONV_MAX_ELEMENTS")
    assert MAX_ELEMENTS == 2**28  # the documented default
    with pytest.raises(ValueError, match=r"more than REFCONV_MAX_ELEMENTS \(268,435,456\)"):
        refconv.conv_output_shape((1, 1, 1), (1, 1, 1), padding=2**27) and refconv.conv(
            np.ones((1, 1, 1)), np.ones((1, 1, 1)), padding=2**27
        )


def test_the_vjps_count_their_padded_cotangent_and_the_forward_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The input VJP convolves dy padded by k_hat - 1 on both sides: n + k_hat - 1 + r = 18 here."""
    x, w, dy = np.ones((1, 1, 10)), np.ones((1, 1, 3)), np.ones((1, 1, 2))
    monkeypatch.setenv("REFCONV_MAX_ELEMENTS", "17")
    assert refconv.conv(x, w, dilation=4).shape == naive.conv(x, w, dilation=4).shape == (1, 1, 2)
    for call in (refconv.conv_vjp, naive.conv_vjp):
        with pytest.raises(ValueError, match=r"makes the padded cotangent of the input VJP \(1, 1, 18\)"):
            call(x, w, dy, dilation=4)


def test_the_transposed_vjp_counts_its_padded_cotangent_and_names_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """padding=2 crops the transposed output to 2 and leaves its general convolution unpadded (4
    elements at most); its input VJP pads the cotangent by 2 on each side again: 6 > 5."""
    x, w = np.ones((1, 1, 4)), np.ones((1, 1, 3))
    monkeypatch.setenv("REFCONV_MAX_ELEMENTS", "5")
    y = refconv.conv_transpose(x, w, padding=2)
    assert y.shape == (1, 1, 2)
    expected = (
        r"padded cotangent of the input VJP \(1, 1, 6\), 6 elements: more than REFCONV_MAX_ELEMENTS \(5\)"
    )
    with pytest.raises(ValueError, match=expected):
        refconv.conv_transpose_vjp(x, w, np.ones(y.shape), padding=2)


def test_one_element_is_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFCONV_MAX_ELEMENTS", "1")
    assert refconv.conv(ONE_3D, ONE_3D).shape == (1, 1, 1)
    with pytest.raises(
        ValueError, match=r"makes x \(1, 1, 2\), 2 elements: more than REFCONV_MAX_ELEMENTS \(1\)"
    ):
        refconv.conv(np.ones((1, 1, 2)), ONE_3D)


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_the_message_names_the_largest_array_and_the_parameter_behind_it(
    module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFCONV_MAX_ELEMENTS", "1000")
    # the weight is the largest array: 50 * 40 of it against 40 and 50 elements of x and y
    with pytest.raises(ValueError, match=r"^w_shape=\(50, 40, 1\) makes w \(50, 40, 1\), 2,000 elements"):
        module.conv(np.ones((1, 40, 1)), np.ones((50, 40, 1)))
    # x is the largest (a tie with its padded copy, and x comes first) though w has the largest dim:
    # the message names x's shape, not the weight's
    monkeypatch.setenv("REFCONV_MAX_ELEMENTS", "3000")
    with pytest.raises(ValueError, match=r"^x_shape=\(2, 100, 16\) makes x \(2, 100, 16\), 3,200 elements"):
        module.conv(np.ones((2, 100, 16)), np.ones((200, 1, 1)), groups=100, stride=16)


@pytest.mark.parametrize(
    ("x_shape", "keywords"),
    [((1, 1, 2**62 + 1), {"dilation": 2**62}),
     ((1, 1, 2), {"transposed": True, "stride": 2**62, "dilation": 2**62, "padding": 2**62})],
    ids=["conv", "transposed"],
)  # fmt: skip
def test_a_spec_whose_input_vjp_numpy_could_not_index_is_a_spec_and_its_vjp_is_refused(
    x_shape: tuple[int, ...], keywords: dict[str, Any]
) -> None:
    """The input VJP's padded cotangent is n_hat + k_hat - 1 = 2**63 + 1 elements, one more than NumPy
    can index; x, w, y and the padded input are not: spec() describes the problem, the VJP refuses it."""
    s = refconv.spec(x_shape, (1, 1, 2), **keywords)
    assert s.y_shape == (1, 1, 1)
    with pytest.raises(
        ValueError, match=r"makes the padded cotangent of the input VJP \(1, 1, 9223372036854775809\)"
    ):
        check_sizes(s, INDEXABLE, "the most NumPy can index", vjp=True)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [({"preferred_element_type": "bool"}, r"^preferred_element_type=dtype\('bool'\) holds bool"),
     ({"dtype": "bool"}, r"^dtype='bool' holds bool"),
     ({"dtype": "bool", "preferred_element_type": "float32"}, r"^dtype='bool' holds bool")],
)  # fmt: skip
def test_a_dtype_that_is_no_number_is_named_by_the_keyword_it_came_from(
    keywords: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        refconv.spec((1, 1, 3), (1, 1, 2), **keywords)


def test_an_output_padding_of_a_convolution_is_checked_under_its_name() -> None:
    with pytest.raises(ValueError, match=r"^output_padding=\(1, 2\) has 2 entries; expected 1 int or 1"):
        refconv.spec((1, 1, 5), (1, 1, 3), output_padding=(1, 2))
