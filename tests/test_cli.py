"""The refconv command through its entry points: check, explain, vectors; exit codes and one-line errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import cli, naive
from refconv.testing import assert_conv_close, rounding_bound
from refconv.vectors import CASES


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refconv", *args], capture_output=True, text=True, check=False
    )


def test_check_passes_on_the_default_layer() -> None:
    result = _run("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refconv.naive y" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: all within round-off")


def test_check_covers_every_parameter_and_names_unsupported_oracles() -> None:
    result = _run(
        "check", "--x-shape", "4,3,9,7", "--w-shape", "6,3,3,2", "--stride", "2,1", "--padding=-1:2,0:1",
        "--dilation", "1,2", "--input-dilation", "2,1", "--batch-groups", "2", "--no-bias",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bias=False" in result.stdout
    assert "ok" in result.stdout
    if "torch" in result.stdout:
        assert "torch         skipped: torch has no input dilation" in result.stdout


def test_check_takes_padding_words_and_modes() -> None:
    result = _run("check", "--stride", "2", "--padding", "same", "--padding-mode", "reflect")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'padding_mode': 'reflect'" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: all within round-off")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--groups", "2"], "groups=2 must divide in_channels=3"),
        (["--x-shape", "2,3,x"], "expected comma-separated ints, got '2,3,x'"),
        (["--padding=1:2:3,0:0"], "padding="),
        (["--against", "tensorflow"], "unknown oracle 'tensorflow'"),
        (["--stride", "0"], "stride=0 must be >= 1"),
    ],
)
def test_bad_options_exit_2_with_one_line_and_no_traceback(args: list[str], message: str) -> None:
    result = _run("check", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_reports_a_mismatch_and_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    def off_by_a_little(*args: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        dx, dw, db = naive_conv_vjp(*args, **kwargs)
        dw = dw.copy()
        dw.flat[0] += 1e-9  # far above float64 round-off, far below anything visible by eye
        return dx, dw, db

    naive_conv_vjp = naive.conv_vjp
    monkeypatch.setattr(naive, "conv_vjp", off_by_a_little)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "refconv.naive dw" in out
    assert "MISMATCH" in out.split("refconv.naive dw")[1].splitlines()[0]
    assert out.rstrip().endswith("verdict: MISMATCH")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_check_in_low_precision_passes_within_the_dtypes_bound(dtype: str) -> None:
    result = _run("check", "--dtype", dtype, "--stride", "2", "--padding", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"dtype={dtype}" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: all within round-off")


def test_check_bfloat16_needs_ml_dtypes_or_runs() -> None:
    result = _run("check", "--dtype", "bfloat16")
    if importlib.util.find_spec("ml_dtypes") is None:
        assert result.returncode == 2
        assert "--dtype bfloat16 needs ml_dtypes" in result.stderr
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "refconv       y" in result.stdout


def test_check_json_lists_every_backend_and_array() -> None:
    result = _run("check", "--json", "--groups", "3", "--x-shape", "2,6,7,6", "--w-shape", "6,2,3,2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    rows = report["results"][0]["rows"]
    checked = {(row["backend"], row["array"]) for row in rows if "array" in row}
    assert {(b, a) for b in ("refconv", "refconv.naive") for a in ("y", "dx", "dw", "db")} <= checked
    assert all(row["worst_diff_over_bound"] <= 1 for row in rows if "array" in row)


def test_check_grid_shows_progress_and_checks_each_configuration(tmp_path: Path) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps([
        {"x_shape": [2, 3, 9], "w_shape": [4, 3, 3], "stride": [2], "padding": [[1, 2]]},
        {"x_shape": [2, 4, 7, 6], "w_shape": [4, 2, 3, 2], "groups": 2, "padding": "same", "bias": False},
        {"x_shape": [4, 3, 5, 6], "w_shape": [6, 3, 2, 2], "batch_groups": 2, "input_dilation": [2, 1]},
    ]))  # fmt: skip
    result = _run("check", "--grid", str(grid))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3/3" in result.stderr
    assert result.stdout.count("refconv check: x") == 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"x_shape": [2, 3, 9], "w_shape": [4, 3, 3], "strides": [2]}]))
    result = _run("check", "--grid", str(bad))
    assert result.returncode == 2
    assert "unknown configuration keys ['strides']" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _cuda_visible() -> bool:
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return True
    if importlib.util.find_spec("jax") is not None:
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    return False


def test_check_on_cuda_runs_there_or_says_no_device_is_visible() -> None:
    result = _run("check", "--device", "cuda")
    if _cuda_visible():
        assert result.returncode == 0, result.stdout + result.stderr
        assert "device=cuda" in result.stdout
    else:
        assert result.returncode == 2
        assert "--device cuda: no installed oracle sees a CUDA device" in result.stderr


def test_explain_instantiates_the_derivation() -> None:
    """n = 8, k = 3, stride 2, padding 1 (the input-VJP page's example, worked by hand): m = 4, r = 1,
    dx padding (k_hat-1-lo, k_hat-1-hi+r) = (1, 2) at input dilation 2; dw padding (lo, hi-r) = (1, 0)
    at kernel dilation 2."""
    result = _run("explain", "--x-shape", "1,1,8", "--w-shape", "1,1,3", "--stride", "2", "--padding", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "conv: x (1, 1, 8), w (1, 1, 3) -> y (1, 1, 4)" in out
    assert "m = (8 + 1 + 1 - 3) // 2 + 1 = 4, r = 1" in out
    assert "input_dilation=(2,) (the stride)" in out
    assert "padding=((1, 2),) = (k_hat-1-lo, k_hat-1-hi+r)" in out
    assert "dilation=(2,) (the stride)" in out
    assert "padding=((1, 0),) = (lo, hi-r)" in out


def test_explain_names_swapped_groups_and_bad_options() -> None:
    out = _run("explain", "--x-shape", "2,6,7,6", "--w-shape", "9,2,3,2", "--groups", "3").stdout
    assert "(9, 2, 3, 2) -> (6, 3, 3, 2)" in out
    assert "groups=1, batch_groups=3 (swapped)" in out
    result = _run("explain", "--w-shape", "4,2,3,2")
    assert result.returncode == 2
    assert "refconv explain: error:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_vectors_are_deterministic_and_load_as_documented(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = _run("vectors", "--out", str(out))
        assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in first.iterdir())
    assert files == sorted(p.name for p in second.iterdir())
    assert len(files) == len(CASES) + 1
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["refconv_version"] == refconv.__version__
    for case in manifest["cases"]:
        arrays = np.load(first / case["file"])
        keywords = cli._spec(
            case["parameters"] | {"x_shape": arrays["x"].shape, "w_shape": arrays["w"].shape}
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
        assert set(case["max_abs_diff"]) >= {"refconv.naive"}


def test_the_documented_c_reader_loads_a_vector(tmp_path: Path) -> None:
    """docs/examples/read_npy.c, compiled here, reads a case's y.npy: same shape, same sum to round-off."""
    import shutil
    import zipfile

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler on this machine")
    source = Path(__file__).parents[1] / "docs" / "examples" / "read_npy.c"
    binary = tmp_path / "read_npy"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    assert _run("vectors", "--out", str(tmp_path)).returncode == 0
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
