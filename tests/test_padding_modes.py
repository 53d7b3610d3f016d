"""padding_mode="reflect" / "replicate" / "circular" against torch (F.pad + conv, as nn.ConvNd), and
those and "symmetric" against jax (jnp.pad + conv), refconv.naive, and the adjoint identity; the fold
is the pad's adjoint, and the module's two definitions of a mode (per position for naive, np.pad for
the fast path) agree."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive, padding_modes
from refconv.backends import ORACLES
from refconv.testing import gamma, rounding_bound
from tests.cases import Case, grid_case, variant
from tests.helpers import assert_backend_agrees, assert_close, assert_results_close, case_results

MODES = ["reflect", "replicate", "circular", "symmetric"]
CASES = [
    grid_case("1d-stride2", (3, 4, 9), (5, 4, 3), dict(stride=2, padding=[(2, 1)])),
    grid_case("2d-asym", (2, 3, 6, 7), (4, 3, 3, 2), dict(stride=(2, 1), padding=((2, 0), (1, 3)))),
    grid_case(
        "2d-dilation-groups", (2, 4, 7, 6), (6, 2, 3, 3), dict(dilation=2, padding=(3, 2), groups=2), False
    ),
    grid_case("2d-padding-at-the-limit", (2, 3, 4, 5), (4, 3, 2, 2), dict(padding=((3, 3), (4, 4)))),
    grid_case(
        "3d", (2, 2, 4, 5, 3), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=((1, 2), (0, 1), (2, 2)))
    ),
    grid_case("2d-batch-groups", (4, 3, 6, 5), (4, 3, 3, 2), dict(batch_groups=2, padding=1)),
]
PARAMS = [
    pytest.param(variant(case, f"{case.feature}-{mode}", padding_mode=mode), id=f"{case.feature}-{mode}")
    for case in CASES
    for mode in MODES
    if not (mode == "reflect" and case.feature == "2d-padding-at-the-limit")  # reflect needs < n: below
]  # fmt: skip


@pytest.mark.parametrize("case", PARAMS)
def test_padding_modes_match_naive(case: Case) -> None:
    assert_results_close(case, case_results(case), case_results(case, module=naive))


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("case", PARAMS)
def test_padding_modes_match_oracle(case: Case, oracle: str) -> None:
    pytest.importorskip(oracle)
    assert_backend_agrees(oracle, case)


@pytest.mark.parametrize("case", PARAMS)
def test_adjoint_identity_holds_with_padding_modes(case: Case) -> None:
    x, w, _, dy = case.arrays()
    dx, dw, _ = refconv.conv_vjp(x, w, dy, **case.spec.options())
    forward = float(np.sum(refconv.conv(x, w, **case.spec.options()) * dy))
    # both sides sum the same products x w dy; sums of their absolute values bound the round-off
    absolute = float(np.sum(refconv.conv(np.abs(x), np.abs(w), **case.spec.options()) * np.abs(dy)))
    terms = dy.size * w.shape[1] * math.prod(w.shape[2:])
    bound = float(rounding_bound(absolute, terms, np.float64))
    assert_close(case.feature, "<x, dx>", float(np.sum(x * dx)), forward, bound)
    assert_close(case.feature, "<w, dw>", float(np.sum(w * dw)), forward, bound)


@pytest.mark.parametrize("mode", MODES)
def test_fold_is_the_adjoint_of_the_pad(mode: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 4))
    padding = ((3, 2), (0, 3))
    padded = padding_modes.pad(x, padding, mode)
    g = rng.standard_normal(padded.shape)
    assert padded.shape == (2, 3, 10, 7)
    folded = padding_modes.fold(g, x.shape, padding, mode)
    # each side sums g.size products of two standard normals (< 6 each, 36 per product)
    bound = 2 * gamma(g.size, 2.0**-53) * g.size * 36.0
    assert_close(mode, "<P x, g> - <x, P^T g>", float(np.sum(padded * g)), float(np.sum(x * folded)), bound)


@pytest.mark.parametrize("mode", MODES)
def test_the_per_position_definition_and_np_pad_agree(mode: str) -> None:
    """padding_modes.source (PyTorch's definition, walked by naive) and index (np.pad, the fast path)."""
    for n in range(1, 7):
        for lo in range(n if mode == "reflect" else n + 1):
            for hi in range(n if mode == "reflect" else n + 1):
                walked = [padding_modes.source(i, n, mode) for i in range(-lo, n + hi)]
                assert walked == padding_modes.index(n, lo, hi, mode).tolist(), (n, lo, hi)


def test_replicate_pads_beyond_the_input_size() -> None:
    """Replicate has no limit but an element to copy (PyTorch's rule): padding 3 of 2 repeats each."""
    x, w = np.array([[[1.0, 2.0]]]), np.array([[[1.0]]])
    expected = [[[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]]]
    for module in (refconv, naive):
        np.testing.assert_array_equal(module.conv(x, w, padding=3, padding_mode="replicate"), expected)


def test_zero_padding_holds_no_element() -> None:
    """source's ``zeros``: the padded positions hold nothing (naive asks only of the other modes)."""
    assert [padding_modes.source(i, 3, "zeros") for i in range(-2, 5)] == [None, None, 0, 1, 2, None, None]


def test_modes_copy_the_right_elements() -> None:
    x = np.arange(1.0, 5.0).reshape(1, 1, 4)
    w = np.array([[[1.0]]])
    expected = {
        "reflect": [3, 2, 1, 2, 3, 4, 3, 2],
        "replicate": [1, 1, 1, 2, 3, 4, 4, 4],
        "circular": [3, 4, 1, 2, 3, 4, 1, 2],
        "symmetric": [2, 1, 1, 2, 3, 4, 4, 3],
    }
    for mode, values in expected.items():
        np.testing.assert_array_equal(refconv.conv(x, w, padding=[(2, 2)], padding_mode=mode)[0, 0], values)
        np.testing.assert_array_equal(naive.conv(x, w, padding=[(2, 2)], padding_mode=mode)[0, 0], values)


MISUSES = [
    (
        dict(padding_mode="mirror"),
        "padding_mode='mirror' is not one of ('zeros', 'reflect', 'replicate', 'circular', 'symmetric')",
    ),
    (
        dict(padding_mode="reflect", padding=4),
        "padding_mode='reflect' needs padding smaller than the input size",
    ),
    (
        dict(padding_mode="circular", padding=5),
        "padding_mode='circular' needs padding at most the input size",
    ),
    (
        dict(padding_mode="symmetric", padding=((5, 0), (0, 0))),
        "padding_mode='symmetric' needs padding at most the input size",
    ),
    (
        dict(padding_mode="replicate", padding=((1, -1), (0, 0))),
        "padding_mode='replicate' needs padding >= 0",
    ),
    (dict(padding_mode="reflect", input_dilation=2), "padding_mode='reflect' needs input_dilation=1"),
]


@pytest.mark.parametrize("module", [refconv, naive], ids=["refconv", "naive"])
@pytest.mark.parametrize(("keywords", "message"), MISUSES, ids=[m[1][:32] for m in MISUSES])
def test_padding_mode_misuse_names_the_parameter(module: Any, keywords: dict[str, Any], message: str) -> None:
    x, w = np.ones((2, 3, 4, 5)), np.ones((4, 3, 2, 2))
    with pytest.raises(ValueError, match=re.escape(message)):
        module.conv(x, w, **keywords)
    with pytest.raises(ValueError, match=re.escape(message)):
        module.conv_vjp(x, w, np.ones((2, 4, 3, 4)), **keywords)
