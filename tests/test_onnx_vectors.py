"""refconv's ONNX backend test data run by ONNX's own loader and runner: onnxruntime passes every case but
its known limitations and the transposed SAME_LOWER convention; a backend one part in 10^5 off fails."""

from __future__ import annotations

import json
import unittest
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
ort_backend = pytest.importorskip("onnxruntime.backend")

from onnx.backend.test.loader import load_model_tests  # noqa: E402
from onnx.backend.test.runner import Runner  # noqa: E402

from refconv.onnx_vectors import KIND, write_onnx  # noqa: E402

#: What onnxruntime 1.32 does not run as the definition says, each named on docs/frameworks.rst.
ONNXRUNTIME_KNOWN = {
    "test_zero_sizes-float32-d43ab217": "a kernel longer than the input: it raises (a limitation)",
    "test_padding_words-float32-95198573": "dilation with SAME: 'Dilation not supported for AutoPadType'",
    "test_transposed_words-float32-17a2ea77": "transposed SAME_LOWER, kernel < stride (convention)",
}


def _run(data: Path, backend: Any) -> dict[str, str]:
    """Each test's outcome under ONNX's runner: passed, failed (out of atol) or error (raised)."""
    with warnings.catch_warnings():  # building ONNX's own node tests warns (their float16 casts)
        warnings.simplefilter("ignore")
        runner = Runner(backend, __name__)
    for test in load_model_tests(str(data), kind=KIND):
        runner._add_model_test(test, "Refconv")  # the runner's own registration of a model test
    outcomes: dict[str, str] = {}

    class Recorder(unittest.TestResult):
        def addSuccess(self, test: unittest.TestCase) -> None:
            outcomes[test._testMethodName] = "passed"

        def addFailure(self, test: unittest.TestCase, err: Any) -> None:
            outcomes[test._testMethodName] = "failed"

        def addError(self, test: unittest.TestCase, err: Any) -> None:
            outcomes[test._testMethodName] = "error"

    suite = unittest.TestSuite(t for t in runner.test_suite if type(t).__name__.endswith("RefconvModelTest"))
    suite.run(Recorder())
    return {name.removesuffix("_cpu"): outcome for name, outcome in outcomes.items() if name.endswith("_cpu")}


class _OffByAPartIn100000(ort_backend.backend.OnnxRuntimeBackend):  # type: ignore[misc,name-defined]
    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> Any:
        inner = super().prepare(model, device, **kwargs)

        class Rep:
            def run(self, inputs: Any, **options: Any) -> list[Any]:
                return [out * (1 + 1e-5) for out in inner.run(inputs, **options)]

        return Rep()


def test_onnxruntime_passes_the_onnx_test_data_but_its_known_cases(tmp_path: Path) -> None:
    manifest = write_onnx(tmp_path)
    names = {c["name"] for c in manifest["cases"]}
    assert len(names) >= 30
    assert set(ONNXRUNTIME_KNOWN) <= names
    outcomes = _run(tmp_path, ort_backend)
    assert set(outcomes) == names
    assert {name for name, got in outcomes.items() if got != "passed"} == set(ONNXRUNTIME_KNOWN)
    data = json.loads((tmp_path / KIND / "test_2d-plain" / "data.json").read_text())
    assert data["rtol"] == 0
    assert 0 < data["atol"] < 1e-4  # float32 round-off of sums of a few dozen products


def test_a_backend_a_part_in_100000_off_fails_the_onnx_test_data(tmp_path: Path) -> None:
    write_onnx(tmp_path)
    outcomes = _run(tmp_path, _OffByAPartIn100000)
    zero = {name for name in outcomes if not np.any(_expected(tmp_path / KIND / name))}
    # it passes exactly where every expected output is zero (1 + 1e-5 times 0 is 0), and onnxruntime
    # raises where it raises; it fails everywhere else
    assert {name for name, got in outcomes.items() if got == "passed"} == zero - set(ONNXRUNTIME_KNOWN)
    assert 0 < len(zero) < 6
    assert sum(got == "failed" for got in outcomes.values()) >= 25


def _expected(folder: Path) -> Any:
    from onnx import TensorProto, numpy_helper

    tensor = TensorProto()
    tensor.ParseFromString((folder / "test_data_set_0" / "output_0.pb").read_bytes())
    return numpy_helper.to_array(tensor)
