"""The ONNX adapters (onnxruntime, the reference evaluator): one Conv or ConvTranspose node, forward only."""

from __future__ import annotations

import pytest

from refconv.backends import Unsupported
from tests.backend_helpers import assert_writes_a_program_or_says_why, source


@pytest.mark.parametrize("name", ["onnxruntime", "onnx-reference", "openvino", "openvino-f32"])
def test_onnx_writes_a_program_for_every_curated_case_or_says_why(name: str) -> None:
    assert_writes_a_program_or_says_why(name)


def test_onnx_takes_the_transposed_words_as_auto_pad_and_pads_lo_then_hi() -> None:
    assert "auto_pad='SAME_LOWER'" in source("onnxruntime", (1, 2, 5), (2, 3, 3), transposed=True, stride=2,
                                             padding="same_lower", dtype="float32")  # fmt: skip
    assert "pads=[1, 0, 2, 3]" in source(
        "onnx-reference", (1, 2, 5, 6), (3, 2, 2, 2), padding=((1, 2), (0, 3))
    )


def test_onnx_forbids_negative_pads_and_an_output_padding_of_the_stride() -> None:
    with pytest.raises(Unsupported, match="negative"):
        source("onnx-reference", (1, 2, 5), (3, 2, 2), padding=((-1, 0),))
    with pytest.raises(Unsupported, match="output_padding < stride"):
        source("onnx-reference", (1, 2, 5), (2, 3, 3), transposed=True, dilation=3, output_padding=2)


def test_openvino_runs_with_the_plugins_defaults_or_an_explicit_float32_hint() -> None:
    default = source("openvino", (1, 2, 5), (3, 2, 2), dtype="float32")
    assert 'core.compile_model(core.read_model(model.SerializeToString()), "CPU", {})' in default
    explicit = source("openvino-f32", (1, 2, 5), (3, 2, 2), dtype="float32")
    assert '"CPU", {"INFERENCE_PRECISION_HINT": "f32"})' in explicit
