"""Golden vectors: deterministic bytes, refconv's values that naive reproduces, a manifest that says
who else agreed, and a reader in C."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import naive
from refconv.testing import assert_conv_close, rounding_bound
from refconv.vectors import VECTORS, write_vectors


def test_vectors_are_deterministic_and_naive_reproduces_them(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        write_vectors(out, oracles=[])
    files = sorted(p.name for p in first.iterdir())
    assert files == sorted(p.name for p in second.iterdir())
    assert len(files) == len(VECTORS) + 1
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["refconv_version"] == refconv.__version__
    for case in manifest["cases"]:
        arrays = np.load(first / case["file"])
        keywords = refconv.spec(
            arrays["x"].shape, arrays["w"].shape, **_keywords(case["parameters"])
        ).options()
        b = arrays["b"] if case["bias"] else None
        # the stored arrays are refconv's; naive (no shared formula) must reproduce them within round-off
        dx, dw, db = naive.conv_vjp(arrays["x"], arrays["w"], arrays["dy"], **keywords)
        loops = {"y": naive.conv(arrays["x"], arrays["w"], b, **keywords), "dx": dx, "dw": dw, "db": db}
        for which, got in loops.items():
            bias = b if which == "y" else None
            for stored in (got, arrays[which]):
                assert_conv_close(
                    stored, arrays["x"], arrays["w"], bias, which=which, dy=arrays["dy"], **keywords
                )
        assert isinstance(case["max_abs_diff"]["refconv.naive"], float)


def _keywords(parameters: dict[str, Any]) -> dict[str, Any]:
    """The manifest's JSON parameters as refconv's keywords (lists of pairs as tuples)."""

    def plain(value: Any) -> Any:
        return tuple(plain(v) for v in value) if isinstance(value, list) else value

    return {name: plain(value) for name, value in parameters.items()}


def test_the_manifest_names_what_each_oracle_could_not_express(tmp_path: Path) -> None:
    installed = refconv.backends.available()
    if "torch" not in installed:
        pytest.skip("torch is not installed")
    manifest = write_vectors(tmp_path, oracles=["torch"])
    diffs = {case["id"]: case["max_abs_diff"]["torch"] for case in manifest["cases"]}
    assert diffs["2d-batch-groups2"] == "not expressible: torch has no batch groups (batch_groups=2)"
    for name, diff in diffs.items():  # float64 round-off of these sums is below 1e-12, or it says why not
        assert (isinstance(diff, float) and diff < 1e-12) or diff.startswith(
            "not expressible: torch has no"
        ), name


def test_the_documented_c_reader_loads_a_vector(tmp_path: Path) -> None:
    """docs/examples/read_npy.c, compiled here, reads a case's y.npy: same shape, same sum to round-off."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler on this machine")
    source = Path(__file__).parents[1] / "docs" / "examples" / "read_npy.c"
    binary = tmp_path / "read_npy"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    write_vectors(tmp_path, oracles=[])
    with zipfile.ZipFile(tmp_path / "2d-stride2-pad1.npz") as archive:
        archive.extract("y.npy", tmp_path)
    out = subprocess.run([str(binary), str(tmp_path / "y.npy")], capture_output=True, text=True, check=True)
    y = np.load(tmp_path / "y.npy")
    lines = out.stdout.splitlines()
    assert lines[0] == f"shape {y.shape}"
    assert lines[1] == f"count {y.size}"
    # two summation orders of y.size terms are within refconv.testing's bound of the sum of |y|
    bound = float(rounding_bound(np.abs(y).sum(), y.size, np.float64))
    assert abs(float(lines[2].split()[1]) - float(y.sum())) <= bound
