"""conv_local (the locally connected convolution) and its VJPs: against jax, refconv.naive, refconv.conv
and the adjoint identities.

Bounds: float64 round-off of each element's sum (:func:`refconv.testing.rounding_bound`) with its
term count: ``y`` sums ``Q = C_in K`` products (+ the bias), ``dx`` at most ``C_out K`` (times the
copies a padding mode makes), ``dw`` ``N``, ``db`` ``N M`` (``K`` taps, ``M`` output positions).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refconv
from refconv import naive
from refconv.testing import rounding_bound
from tests.cases import Case
from tests.helpers import assert_close
from tests.strategies import configurations
from tests.test_patches import _jax_keywords

#: (id, x_shape, filter_shape, out_channels, keywords)
GRID: list[tuple[str, tuple[int, ...], tuple[int, ...], int, dict[str, Any]]] = [
    ("1d-stride2-asym-pad", (2, 3, 7), (3,), 4, dict(stride=2, padding=((1, 2),))),
    (
        "2d-every-parameter",
        (2, 3, 7, 6),
        (3, 2),
        5,
        dict(stride=(2, 1), padding=((-1, 2), (0, 1)), dilation=(2, 1), input_dilation=(1, 2)),
    ),
    ("2d-same", (3, 2, 5, 4), (2, 3), 4, dict(padding="same")),
    ("0d", (2, 3), (), 4, {}),
    ("2d-nhwc", (2, 6, 5, 3), (2, 2), 4, dict(dimension_numbers=("NHWC", "HWIO", "NHWC"), stride=(2, 1))),
    ("3d-pad1", (2, 3, 4, 5, 3), (2, 1, 2), 2, dict(stride=(1, 2, 1), padding=1)),
    ("2d-circular", (2, 3, 6, 5), (2, 3), 3, dict(padding=((2, 1), (0, 2)), padding_mode="circular")),
    ("empty-batch", (0, 3, 5), (2,), 3, {}),
    ("no-channels", (2, 0, 5), (2,), 3, {}),
    ("kernel-longer-than-input", (2, 3, 5), (7,), 3, {}),
]
IDS = [row[0] for row in GRID]


def _problem(x_shape: Any, kernel: Any, o: int, keywords: dict[str, Any], seed: int = 0) -> Any:
    """``x, w, b, dy``: ``w`` of shape ``(O, C K, *out)`` in the kernel's layout."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    p = refconv.conv_patches(x, kernel, **keywords)
    numbers = keywords.get("dimension_numbers")
    if numbers is None:
        w = rng.standard_normal((o, *p.shape[1:]))
    else:  # the patches are in the output's layout, the weight in the kernel's: spatial dims paired by order
        _, rhs, out = numbers
        sizes = dict(
            zip(
                [c for c in rhs if c not in "OI"],
                [p.shape[i] for i, c in enumerate(out) if c not in "NC"],
                strict=True,
            )
        )
        w = rng.standard_normal(
            [o if c == "O" else p.shape[out.index("C")] if c == "I" else sizes[c] for c in rhs]
        )
    b = rng.standard_normal(o)
    y = refconv.conv_local(x, w, b, filter_shape=kernel, **keywords)
    return x, w, b, rng.standard_normal(y.shape)


def _terms(x_shape: Any, kernel: Any, o: int, keywords: dict[str, Any], which: str, y_shape: Any) -> int:
    numbers = keywords.get("dimension_numbers")
    c, n = (
        (x_shape[1], x_shape[0])
        if numbers is None
        else (x_shape[numbers[0].index("C")], x_shape[numbers[0].index("N")])
    )
    taps = math.prod(kernel)
    copies = 1
    if keywords.get("padding_mode", "zeros") != "zeros":
        pairs = refconv.spec(x_shape, (1, c, *kernel), **keywords).padding
        copies = math.prod(1 + lo + hi for lo, hi in pairs)
    positions = math.prod(y_shape) // max(n * o, 1)
    return {"y": c * taps + 1, "dx": o * taps * copies, "dw": n, "db": n * positions}[which]


