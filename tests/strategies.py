"""The test suite's own hypothesis strategies of valid configurations (independent of refconv.testing's,
which is part of what they test)."""

from __future__ import annotations

from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

import refconv
from tests.cases import Case, grid_case

__all__ = ["configurations", "transpose_configurations"]


@st.composite
def configurations(draw: st.DrawFn, max_ndim: int = 3, torch_only: bool = False, min_ndim: int = 1) -> Case:
    """A valid configuration; ``torch_only`` draws none of what torch lacks (input dilation, batch groups)."""
    ndim = draw(st.integers(min_ndim, max_ndim))
    kind = draw(st.sampled_from(["none", "groups"] if torch_only else ["none", "groups", "batch_groups"]))
    count = 1 if kind == "none" else draw(st.integers(2, 3))
    groups, batch_groups = (
        (count, 1) if kind == "groups" else (1, count) if kind == "batch_groups" else (1, 1)
    )
    batch = batch_groups * draw(st.integers(0 if ndim < 3 else 1, 3))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * batch_groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 7 if ndim < 3 else 4)) for _ in range(ndim))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    per_dim = st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim).map(tuple)
    keywords: dict[str, Any] = dict(
        stride=draw(per_dim),
        dilation=draw(st.lists(st.integers(1, 2), min_size=ndim, max_size=ndim).map(tuple)),
        input_dilation=draw(
            st.lists(st.integers(1, 1 if torch_only else 2), min_size=ndim, max_size=ndim).map(tuple)
        ),
        padding=tuple(draw(st.tuples(st.integers(-2, 3), st.integers(-2, 3))) for _ in range(ndim)),
        groups=groups,
        batch_groups=batch_groups,
    )
    if all(d == 1 for d in keywords["input_dilation"]):
        padding_kind = draw(st.sampled_from(["pairs", "word", "mode"]))
        if padding_kind == "word":
            keywords["padding"] = draw(st.sampled_from(["valid", "same", "same_lower", "SAME"]))
        elif padding_kind == "mode":
            modes = [
                "reflect",
                "replicate",
                "circular",
                *([] if torch_only else ["symmetric"]),
            ]  # torch's, or all
            mode = draw(st.sampled_from(modes))
            keywords["padding_mode"] = mode
            for_dim = [
                st.integers(0, min(3, {"reflect": n - 1, "circular": n, "symmetric": n}.get(mode, 3)))
                for n in spatial
            ]
            keywords["padding"] = tuple(draw(st.tuples(pad, pad)) for pad in for_dim)
    x_shape, w_shape = (batch, c_in, *spatial), (c_out, c_in // groups, *kernel)
    try:
        s = refconv.spec(x_shape, w_shape, **keywords)
    except ValueError:
        assume(False)  # the padding crops more than the input has: tested in test_bad_input
    assume(0 not in s.y_shape[2:])  # the kernel does not fit: tests/test_zero_sizes.py
    return grid_case("hypothesis", x_shape, w_shape, keywords, bias=draw(st.booleans()))


@st.composite
def transpose_configurations(draw: st.DrawFn, max_ndim: int = 3) -> Case:
    """A valid transposed convolution: every parameter, output_padding up to max(stride, dilation) - 1."""
    ndim = draw(st.integers(1, max_ndim))
    groups = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    x_shape = (draw(st.integers(1, 3)), groups * draw(st.integers(1, 3)), *spatial)
    w_shape = (x_shape[1], draw(st.integers(1, 3)), *(draw(st.integers(1, 3)) for _ in range(ndim)))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True))
    padding = tuple(draw(st.tuples(st.integers(-1, 2), st.integers(-1, 2))) for _ in range(ndim))
    keywords: dict[str, Any] = dict(
        stride=stride, dilation=dilation, output_padding=output_padding, padding=padding, groups=groups
    )
    try:
        s = refconv.spec(x_shape, w_shape, transposed=True, **keywords)
    except ValueError:
        assume(False)  # the padding crops more than the output has: tested in test_transpose
    assume(0 not in s.y_shape[2:])  # an empty output: tests/test_zero_sizes.py
    return grid_case("hypothesis", x_shape, w_shape, keywords, bias=draw(st.booleans()), transposed=True)
