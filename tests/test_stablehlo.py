"""The StableHLO refconv emits: read back by a small reader of its own and computed by refconv.naive (the
independent road), every function gives refconv's y, dx and dw; where IREE is installed, IREE agrees."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import backends, conform, naive, stablehlo
from refconv.cases import Case, case
from refconv.testing import assert_conv_close, rounding_bound
from refconv.vectors import VECTORS, write_stablehlo

#: Beside the curated suite: a grouped transposed convolution with a layout, batch groups with
#: input dilation, negative padding with kernel dilation, the symmetric padding mode.
EXTRA = [
    case("t", (2, 5, 4, 6), (3, 2, 6, 4), transposed=True, groups=2, stride=2, padding=((1, 0), (0, 1)),
         dimension_numbers=("NHWC", "HWIO", "NHWC")),
    case("b", (6, 2, 5), (4, 2, 3), batch_groups=2, input_dilation=2, stride=2, padding=((-1, 2),)),
    case("n", (2, 3, 9, 7), (4, 3, 3, 2), dilation=(2, 3), padding=((-2, 1), (3, -1))),
    case("m", (2, 3, 6, 5), (4, 3, 3, 2), padding=((2, 1), (0, 3)), padding_mode="symmetric"),
]  # fmt: skip
CASES = [*conform.curated(), *EXTRA]


def _evaluate(text: str, *arrays: Any) -> np.ndarray[Any, Any]:
    """One function of :func:`refconv.stablehlo.functions` evaluated by refconv.naive: its convolution's
    dim_numbers, window and group counts read from the text (or its constant), its bias added."""
    out_type = re.search(r"-> tensor<([0-9x]*)(\w+|complex<\w+>)> \{", text)
    assert out_type is not None, text
    out_shape = tuple(int(n) for n in out_type.group(1).split("x") if n)
    if "stablehlo.constant" in text:
        y = np.zeros(out_shape, arrays[0].dtype)
    else:
        dims = re.search(r"dim_numbers = \[(.*?)\]x\[(.*?)\]->\[(.*?)\]", text)
        window = re.search(
            r"window = \{stride = (.*?), pad = (.*?), lhs_dilate = (.*?), rhs_dilate = (.*?)\}", text
        )
        groups = re.search(r"batch_group_count = (\d+) : i64, feature_group_count = (\d+) : i64", text)
        assert dims is not None, text
        assert window is not None, text
        assert groups is not None, text
        stride, pad, lhs_dilate, rhs_dilate = (ast.literal_eval(v) for v in window.groups())
        letters = "ZYXWV"[-len(stride) :]  # spatial dim i: its own letter

        def layout(spec: str, names: dict[str, str]) -> str:
            return "".join(names.get(a, letters[int(a)] if a.isdigit() else a) for a in spec.split(", "))

        spec = (layout(dims.group(1), {"b": "N", "f": "C"}), layout(dims.group(2), {"o": "O", "i": "I"}),
                layout(dims.group(3), {"b": "N", "f": "C"}))  # fmt: skip
        y = naive.conv(arrays[0], arrays[1], stride=stride, padding=[tuple(p) for p in pad],
                       input_dilation=lhs_dilate, dilation=rhs_dilate, batch_groups=int(groups.group(1)),
                       groups=int(groups.group(2)), dimension_numbers=spec)  # fmt: skip
    assert y.shape == out_shape
    if "%bias" in text:
        y = y + arrays[2].reshape((1, -1) + (1,) * (y.ndim - 2))
    return y


@pytest.mark.parametrize("made", CASES, ids=[c.id for c in CASES])
def test_the_emitted_convolutions_compute_refconvs_results(made: Case) -> None:
    s = made.spec
    x, w, b, dy = made.arrays()
    texts = stablehlo.functions(s, bias=b is not None)
    outputs = {
        name: _evaluate(texts[name], *arrays) for name, arrays in stablehlo.arguments(s, x, w, b, dy).items()
    }
    got = stablehlo.results(s, outputs, dy)
    keywords = {**s.options(), "transposed": s.transposed}
    assert_conv_close(got["y"], x, w, b, **keywords)
    for name in ("dx", "dw"):
        assert_conv_close(got[name], x, w, which=name, dy=dy, **keywords)
    np.testing.assert_array_equal(got["db"], refconv.conv_bias_vjp(dy, dimension_numbers=s.dimension_numbers))


def test_an_empty_problem_returns_zeros_where_stablehlo_cannot_state_its_convolution() -> None:
    empty_input = stablehlo.functions(
        refconv.spec((2, 3, 0), (3, 2, 3), stride=2, transposed=True), bias=True
    )
    assert (
        "stablehlo.constant dense<0.0> : tensor<2x2x1xf64>" in empty_input["y"]
    )  # the definition's 1, not 2
    assert "stablehlo.broadcast_in_dim %bias" in empty_input["y"]
    empty_output = stablehlo.functions(refconv.spec((2, 3, 4, 5), (4, 3, 6, 2)))
    assert "stablehlo.convolution" in empty_output["y"]  # an output of size 0: a convolution StableHLO states
    assert "stablehlo.constant" in empty_output["dw"]  # whose dw would have a window of size 0
    complex_zero = stablehlo.zeros((1, 1, 1), (1, 1, 1), "complex64", (1, 1, 1))
    assert "dense<(0.0, 0.0)> : tensor<1x1x1xcomplex<f32>>" in complex_zero


def test_element_types_are_stablehlos_names() -> None:
    assert [stablehlo.element_type(d) for d in ("float64", "complex64", "uint8", "int32")] == [
        "f64", "complex<f32>", "ui8", "i32",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="dtype='bool' has no StableHLO element type"):
        stablehlo.element_type("bool")


@pytest.mark.skipif(
    importlib.util.find_spec("iree") is None, reason="IREE is not installed (nox -s conform-iree)"
)
def test_iree_agrees_on_the_curated_suite() -> None:
    report = conform.run(backends.get("iree"), ("float64", "float32"), phases=("curated",), isolate=False)
    assert report.ok, report.to_text()


@pytest.mark.parametrize("made", CASES, ids=[c.id for c in CASES])
def test_each_functions_expected_output_is_what_the_text_computes(made: Case) -> None:
    """refconv.stablehlo.outputs (refconv's fast path on the functions' parameters) and the text read back
    and computed by refconv.naive agree within the round-off bound of their sums."""
    s = made.spec
    x, w, b, dy = made.arrays()
    given = stablehlo.arguments(s, x, w, b, dy)
    texts = stablehlo.functions(s, bias=b is not None)
    expected = stablehlo.outputs(s, given)
    absolute = stablehlo.outputs(
        s, {name: tuple(np.abs(a) for a in arrays) for name, arrays in given.items()}
    )
    for name, arrays in given.items():
        read = _evaluate(texts[name], *arrays)
        bound = rounding_bound(absolute[name], stablehlo.terms(s)[name] + 1, np.float64)  # + 1: the bias
        assert read.shape == expected[name].shape
        assert np.all(np.abs(read - expected[name]) <= 2 * bound), name  # two float64 roads, each within it


def test_stablehlo_vectors_hold_a_module_and_each_functions_inputs_and_output(tmp_path: Path) -> None:
    manifest = write_stablehlo(tmp_path)
    assert len(manifest["cases"]) == len(VECTORS)
    for entry, vector in zip(manifest["cases"], VECTORS, strict=True):
        folder = tmp_path / entry["folder"]
        assert (folder / "module.mlir").read_text() == stablehlo.module(vector.spec, bias=vector.bias)
        functions = entry["functions"]
        given = {name: tuple(np.load(folder / f) for f in f_["inputs"]) for name, f_ in functions.items()}
        computed = stablehlo.outputs(vector.spec, given)  # from the files alone
        for name, function in functions.items():
            assert np.array_equal(np.load(folder / function["expected"]), computed[name]), (entry["id"], name)
            assert function["atol"] < 1e-10  # float64 round-off of sums of at most a few hundred products
            assert (function["atol"] > 0) == bool(np.any(computed[name]))  # 0 only where nothing is summed
            assert function["run"].endswith(
                f"--expected_f64_threshold={function['atol']!r} --expected_rtol=0"
            )


@pytest.mark.skipif(shutil.which("iree-run-module") is None, reason="IREE's tools are not installed")
def test_irees_tools_check_the_vectors_with_the_manifests_commands(tmp_path: Path) -> None:
    manifest = write_stablehlo(tmp_path)
    for entry in manifest["cases"]:
        folder = tmp_path / entry["folder"]
        compiled = subprocess.run(manifest["compile"].split(), cwd=folder, capture_output=True, text=True)
        assert compiled.returncode == 0, compiled.stderr[-2000:]
        for name, function in entry["functions"].items():
            ran = subprocess.run(function["run"].split(), cwd=folder, capture_output=True, text=True)
            assert ran.returncode == 0, (entry["id"], name, ran.stdout[-2000:])
