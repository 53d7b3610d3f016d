"""The curated suite: one group of small cases per feature, each feature alone where it can be.

Every case has N, C, H, W and kernel sizes that differ from one another, and ``r > 0`` somewhere:
a grid of square, single-channel cases hides index mix-ups. :func:`refconv.conform.curated` gives the suite in
the dtypes a run asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from refconv.cases import Case, case

__all__ = ["CURATED", "curated"]

_SUITE = [
    case("basic", (2, 3, 7, 6), (4, 3, 3, 2)),
    case("basic", (3, 2, 9), (4, 2, 3)),
    case("basic", (2, 2, 5, 4, 6), (3, 2, 2, 3, 2)),
    case("stride", (3, 4, 11), (5, 4, 3), stride=3),
    case("stride", (2, 3, 9, 8), (4, 3, 3, 2), stride=(2, 3)),
    case("stride", (2, 3, 9, 8), (4, 3, 1, 2), stride=(3, 4)),  # kernels smaller than the stride
    case("dilation", (2, 3, 10, 11), (4, 3, 3, 2), dilation=(2, 3)),
    case("dilation", (2, 3, 10, 11), (4, 3, 3, 2), stride=(2, 1), dilation=(2, 3)),
    case("input_dilation", (2, 3, 5, 6), (4, 3, 3, 2), input_dilation=(2, 3)),
    case("input_dilation", (2, 3, 5, 6), (4, 3, 3, 2), stride=(3, 2), input_dilation=2, padding=1),
    case("padding", (2, 3, 8, 7), (4, 3, 3, 2), padding=1),
    case("padding", (2, 3, 8, 7), (4, 3, 3, 2), stride=(2, 3), padding=((0, 2), (1, 0))),
    case("negative_padding", (2, 3, 9, 10), (4, 3, 3, 3), stride=(1, 2), padding=((-1, 2), (2, -2))),
    case("negative_padding", (2, 3, 6, 5), (4, 3, 2, 2), padding=((-2, 0), (0, -1))),
    case("padding_words", (2, 3, 7, 6), (4, 3, 3, 2), padding="valid", stride=2),
    case("padding_words", (2, 3, 7, 8), (4, 3, 4, 3), padding="same"),
    case("padding_words", (2, 3, 7, 8), (4, 3, 4, 3), padding="same", stride=(2, 3)),
    case("padding_words", (2, 3, 9, 8), (4, 3, 3, 2), padding="same", stride=2, dilation=(2, 1)),
    case("padding_words", (3, 2, 10), (4, 2, 4), padding="same_lower", stride=3),
    case("groups", (2, 6, 8, 7), (9, 2, 3, 2), groups=3),
    case("groups", (2, 4, 7, 6), (6, 2, 3, 3), groups=2, stride=(1, 2), padding=1),
    case("depthwise", (2, 5, 9, 8), (5, 1, 3, 3), groups=5, padding=1),
    case("depthwise", (2, 5, 9, 8), (10, 1, 3, 3), groups=5, stride=2, padding=1),
    case("batch_groups", (6, 3, 7, 8), (4, 3, 3, 2), batch_groups=2, stride=2, padding=1),
    case("layouts", (2, 7, 6, 3), (3, 2, 3, 4), dimension_numbers=("NHWC", "HWIO", "NHWC"), stride=2),
    case("layouts", (3, 9, 4), (3, 4, 5), dimension_numbers=("NWC", "WIO", "NWC"), padding=1),
    case("layouts", (2, 4, 5, 6, 3), (2, 3, 2, 3, 4),
         dimension_numbers=("NDHWC", "DHWIO", "NDHWC"), stride=(1, 2, 1)),
    case("padding_modes", (2, 3, 7, 6), (4, 3, 3, 3), padding=(2, 1), padding_mode="reflect"),
    case("padding_modes", (2, 3, 7, 6), (4, 3, 3, 2), padding=((1, 2), (2, 0)), padding_mode="replicate"),
    case("padding_modes", (2, 3, 7, 6), (4, 3, 3, 2), padding=((1, 2), (2, 0)), padding_mode="circular"),
    case("padding_modes", (2, 3, 7, 6), (4, 3, 3, 2), padding=((2, 1), (0, 3)), padding_mode="symmetric"),
    case("edges", (2, 3, 5, 4), (4, 3, 6, 5), padding=((1, 0), (0, 1))),  # kernel = padded input
    case("edges", (2, 3, 3, 4), (4, 3, 2, 2), padding=((0, 3), (4, 0))),  # outputs read only padding
    case("edges", (0, 3, 7, 6), (4, 3, 3, 2), stride=2),  # empty batch
    case("edges", (0, 4, 5, 6), (4, 1, 3, 3), groups=4),  # empty batch, depthwise kernels
    case("zero_sizes", (2, 3, 0, 5), (4, 3, 2, 2), padding=((1, 1), (0, 0))),  # empty input, read padding
    case("zero_sizes", (2, 3, 4, 5), (4, 3, 6, 2)),  # a kernel longer than the input: an empty output
    case("zero_sizes", (2, 0, 5, 4), (3, 0, 2, 2)),  # no input channels: the bias
    case("zero_sizes", (2, 3, 0), (3, 2, 3), stride=2, transposed=True),  # empty input, transposed
    case("transposed", (2, 3, 5, 6), (3, 4, 3, 3), stride=2, padding=1, output_padding=1, transposed=True),
    case("transposed", (3, 4, 7), (4, 5, 3), stride=2, transposed=True),
    case("transposed", (2, 3, 5, 4), (3, 2, 3, 2), stride=(2, 3), padding=((1, 0), (0, 2)), transposed=True),
    case("transposed", (2, 6, 5, 4), (6, 2, 3, 2), stride=2, groups=3, dilation=(1, 2), transposed=True),
    case("transposed", (2, 4, 6, 5), (4, 1, 3, 3),
         stride=2, padding=1, groups=4, output_padding=1, transposed=True),
    # output_padding above the stride (and below the dilation)
    case("transposed", (2, 3, 5), (3, 2, 3), dilation=3, output_padding=2, transposed=True),
    case("transposed", (2, 3, 5, 6), (3, 4, 3, 3),
         stride=2, padding=1, output_shape=(10, 11), transposed=True),
    case("transposed", (2, 3, 3, 4, 2), (3, 2, 2, 3, 2),
         stride=(2, 1, 3), output_padding=(1, 0, 2), transposed=True),
    case("transposed", (2, 5, 4, 3), (3, 2, 4, 3),
         dimension_numbers=("NHWC", "HWOI", "NHWC"), stride=2, padding=1, transposed=True),
    case("transposed_words", (2, 3, 4, 5), (3, 2, 3, 2), stride=2, padding="same", transposed=True),
    case("transposed_words", (2, 3, 4, 3), (3, 2, 4, 1),
         stride=(3, 2), padding="same_lower", transposed=True),
    case("transposed_words", (3, 2, 5), (2, 4, 3),
         stride=2, padding="valid", output_padding=1, transposed=True),
    # added later, at the end: a case's seed and bias follow its index, and ids must not change
    case("no_spatial_dims", (5, 6), (4, 3), groups=2),  # a grouped matmul (jax's 0-d convolution)
    case("no_spatial_dims", (6, 3), (3, 4), batch_groups=2, dimension_numbers=("NC", "IO", "NC")),
]  # fmt: skip
#: The suite in float64: case ``i`` has seed ``i`` and a bias unless ``i % 4 == 3``.
CURATED: list[Case] = [replace(c, seed=index, bias=index % 4 != 3) for index, c in enumerate(_SUITE)]


def curated(dtypes: Sequence[str] = ("float64",), seed: int = 0) -> list[Case]:
    """The curated suite in each of ``dtypes``, dtype by dtype; ``seed`` offsets every case's seed."""
    return [
        replace(c.in_dtype(dtype), seed=seed + index) for dtype in dtypes for index, c in enumerate(CURATED)
    ]
