"""A fuzz over every keyword of every public function: garbage is refconv's TypeError or ValueError naming it.

Each example replaces one keyword of a valid call with a value of a type that keyword never takes
(floats and strings for sizes, non-bools for flags, non-dtypes, arrays, containers of junk). The
call must raise TypeError or ValueError whose message names the keyword; anything else (NumPy's
own errors, a crash, a silent success) fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refconv
from refconv import naive
from refconv.testing import assert_conv_close

X, W, DY = np.ones((2, 2, 5)), np.ones((3, 2, 2)), np.ones((2, 3, 4))
XT, WT, DYT = np.ones((2, 2, 3)), np.ones((2, 3, 2)), np.ones((2, 3, 4))

junk = st.one_of(
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sets(st.integers(), max_size=2),
    st.complex_numbers(allow_nan=True),
    st.binary(max_size=3),
    st.just(object()),
    st.lists(st.floats(allow_nan=True), min_size=1, max_size=3),
    st.lists(st.text(max_size=2), min_size=1, max_size=3),
    st.builds(np.array, st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=3)),
)
not_int = st.one_of(junk, st.floats(), st.text(max_size=4), st.none(), st.booleans())
not_flag = st.one_of(junk, st.integers(), st.text(max_size=4), st.none(), st.floats(),
                     st.builds(np.array, st.booleans()))  # fmt: skip
WORDS = {"valid", "same", "same_lower"}
not_word = st.one_of(junk, st.floats(), st.text(max_size=4).filter(lambda t: t.lower() not in WORDS))
not_layout = st.one_of(junk, st.integers(), st.floats(), st.booleans(), st.text(max_size=4),
                       st.builds(np.array, st.integers()),
                       st.lists(st.integers(), min_size=3, max_size=3))  # fmt: skip
not_dtype = st.one_of(
    st.dictionaries(st.just("names"), st.lists(st.text(max_size=2), max_size=2), min_size=1),
    st.tuples(st.dictionaries(st.text(max_size=1), st.integers(), max_size=1), st.just({})),
    st.sets(st.integers(), max_size=2), st.just(object()),
    st.text(min_size=6, max_size=8).map(lambda t: "x" + t),
    st.sampled_from(["U3", "S2", "O", "M8[s]", "bool"]),
)  # fmt: skip
not_mode = st.one_of(junk, st.integers(), st.text(max_size=5).filter(lambda t: t != "zeros"))

CONV_KEYWORDS: dict[str, st.SearchStrategy[Any]] = {
    "stride": not_int, "dilation": not_int, "input_dilation": not_int, "groups": not_int,
    "batch_groups": not_int, "padding": not_word, "padding_mode": not_mode,
    "dimension_numbers": not_layout, "preferred_element_type": not_dtype,
}  # fmt: skip
TRANSPOSE_KEYWORDS: dict[str, st.SearchStrategy[Any]] = {
    "stride": not_int, "dilation": not_int, "groups": not_int, "padding": not_word,
    "output_padding": not_int, "strict_output_padding": not_flag, "dimension_numbers": not_layout,
    "preferred_element_type": not_dtype, "output_shape": not_int.filter(lambda v: v is not None),
}  # fmt: skip


def _functions(module: Any) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
    calls = [
        ("conv", lambda **k: module.conv(X, W, **k), CONV_KEYWORDS),
        ("conv_vjp", lambda **k: module.conv_vjp(X, W, DY, **k), {**CONV_KEYWORDS, "conjugate": not_flag}),
        ("conv_input_vjp", lambda **k: module.conv_input_vjp(X.shape, W, DY, **k), CONV_KEYWORDS),
        ("conv_weight_vjp", lambda **k: module.conv_weight_vjp(X, W.shape, DY, **k), CONV_KEYWORDS),
        ("conv_output_shape", lambda **k: module.conv_output_shape(X.shape, W.shape, **k), CONV_KEYWORDS),
        ("conv_transpose", lambda **k: module.conv_transpose(XT, WT, **k), TRANSPOSE_KEYWORDS),
        ("conv_transpose_vjp", lambda **k: module.conv_transpose_vjp(XT, WT, DYT, **k),
         {**TRANSPOSE_KEYWORDS, "conjugate": not_flag}),
        ("conv_bias_vjp", lambda **k: module.conv_bias_vjp(DY, **k),
         {"conjugate": not_flag, "dimension_numbers": not_layout, "preferred_element_type": not_dtype}),
    ]  # fmt: skip
    if module is refconv:
        calls += [
            ("conv_jvp", lambda **k: refconv.conv_jvp(X, W, None, X, None, **k), CONV_KEYWORDS),
            ("conv_vjp_vjp", lambda **k: refconv.conv_vjp_vjp(X, W, DY, X, None, **k),
             {**CONV_KEYWORDS, "conjugate": not_flag}),
            ("spec", lambda **k: refconv.spec(X.shape, W.shape, **k),
             {**CONV_KEYWORDS, "transposed": not_flag, "dtype": not_dtype}),
            ("assert_conv_close", lambda **k: assert_conv_close(refconv.conv(X, W), X, W, **k),
             {**CONV_KEYWORDS, "worst": not_int, "dtype": not_dtype, "transposed": not_flag}),
        ]  # fmt: skip
    return calls


FUNCTIONS = [
    pytest.param(f, kw, id=f"{m.__name__}.{name}") for m in (refconv, naive) for name, f, kw in _functions(m)
]


@pytest.mark.parametrize(("function", "keywords"), FUNCTIONS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_keyword_given_garbage_is_named_in_refconv_s_own_error(
    function: Callable[..., Any], keywords: dict[str, st.SearchStrategy[Any]], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(keywords)), label="keyword")
    value = data.draw(keywords[name], label="value")
    with pytest.raises((TypeError, ValueError)) as error:
        function(**{name: value})
    assert name in str(error.value), f"{name}={value!r}: {type(error.value).__name__}: {error.value}"
