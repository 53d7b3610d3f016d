"""Every misuse is a ValueError or TypeError naming the parameter and the values, from every entry point."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from tests.calls import CALLS, DY, EVERY_ARRAY, EVERY_FUNCTION, W, X
from tests.helpers import readable_id


def _all_entry_points(module: Any) -> list[Callable[..., Any]]:
    return [
        lambda **kw: module.conv(kw.pop("x", X), kw.pop("w", W), kw.pop("b", None), **kw),
        lambda **kw: module.conv_vjp(kw.pop("x", X), kw.pop("w", W), kw.pop("dy", DY), **kw),
        lambda **kw: module.conv_input_vjp(kw.pop("x", X).shape, kw.pop("w", W), kw.pop("dy", DY), **kw),
        lambda **kw: module.conv_weight_vjp(kw.pop("x", X), kw.pop("w", W).shape, kw.pop("dy", DY), **kw),
    ]


ENTRY_POINTS = [
    pytest.param(f, id=f"{module.__name__}-{name}")
    for module in (refconv, naive)
    for f, name in zip(
        _all_entry_points(module), ["conv", "conv_vjp", "conv_input_vjp", "conv_weight_vjp"], strict=True
    )
]

MISUSES = [
    # (keywords, exception, pattern the message must contain)
    (dict(w=np.ones((6, 3, 3, 2))), ValueError, r"w has 3 input channels.*in_channels=4.*groups=1"),
    (dict(groups=3), ValueError, r"groups=3 must divide in_channels=4"),
    (dict(groups=4, w=np.ones((6, 1, 3, 2))), ValueError, r"groups=4 must divide.*out_channels=6"),
    (dict(groups=2), ValueError, r"w has 4 input channels but x has in_channels=4 with groups=2: expected 2"),
    (dict(batch_groups=4), ValueError, r"batch_groups=4 must divide the batch size 2"),
    (dict(groups=2, batch_groups=2), ValueError, r"at most one of groups=2 and batch_groups=2"),
    (dict(groups=0), ValueError, r"groups=0"),
    (dict(groups=1.5), TypeError, r"groups must be an int, got 1.5"),
    (dict(stride=0), ValueError, r"stride=0 must be >= 1"),
    (dict(stride=(1, -2)), ValueError, r"stride=\(1, -2\) must be >= 1"),
    (dict(stride=1.0), TypeError, r"stride must be an int, got 1.0"),
    (dict(stride=True), TypeError, r"stride must be an int, got True"),
    (dict(stride=(1, 1, 1)), ValueError, r"stride=\(1, 1, 1\) has 3 entries; expected 1 int or 2"),
    (dict(dilation=(2,)), ValueError, r"dilation=\(2,\) has 1 entries"),
    (dict(input_dilation=0), ValueError, r"input_dilation=0 must be >= 1"),
    (
        dict(padding=-4),
        ValueError,
        r"padding=\(\(-4, -4\), \(-4, -4\)\) crops more than the input has.*size of -1",
    ),
    (
        dict(padding="full"),
        ValueError,
        r"padding=.full. is not supported; expected one of \(.valid., .same., .same_lower.\)",
    ),
    (
        dict(padding="same", input_dilation=2),
        ValueError,
        r"padding=.same. with input_dilation=\(2, 2\) is ambiguous",
    ),
    (dict(padding=(1, 2, 3)), ValueError, r"padding=\(1, 2, 3\) has 3 entries"),
    (dict(padding=((1, 2), (3,))), ValueError, r"padding=.*bad pair"),
    (dict(padding=((1, 2.5), (0, 0))), TypeError, r"padding must be an int, got 2.5"),
    (
        dict(x=np.ones((2, 4, 7))),
        ValueError,
        r"x has shape \(2, 4, 7\) and w has shape \(6, 4, 3, 2\): their ranks differ",
    ),
    (
        dict(x=np.ones((8,))),
        ValueError,
        r"x has shape \(8,\); expected \(batch/out, channels, \*spatial\) with >= 0 spatial dims",
    ),
    (
        dict(w=np.ones((6, 4, 0, 2))),
        ValueError,
        r"w has shape \(6, 4, 0, 2\): a kernel's spatial sizes must be >= 1",
    ),
    (dict(strides=2), TypeError, r"strides"),
    (dict(stride=np.array(1.5)), TypeError, r"stride must be an int, got 1.5"),
    (
        dict(padding=np.array([[1, 1], [1, 1], [1, 1]])),
        ValueError,
        r"padding=\[\[1, 1\], \[1, 1\], \[1, 1\]\] has 3 entries",
    ),
]


MISUSE_IDS = [readable_id(m[2], 40) for m in MISUSES]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("keywords", "error", "pattern"), MISUSES, ids=MISUSE_IDS)
def test_misuse_raises_an_error_naming_the_parameter(
    entry: Callable[..., Any], keywords: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        entry(**dict(keywords))


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_non_numeric_arrays_are_type_errors(module: Any) -> None:
    text, flags = np.full(X.shape, "a"), np.ones(W.shape, dtype=bool)
    for call, pattern in [
        (lambda: module.conv(text, W), "x has dtype <U1; expected an integer, float or complex dtype"),
        (lambda: module.conv(X, flags), "w has dtype bool"),
        (lambda: module.conv(X, W, ["1"] * 6), "b has dtype <U1"),
        (lambda: module.conv_vjp(text, W, DY), "x has dtype <U1"),
        (lambda: module.conv_input_vjp(X.shape, flags, DY), "w has dtype bool"),
        (lambda: module.conv_weight_vjp(text, W.shape, DY), "x has dtype <U1"),
        (lambda: module.conv_bias_vjp(DY.astype(object)), "dy has dtype object"),
    ]:
        with pytest.raises(TypeError, match=re.escape(pattern)):
            call()


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_wrong_cotangent_shape_is_a_value_error(module: Any) -> None:
    with pytest.raises(
        ValueError, match=re.escape("dy has shape (2, 6, 5, 4); expected the output shape (2, 6, 5, 5)")
    ):
        module.conv_vjp(X, W, np.ones((2, 6, 5, 4)))
    with pytest.raises(TypeError, match="dy has dtype object"):
        module.conv_input_vjp(X.shape, W, np.empty((2, 6, 5, 5), dtype=object))


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_wrong_bias_shape_is_a_value_error(module: Any) -> None:
    with pytest.raises(ValueError, match=re.escape("b has shape (5,); expected (6,)")):
        module.conv(X, W, np.ones(5))
    with pytest.raises(ValueError, match=re.escape("b has shape (1, 6); expected (6,)")):
        module.conv(X, W, np.ones((1, 6)))


def test_bad_shapes_in_shape_arguments_are_named() -> None:
    with pytest.raises(TypeError, match="x_shape must be a sequence of ints, got 3"):
        refconv.conv_input_vjp(3, W, DY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("w_shape=(6, -2, 3, 2) has a negative size")):
        refconv.conv_weight_vjp(X, (6, -2, 3, 2), DY)
    with pytest.raises(TypeError, match=re.escape("x_shape must be an int, got 2.0")):
        refconv.conv_output_shape((2.0, 4, 7, 6), W.shape)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("expected the output shape (2, 6, 5, 6)")):
        refconv.conv_input_vjp((2, 4, 7, 7), W, DY)
    with pytest.raises(
        ValueError, match=re.escape("dy has shape (3,); expected (batch/out, channels, *spatial)")
    ):
        refconv.conv_bias_vjp(np.ones(3))


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_the_cotangent_and_the_function_are_named_first(module: Any) -> None:
    """dy's name and a function's own name open their messages (anchored: not a substring)."""
    with pytest.raises(TypeError, match="^" + re.escape("dy has dtype object")):
        module.conv_input_vjp(X.shape, W, np.empty(DY.shape, dtype=object))
    with pytest.raises(TypeError, match="^" + re.escape("conv_output_shape() got an unexpected keyword")):
        module.conv_output_shape(X.shape, W.shape, strides=2)


def _with(name: str, array: str, value: np.ndarray) -> dict[str, np.ndarray]:
    return {**CALLS[name][1], array: value}


@pytest.mark.parametrize(("module", "name", "array"), EVERY_ARRAY)
def test_every_array_of_every_function_with_a_bad_dtype_is_named_first(
    module: Any, name: str, array: str
) -> None:
    call, arrays = CALLS[name]
    text, flags = np.full(arrays[array].shape, "a"), arrays[array] > 0
    for bad, words in [(text, "has dtype <U1"), (flags, "has dtype bool")]:
        with pytest.raises(TypeError) as error:
            call(module, _with(name, array, bad))
        assert str(error.value).startswith(f"{array} {words}"), str(error.value)


#: The arrays whose shapes define the problem (the others must agree with them; the bias VJP's dy, of any
#: shape with a channel axis, is tested in test_bad_shapes_in_shape_arguments_are_named). A deformable
#: convolution's offset and mask are checked by their own messages (tests/test_deform.py), which say the
#: offset groups they imply.
DEFINING = {"x", "w", "offset", "mask"}


@pytest.mark.parametrize(
    ("module", "name", "array"),
    [p for p in EVERY_ARRAY if p.values[2] not in DEFINING and p.values[1] != "conv_bias_vjp"],
)
def test_every_array_of_every_function_with_a_wrong_shape_is_named_first(
    module: Any, name: str, array: str
) -> None:
    """One more element in the last axis: it no longer agrees with the arrays that define the problem, and
    the message says which shape it should have (a bias's, or the input's, weight's or output's)."""
    call, arrays = CALLS[name]
    good = arrays[array]
    bad = np.ones((*good.shape[:-1], good.shape[-1] + 1))
    role = {"x": "input", "w": "weight", "y": "output", "s": "output"}[array[-1]] if good.ndim > 1 else None
    should = f"the {role} shape {good.shape}" if role else f"({good.shape[0]},), one per output channel"
    with pytest.raises(ValueError, match=f"^{array} has shape") as error:
        call(module, _with(name, array, bad))
    assert str(error.value).startswith(f"{array} has shape {bad.shape}; expected {should}"), str(error.value)


@pytest.mark.parametrize(
    ("module", "name"), [p for p in EVERY_FUNCTION if p.values[1] != "conv_bias_vjp"]
)  # conv_bias_vjp's keywords are explicit: Python itself names it for another one
def test_every_function_names_itself_for_a_keyword_it_does_not_take(module: Any, name: str) -> None:
    call, arrays = CALLS[name]
    with pytest.raises(TypeError) as error:
        call(module, arrays, strides=2)
    assert (
        str(error.value) == f"{name}() got an unexpected keyword argument 'strides'; did you mean 'stride'?"
    )


@pytest.mark.parametrize(
    ("transposed", "keywords", "message"),
    [
        (False, dict(stride=1.5), "stride must be an int, got 1.5"),
        (False, dict(stride=(1, 1.5)), "stride must be an int, got 1.5"),
        (False, dict(padding=1.5), "padding must be an int, got 1.5"),
        (False, dict(padding=(1, 1.5)), "padding must be an int, got 1.5"),
        (False, dict(padding=((1, 1), (1, 1.5))), "padding must be an int, got 1.5"),
        (False, dict(dilation=(1, "a")), "dilation must be an int, got 'a'"),
        (False, dict(input_dilation=(1.5, 1)), "input_dilation must be an int, got 1.5"),
        (False, dict(groups=1.5), "groups must be an int, got 1.5"),
        (False, dict(batch_groups="2"), "batch_groups must be an int, got '2'"),
        (True, dict(output_padding=(0, 1.5)), "output_padding must be an int, got 1.5"),
        (True, dict(output_shape="ab"), "output_shape must be a sequence of ints, got 'ab'"),
        (True, dict(output_shape=(7.5, 6)), "output_shape must be an int, got 7.5"),
        (True, dict(padding=(1, 1.5)), "padding must be an int, got 1.5"),
    ],
)
def test_a_parameter_that_is_not_an_int_is_named_with_its_value(
    transposed: bool, keywords: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError) as error:
        refconv.spec((2, 4, 7, 6), (4, 4, 3, 2), transposed=transposed, **keywords)
    assert str(error.value) == message


def test_numpy_integers_and_integer_arrays_are_parameters_like_ints_and_tuples() -> None:
    """A NumPy scalar (0-d) is one value for every dim; a 1-d array is one value per dim."""
    want = refconv.spec((2, 4, 9, 8), (4, 4, 3, 2), stride=(2, 1), padding=1, dilation=(1, 2))
    numpy: dict[str, Any] = dict(stride=np.array([2, 1]), padding=np.int64(1), dilation=np.array([1, 2]))
    assert refconv.spec((2, 4, 9, 8), (4, 4, 3, 2), **numpy) == want
    zero_d: dict[str, Any] = dict(stride=np.array(2))
    assert refconv.spec((2, 4, 9, 8), (4, 4, 3, 2), **zero_d) == refconv.spec(
        (2, 4, 9, 8), (4, 4, 3, 2), stride=(2, 2)
    )


T_X, T_W = np.ones((1, 2, 3)), np.ones((2, 1, 2))
# values of the wrong static type, on purpose
PAIR: Any = np.array([1, 1])
ONE_TWO: Any = np.array([2])
NP_FALSE: Any = np.bool_(False)
NP_TRUE: Any = np.bool_(True)
INT8_ONE: Any = np.int8(1)
SAME: Any = np.array("same")
ISSUE_20_CALLS = [
    # (call, exception, pattern): calls NumPy used to answer, each now refconv's error naming the keyword
    (lambda m: m.conv(X, W, preferred_element_type={"names": ["a"]}), TypeError,
     r"preferred_element_type=\{'names': \['a'\]\} is not a dtype"),
    (lambda m: m.conv(X, W, preferred_element_type=({}, {})), TypeError,
     r"preferred_element_type=.* does not suit"),
    (lambda m: m.conv(X, W, dimension_numbers=5), TypeError, r"dimension_numbers=5 must be three strings"),
    (lambda m: m.conv(X, W, dimension_numbers=1.5), TypeError, r"dimension_numbers=1.5 must be three"),
    (lambda m: m.conv(X, W, dimension_numbers=True), TypeError, r"dimension_numbers=True must be three"),
    (lambda m: m.conv(X, W, dimension_numbers=np.array(0)), TypeError, r"dimension_numbers=array\(0\) must"),
    (lambda m: m.conv(X, W, padding_mode=np.array("zeros")), ValueError, r"padding_mode=array\('zeros'"),
    (lambda m: m.conv_vjp(X, W, DY, conjugate=np.array(True)), TypeError, r"conjugate must be True or False"),
    (lambda m: m.conv_vjp(X, W, DY, conjugate="no"), TypeError, r"conjugate must be True or False, got 'no'"),
    (lambda m: refconv.spec(X.shape, W.shape, output_padding=PAIR), TypeError,
     r"output_padding, output_shape and strict_output_padding are keywords of the transposed"),
    (lambda m: refconv.spec(T_X.shape, T_W.shape, transposed=True, input_dilation=ONE_TWO), TypeError,
     r"input_dilation=array\(\[2\]\) is not a parameter of the transposed convolution"),
    (lambda m: m.conv_transpose(T_X, T_W, strict_output_padding="no"), TypeError,
     r"strict_output_padding must be True or False, got 'no'"),
    (lambda m: m.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 2)), output_shape=(100,)), ValueError,
     r"output_shape=\(100,\) needs output_padding=\(96,\), which must be smaller"),
    (lambda m: m.conv(np.ma.masked_array(X, mask=X > 0), W), TypeError,
     r"x is a masked array; refconv does not read"),
]  # fmt: skip


@pytest.mark.parametrize("module", [refconv, naive])
@pytest.mark.parametrize(("call", "error", "pattern"), ISSUE_20_CALLS)
def test_the_calls_numpy_used_to_answer_are_refconv_s_errors(
    module: Any, call: Callable[[Any], Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        call(module)


def test_flags_numpy_bools_and_a_0d_padding_word_are_accepted() -> None:
    assert refconv.spec((1, 2, 5), (3, 2, 2), transposed=NP_FALSE).y_shape == (1, 3, 4)
    with pytest.raises(TypeError, match=r"transposed must be True or False, got (np.int8\()?1"):
        refconv.spec((1, 2, 5), (3, 2, 2), transposed=INT8_ONE)
    same = refconv.conv(X, W, padding=SAME)
    assert np.array_equal(same, refconv.conv(X, W, padding="same"))
    assert np.array_equal(refconv.conv_vjp(X, W, DY, conjugate=NP_TRUE)[0], refconv.conv_vjp(X, W, DY)[0])


def _conjugate_calls(module: Any) -> list[Callable[[Any], Any]]:
    calls = [
        lambda c: module.conv_vjp(X, W, DY, conjugate=c),
        lambda c: module.conv_input_vjp(X.shape, W, DY, conjugate=c),
        lambda c: module.conv_weight_vjp(X, W.shape, DY, conjugate=c),
        lambda c: module.conv_bias_vjp(DY, conjugate=c),
        lambda c: module.conv_transpose_vjp(T_X, T_W, np.ones((1, 1, 4)), conjugate=c),
    ]
    if module is refconv:
        calls.append(lambda c: refconv.conv_vjp_vjp(X, W, DY, None, None, conjugate=c))
    return calls


@pytest.mark.parametrize("module", [refconv, naive])
def test_every_function_with_a_conjugate_flag_names_it(module: Any) -> None:
    for call in _conjugate_calls(module):
        with pytest.raises(TypeError, match=r"^conjugate must be True or False, got 1$"):
            call(1)


def test_the_transposed_convolution_names_a_bad_convolution_only_keyword() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (dict(input_dilation="a"), r"^input_dilation must be an int, got 'a'$"),
        (dict(batch_groups=1.5), r"^batch_groups must be an int, got 1.5$"),
        (
            dict(padding_mode=np.array("zeros")),
            r"^padding_mode=array\('zeros'.* is not a parameter of the transposed",
        ),
        (dict(batch_groups=2), r"^batch_groups=2 is not a parameter of the transposed convolution$"),
    ]
    for keywords, pattern in cases:
        with pytest.raises(TypeError, match=pattern):
            refconv.spec(T_X.shape, T_W.shape, transposed=True, **keywords)
