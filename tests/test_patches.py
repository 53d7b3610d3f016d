"""conv_patches (im2col) and fold (col2im, its VJP): against jax, torch, refconv.naive and their algebra.

Patches are copies: equality is exact (no arithmetic). ``fold`` sums at most ``K`` patch elements
per input element (``K = prod(filter_shape)``, times the copies a padding mode makes of an
element), so its bound is the float64 round-off of a ``K``-term sum of |g|
(:func:`refconv.testing.rounding_bound`).
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

#: (id, x_shape, filter_shape, keywords): every keyword of the family, N != C != sizes != kernel.
GRID: list[tuple[str, tuple[int, ...], tuple[int, ...], dict[str, Any]]] = [
    ("1d-stride2-asym-pad", (2, 3, 7), (3,), dict(stride=2, padding=((1, 2),))),
    (
        "2d-every-parameter",
        (2, 3, 7, 6),
        (3, 2),
        dict(stride=(2, 1), padding=((-1, 2), (0, 1)), dilation=(2, 1), input_dilation=(1, 2)),
    ),
    ("2d-same", (2, 3, 5, 6), (2, 2), dict(padding="same")),
    ("2d-same-lower-stride2", (3, 2, 5, 6), (3, 2), dict(padding="same_lower", stride=2)),
    ("2d-valid-stride2", (2, 3, 5, 6), (2, 2), dict(padding="valid", stride=2)),
    ("0d", (2, 3), (), {}),
    ("2d-nhwc", (2, 6, 5, 3), (2, 2), dict(dimension_numbers=("NHWC", "HWIO", "NHWC"), stride=(2, 1))),
    ("2d-odd-layout", (3, 2, 6, 5), (3, 2), dict(dimension_numbers=("CNWH", "WHIO", "HCNW"), dilation=2)),
    ("3d-pad1", (2, 3, 4, 5, 3), (2, 1, 2), dict(stride=(1, 2, 1), padding=1)),
    ("1d-reflect", (2, 3, 6), (2,), dict(padding=2, padding_mode="reflect")),
    ("2d-circular", (2, 3, 6, 5), (2, 3), dict(padding=((2, 1), (0, 2)), padding_mode="circular")),
    ("2d-replicate-stride2", (2, 2, 5, 4), (3, 2), dict(padding=1, padding_mode="replicate", stride=2)),
    ("empty-batch", (0, 3, 5), (2,), {}),
    ("no-channels", (2, 0, 5), (2,), {}),
    ("kernel-longer-than-input", (2, 3, 5), (7,), {}),
]
IDS = [row[0] for row in GRID]
JAX_WORDS = {"same": "SAME", "same_lower": "SAME_LOWER", "valid": "VALID"}


def _jax_keywords(ndim: int, keywords: dict[str, Any]) -> dict[str, Any]:
    def per_dim(name: str) -> Any:
        value = keywords.get(name, 1)
        return (value,) * ndim if isinstance(value, int) else tuple(value)

    padding = keywords.get("padding", 0)
    padding = (
        JAX_WORDS[padding]
        if isinstance(padding, str)
        else (((padding, padding),) * ndim if isinstance(padding, int) else padding)
    )
    return dict(
        window_strides=per_dim("stride"),
        padding=padding,
        lhs_dilation=per_dim("input_dilation"),
        rhs_dilation=per_dim("dilation"),
        dimension_numbers=keywords.get("dimension_numbers"),
    )


def _fold_bound(
    g: np.ndarray, x_shape: tuple[int, ...], kernel: tuple[int, ...], keywords: dict[str, Any]
) -> Any:
    """float64 round-off of each dx element: a sum of at most K |g| terms (K = taps x mode copies)."""
    copies = 1
    if keywords.get("padding_mode", "zeros") != "zeros":
        pairs = refconv.spec(x_shape, (1, x_shape[1], *kernel), **keywords).padding  # modes: canonical layout
        copies = math.prod(1 + lo + hi for lo, hi in pairs)
    return rounding_bound(
        naive.fold(np.abs(g), x_shape, kernel, **keywords), math.prod(kernel) * copies, np.float64
    )


def _arrays(
    x_shape: tuple[int, ...], kernel: tuple[int, ...], keywords: dict[str, Any], seed: int = 0
) -> Any:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    g = rng.standard_normal(refconv.conv_patches(x, kernel, **keywords).shape)
    return x, g


@pytest.mark.parametrize(("name", "x_shape", "kernel", "keywords"), GRID, ids=IDS)
def test_patches_and_fold_match_naive(name: str, x_shape: Any, kernel: Any, keywords: dict[str, Any]) -> None:
    x, g = _arrays(x_shape, kernel, keywords)
    assert_close(
        name,
        "patches",
        refconv.conv_patches(x, kernel, **keywords),
        naive.conv_patches(x, kernel, **keywords),
        0.0,
    )
    assert_close(
        name,
        "fold",
        refconv.fold(g, x_shape, kernel, **keywords),
        naive.fold(g, x_shape, kernel, **keywords),
        _fold_bound(g, x_shape, kernel, keywords),
    )


@pytest.mark.parametrize(("name", "x_shape", "kernel", "keywords"), GRID, ids=IDS)
def test_patches_and_fold_match_jax(name: str, x_shape: Any, kernel: Any, keywords: dict[str, Any]) -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax import lax

    if keywords.get("padding_mode", "zeros") != "zeros":
        pytest.skip("jax's patches have zero padding only (the padding modes: naive)")
    if (
        x_shape[
            1 if keywords.get("dimension_numbers") is None else keywords["dimension_numbers"][0].index("C")
        ]
        == 0
    ):
        pytest.skip("jax raises for no channels (feature_group_count=0): refconv gives the empty patches")
    x, g = _arrays(x_shape, kernel, keywords)

    def patches(z: Any) -> Any:
        return lax.conv_general_dilated_patches(
            z, kernel, precision=lax.Precision.HIGHEST, **_jax_keywords(len(kernel), keywords)
        )

    want, pullback = jax.vjp(patches, x)
    assert_close(name, "patches", refconv.conv_patches(x, kernel, **keywords), np.asarray(want), 0.0)
    assert_close(
        name,
        "fold",
        refconv.fold(g, x_shape, kernel, **keywords),
        np.asarray(pullback(g)[0]),
        _fold_bound(g, x_shape, kernel, keywords),
    )


TORCH_GRID = [
    ("plain", (2, 3, 7, 6), (3, 2), {}),
    ("stride-padding-dilation", (3, 2, 8, 7), (2, 3), dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1))),
    ("kernel-fills-input", (2, 3, 4, 5), (4, 5), {}),
]


@pytest.mark.parametrize(
    ("name", "x_shape", "kernel", "keywords"), TORCH_GRID, ids=[r[0] for r in TORCH_GRID]
)
def test_patches_are_torch_unfold_and_fold_is_torch_fold(
    name: str, x_shape: Any, kernel: Any, keywords: Any
) -> None:
    torch = pytest.importorskip("torch")
    x, g = _arrays(x_shape, kernel, keywords)
    p = refconv.conv_patches(x, kernel, **keywords)
    unfolded = torch.nn.functional.unfold(torch.from_numpy(x), kernel, **keywords).numpy()
    assert_close(
        name, "unfold", p.reshape(p.shape[0], p.shape[1], -1), unfolded, 0.0
    )  # the documented reshape
    folded = torch.nn.functional.fold(
        torch.from_numpy(g.reshape(g.shape[0], g.shape[1], -1)), x_shape[2:], kernel, **keywords
    ).numpy()
    assert_close(
        name,
        "fold",
        refconv.fold(g, x_shape, kernel, **keywords),
        folded,
        _fold_bound(g, x_shape, kernel, keywords),
    )


@pytest.mark.parametrize(("name", "x_shape", "kernel", "keywords"), GRID, ids=IDS)
def test_fold_is_the_adjoint_of_patches(
    name: str, x_shape: Any, kernel: Any, keywords: dict[str, Any]
) -> None:
    x, g = _arrays(x_shape, kernel, keywords)
    p, dx = refconv.conv_patches(x, kernel, **keywords), refconv.fold(g, x_shape, kernel, **keywords)
    # two sums of the same p.size products of |x||g|: each within gamma_{p.size} of the exact one
    terms = np.vdot(np.abs(p), np.abs(g))
    assert_close(
        name,
        "<P x, g> - <x, P^T g>",
        np.vdot(p, g),
        np.vdot(x, dx),
        2 * rounding_bound(terms, p.size + 1, np.float64),
    )


def _identity_kernel(c: int, kernel: tuple[int, ...]) -> np.ndarray:
    """``w[c K + t, 0, t'] = [t = t']``: the kernel whose convolution (groups = C) is the patches."""
    taps = math.prod(kernel)
    return np.tile(np.eye(taps).reshape(taps, 1, *kernel), (c, 1, *(1,) * len(kernel)))


CANONICAL = [row for row in GRID if "dimension_numbers" not in row[3] and row[1][1] > 0]


@pytest.mark.parametrize(("name", "x_shape", "kernel", "keywords"), CANONICAL, ids=[r[0] for r in CANONICAL])
def test_patches_are_the_convolution_with_the_identity_kernel(
    name: str, x_shape: Any, kernel: Any, keywords: Any
) -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-8, 9, x_shape).astype(np.float64)  # small integers: every sum below is exact
    g = rng.integers(-8, 9, refconv.conv_patches(x, kernel, **keywords).shape).astype(np.float64)
    w, groups = _identity_kernel(x_shape[1], kernel), x_shape[1]
    assert_close(
        name,
        "patches",
        refconv.conv_patches(x, kernel, **keywords),
        refconv.conv(x, w, groups=groups, **keywords),
        0.0,
    )
    assert_close(
        name,
        "fold",
        refconv.fold(g, x_shape, kernel, **keywords),
        refconv.conv_input_vjp(x_shape, w, g, groups=groups, **keywords),
        0.0,
    )


def test_a_nan_stays_in_the_patch_elements_that_copy_it() -> None:
    x = np.arange(10.0).reshape(1, 2, 5)
    x[0, 0, 2] = np.nan
    p = refconv.conv_patches(x, [2], stride=1)
    assert np.isnan(p).sum() == 2  # windows 1 (tap 1) and 2 (tap 0) of channel 0, nothing else
    assert np.isnan(p[0, 1, 1])
    assert np.isnan(p[0, 0, 2])
    g = np.ones(p.shape)
    g[0, 3, 0] = np.inf
    dx = refconv.fold(g, x.shape, [2])
    assert np.isinf(dx).sum() == 1
    assert np.isinf(dx[0, 1, 1])  # channel 1, tap 1 of window 0: element 1


@given(configurations(max_ndim=3, min_ndim=0), st.integers(0, 2**32 - 1))
def test_random_patches_and_folds_match_naive(case: Case, seed: int) -> None:
    s = case.spec
    keywords = {k: v for k, v in s.options().items() if k not in ("groups", "batch_groups")}
    x_shape, kernel = s.given_shape("x"), s.w_shape[2:]
    x, g = _arrays(x_shape, kernel, keywords, seed)
    assert_close(
        str(s),
        "patches",
        refconv.conv_patches(x, kernel, **keywords),
        naive.conv_patches(x, kernel, **keywords),
        0.0,
    )
    assert_close(
        str(s),
        "fold",
        refconv.fold(g, x_shape, kernel, **keywords),
        naive.fold(g, x_shape, kernel, **keywords),
        _fold_bound(g, x_shape, kernel, keywords),
    )


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(
    ("x_shape", "message"),
    [((2, -3, 5), r"^x_shape=\(2, -3, 5\) has a negative size"), ((5,), r"^x has shape \(5,\); expected")],
)
def test_fold_names_a_bad_input_shape(module: Any, x_shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        module.fold(np.ones((2, 6, 4)), x_shape, [2])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: refconv.conv_patches(np.ones((2, 3, 5)), [2, 2]),
            ValueError,
            r"filter_shape=\(2, 2\) has 2 entries; expected 1, one per spatial dim of x \(2, 3, 5\)",
        ),
        (
            lambda: refconv.conv_patches(np.ones((2, 3, 5)), [-1]),
            ValueError,
            r"filter_shape=\(-1,\) has a negative size",
        ),
        (
            lambda: refconv.conv_patches(np.ones((2, 3, 5)), 2),  # type: ignore[arg-type]
            TypeError,
            r"filter_shape must be a sequence of ints",
        ),
        (
            lambda: refconv.conv_patches(np.ones((2, 3, 5)), [2], groups=3),  # type: ignore[call-arg]
            TypeError,
            r"conv_patches\(\) got an unexpected keyword argument 'groups'",
        ),
        (
            lambda: refconv.conv_patches(np.ones((2, 3, 5)), [2], stride=(1, 2)),
            ValueError,
            r"stride=\(1, 2\) has 2 entries",
        ),
        (
            lambda: refconv.fold(np.ones((2, 6, 3)), (2, 3, 5), [2]),
            ValueError,
            r"patches has shape \(2, 6, 3\); expected the output shape \(2, 6, 4\)",
        ),
        (
            lambda: refconv.fold(np.ones((2, 6, 4)), (2, 3, 5), [2], batch_groups=2),  # type: ignore[call-arg]
            TypeError,
            r"fold\(\) got an unexpected keyword argument 'batch_groups'",
        ),
    ],
)
def test_bad_input_is_named(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_inputs_are_not_mutated_and_results_are_new_arrays() -> None:
    x = np.arange(30.0).reshape(1, 2, 15)
    kept = x.copy()
    p = refconv.conv_patches(x, [1], stride=1)  # a 1-tap patch is x itself, and still a copy
    g = p.copy()
    dx = refconv.fold(g, x.shape, [1])
    assert np.array_equal(x, kept)
    assert np.array_equal(g, p)
    assert not np.shares_memory(p, x)
    assert not np.shares_memory(dx, g)
    assert np.array_equal(p, x)
    assert np.array_equal(dx, x)
    assert p.flags.writeable  # a one-tap patch is a view of the windows inside: the result is not


@pytest.mark.parametrize("dtype", ["float32", "complex128", "int64", "float16"])
def test_patches_and_fold_keep_the_dtype_and_match_naive_exactly_on_small_integers(dtype: str) -> None:
    """Small integer values: every sum is exact in every dtype, so refconv and the loops agree exactly."""
    rng = np.random.default_rng(5)
    x = (
        rng.integers(-4, 5, (2, 3, 6, 5))
        + (1j * rng.integers(-4, 5, (2, 3, 6, 5)) if "complex" in dtype else 0)
    ).astype(dtype)
    keywords: dict[str, Any] = dict(stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2))
    p = refconv.conv_patches(x, (2, 2), **keywords)
    assert p.dtype == np.dtype(dtype)
    assert_close(dtype, "patches", p, naive.conv_patches(x, (2, 2), **keywords), 0.0)
    dx = refconv.fold(p, x.shape, (2, 2), **keywords)
    assert dx.dtype == np.dtype(dtype)
    assert_close(dtype, "fold", dx, naive.fold(p, x.shape, (2, 2), **keywords), 0.0)
