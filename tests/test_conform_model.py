"""The feature model, the covering arrays and the enumeration: each case has the values it was built for,
every coverable pair and triple is covered, the same rows every time, smallest first."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from refconv import spec
from refconv.cases import Case
from refconv.conform import model
from refconv.conform.covering import coverable, covered, covering_array


@pytest.mark.parametrize("strength", [2, 3])
def test_every_realised_row_has_exactly_the_values_of_its_row(strength: int) -> None:
    dtypes = ("float64", "float32")
    rows = covering_array(model.factors(dtypes), strength, model.consistent)
    for row in rows:
        case = model.realise(row)
        assert case is not None, row
        assert case.spec.dtype.name == row["dtype"]
        for dim in model.classify(case):
            assert dim == row, (row, case.spec.source())


@pytest.mark.parametrize(("strength", "kind"), [(2, "pairs"), (3, "triples")])
def test_each_covering_array_covers_every_coverable_tuple_and_nothing_else_is_coverable(
    strength: int, kind: str
) -> None:
    cases = model.array(strength)
    covered_count, coverable_count = model.coverage(cases, strength)
    assert covered_count == coverable_count
    assert {c.feature for c in cases} == {kind}
    assert [c.seed for c in cases] == list(range(len(cases)))
    # a tuple the model calls uncoverable is in no case of the enumeration or the curated suite either
    wanted = coverable(model.factors(), strength, model.consistent)
    from refconv.conform import curated

    seen = covered([r for c in [*model.enumeration(), *curated()] for r in model.classify(c)],
                   list(model.FACTORS), strength)  # fmt: skip
    known = {t for t in seen if all(v in model.FACTORS[f] for f, v in t)}  # "output": "empty" is no value
    assert known <= wanted


def test_the_arrays_are_the_same_rows_every_time() -> None:
    def fresh(row: dict[str, Any]) -> bool:  # a new predicate: nothing cached is reused
        return model.consistent(row)

    assert covering_array(model.factors(), 2, fresh) == covering_array(model.factors(), 2, model.consistent)
    assert [c.spec for c in model.array(2)] == [c.spec for c in model.array(2)]


def test_a_covering_array_of_a_small_model_covers_every_allowed_pair_and_no_forbidden_one() -> None:
    factors = {"a": (0, 1, 2), "b": (0, 1), "c": (0, 1)}

    def valid(row: dict[str, Any]) -> bool:
        return not (row.get("a") == 2 and row.get("b") == 1)

    rows = covering_array(factors, 2, valid)
    pairs = covered(rows, list(factors), 2)
    everything = {
        ((f, u), (g, v))
        for f, g in itertools.combinations(factors, 2)
        for u, v in itertools.product(factors[f], factors[g])
    }
    assert pairs == everything - {(("a", 2), ("b", 1))}
    assert all(valid(r) for r in rows)
    assert len(rows) <= 7  # 6 a-b pairs need 6 rows at least; the greedy rows may take one more


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ({"batch_groups": "2", "groups": "grouped"}, "batch groups only with groups=1"),
        ({"batch_groups": "2", "transposed": True}, "batch groups only in a convolution"),
        ({"groups": "grouped", "channels": "1"}, "a grouped convolution has several channels per group"),
        ({"stride": "1", "remainder": "positive"}, "at stride 1 every row is reached"),
        ({"transposed": False, "output_padding": "positive"}, "output padding is the transposed one's"),
        ({"transposed": True, "input_dilation": "2"}, "a transposed convolution has no input dilation"),
        ({"transposed": True, "padding_mode": "reflect"}, "padding modes are a convolution's"),
        (
            {"padding": "valid", "transposed": False, "input_dilation": "1", "output": "padding_only"},
            "'valid' windows lie in x",
        ),
        ({"padding_mode": "circular", "output": "padding_only"}, "a mode fills the padding with x"),
        ({"padding": "negative", "padding_mode": "replicate"}, "a mode pads, it does not crop"),
    ],
)
def test_what_no_problem_can_be_is_inconsistent(row: dict[str, Any], why: str) -> None:
    assert not model.consistent(row), why


@pytest.mark.parametrize(
    "row",
    [
        {"stride": "above_kernel", "padding": "same_odd"},
        {"transposed": True, "stride": "3", "output_padding": "positive", "remainder": "positive"},
        {"input_dilation": "2", "padding": "negative", "output": "padding_only"},
        {"batch_groups": "2", "batch": "empty", "layout": "channels_last"},
        {"groups": "depthwise", "channels": "1", "transposed": True},
    ],
)
def test_what_some_problem_is_is_consistent_and_realised(row: dict[str, Any]) -> None:
    assert model.consistent(row)
    others = {f: values for f, values in model.factors().items() if f not in row}
    full = covering_array(others, 1, lambda r: model.consistent({**r, **row}))
    for partial in full:
        case = model.realise({**partial, **row})
        assert case is not None
        for dim in model.classify(case):
            assert {f: dim[f] for f in row} == row


def test_classify_reads_the_values_off_a_problem() -> None:
    # n = 9 padded to 10, k = 3, stride 2: (10 - 3) % 2 = 1 row no window reaches; 4 outputs
    s = spec((2, 4, 9), (6, 2, 3), stride=2, padding=((0, 1),), groups=2)
    (row,) = model.classify(Case(s, bias=False))
    assert row == {
        "rank": 1, "transposed": False, "stride": "2", "dilation": "1", "input_dilation": "1",
        "padding": "asymmetric", "output_padding": "0", "padding_mode": "zeros", "remainder": "positive",
        "output": "many", "groups": "grouped", "channels": "several", "batch_groups": "1",
        "layout": "channels_first", "bias": False, "batch": "several", "dtype": "float64",
    }  # fmt: skip
    # 'same' at stride 3 with a kernel of 2 on one element: total padding 1, (0, 1); one output
    # whose window reads x and the padding; a stride above the kernel
    (row,) = model.classify(Case(spec((1, 1, 1), (1, 1, 2), stride=3, padding="same")))
    assert (row["stride"], row["padding"], row["output"], row["batch"]) == (
        "above_kernel",
        "same_odd",
        "1",
        "1",
    )
    # padding 2 on each side of 2 elements, kernel 1: outputs 0, 1, 4, 5 read only padding
    (row,) = model.classify(Case(spec((1, 1, 2), (1, 1, 1), padding=2)))
    assert (row["padding"], row["output"]) == ("symmetric", "padding_only")


def _size(case: Case, d: int) -> int:
    """Dim ``d``'s sizes and parameters over their plain values, read off the spec (as the docstring of
    model.enumeration states the bound)."""
    s = case.spec
    lo, hi = (0, 0) if s.padding_word else s.padding[d]
    total = s.x_shape[2 + d] + s.w_shape[2 + d] + s.stride[d] + s.dilation[d] + s.input_dilation[d]
    op = s.output_padding[d] if s.transposed else 0
    return total + abs(lo) + abs(hi) + op + (s.padding_word is not None) + (s.padding_mode != "zeros")


def test_the_enumeration_goes_smallest_first_1d_then_2d_then_3d() -> None:
    cases = list(model.enumeration())
    ranks = [c.spec.ndim for c in cases]
    assert ranks == sorted(ranks)
    assert [ranks.count(r) for r in (1, 2, 3)] == [943, 117, 117]
    assert len({c.spec for c in cases}) == len(cases)  # no configuration twice
    assert cases[0].spec.source() == "refconv.spec((2, 1, 1), (1, 1, 1), dtype='float64')"
    one_d = [_size(c, 0) for c in cases if c.spec.ndim == 1]
    assert one_d == sorted(one_d)
    assert one_d[-1] == 9
    for rank, varied, bound in ((2, 0, 7), (3, 2, 7)):
        same = [c for c in cases if c.spec.ndim == rank]
        sizes = [_size(c, varied) for c in same]
        assert sizes == sorted(sizes)
        assert sizes[-1] == bound
        for c in same:  # the other dims plain: 2 elements, a kernel of 1, stride 1
            for d in set(range(rank)) - {varied}:
                assert (c.spec.x_shape[2 + d], c.spec.w_shape[2 + d], c.spec.stride[d]) == (2, 1, 1)
    assert all(c.feature == "enumeration" and c.bias for c in cases)
    float32 = [c.in_dtype("float32").spec for c in model.enumeration(max_size=6)]
    assert [c.spec for c in model.enumeration(("float32",), max_size=6)] == float32