def _bounds(x: Any, w: Any, b: Any, dy: Any, kernel: Any, keywords: dict[str, Any]) -> dict[str, Any]:
    """Each result's bound: its term count and the same sums of |products| (through naive)."""
    o = b.shape[0]
    y_shape = dy.shape
    sums = dict(
        zip(
            ("dx", "dw", "db"),
            naive.conv_local_vjp(np.abs(x), np.abs(w), np.abs(dy), filter_shape=kernel, **keywords),
            strict=True,
        )
    )
    sums["y"] = naive.conv_local(np.abs(x), np.abs(w), np.abs(b), filter_shape=kernel, **keywords)
    return {
        k: rounding_bound(v, _terms(x.shape, kernel, o, keywords, k, y_shape), np.float64)
        for k, v in sums.items()
    }


@pytest.mark.parametrize(("name", "x_shape", "kernel", "o", "keywords"), GRID, ids=IDS)
def test_conv_local_and_its_vjps_match_naive(
    name: str, x_shape: Any, kernel: Any, o: int, keywords: Any
) -> None:
    x, w, b, dy = _problem(x_shape, kernel, o, keywords)
    bound = _bounds(x, w, b, dy, kernel, keywords)
    got = (
        refconv.conv_local(x, w, b, filter_shape=kernel, **keywords),
        *refconv.conv_local_vjp(x, w, dy, filter_shape=kernel, **keywords),
    )
    want = (
        naive.conv_local(x, w, b, filter_shape=kernel, **keywords),
        *naive.conv_local_vjp(x, w, dy, filter_shape=kernel, **keywords),
    )
    for array, a, e in zip(("y", "dx", "dw", "db"), got, want, strict=True):
        assert_close(name, array, a, e, bound[array])


@pytest.mark.parametrize(("name", "x_shape", "kernel", "o", "keywords"), GRID, ids=IDS)
def test_conv_local_and_its_vjps_match_jax(
    name: str, x_shape: Any, kernel: Any, o: int, keywords: Any
) -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax import lax

    if keywords.get("padding_mode", "zeros") != "zeros":
        pytest.skip("jax's local convolution has zero padding only (the padding modes: naive)")
    if x_shape[1] == 0:
        pytest.skip("jax raises for no channels (feature_group_count=0): refconv gives the empty sums")
    x, w, b, dy = _problem(x_shape, kernel, o, keywords)
    jk = _jax_keywords(len(kernel), keywords)

    def local(z: Any, v: Any) -> Any:
        return lax.conv_general_dilated_local(
            z,
            v,
            jk["window_strides"],
            jk["padding"],
            kernel,
            jk["lhs_dilation"],
            jk["rhs_dilation"],
            jk["dimension_numbers"],
            lax.Precision.HIGHEST,
        )

    y, pullback = jax.vjp(local, x, w)
    dx, dw = pullback(dy)
    bound = _bounds(x, w, np.zeros_like(b), dy, kernel, keywords)
    assert_close(
        name, "y", refconv.conv_local(x, w, filter_shape=kernel, **keywords), np.asarray(y), bound["y"]
    )
    got_dx, got_dw, _ = refconv.conv_local_vjp(x, w, dy, filter_shape=kernel, **keywords)
    assert_close(name, "dx", got_dx, np.asarray(dx), bound["dx"])
    assert_close(name, "dw", got_dw, np.asarray(dw), bound["dw"])


@pytest.mark.parametrize(("name", "x_shape", "kernel", "o", "keywords"), GRID, ids=IDS)
def test_the_vjps_satisfy_the_adjoint_identities(
    name: str, x_shape: Any, kernel: Any, o: int, keywords: Any
) -> None:
    x, w, _, dy = _problem(x_shape, kernel, o, keywords)
    y = refconv.conv_local(x, w, filter_shape=kernel, **keywords)
    dx, dw, _ = refconv.conv_local_vjp(x, w, dy, filter_shape=kernel, **keywords)
    # <y, dy> = <x, dx> = <w, dw>: the same products of x, w and dy summed in three orders
    products = np.vdot(naive.conv_local(np.abs(x), np.abs(w), filter_shape=kernel, **keywords), np.abs(dy))
    tolerance = 2 * rounding_bound(products, x.size * w.size + 1, np.float64)
    assert_close(name, "<y, dy> - <x, dx>", np.vdot(y, dy), np.vdot(x, dx), tolerance)
    assert_close(name, "<y, dy> - <w, dw>", np.vdot(y, dy), np.vdot(w, dw), tolerance)


