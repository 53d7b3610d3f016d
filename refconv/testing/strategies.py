"""The search as a hypothesis strategy: :func:`~refconv.testing.conv_configs` draws valid cases.

Every parameter goes out to its edges (remainders ``r > 0``, kernels smaller than the stride or
as large as the padded input, outputs that read only padding, an empty batch), and every choice
shrinks toward the simplest problem, so that a failure shrinks to a minimal one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from numpy.typing import DTypeLike

from refconv._spec import spec
from refconv.cases import Case

#: What :func:`refconv.testing.conv_configs` may vary; every other parameter keeps its default.
FEATURES = (
    "stride", "dilation", "input_dilation", "padding", "negative_padding", "padding_words", "groups",
    "depthwise", "batch_groups", "bias", "layouts", "padding_modes", "transposed", "output_padding",
    "output_shape", "empty_batch",
)  # fmt: skip


def conv_configs(
    *,
    ranks: Sequence[int] = (1, 2, 3),
    dtypes: Sequence[DTypeLike] = ("float64",),
    features: Sequence[str] = FEATURES,
    max_size: int = 7,
) -> Any:
    """A hypothesis strategy of valid :class:`~refconv.cases.Case` s: every parameter out to its edges.

    Draws convolutions (and, with the ``"transposed"`` feature, transposed
    ones) of the given spatial ``ranks`` and ``dtypes``, varying only the
    ``features`` named (:data:`refconv.testing.FEATURES`), with spatial sizes up to
    ``max_size``. The draws reach the edges a careful implementation must
    handle: remainders ``r > 0``, kernels smaller than the stride, kernels as
    large as the padded input, outputs that read only padding, an empty batch.
    Every choice shrinks toward the simplest problem (one spatial dim, one
    channel, stride 1, no padding), so a failure shrinks to a minimal one.

    Examples
    --------
    >>> import refconv
    >>> from hypothesis import given, settings
    >>> from refconv.testing import assert_conv_close, conv_configs
    >>> def my_conv(x, w, b, transposed, **options):  # your convolution here
    ...     return (refconv.conv_transpose if transposed else refconv.conv)(x, w, b, **options)
    >>> @settings(max_examples=20, deadline=None)
    ... @given(conv_configs(ranks=[1, 2], features=["stride", "padding", "groups", "transposed"]))
    ... def test_my_conv(case):
    ...     x, w, b, _ = case.arrays()
    ...     y = my_conv(x, w, b, case.spec.transposed, **case.spec.options())
    ...     assert_conv_close(y, x, w, b, spec=case.spec)  # the spec carries transposed too
    >>> test_my_conv()
    """
    from hypothesis import strategies as st

    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise ValueError(f"features={unknown} are not among {FEATURES}")
    on = set(features)

    @st.composite
    def draw(draw: Any) -> Case:
        transposed = "transposed" in on and draw(st.booleans())
        ndim = draw(st.sampled_from(sorted(ranks)))
        dtype = draw(st.sampled_from(list(dtypes)))
        keywords = (_draw_transposed if transposed else _draw_conv)(draw, st, on, ndim, max_size)
        if keywords is None:
            from hypothesis import assume

            assume(False)
        x_shape, w_shape, options = keywords
        try:
            s = spec(x_shape, w_shape, transposed=transposed, dtype=dtype, **options)
        except ValueError:
            s = None
        if s is None or 0 in s.y_shape[2:]:  # no spatial output (a kernel longer than the padded input):
            from hypothesis import assume  # the suite's zero-size cases have those

            assume(False)
            raise AssertionError("unreachable")
        bias = "bias" in on and draw(st.booleans())
        return Case(s, bias, draw(st.integers(0, 2**16)))

    return draw()


def _batch(st: Any, on: set[str]) -> Any:
    """A batch size of 1 to 3, and with the empty_batch feature 0 one time in ten (shrinking toward 1)."""
    return st.sampled_from([1, 2, 3] * 3 + ([0] if "empty_batch" in on else []))


def _draw_conv(draw: Any, st: Any, on: set[str], ndim: int, max_size: int) -> Any:
    kind = draw(st.sampled_from(["plain", *(["groups"] if "groups" in on else []),
                                 *(["batch_groups"] if "batch_groups" in on else [])]))  # fmt: skip
    count = 1 if kind == "plain" else draw(st.integers(2, 3))
    groups, batch_groups = (
        (count, 1) if kind == "groups" else (1, count) if kind == "batch_groups" else (1, 1)
    )
    per_group_in = (
        1 if "depthwise" in on and kind == "groups" and draw(st.booleans()) else draw(st.integers(1, 3))
    )
    batch = batch_groups * draw(_batch(st, on))
    c_in, c_out = groups * per_group_in, groups * batch_groups * draw(st.integers(1, 3))
    options: dict[str, Any] = {"groups": groups, "batch_groups": batch_groups}
    style = draw(st.sampled_from(["pairs", *(["word"] if "padding_words" in on else []),
                                  *(["mode"] if "padding_modes" in on else [])]))  # fmt: skip

    def per_dim(name: str, high: int) -> tuple[int, ...]:
        return tuple(draw(st.integers(1, high)) for _ in range(ndim)) if name in on else (1,) * ndim

    stride, dilation = per_dim("stride", 4), per_dim("dilation", 3)
    input_dilation = per_dim("input_dilation", 3) if style == "pairs" else (1,) * ndim  # words, modes: none
    low = -2 if "negative_padding" in on else 0
    padding = tuple(
        (draw(st.integers(low, 3)), draw(st.integers(low, 3))) if "padding" in on else (0, 0)
        for _ in range(ndim)
    )
    spatial = tuple(draw(st.integers(1, max_size)) for _ in range(ndim))
    kernel = []
    for n, d_in, d_k, (lo, hi) in zip(spatial, input_dilation, dilation, padding, strict=True):
        padded = d_in * (n - 1) + 1 + lo + hi
        if padded < 1:
            return None
        fits = (padded - 1) // d_k + 1  # the largest kernel whose dilated size fits: the padded input's size
        kernel.append(draw(st.one_of(st.integers(1, min(fits, 4)), st.just(fits))))
    options.update(stride=stride, dilation=dilation, input_dilation=input_dilation, padding=padding)
    if style == "word":
        options["padding"] = draw(st.sampled_from(["same", "valid", "same_lower"]))
    elif style == "mode":
        options["padding_mode"] = mode = draw(
            st.sampled_from(["reflect", "replicate", "circular", "symmetric"])
        )
        limit = {"reflect": -1, "circular": 0, "symmetric": 0}.get(mode, 3)
        options["padding"] = tuple((max(0, min(lo, n + limit)), max(0, min(hi, n + limit)))
                                   for (lo, hi), n in zip(padding, spatial, strict=True))  # fmt: skip
    x_shape, w_shape = (batch, c_in, *spatial), (c_out, c_in // groups, *kernel)
    if "layouts" in on and ndim <= 3 and draw(st.booleans()):
        letters = "WHD"[:ndim][::-1]
        options["dimension_numbers"] = (f"N{letters}C", f"{letters}IO", f"N{letters}C")
        x_shape = (batch, *spatial, c_in)
        w_shape = (*kernel, c_in // groups, c_out)
    return x_shape, w_shape, options


def _draw_transposed(draw: Any, st: Any, on: set[str], ndim: int, max_size: int) -> Any:
    groups = draw(st.integers(1, 3)) if "groups" in on else 1
    batch = draw(_batch(st, on))
    x_shape = (
        batch,
        groups * draw(st.integers(1, 3)),
        *(draw(st.integers(1, max_size)) for _ in range(ndim)),
    )
    w_shape = (x_shape[1], draw(st.integers(1, 3)), *(draw(st.integers(1, 4)) for _ in range(ndim)))
    stride = tuple(draw(st.integers(1, 4)) if "stride" in on else 1 for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 3)) if "dilation" in on else 1 for _ in range(ndim))
    low = -1 if "negative_padding" in on else 0
    padding = tuple(
        (draw(st.integers(low, 2)), draw(st.integers(low, 2))) if "padding" in on else (0, 0)
        for _ in range(ndim)
    )
    output_padding = tuple(
        draw(st.integers(0, max(s, d) - 1)) if "output_padding" in on else 0
        for s, d in zip(stride, dilation, strict=True)
    )
    options: dict[str, Any] = dict(stride=stride, dilation=dilation, padding=padding, groups=groups)
    if "padding_words" in on and draw(st.booleans()):  # ONNX's auto_pad: an output n * stride long
        options["padding"] = draw(st.sampled_from(["same", "valid", "same_lower"]))
        options["output_padding"] = output_padding
        return x_shape, w_shape, options
    if "output_shape" in on and draw(st.booleans()):
        try:
            base = spec(x_shape, w_shape, transposed=True, **options)
        except ValueError:
            return None  # the padding crops more than the output has
        options["output_shape"] = tuple(n + o for n, o in zip(base.y_shape[2:], output_padding, strict=True))
    else:
        options["output_padding"] = output_padding
    return x_shape, w_shape, options
