"""SciPy's correlations: signal.correlate and convolve (modes valid, full, same), ndimage.correlate (its
boundary modes as refconv's padding modes, its origin as the padding); every case they can say agrees."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import refconv
from refconv import backends, conform, padding_modes
from refconv.backends import Unsupported
from refconv.backends.scipy_backend import signal_mode
from refconv.cases import Case, case
from tests.backend_helpers import assert_writes_a_program_or_says_why, source

NAMES = ["scipy-correlate", "scipy-convolve", "scipy-ndimage"]
needs_scipy = pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="scipy is not installed")


@pytest.mark.parametrize("name", NAMES)
def test_each_writes_a_program_for_every_curated_case_or_says_why(name: str) -> None:
    assert_writes_a_program_or_says_why(name, most=False)  # no stride or dilation: it says so


@pytest.mark.parametrize(
    ("kernel", "padding", "mode"),
    [((3, 2), ((0, 0), (0, 0)), "valid"), ((3, 2), ((2, 2), (1, 1)), "full"),
     ((3, 4), ((1, 1), (2, 1)), "same"), ((4,), ((2, 1),), "same")],
)  # fmt: skip
def test_signals_same_puts_an_even_kernels_extra_row_first(
    kernel: tuple[int, ...], padding: tuple[tuple[int, int], ...], mode: str
) -> None:
    s = refconv.spec((1, 1, *(6,) * len(kernel)), (1, 1, *kernel), padding=padding)
    assert signal_mode(s) == mode
    with pytest.raises(Unsupported, match="only as 'valid', 'full' or 'same'"):
        signal_mode(refconv.spec((1, 1, 6), (1, 1, 4), padding=((1, 2),)))  # refconv's "same": last


def test_ndimage_takes_the_padding_as_its_origin_and_the_mode_by_its_name() -> None:
    text = source(
        "scipy-ndimage", (1, 2, 6, 5), (3, 2, 4, 3), padding=((3, 0), (0, 2)), padding_mode="symmetric"
    )
    assert "mode='reflect'" in text  # ndimage's reflect is refconv's symmetric
    assert "origin=[1, -1]" in text  # lo - k // 2
    assert "w = np.conj(w)" in text
    assert "np.conj" not in source("scipy-convolve", (1, 2, 6), (3, 2, 3))
    with pytest.raises(Unsupported, match=r"lo \+ hi = k - 1"):
        source("scipy-ndimage", (1, 2, 6), (3, 2, 3), padding=2)
    with pytest.raises(Unsupported, match="no stride"):
        source("scipy-correlate", (1, 2, 6), (3, 2, 3), stride=2)
    assert set(padding_modes.FRAMEWORK_NAMES["ndimage"]) == set(padding_modes.PADDING_MODES)


def _cases() -> list[Case]:
    """The curated suite, the pairs and the enumeration in float64 and complex128: SciPy says few of them
    (no stride, no dilation), and those few cover its modes, layouts, groups and the conjugation."""
    settings = conform.Settings(dtypes=("float64", "complex128"))
    return [c for p in ("curated", "pairs", "enumeration") for c in conform.phase_cases(p, settings)]


@needs_scipy
@pytest.mark.parametrize("name", NAMES)
def test_each_agrees_with_refconv_on_every_case_it_can_say(name: str) -> None:
    with conform.Judge(backends.get(name), isolate=False) as judge:
        outcomes = [judge.judge(c) for c in _cases()]
    limits = [o for o in outcomes if o.verdict == "raised" and "at least as large as the other" in o.headline]
    wrong = [o for o in outcomes if o.failed and o not in limits]
    assert not wrong, [(o.case, o.headline) for o in wrong]
    agree = [o for o in outcomes if o.verdict == "agree"]
    assert len(agree) >= 70
    assert {o.case.spec.dtype.name for o in agree} == {"float64", "complex128"}
    if name == "scipy-ndimage":
        assert {o.case.spec.padding_mode for o in agree} == set(padding_modes.PADDING_MODES)


@needs_scipy
def test_a_kernel_longer_than_the_input_in_every_dim_is_swapped_by_scipy_signal() -> None:
    # refconv (the definition): no window fits, an empty output; scipy.signal's 'valid' swaps its inputs
    longer = case("zero_sizes", (1, 1, 3, 2), (1, 1, 5, 4))
    with conform.Judge(backends.get("scipy-correlate"), isolate=False) as judge:
        outcome = judge.judge(longer)
    assert outcome.verdict == "shape"
    assert outcome.headline == "y: shape (1, 1, 3, 3) != expected (1, 1, 0, 0)"
    assert np.array_equal(refconv.conv(np.ones((1, 1, 3, 2)), np.ones((1, 1, 5, 4))), np.zeros((1, 1, 0, 0)))
