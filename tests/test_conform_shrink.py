"""Each failure shrinks to the smallest case that fails the same way: what minimal means for each bug.

The backends are tests/fake_backends.py, refconv.naive with one known bug each: the shrunk case
must have one spatial dim, one batch element and channel, and only the parameter the bug lives in.
"""

from __future__ import annotations

import math

import numpy as np

import refconv
from refconv import backends, conform
from refconv.cases import Case
from refconv.conform import Judge
from tests.conform_helpers import confirmed_failures, fake_run, only_failure, printed_ratios


def test_a_weight_vjp_with_stride_and_dilation_swapped_shrinks_to_one_dim_one_channel() -> None:
    failure = only_failure(fake_run("swapped_weight_vjp"))
    s = failure.case.spec
    assert (failure.verdict, failure.array) == ("disagree", "dw")
    assert s.ndim == 1
    assert s.x_shape[:2] == (1, 1)
    assert s.w_shape[:2] == (1, 1)
    assert not failure.case.bias
    assert s.stride != s.dilation  # the bug is invisible where they are equal
    assert math.prod(s.x_shape) + math.prod(s.w_shape) <= 4


def test_same_with_the_odd_pixel_first_shrinks_to_an_even_kernel_on_one_element() -> None:
    failure = only_failure(fake_run("same_odd_pixel_first"))
    s = failure.case.spec
    assert (failure.verdict, failure.array) == ("disagree", "y")
    assert s.padding_word == "same"  # the word itself: its explicit pairs pass
    assert s.ndim == 1
    assert s.x_shape == (1, 1, 1)
    assert s.w_shape == (1, 1, 2)


def test_a_missing_output_padding_is_a_shape_verdict() -> None:
    report = fake_run("forgets_output_padding")
    # the rows it drops: a shape verdict; and with a padding word resolved without them, the crop
    # moves, so the one row kept is x * w instead of the output padding's zero (the pairs array
    # finds that second way: padding='same_lower', output_padding=1)
    failures = confirmed_failures(report)
    assert sorted(o.verdict for o in failures) == ["disagree", "shape"]
    index = [o.verdict for o in failures].index("shape")
    failure = failures[index]
    s = failure.case.spec
    assert s.transposed
    assert s.ndim == 1
    assert s.output_padding == (1,)
    assert s.x_shape == (1, 1, 1)
    assert s.w_shape == (1, 1, 1)
    assert "has shape (1, 1, 1) expected (1, 1, 2)" in printed_ratios(report.failures[index].reproducer)["y"]


def test_an_exception_is_raised_with_its_message_once_per_kind_of_convolution() -> None:
    report = fake_run("refuses_groups")
    failures = [failure.outcome for failure in report.failures]
    assert sorted(o.case.spec.transposed for o in failures) == [False, True]
    for outcome in failures:
        s = outcome.case.spec
        assert outcome.verdict == "raised"
        assert outcome.detail == "RuntimeError: no kernel for groups=2"
        assert s.groups == 2
        # no spatial dim is simpler than one (a framework without 0-d convolutions says unsupported)
        assert (s.ndim, s.x_shape) == (0, (1, 2)), s


def test_float64_computed_in_float32_is_caught_on_a_single_product() -> None:
    failure = only_failure(fake_run("float32_inside"))
    s = failure.case.spec
    assert failure.verdict == "disagree"
    assert s.dtype == np.float64
    assert (s.x_shape, s.w_shape) == ((1, 1), (1, 1))  # one product: a 0-d convolution
    assert failure.worst is not None
    assert failure.worst.ratio > 1e6


def test_a_low_precision_failure_shrinks_to_float32_when_float64_fails_otherwise() -> None:
    """Run in float64 and float16 only: the float16 failure is reported in float32, which it claims."""
    backend = backends.get("tests.fake_backends:no_float64_and_stride_ignored")
    report = conform.run(backend, ("float64", "float16"), examples=100)
    found = {(f.outcome.verdict, f.outcome.case.spec.dtype.name): f.outcome for f in report.failures}
    assert set(found) == {("raised", "float64"), ("shape", "float32")}
    s = found["shape", "float32"].case.spec
    assert s.stride == (2,)
    assert s.x_shape == (1, 1, 2)
    assert s.w_shape == (1, 1, 1)


def test_a_failure_found_on_an_empty_batch_shrinks_to_one_image_when_it_fails_there_too() -> None:
    backend = backends.get("tests.fake_backends:refuses_groups")
    empty = Case(refconv.spec((0, 4, 3), (4, 2, 2), groups=2), bias=True)
    with Judge(backend) as judge:
        small = conform.shrink(judge, judge.judge(empty))
    assert small.verdict == "raised"
    assert small.case.spec.x_shape == (1, 2, 1)
    assert small.case.spec.w_shape == (2, 1, 1)