def test_one_kernel_at_every_position_is_refconv_conv() -> None:
    rng = np.random.default_rng(4)
    keywords: dict[str, Any] = dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2))
    x, kernel_w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    y = refconv.conv(x, kernel_w, **keywords)
    w = np.broadcast_to(
        kernel_w.reshape(4, 18, 1, 1), (4, 18, *y.shape[2:])
    )  # JAX's testConvGeneralDilatedLocal
    bound = rounding_bound(refconv.conv(np.abs(x), np.abs(kernel_w), **keywords), 18, np.float64)
    assert_close("shared kernel", "y", refconv.conv_local(x, w, filter_shape=(3, 2), **keywords), y, bound)


def test_the_complex_vjp_follows_the_conjugate_keyword_as_naive() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 5)) + 1j * rng.standard_normal((2, 2, 5))
    w = rng.standard_normal((3, 4, 4)) + 1j * rng.standard_normal((3, 4, 4))
    dy = rng.standard_normal((2, 3, 4)) + 1j * rng.standard_normal((2, 3, 4))
    for conjugate in (False, True):
        got = refconv.conv_local_vjp(x, w, dy, filter_shape=[2], conjugate=conjugate)
        want = naive.conv_local_vjp(x, w, dy, filter_shape=[2], conjugate=conjugate)
        sums = naive.conv_local_vjp(np.abs(x), np.abs(w), np.abs(dy), filter_shape=[2])
        for array, a, e, total, terms in zip(("dx", "dw", "db"), got, want, sums, (6, 2, 8), strict=True):
            assert_close(
                f"conjugate={conjugate}", array, a, e, 4 * rounding_bound(total, terms, np.float64)
            )  # complex: 4 real products per term
    plain, conjugated = (
        refconv.conv_local_vjp(x, w, dy, filter_shape=[2], conjugate=c)[1] for c in (False, True)
    )
    assert not np.allclose(plain, conjugated)  # the keyword changes the answer


