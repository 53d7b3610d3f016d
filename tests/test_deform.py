"""deform_conv and its five VJPs: against refconv.naive, an independent jax formulation (jax.vjp of
``map_coordinates``), ONNX's reference evaluator, onnxruntime, ONNX's own DeformConv node tests and
central differences, on N-d grids with groups, offset groups, masks and biases.

Bounds (:func:`refconv.testing.rounding_bound`): each element is a sum of products of a weight, a
mask, a corner weight (``nd`` factors) and an input element; its term count is the number of such
products it can add (``y``: ``(C_in / G) K 2^nd``; ``dx``: ``(C_out / G) K M``; ``dw``: ``N M``;
``doffset``: ``(C_out / G) (C_in / G_o) 2^nd``; ``dmask``: the same) plus ``nd + 3`` for the
multiplications inside a product and the bias, and the sum of the terms' absolute values is
:func:`refconv.naive.deform_conv_sums`'s.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refconv
from refconv import naive
from refconv.testing import rounding_bound
from tests.conftest import EXAMPLES
from tests.helpers import assert_close

NAMES = ("dx", "dw", "db", "doffset", "dmask")
#: (id, x_shape, w_shape, offset groups, keywords, mask, bias)
GRID: list[tuple[str, tuple[int, ...], tuple[int, ...], int, dict[str, Any], bool, bool]] = [
    (
        "2d-every-parameter",
        (2, 4, 6, 5),
        (6, 2, 3, 2),
        2,
        dict(stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2), groups=2),
        True,
        True,
    ),
    ("2d-v1-no-mask", (2, 3, 5, 6), (4, 3, 2, 3), 1, dict(padding=1), False, True),
    (
        "2d-offset-groups3-no-bias",
        (1, 3, 5, 4),
        (2, 3, 2, 2),
        3,
        dict(stride=2, padding=((1, 1), (0, 1))),
        True,
        False,
    ),
    ("2d-negative-padding", (2, 2, 7, 6), (3, 2, 3, 3), 1, dict(padding=((-1, 2), (1, -1))), True, True),
    ("1d-dilation2", (2, 3, 7), (4, 3, 3), 3, dict(stride=2, padding=((1, 2),), dilation=2), True, True),
    ("3d", (1, 2, 4, 3, 3), (2, 2, 2, 2, 1), 1, dict(padding=((1, 0), (0, 1), (1, 1))), True, True),
    ("0d", (3, 4), (6, 2), 1, dict(groups=2), True, True),
    ("empty-batch", (0, 2, 5, 4), (3, 2, 2, 2), 1, {}, True, True),
    ("no-channels", (2, 0, 5, 4), (3, 0, 2, 2), 1, {}, True, True),
    ("kernel-longer-than-input", (2, 2, 3, 4), (3, 2, 4, 2), 1, {}, True, True),
]
IDS = [row[0] for row in GRID]


def _problem(
    x_shape: Any, w_shape: Any, groups: int, keywords: Any, mask: bool, bias: bool, seed: int = 0
) -> Any:
    """``x, w, offset, b, mask, dy``: offsets uniform in (-2, 2), a mask in (0, 1)."""
    rng = np.random.default_rng(seed)
    out = refconv.conv_output_shape(x_shape, w_shape, **keywords)
    taps, nd = math.prod(w_shape[2:]), len(x_shape) - 2
    offset = rng.uniform(-2, 2, (x_shape[0], groups * taps * nd, *out[2:]))
    m = rng.uniform(0, 1, (x_shape[0], groups * taps, *out[2:])) if mask else None
    b = rng.standard_normal(w_shape[0]) if bias else None
    return rng.standard_normal(x_shape), rng.standard_normal(w_shape), offset, b, m, rng.standard_normal(out)


def _bounds(
    x: Any, w: Any, offset: Any, b: Any, m: Any, dy: Any, groups: int, keywords: Any
) -> dict[str, Any]:
    sums = naive.deform_conv_sums(x, w, offset, dy, m, **keywords)
    g = keywords.get("groups", 1)
    nd, taps, positions = x.ndim - 2, math.prod(w.shape[2:]), math.prod(dy.shape[2:])
    corners = 2**nd
    terms = {
        "y": w.shape[1] * taps * corners,
        "dx": w.shape[0] // g * taps * positions,
        "dw": x.shape[0] * positions,
        "doffset": w.shape[0] // g * (x.shape[1] // groups) * corners,
        "dmask": w.shape[0] // g * (x.shape[1] // groups) * corners,
    }
    bounds = {
        k: rounding_bound(
            sums[k] + (np.abs(b).reshape(1, -1, *(1,) * nd) if k == "y" and b is not None else 0),
            terms[k] + nd + 3,
            np.float64,
        )
        for k in terms
    }
    bounds["db"] = rounding_bound(
        np.abs(dy).sum(axis=(0, *range(2, dy.ndim))), dy.size // max(dy.shape[1], 1), np.float64
    )
    return bounds


@pytest.mark.parametrize(("name", "x_shape", "w_shape", "groups", "keywords", "mask", "bias"), GRID, ids=IDS)
def test_deform_conv_and_its_vjps_match_naive(
    name: str, x_shape: Any, w_shape: Any, groups: int, keywords: Any, mask: bool, bias: bool
) -> None:
    x, w, offset, b, m, dy = _problem(x_shape, w_shape, groups, keywords, mask, bias)
    bound = _bounds(x, w, offset, b, m, dy, groups, keywords)
    assert_close(
        name,
        "y",
        refconv.deform_conv(x, w, offset, b, m, **keywords),
        naive.deform_conv(x, w, offset, b, m, **keywords),
        bound["y"],
    )
    got = refconv.deform_conv_vjp(x, w, offset, dy, m, **keywords)
    want = naive.deform_conv_vjp(x, w, offset, dy, m, **keywords)
    for array, a, e in zip(NAMES, got, want, strict=True):
        assert_close(name, array, a, e, bound[array])


@st.composite
def _deformable(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...], int, dict[str, Any], bool, bool]:
    """A small deformable problem: 0 to 2 spatial dims, groups and offset groups, every keyword."""
    nd = draw(st.integers(0, 2))
    groups, offset_groups = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))
    c = groups * offset_groups * draw(st.integers(1, 2)) // math.gcd(groups, offset_groups)
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    keywords: dict[str, Any] = dict(
        stride=tuple(draw(st.integers(1, 2)) for _ in range(nd)),
        dilation=tuple(draw(st.integers(1, 2)) for _ in range(nd)),
        padding=tuple(draw(st.tuples(st.integers(-1, 2), st.integers(-1, 2))) for _ in range(nd)),
        groups=groups,
    )
    x_shape = (draw(st.integers(1, 2)), c, *(draw(st.integers(1, 5)) for _ in range(nd)))
    w_shape = (groups * draw(st.integers(1, 2)), c // groups, *kernel)
    try:
        refconv.spec(x_shape, w_shape, **keywords)
    except ValueError:
        from hypothesis import assume

        assume(False)
    return x_shape, w_shape, offset_groups, keywords, draw(st.booleans()), draw(st.booleans())


@settings(max_examples=max(EXAMPLES // 2, 1))
@given(_deformable(), st.integers(0, 2**32 - 1))
def test_random_deformable_convolutions_match_naive(problem: Any, seed: int) -> None:
    x_shape, w_shape, groups, keywords, mask, bias = problem
    x, w, offset, b, m, dy = _problem(x_shape, w_shape, groups, keywords, mask, bias, seed)
    bound = _bounds(x, w, offset, b, m, dy, groups, keywords)
    assert_close(
        str(problem),
        "y",
        refconv.deform_conv(x, w, offset, b, m, **keywords),
        naive.deform_conv(x, w, offset, b, m, **keywords),
        bound["y"],
    )
    got = refconv.deform_conv_vjp(x, w, offset, dy, m, **keywords)
    for array, a, e in zip(NAMES, got, naive.deform_conv_vjp(x, w, offset, dy, m, **keywords), strict=True):
        assert_close(str(problem), array, a, e, bound[array])


def _jax_deform(x: Any, w: Any, keywords: Any) -> Any:
    """The deformable convolution written independently in jax, ``deform(x, w, offset, m)``: the
    ``jax-deform`` backend's formulation (``map_coordinates``, order 1, zeros outside, per image
    and channel, then one einsum per group), without a bias."""
    import jax.numpy as jnp

    from refconv.backends import BUILTIN

    forward = BUILTIN["jax-deform"].program(refconv.spec(x.shape, w.shape, **keywords)).forward()
    return lambda x, w, offset, m: forward(x, w, jnp.zeros(w.shape[0], x.dtype), offset, m)


JAX_GRID = [row for row in GRID if 0 not in row[1][:2] and row[1][0] and len(row[1]) > 2]


@pytest.mark.parametrize(
    ("name", "x_shape", "w_shape", "groups", "keywords", "mask", "bias"),
    JAX_GRID,
    ids=[r[0] for r in JAX_GRID],
)
def test_deform_conv_and_its_vjps_match_jax(
    name: str, x_shape: Any, w_shape: Any, groups: int, keywords: Any, mask: bool, bias: bool
) -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x, w, offset, _, m, dy = _problem(x_shape, w_shape, groups, keywords, True, False)
    if 0 in dy.shape:
        pytest.skip("an empty output: naive checks its zeros")
    y, pullback = jax.vjp(_jax_deform(x, w, keywords), x, w, offset, m)
    bound = _bounds(x, w, offset, None, m, dy, groups, keywords)
    assert_close(name, "y", refconv.deform_conv(x, w, offset, None, m, **keywords), np.asarray(y), bound["y"])
    got = refconv.deform_conv_vjp(x, w, offset, dy, m, **keywords)
    for array, a, e in zip(
        ("dx", "dw", "doffset", "dmask"), (got[0], got[1], got[3], got[4]), pullback(dy), strict=True
    ):
        assert_close(name, array, a, np.asarray(e), bound[array])


def test_at_integer_coordinates_and_borders_the_vjp_is_the_derivative_from_the_right() -> None:
    """Offsets that put every sample on an integer coordinate (kinks), the borders -1 and n - 1
    included: jax.vjp of map_coordinates and refconv agree (floor's cell), and a one-sided
    difference from the right confirms doffset at -1, where the derivative from the left is 0."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((1, 2, 4, 5)), rng.standard_normal((3, 2, 2, 2))
    keywords: dict[str, Any] = dict(padding=1)
    offset = rng.integers(-2, 3, (1, 16, 5, 6)).astype(np.float64)  # samples from -3 to n + 1
    m, dy = rng.uniform(0, 1, (1, 8, 5, 6)), rng.standard_normal((1, 3, 5, 6))

    _, pullback = jax.vjp(_jax_deform(x, w, keywords), x, w, offset, m)
    got = refconv.deform_conv_vjp(x, w, offset, dy, m, **keywords)
    bound = _bounds(x, w, offset, None, m, dy, 2, keywords)
    for array, a, e in zip(
        ("dx", "dw", "doffset", "dmask"), (got[0], got[1], got[3], got[4]), pullback(dy), strict=True
    ):
        assert_close("integer offsets", array, a, np.asarray(e), bound[array])
    # the sample at -1: tap (0, 0) of window (0, 0) reads row -1 + offset; put it at exactly -1
    offset[0, 0, 0, 0], offset[0, 1, 0, 0], step = 0.0, 2.0, 2.0**-20  # row -1, column 1
    loss = lambda o: float(np.vdot(refconv.deform_conv(x, w, o, None, m, **keywords), dy))  # noqa: E731
    moved = offset.copy()
    moved[0, 0, 0, 0] += step
    right = (loss(moved) - loss(offset)) / step  # exact up to round-off: the loss is linear on the cell
    analytic = refconv.deform_conv_vjp(x, w, offset, dy, m, **keywords)[3][0, 0, 0, 0]
    assert_close("row -1", "doffset", analytic, right, 1e-6)  # ~1e-16 * |loss| / step
    assert analytic != 0.0  # the derivative from the left, 0 here, is not the one taken


def _onnx_model(dtype: Any, attributes: dict[str, Any], mask: bool, bias: bool) -> Any:
    from onnx import TensorProto, helper

    element = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    names = ["X", "W", "offset", "B" if bias else "", *(["mask"] if mask else [])]
    names = names if mask or bias else names[:3]
    node = helper.make_node("DeformConv", names, ["Y"], **attributes)
    graph = helper.make_graph(
        [node],
        "deform",
        [helper.make_tensor_value_info(n, element, None) for n in names if n],
        [helper.make_tensor_value_info("Y", element, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])


def _attributes(x_shape: Any, w_shape: Any, groups: int, keywords: dict[str, Any]) -> dict[str, Any]:
    s = refconv.spec(x_shape, w_shape, **keywords)
    return dict(
        kernel_shape=list(w_shape[2:]),
        strides=list(s.stride),
        dilations=list(s.dilation),
        pads=[lo for lo, _ in s.padding] + [hi for _, hi in s.padding],
        group=s.groups,
        offset_group=groups,
    )


ONNX_GRID = [row for row in GRID if len(row[1]) == 4 and 0 not in row[1][:2] and "negative" not in row[0]]


@pytest.mark.parametrize(
    ("name", "x_shape", "w_shape", "groups", "keywords", "mask", "bias"),
    ONNX_GRID,
    ids=[r[0] for r in ONNX_GRID],
)
def test_deform_conv_matches_onnx_s_reference_and_onnxruntime(
    name: str, x_shape: Any, w_shape: Any, groups: int, keywords: Any, mask: bool, bias: bool
) -> None:
    """Forward only (ONNX has no gradients). Offsets are quarters and ``n - 1`` a power of two in
    every spatial dim, so the reference evaluator's float32 sample coordinates (its GridSample
    rounds them, even for float64 inputs) and its ``q / (n - 1)`` normalisation are exact."""
    pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    x_shape = (*x_shape[:2], *(5 if n > 3 else 3 for n in x_shape[2:]))  # n - 1 = 4 or 2
    x, w, offset, b, m, dy = _problem(x_shape, w_shape, groups, keywords, mask, bias)
    offset = np.round(offset * 4) / 4
    feeds = {"X": x, "W": w, "offset": offset, **({"B": b} if bias else {}), **({"mask": m} if mask else {})}
    want = refconv.deform_conv(x, w, offset, b, m, **keywords)
    bound = _bounds(
        x,
        w,
        offset,
        b,
        m if mask else np.ones((want.shape[0], offset.shape[1] // 2, *want.shape[2:])),
        dy,
        groups,
        keywords,
    )["y"]
    model = _onnx_model(np.float64, _attributes(x_shape, w_shape, groups, keywords), mask, bias)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the evaluator's float32 casts
        assert_close(name, "y (ONNX reference)", ReferenceEvaluator(model).run(None, feeds)[0], want, bound)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_close(name, "y (onnxruntime)", session.run(None, feeds)[0], want, bound)


def test_onnx_s_own_deform_conv_node_tests_pass() -> None:
    """The four DeformConv cases of ONNX's backend test suite (float32, hand-computed outputs)."""
    pytest.importorskip("onnx")
    from onnx import helper
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tests = collect_testcases("DeformConv")
    assert len(tests) == 4
    for test in tests:
        node = test.model.graph.node[0]
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs, (expected,) = test.data_sets[0]
        roles = [
            role for role, given in zip(("X", "W", "offset", "B", "mask"), node.input, strict=False) if given
        ]
        named = dict(zip(roles, inputs, strict=True))
        nd = len(attributes["kernel_shape"])
        pads = attributes.get("pads", [0] * 2 * nd)
        keywords = dict(
            stride=attributes.get("strides", 1),
            dilation=attributes.get("dilations", 1),
            groups=attributes.get("group", 1),
            padding=list(zip(pads[:nd], pads[nd:], strict=True)),
        )
        got = refconv.deform_conv(
            named["X"], named["W"], named["offset"], named.get("B"), named.get("mask"), **keywords
        )
        sums = naive.deform_conv_sums(
            named["X"],
            named["W"],
            named["offset"],
            np.ones(got.shape, np.float32),
            named.get("mask"),
            **keywords,
        )["y"]
        terms = named["W"].shape[1] * math.prod(attributes["kernel_shape"]) * 4 + nd + 3
        bias = 0 if named.get("B") is None else np.abs(named["B"]).reshape(1, -1, 1, 1)
        assert_close(
            test.name, "Y", got, expected, rounding_bound(sums + bias, terms, np.float32, reference=expected)
        )


@pytest.mark.parametrize("wrt", ["x", "w", "offset", "mask"])
def test_vjps_match_central_differences_inside_the_cells(wrt: str) -> None:
    """Offsets a quarter away from any integer: a step of 2^-12 stays inside every cell, where the
    loss is a polynomial of degree 2 in the step (bilinear), so the central difference is exact up to
    round-off: each loss within its rounding bound, divided by the step."""
    rng = np.random.default_rng(11)
    keywords: dict[str, Any] = dict(stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2), groups=2)
    x, w, offset, _, m, dy = _problem((2, 4, 6, 5), (6, 2, 3, 2), 2, keywords, True, False)
    offset = np.floor(offset) + rng.uniform(0.25, 0.75, offset.shape)
    arrays = {"x": x, "w": w, "offset": offset, "mask": m}
    direction, step = rng.standard_normal(arrays[wrt].shape), 2.0**-12

    def loss(shift: float) -> float:
        moved = dict(arrays, **{wrt: arrays[wrt] + shift * direction})
        return float(
            np.vdot(
                refconv.deform_conv(moved["x"], moved["w"], moved["offset"], None, moved["mask"], **keywords),
                dy,
            )
        )

    central = (loss(step) - loss(-step)) / (2 * step)
    grads = dict(
        zip(
            ("x", "w", "db", "offset", "mask"),
            refconv.deform_conv_vjp(x, w, offset, dy, m, **keywords),
            strict=True,
        )
    )
    analytic = float(np.vdot(grads[wrt], direction))
    widest = {k: np.abs(a) + (np.abs(direction) if k == wrt else 0) for k, a in arrays.items()}
    sums = naive.deform_conv_sums(widest["x"], widest["w"], offset, np.abs(dy), widest["mask"], **keywords)[
        "y"
    ]
    # each loss sums (I K 4 + 5) x (the output size) terms bounded by sums * |dy|; an offset's step moves
    # the corner weights, bounded by 2 per element
    per_loss = float(rounding_bound(np.vdot(sums, np.abs(dy)) * 2, 2 * 6 * 4 * 5 + 5 + dy.size, np.float64))
    assert_close(f"d{wrt}", "<grad, direction>", analytic, central, per_loss / step)


def test_a_sample_outside_the_input_reads_nothing_not_even_a_nan_at_the_clamped_index() -> None:
    x = np.ones((1, 1, 3, 3))
    x[0, 0, 0, 0] = np.nan
    offset = np.full((1, 2, 3, 3), -5.0)  # every sample far above and left of the input
    y = refconv.deform_conv(x, np.ones((1, 1, 1, 1)), offset)
    assert np.array_equal(y, np.zeros((1, 1, 3, 3)))
    dx, *_ = refconv.deform_conv_vjp(x, np.ones((1, 1, 1, 1)), offset, np.ones((1, 1, 3, 3)))
    assert np.array_equal(dx, np.zeros_like(x))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: m.deform_conv(np.ones((1, 4, 5)), np.ones((2, 4, 2)), np.ones((1, 3, 4))),
            ValueError,
            r"offset has 3 channels: 2 per offset group, and the offset groups must divide in_channels=4",
        ),
        (
            lambda m: m.deform_conv(np.ones((1, 4, 5)), np.ones((2, 4, 2)), np.ones((1, 6, 4))),
            ValueError,
            r"offset has 6 channels: 2 per offset group, and the offset groups must divide in_channels=4",
        ),
        (
            lambda m: m.deform_conv(np.ones((1, 4, 5)), np.ones((2, 4, 2)), np.ones((1, 4, 3))),
            ValueError,
            r"offset has shape \(1, 4, 3\); expected \(1, 4, 4\) for 2 offset group\(s\)",
        ),
        (
            lambda m: m.deform_conv(
                np.ones((1, 4, 5)), np.ones((2, 4, 2)), np.ones((1, 2, 4)), mask=np.ones((1, 4, 4))
            ),
            ValueError,
            r"mask has shape \(1, 4, 4\); expected \(1, 2, 4\) for 1 offset group\(s\)",
        ),
        (
            lambda m: m.deform_conv(np.ones((1, 4, 5), complex), np.ones((2, 4, 2)), np.ones((1, 2, 4))),
            TypeError,
            r"deform_conv interpolates: its operands must be real floats, not complex128",
        ),
        (
            lambda m: m.deform_conv(
                np.ones((1, 4, 5), int), np.ones((2, 4, 2), int), np.ones((1, 2, 4), int)
            ),
            TypeError,
            r"operands must be real floats, not int64",
        ),
        (
            lambda m: m.deform_conv(
                np.ones((1, 4, 5)), np.ones((2, 4, 2)), np.ones((1, 2, 4)), input_dilation=2
            ),
            TypeError,
            r"deform_conv\(\) got an unexpected keyword argument 'input_dilation'",
        ),
        (
            lambda m: m.deform_conv_vjp(
                np.ones((1, 4, 5)), np.ones((2, 4, 2)), np.ones((1, 2, 4)), np.ones((1, 2, 5))
            ),
            ValueError,
            r"dy has shape \(1, 2, 5\); expected the output shape \(1, 2, 4\)",
        ),
    ],
)
@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_bad_input_is_named(module: Any, call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call(module)


def test_inputs_are_not_mutated_and_results_are_new_arrays() -> None:
    x, w, offset, b, m, dy = _problem((2, 3, 5, 4), (4, 3, 2, 2), 1, dict(padding=1), True, True)
    arrays = (x, w, offset, b, m, dy)
    kept = [a.copy() for a in arrays]
    results = [
        refconv.deform_conv(x, w, offset, b, m, padding=1),
        *refconv.deform_conv_vjp(x, w, offset, dy, m, padding=1),
    ]
    for before, after in zip(kept, arrays, strict=True):
        assert np.array_equal(before, after)
    assert not any(np.shares_memory(r, a) for r in results for a in arrays)


def test_the_sums_of_absolute_terms_are_each_result_of_the_absolute_values() -> None:
    """With every factor non-negative (corner weights are), a result is its own sum of |terms|; the
    offset's terms carry the slopes' signs, so its sum is checked on one sample by hand."""
    keywords: dict[str, Any] = dict(stride=(2, 1), padding=((1, 0), (0, 1)), groups=2)
    x, w, offset, _, m, dy = _problem((2, 4, 5, 4), (4, 2, 2, 2), 2, keywords, True, False)
    x, w, dy = np.abs(x), np.abs(w), np.abs(dy)
    sums = naive.deform_conv_sums(x, w, offset, dy, m, **keywords)
    dx, dw, _, _, dmask = naive.deform_conv_vjp(x, w, offset, dy, m, **keywords)
    bound = _bounds(x, w, offset, None, m, dy, 2, keywords)
    for name, got, want in [
        ("y", sums["y"], naive.deform_conv(x, w, offset, None, m, **keywords)),
        ("dx", sums["dx"], dx),
        ("dw", sums["dw"], dw),
        ("dmask", sums["dmask"], dmask),
    ]:
        assert_close("non-negative", f"sums[{name}]", got, want, bound[name])
    # the sample at (0.25, 0.5) of x = [[1, 2], [3, 4]] (window (0, 0); the others sample whole
    # elements): its row slopes are -0.5, -0.5, 0.5, 0.5, its column slopes -0.75, 0.75, -0.25, 0.25;
    # |a| = |w dy| = 2 and the mask 0.5 everywhere
    shifts = np.zeros((1, 2, 2, 2))
    shifts[0, :, 0, 0] = 0.25, 0.5
    one = naive.deform_conv_sums(
        np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
        np.array([[[[2.0]]]]),
        shifts,
        np.full((1, 1, 2, 2), -1.0),
        np.full((1, 1, 2, 2), 0.5),
    )
    assert_close("one sample", "sums[doffset]", one["doffset"][0, :, 0, 0], np.array([5.0, 4.0]), 0.0)
    assert_close("one sample", "sums[y]", one["y"][0, 0, 0, 0], np.float64(2.0), 0.0)  # V = 2.0 exactly
    with pytest.raises(
        TypeError, match=r"^deform_conv_sums\(\) got an unexpected keyword argument 'strides'"
    ):
        naive.deform_conv_sums(x, w, offset, dy, m, strides=2)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "dtypes",
    [
        ("float32", "float32", "float32"),
        ("float32", "float64", "float32"),
        ("float32", "float32", "float64"),
        ("float64", "float32", "float32"),
    ],
)
def test_sampling_keeps_the_result_dtype_of_its_operands(dtypes: tuple[str, str, str]) -> None:
    from refconv.sampling import sample, sample_vjp

    rng = np.random.default_rng(13)
    x, q, g = (
        rng.standard_normal(shape).astype(dtype)
        for shape, dtype in zip([(2, 3, 4, 5), (2, 6, 2), (2, 3, 6)], dtypes, strict=True)
    )
    want = np.result_type(*dtypes)
    assert sample(x, q).dtype == np.result_type(x, q)
    dx, dq = sample_vjp(x, q, g)
    assert (dx.dtype, dq.dtype, dx.shape, dq.shape) == (want, want, x.shape, q.shape)


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_a_dim_of_size_one_is_sampled_like_any_other(module: Any) -> None:
    """One row: every sample off that row reads a zero corner (ONNX's evaluator raises here)."""
    x = np.array([[[[0.0, 1.0, 2.0]]]])
    offset = np.zeros((1, 4, 1, 2))
    offset[0, 1, 0, 0], offset[0, 0, 0, 1], offset[0, 2, 0, 1] = 0.5, -0.5, 1.5
    y = module.deform_conv(x, np.ones((1, 1, 1, 2)), offset)
    # window 0: x(0, 0.5) + x(0, 1) = 0.5 + 1; window 1: x(-0.5, 1) + x(1.5, 2) = 0.5 + 0
    assert_close("n = 1", "y", y, np.array([[[[1.5, 0.5]]]]), 0.0)


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_a_0d_deformable_convolution_reads_its_offset_groups_from_the_mask(module: Any) -> None:
    """No spatial dim: the offset has no channels, so two offset groups are the mask's two channels."""
    x, w = np.arange(1.0, 5.0).reshape(1, 4), np.ones((1, 4))
    y = module.deform_conv(x, w, np.zeros((1, 0)), mask=np.array([[2.0, 0.5]]))
    assert_close("0-d", "y", y, np.array([[2.0 * (1 + 2) + 0.5 * (3 + 4)]]), 0.0)


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_an_offset_without_channels_is_named(module: Any) -> None:
    with pytest.raises(
        ValueError, match=r"^offset has shape \(4,\); expected \(1, 2, 4\) for 1 offset group"
    ):
        module.deform_conv(np.ones((1, 2, 5)), np.ones((3, 2, 2)), np.ones(4))
