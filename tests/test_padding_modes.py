"""padding_mode="reflect" / "replicate" / "circular" against torch (F.pad + conv, as nn.ConvNd),
jax (jnp.pad + conv), refconv.naive, and the adjoint identity; the fold is the pad's adjoint."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv._ops import pad_with_mode, pad_with_mode_vjp
from refconv.oracles import ORACLES, Unsupported
from refconv.testing import conv_error_bounds, dot_error_bound
from tests.cases import Case
from tests.helpers import params

MODES = ["reflect", "replicate", "circular"]
CASES = [
    Case("1d-stride2", (3, 4, 9), (5, 4, 3), dict(stride=2, padding=[(2, 1)])),
    Case("2d-asym", (2, 3, 6, 7), (4, 3, 3, 2), dict(stride=(2, 1), padding=((2, 0), (1, 3)))),
    Case("2d-dilation-groups", (2, 4, 7, 6), (6, 2, 3, 3), dict(dilation=2, padding=(3, 2), groups=2), False),
    Case("2d-padding-at-the-limit", (2, 3, 4, 5), (4, 3, 2, 2), dict(padding=((3, 3), (4, 4)))),
    Case("3d", (2, 2, 4, 5, 3), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=((1, 2), (0, 1), (2, 2)))),
    Case("2d-batch-groups", (4, 3, 6, 5), (4, 3, 3, 2), dict(batch_groups=2, padding=1)),
]
PARAMS = [
    pytest.param(case, mode, id=f"{case.id}-{mode}")
    for case in CASES
    for mode in MODES
    if not (mode == "reflect" and case.id == "2d-padding-at-the-limit")  # reflect needs < n: below
]


def _results(module: Any, case: Case, mode: str) -> dict[str, np.ndarray]:
    x, w, b, dy = case.arrays()
    kw = dict(case.keywords, padding_mode=mode)
    dx, dw, db = module.conv_vjp(x, w, dy, **kw)
    return {"y": module.conv(x, w, b, **kw), "dx": dx, "dw": dw, "db": db}


def _assert_match(case: Case, mode: str, got: dict[str, np.ndarray], want: dict[str, Any]) -> None:
    x, w, b, dy = case.arrays()
    for name, bound in conv_error_bounds(x, w, dy, params(case), b, padding_mode=mode).items():
        expected = np.asarray(want[name])
        assert got[name].shape == expected.shape, name
        assert float(np.max(np.abs(got[name] - expected), initial=0.0)) <= bound, name


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_padding_modes_match_naive(case: Case, mode: str) -> None:
    _assert_match(case, mode, _results(refconv, case, mode), _results(naive, case, mode))


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_padding_modes_match_oracle(case: Case, mode: str, oracle: str) -> None:
    pytest.importorskip(oracle)
    x, w, b, dy = case.arrays()
    try:
        want = ORACLES[oracle](x, w, b, dy, params(case), padding_mode=mode)
    except Unsupported as reason:
        pytest.skip(f"{oracle}: {reason}")
    _assert_match(case, mode, _results(refconv, case, mode), want)


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_adjoint_identity_holds_with_padding_modes(case: Case, mode: str) -> None:
    x, w, _, dy = case.arrays()
    kw = dict(case.keywords, padding_mode=mode)
    dx, dw, _ = refconv.conv_vjp(x, w, dy, **kw)
    forward = float(np.sum(refconv.conv(x, w, **kw) * dy))
    terms = dy.size * w.shape[1] * math.prod(w.shape[2:])
    bound = dot_error_bound(terms, 6.0**3)  # standard normals: every factor below 6
    assert abs(forward - float(np.sum(x * dx))) <= bound
    assert abs(forward - float(np.sum(w * dw))) <= bound


@pytest.mark.parametrize("mode", MODES)
def test_fold_is_the_adjoint_of_the_pad(mode: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 4))
    padding = ((3, 2), (0, 3))
    padded = pad_with_mode(x, padding, mode)
    g = rng.standard_normal(padded.shape)
    assert padded.shape == (2, 3, 10, 7)
    assert abs(
        np.sum(padded * g) - np.sum(x * pad_with_mode_vjp(g, x.shape, padding, mode))
    ) <= dot_error_bound(g.size, 36.0)


def test_modes_copy_the_right_elements() -> None:
    x = np.arange(1.0, 5.0).reshape(1, 1, 4)
    w = np.array([[[1.0]]])
    expected = {
        "reflect": [3, 2, 1, 2, 3, 4, 3, 2],
        "replicate": [1, 1, 1, 2, 3, 4, 4, 4],
        "circular": [3, 4, 1, 2, 3, 4, 1, 2],
    }
    for mode, values in expected.items():
        np.testing.assert_array_equal(refconv.conv(x, w, padding=[(2, 2)], padding_mode=mode)[0, 0], values)
        np.testing.assert_array_equal(naive.conv(x, w, padding=[(2, 2)], padding_mode=mode)[0, 0], values)


MISUSES = [
    (
        dict(padding_mode="mirror"),
        "padding_mode='mirror' is not one of ('zeros', 'reflect', 'replicate', 'circular')",
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