@given(configurations(max_ndim=2, min_ndim=0), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_random_local_convolutions_match_naive(case: Case, o: int, seed: int) -> None:
    s = case.spec
    keywords = {k: v for k, v in s.options().items() if k not in ("groups", "batch_groups")}
    kernel = s.w_shape[2:]
    x, w, b, dy = _problem(s.given_shape("x"), kernel, o, keywords, seed)
    bound = _bounds(x, w, b, dy, kernel, keywords)
    assert_close(
        str(s),
        "y",
        refconv.conv_local(x, w, b, filter_shape=kernel, **keywords),
        naive.conv_local(x, w, b, filter_shape=kernel, **keywords),
        bound["y"],
    )
    for array, a, e in zip(
        ("dx", "dw", "db"),
        refconv.conv_local_vjp(x, w, dy, filter_shape=kernel, **keywords),
        naive.conv_local_vjp(x, w, dy, filter_shape=kernel, **keywords),
        strict=True,
    ):
        assert_close(str(s), array, a, e, bound[array])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: refconv.conv_local(np.ones((2, 3, 5)), np.ones((4, 6, 3)), filter_shape=[2]),
            ValueError,
            r"w has shape \(4, 6, 3\); expected \(4, 6, 4\): "
            r"\(out_channels, C_in \* prod\(filter_shape\) = 6, "
            r"\*out = \(4,\)\)",
        ),
        (
            lambda: refconv.conv_local(np.ones((2, 3, 5)), np.ones((4, 6)), filter_shape=[2]),
            ValueError,
            r"w has shape \(4, 6\); expected 3 dims, as x \(2, 3, 5\)",
        ),
        (
            lambda: refconv.conv_local(np.ones((2, 3, 5)), np.ones((4, 6, 4)), np.ones(3), filter_shape=[2]),
            ValueError,
            r"b has shape \(3,\); expected \(4,\), one per output channel",
        ),
        (lambda: refconv.conv_local(np.ones((2, 3, 5)), np.ones((4, 6, 4))), TypeError, r"filter_shape"),  # type: ignore[call-arg]
        (
            lambda: refconv.conv_local(np.ones((2, 3, 5)), np.ones((4, 6, 4)), filter_shape=[2], groups=3),  # type: ignore[call-arg]
            TypeError,
            r"conv_local\(\) got an unexpected keyword argument 'groups'",
        ),
        (
            lambda: refconv.conv_local_vjp(
                np.ones((2, 3, 5)), np.ones((4, 6, 4)), np.ones((2, 4, 5)), filter_shape=[2]
            ),
            ValueError,
            r"dy has shape \(2, 4, 5\); expected the output shape \(2, 4, 4\)",
        ),
    ],
)
def test_bad_input_is_named(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_inputs_are_not_mutated_and_results_are_new_arrays() -> None:
    x, w, b, dy = _problem((2, 3, 6), (2,), 4, {})
    kept = [a.copy() for a in (x, w, b, dy)]
    results = [
        refconv.conv_local(x, w, b, filter_shape=[2]),
        *refconv.conv_local_vjp(x, w, dy, filter_shape=[2]),
    ]
    for before, after in zip(kept, (x, w, b, dy), strict=True):
        assert np.array_equal(before, after)
    assert not any(np.shares_memory(r, a) for r in results for a in (x, w, b, dy))


def test_a_weight_element_where_the_patch_reads_padding_multiplies_nothing_as_in_conv() -> None:
    """refconv's definition (refconv.conv): padding forms no product, so an infinite weight there
    leaves the output finite, and a cotangent's infinity reaches no such weight's VJP."""
    x, w = np.ones((1, 1, 3)), np.ones((1, 2, 4))  # padding 1, k = 2: tap 0 of window 0 reads padding
    w[0, 0, 0] = np.inf
    y = refconv.conv_local(x, w, filter_shape=[2], padding=1)
    assert_close("inf weight on padding", "y", y, naive.conv_local(x, w, filter_shape=[2], padding=1), 0.0)
    assert_close("inf weight on padding", "y", y, np.array([[[1.0, 2.0, 2.0, 1.0]]]), 0.0)
    dy = np.ones((1, 1, 4))
    dy[0, 0, 0] = np.inf
    _, dw, _ = refconv.conv_local_vjp(x, np.ones((1, 2, 4)), dy, filter_shape=[2], padding=1)
    assert dw[0, 0, 0] == 0.0  # the weight read padding: an empty sum
    assert dw[0, 1, 0] == np.inf  # tap 1 of window 0 read x[0]: the infinity is its product


@pytest.mark.parametrize("dtype", ["float32", "complex128", "int64"])
def test_local_keeps_the_dtype_and_matches_naive_exactly_on_small_integers(dtype: str) -> None:
    """Small integer values: every sum is exact in every dtype, so refconv and the loops agree exactly."""
    rng = np.random.default_rng(6)

    def draw(shape: tuple[int, ...]) -> np.ndarray:
        values = rng.integers(-3, 4, shape) + (1j * rng.integers(-3, 4, shape) if "complex" in dtype else 0)
        return np.asarray(values).astype(dtype)

    x, w, b, dy = draw((2, 3, 5)), draw((4, 6, 4)), draw((4,)), draw((2, 4, 4))
    got = (refconv.conv_local(x, w, b, filter_shape=[2]), *refconv.conv_local_vjp(x, w, dy, filter_shape=[2]))
    want = (naive.conv_local(x, w, b, filter_shape=[2]), *naive.conv_local_vjp(x, w, dy, filter_shape=[2]))
    for name, a, e in zip(("y", "dx", "dw", "db"), got, want, strict=True):
        assert a.dtype == np.dtype(dtype), name
        assert_close(dtype, name, a, e, 0.0)


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
def test_a_conjugate_that_is_not_a_bool_is_named(module: Any) -> None:
    x, w, _, dy = _problem((2, 3, 6), (2,), 4, {})
    with pytest.raises(TypeError, match=r"^conjugate must be True or False, got 'yes'"):
        module.conv_local_vjp(x, w, dy, filter_shape=[2], conjugate="yes")
