"""The geometry formulas against brute force, over every small 1-d configuration.

m is counted by refconv.naive's window walk, the padded length by building
the padded array, and the VJP parameters must give back the forward sizes
(the input VJP an n-long result, the weight VJP a k-long one).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from refconv import geometry
from refconv._ops import dilate_and_pad
from refconv.geometry import ConvParams
from refconv.naive._loops import _taps_1d, _windows_1d

RANGE = dict(
    n=range(1, 7),
    k=range(1, 4),
    s=range(1, 4),
    d=range(1, 3),
    D=range(1, 3),
    lo=range(-3, 4),
    hi=range(-3, 4),
)


def _configs() -> list[tuple[int, ...]]:
    configs: list[tuple[int, ...]] = []
    for n, k, s, d, D, lo, hi in itertools.product(*RANGE.values()):
        if D * (n - 1) + 1 + lo + hi >= d * (k - 1) + 1:  # the kernel fits: checked by _normalize
            configs.append((n, k, s, d, D, lo, hi))
    return configs


CONFIGS = _configs()


def _params(s: int, d: int, dil: int, lo: int, hi: int) -> ConvParams:
    return ConvParams(stride=(s,), padding=((lo, hi),), dilation=(d,), input_dilation=(dil,))


def test_grid_is_large_and_covers_remainders() -> None:
    remainders = {
        geometry.remainder((n,), (k,), _params(s, d, dl, lo, hi))[0] for n, k, s, d, dl, lo, hi in CONFIGS
    }
    assert len(CONFIGS) > 5000
    assert remainders == {0, 1, 2}


@pytest.mark.parametrize("chunk", range(8))
def test_output_size_and_remainder_match_brute_force(chunk: int) -> None:
    for n, k, s, d, dil, lo, hi in CONFIGS[chunk::8]:
        p = _params(s, d, dil, lo, hi)
        (m,) = geometry.output_spatial_shape((n,), (k,), p)
        counted, _ = _taps_1d(n, k, s, d, dil, lo, hi, "zeros")
        assert m == counted == _windows_1d(n, k, s, d, dil, lo, hi), (n, k, s, d, dil, lo, hi)
        padded_length = dilate_and_pad(np.zeros((1, 1, n)), (dil,), ((lo, hi),)).shape[-1]
        last_read = s * (m - 1) + d * (k - 1)
        assert geometry.remainder((n,), (k,), p) == (padded_length - 1 - last_read,)


@pytest.mark.parametrize("chunk", range(8))
def test_vjp_params_give_back_the_forward_sizes(chunk: int) -> None:
    for n, k, s, d, dil, lo, hi in CONFIGS[chunk::8]:
        p = _params(s, d, dil, lo, hi)
        m = geometry.output_spatial_shape((n,), (k,), p)
        q = geometry.input_vjp_params((n,), (k,), p)
        assert geometry.output_spatial_shape(m, (k,), q) == (n,), (n, k, s, d, dil, lo, hi)
        q = geometry.weight_vjp_params((n,), (k,), p)
        assert geometry.output_spatial_shape((n,), m, q) == (k,), (n, k, s, d, dil, lo, hi)


def test_vjp_params_swap_strides_dilations_and_groups() -> None:
    p = ConvParams(stride=(3,), padding=((1, 2),), dilation=(2,), input_dilation=(4,), groups=5)
    q = geometry.input_vjp_params((9,), (3,), p)
    assert (q.stride, q.input_dilation, q.dilation, q.groups, q.batch_groups) == ((4,), (3,), (2,), 5, 1)
    q = geometry.weight_vjp_params((9,), (3,), p)
    assert (q.stride, q.input_dilation, q.dilation, q.groups, q.batch_groups) == ((2,), (4,), (3,), 1, 5)


def _phase_triples(n: int, k: int, p: ConvParams) -> set[tuple[int, int, int]]:
    """``(j, t, i)`` for every product the phases of an input-dilated convolution form with a real input."""
    triples = set()
    for phase in geometry.input_dilation_phases((n,), (k,), p):
        q = phase.params
        (m_sub,) = geometry.output_spatial_shape((n,), (len(range(k)[phase.taps[0]]),), q)
        (lo, _), s, d = q.padding[0], q.stride[0], q.dilation[0]
        outputs, taps = range(10**6)[phase.outputs[0]], range(k)[phase.taps[0]]
        for jj in range(m_sub):
            for u, t in enumerate(taps):
                i = s * jj + d * u - lo
                if 0 <= i < n:
                    triples.add((outputs[jj], t, i))
    return triples


@pytest.mark.parametrize("chunk", range(4))
def test_input_dilation_phases_form_exactly_the_products_with_real_inputs(chunk: int) -> None:
    """Over every small input-dilated 1-d configuration: each product with an input, once, and no other."""
    dilated = [c for c in CONFIGS if c[4] > 1]
    assert len(dilated) > 1000
    for n, k, s, d, dil, lo, hi in dilated[chunk::4]:
        p = _params(s, d, dil, lo, hi)
        _, walked = _taps_1d(n, k, s, d, dil, lo, hi, "zeros")
        assert _phase_triples(n, k, p) == set(walked), (n, k, s, d, dil, lo, hi)


@pytest.mark.parametrize("chunk", range(4))
def test_tap_reads_and_window_reads_are_the_definitions_index(chunk: int) -> None:
    """Output j reads padded position s*j + d*t with tap t: the fast path's slices, one tap or one output.

    Against the index written out per (j, t) pair, on every grid configuration.
    """
    for n, k, s, d, dil, lo, hi in CONFIGS[chunk::4]:
        p = _params(s, d, dil, lo, hi)
        (m,) = geometry.output_spatial_shape((n,), (k,), p)
        positions = np.arange(geometry.padded_shape((n,), p)[0])
        for t in range(k):
            assert positions[geometry.tap_reads((t,), (m,), p)].tolist() == [s * j + d * t for j in range(m)]
        for j in range(m):
            assert positions[geometry.window_reads((j,), (k,), p)].tolist() == [
                s * j + d * t for t in range(k)
            ]


def test_dilated_size_is_the_length_of_the_dilated_axis() -> None:
    """D - 1 zeros between neighbours: an empty axis stays empty, one element stays one."""
    for n, dil in itertools.product(range(0, 6), range(1, 4)):
        built: list[float] = []
        for i in range(n):
            built += [0.0] * (dil - 1) * (i > 0) + [1.0]
        assert geometry.dilated_size(n, dil) == len(built), (n, dil)


def test_placement_selects_exactly_the_elements_that_land_and_where() -> None:
    """Element i lands at D*i + lo of the padded axis, if that is inside it: the source slice selects
    exactly those elements, the destination slice exactly their positions, in order; both are empty
    when none lands (elements cropped away entirely, in every direction, included)."""
    checked_empty = 0
    for n, dil, lo, hi in itertools.product(range(0, 6), range(1, 4), range(-9, 4), range(-9, 4)):
        padded = geometry.padded_size(n, dil, lo, hi)
        if padded < 0:
            continue
        landing = [(i, dil * i + lo) for i in range(n) if 0 <= dil * i + lo < padded]
        src, dst = geometry.placement(n, dil, lo, hi)
        assert list(range(n))[src] == [i for i, _ in landing], (n, dil, lo, hi)
        assert list(range(padded))[dst] == [at for _, at in landing], (n, dil, lo, hi)
        checked_empty += n > 0 and not landing
    assert checked_empty > 50


# Every per-dimension argument has one entry per spatial dim; each formula zips them strictly, so a
# caller of refconv.geometry who passes one of another length gets a ValueError, never a result
# silently cut to the shortest (refconv.spec validates its own calls; these functions are public).
SLOTS: dict[str, Any] = dict(
    x=(7, 6), w=(3, 2), tap=(1, 0), position=(1, 1), out=(3, 3), stride=(2, 1), padding=((1, 0), (0, 1)),
    dilation=(1, 2), input_dilation=(2, 1), output_padding=(1, 0),
)  # fmt: skip
CONV = ("stride", "padding", "dilation", "input_dilation")
TRANSPOSE = ("stride", "padding", "output_padding", "dilation")


def _conv(a: dict[str, Any]) -> ConvParams:
    return ConvParams(*(a[name] for name in CONV))


def _transpose(a: dict[str, Any]) -> geometry.TransposeParams:
    return geometry.TransposeParams(*(a[name] for name in TRANSPOSE))


#: The input's own per-dim values, lengthened together, reach a zip with the kernel's (x, k_hat).
INPUT_SIDE = ("x", "padding", "input_dilation")
PER_DIM_CALLS: dict[str, tuple[Any, tuple[str | tuple[str, ...], ...]]] = {
    "dilated_shape": (lambda a: geometry.dilated_shape(a["x"], a["dilation"]), ("x", "dilation")),
    "padded_shape": (lambda a: geometry.padded_shape(a["x"], _conv(a)), ("x", "padding", "input_dilation")),
    "output_spatial_shape": (
        lambda a: geometry.output_spatial_shape(a["x"], a["w"], _conv(a)),
        ("x", "w", *CONV, INPUT_SIDE),
    ),
    "remainder": (lambda a: geometry.remainder(a["x"], a["w"], _conv(a)), ("x", "w", *CONV, INPUT_SIDE)),
    "tap_reads": (
        lambda a: geometry.tap_reads(a["tap"], a["out"], _conv(a)),
        ("tap", "out", "stride", "dilation"),
    ),
    "window_reads": (
        lambda a: geometry.window_reads(a["position"], a["w"], _conv(a)),
        ("position", "w", "stride", "dilation"),
    ),
    "same_padding": (
        lambda a: geometry.same_padding(a["x"], a["w"], _conv(a)),
        ("x", "w", "stride", "dilation"),
    ),
    "input_vjp_padding": (lambda a: geometry.input_vjp_padding(a["x"], a["w"], _conv(a)), ("x", "w", *CONV)),
    "weight_vjp_padding": (
        lambda a: geometry.weight_vjp_padding(a["x"], a["w"], _conv(a)),
        ("x", "w", *CONV),
    ),
    "input_dilation_phases": (
        lambda a: geometry.input_dilation_phases(a["x"], a["w"], _conv(a)),
        ("x", "w", *CONV),
    ),
    "transpose_output_spatial_shape": (
        lambda a: geometry.transpose_output_spatial_shape(a["x"], a["w"], _transpose(a)),
        ("x", "w", *TRANSPOSE),
    ),
    "transpose_same_padding": (
        lambda a: geometry.transpose_same_padding(a["w"], a["stride"], a["dilation"], a["output_padding"]),
        ("w", "stride", "dilation", "output_padding"),
    ),
}


@pytest.mark.parametrize("name", PER_DIM_CALLS)
def test_an_argument_of_another_rank_is_a_value_error_in_every_formula(name: str) -> None:
    call, slots = PER_DIM_CALLS[name]
    call(SLOTS)  # the 2-d problem itself is fine
    for slot in slots:
        together = (slot,) if isinstance(slot, str) else slot
        longer = {**SLOTS, **{key: (*SLOTS[key], SLOTS[key][-1]) for key in together}}
        with pytest.raises(ValueError, match="zip"):
            call(longer)
