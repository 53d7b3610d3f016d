"""padding="valid" / "same" / "same_lower" against the frameworks' own padding words.

jax resolves "SAME" / "SAME_LOWER" / "VALID" at any stride; torch accepts
"same" at stride 1 only (it raises otherwise), and "valid" at any stride.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import refconv
from tests.cases import Case, grid_case
from tests.helpers import assert_close, bounds

WORDS = ["valid", "same", "same_lower"]
CONFIGS = [  # x, w, stride, dilation: even and odd kernels, strides that do and do not divide n
    ((2, 3, 7, 8), (4, 3, 3, 2), (1, 1), (1, 1)),
    ((2, 3, 7, 8), (4, 3, 3, 2), (2, 3), (1, 2)),
    ((3, 2, 9), (5, 2, 4), (3,), (2,)),
    ((2, 3, 5, 6, 4), (4, 3, 2, 3, 2), (2, 1, 3), (1, 1, 2)),
]


def _case(word: str, config: tuple) -> Case:  # type: ignore[type-arg]
    x_shape, w_shape, stride, dilation = config
    return grid_case(
        f"{word}", x_shape, w_shape, dict(stride=stride, dilation=dilation, padding=word), bias=False
    )


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"x{c[0]}-s{c[2]}-d{c[3]}")
def test_same_gives_ceil_n_over_s_and_valid_no_padding(word: str, config: tuple) -> None:  # type: ignore[type-arg]
    case = _case(word, config)
    shape = refconv.conv_output_shape(
        case.spec.given_shape("x"), case.spec.given_shape("w"), **case.spec.options()
    )
    stride, dilation = config[2], config[3]
    if word == "valid":
        expected = refconv.conv_output_shape(
            case.spec.given_shape("x"), case.spec.given_shape("w"), stride=stride, dilation=dilation
        )
    else:
        expected = (
            *shape[:2],
            *(math.ceil(n / s) for n, s in zip(case.spec.given_shape("x")[2:], stride, strict=True)),
        )
    assert shape == expected


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"x{c[0]}-s{c[2]}-d{c[3]}")
def test_padding_words_match_jax(word: str, config: tuple) -> None:  # type: ignore[type-arg]
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    case = _case(word, config)
    x, w, _, dy = case.arrays()

    def forward(x: Any, w: Any) -> Any:
        return lax.conv_general_dilated(
            x, w, case.spec.stride, word.upper(), rhs_dilation=case.spec.dilation,
            precision=lax.Precision.HIGHEST,
        )  # fmt: skip

    y, pullback = jax.vjp(forward, x, w)
    dx, dw = pullback(dy)
    _check(case, {"y": y, "dx": dx, "dw": dw})


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize("word", ["valid", "same"])
@pytest.mark.parametrize("config", CONFIGS[:3], ids=lambda c: f"x{c[0]}-s{c[2]}-d{c[3]}")
def test_padding_words_match_torch(word: str, config: tuple) -> None:  # type: ignore[type-arg]
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    case = _case(word, config)
    if word == "same" and any(s != 1 for s in case.spec.stride):
        with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
            F.conv1d(torch.ones(1, 1, 5), torch.ones(1, 1, 2), stride=2, padding="same")
        pytest.skip("torch supports padding='same' at stride 1 only; jax covers the strided case")
    x, w, _, dy = case.arrays()
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    convolve = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.ndim - 2]
    y = convolve(xt, wt, stride=case.spec.stride, dilation=case.spec.dilation, padding=word)
    y.backward(torch.tensor(dy))
    _check(case, {"y": y.detach().numpy(), "dx": xt.grad.numpy(), "dw": wt.grad.numpy()})


def _check(case: Case, want: dict[str, object]) -> None:
    """refconv's y, dx and dw of the case (without bias) against a framework's, within round-off."""
    x, w, _, dy = case.arrays()
    got_dx, got_dw, _ = refconv.conv_vjp(x, w, dy, **case.spec.options())
    got = {"y": refconv.conv(x, w, **case.spec.options()), "dx": got_dx, "dw": got_dw}
    limits = bounds(case)
    for name, expected in want.items():
        assert_close(case.feature, name, got[name], np.asarray(expected), limits[name])


TRANSPOSED_CONFIGS = [  # x, w, stride, dilation: kernels longer, as long as and shorter than the stride
    ((2, 3, 4, 5), (3, 2, 3, 2), (2, 3), (1, 2)),
    ((3, 2, 5), (2, 4, 2), (2,), (1,)),
    ((2, 3, 3, 4), (3, 2, 1, 2), (3, 4), (1, 1)),
    ((2, 2, 3, 2, 3), (2, 3, 2, 3, 2), (2, 1, 3), (2, 1, 1)),
]


@pytest.mark.parametrize("config", TRANSPOSED_CONFIGS, ids=lambda c: f"x{c[0]}-s{c[2]}-d{c[3]}")
def test_transposed_same_matches_jax(config: tuple) -> None:  # type: ignore[type-arg]
    """refconv's transposed "same" against lax.conv_transpose(padding="SAME"), y and both VJPs.

    JAX's words for the transposed convolution are its own (its "VALID" adds s - k_hat rows when
    the kernel is shorter than the stride, as Keras's does), but its "SAME" is ONNX's, the split
    refconv's "same" follows: an n * s output, the odd pixel at the end, a negative total at the end.
    """
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    x_shape, w_shape, stride, dilation = config
    case = grid_case(
        "same", x_shape, w_shape, dict(stride=stride, dilation=dilation, padding="same"), False, True
    )
    x, w, _, dy = case.arrays()
    letters = "DHW"[3 - len(stride) :]
    numbers = (f"NC{letters}", f"OI{letters}", f"NC{letters}")

    # w is the (O, I, *k) of the convolution transposed: refconv's (C_in, C_out, *k)
    def forward(x: Any, w: Any) -> Any:
        return lax.conv_transpose(x, w, stride, "SAME", rhs_dilation=dilation, dimension_numbers=numbers,
                                  transpose_kernel=True, precision=lax.Precision.HIGHEST)  # fmt: skip

    y, pullback = jax.vjp(forward, x, w)
    dx, dw = pullback(dy)
    got_dx, got_dw, _ = refconv.conv_transpose_vjp(x, w, dy, **case.spec.options())
    limits = bounds(case)
    assert y.shape == (x_shape[0], w_shape[1], *(n * s for n, s in zip(x_shape[2:], stride, strict=True)))
    assert_close(
        case.feature, "y", refconv.conv_transpose(x, w, **case.spec.options()), np.asarray(y), limits["y"]
    )
    assert_close(case.feature, "dx", got_dx, np.asarray(dx), limits["dx"])
    assert_close(case.feature, "dw", got_dw, np.asarray(dw), limits["dw"])


def _tf_same_pairs(config: tuple, lower: bool) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    """TensorFlow's documented "SAME" padding (``pad_top = pad_along_height // 2``), or its mirror image."""
    x_shape, w_shape, stride, dilation = config
    pairs = []
    for n, k, s, d in zip(x_shape[2:], w_shape[2:], stride, dilation, strict=True):
        total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pairs.append((total - total // 2, total // 2) if lower else (total // 2, total - total // 2))
    return pairs


ODD_TOTALS = [c for c in CONFIGS if any(sum(pair) % 2 for pair in _tf_same_pairs(c, False))]


def test_some_configs_have_an_odd_total() -> None:
    assert len(ODD_TOTALS) >= 2


@pytest.mark.parametrize("lower", [False, True], ids=["same", "same_lower"])
@pytest.mark.parametrize("config", ODD_TOTALS, ids=lambda c: f"x{c[0]}-s{c[2]}-d{c[3]}")
def test_an_odd_total_puts_the_extra_pixel_at_the_end_for_same(lower: bool, config: tuple) -> None:  # type: ignore[type-arg]
    """TF's documented split, against refconv.naive with those pairs: no framework needed.

    For "same_lower" the extra pixel goes first (JAX's and ONNX's SAME_LOWER).
    """
    stride, dilation = config[2], config[3]
    pairs = _tf_same_pairs(config, lower)
    case = _case("same_lower" if lower else "same", config)
    x, w, _, _ = case.arrays()
    want = refconv.naive.conv(x, w, stride=stride, dilation=dilation, padding=pairs)
    assert_close(case.feature, "y", refconv.conv(x, w, **case.spec.options()), want, bounds(case)["y"])
