"""The refconv command through its entry point: check, explain, vectors; --help and --version; exit
codes (0 agree, 1 a mismatch or a failed backend, 2 bad usage) and one-line errors naming the option."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import refconv
from refconv import cli
from refconv.backends import BUILTIN, Program


def _run(*args: str, hide: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter; ``hide`` names frameworks it must see as not installed
    (None in sys.modules: importing one fails and find_spec returns None), so that every session,
    whatever it installed, runs the paths for an absent oracle."""
    hidden = f"import sys; sys.modules.update(dict.fromkeys({list(hide)!r}))\n"
    code = hidden + "import sys\nfrom refconv.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_version_and_help_are_plain_text() -> None:
    version = _run("--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"refconv {refconv.__version__}")
    usage = _run("--help")
    assert usage.returncode == 0
    assert "``" not in usage.stdout  # no reStructuredText markup
    assert "Exit status: 0 when everything agrees, 1 on a disagreement, 2 on bad usage." in usage.stdout
    for command in ("check", "explain", "vectors", "conform"):
        assert command in usage.stdout


def test_check_passes_on_the_default_layer_and_says_what_the_reference_is() -> None:
    result = _run("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refconv.naive y" in result.stdout
    assert (
        "\nrefconv       " not in result.stdout
    )  # in float64 refconv is the reference, compared with nothing
    assert "refconv in float64 is the reference: every row is compared with it" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: all within round-off")


def test_check_covers_every_parameter_and_names_unsupported_oracles() -> None:
    result = _run(
        "check", "--x-shape", "4,3,9,7", "--w-shape", "6,3,3,2", "--stride", "2,1", "--padding=-1:2,0:1",
        "--dilation", "1,2", "--input-dilation", "2,1", "--batch-groups", "2", "--no-bias",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bias=False" in result.stdout
    if _installed("torch"):
        assert "torch         unsupported: torch has no input dilation" in result.stdout


def test_check_takes_padding_words_and_modes() -> None:
    result = _run("check", "--stride", "2", "--padding", "same", "--padding-mode", "reflect")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "padding_mode=reflect" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: all within round-off")


@pytest.mark.parametrize(
    "args",
    [
        ["--transposed", "--stride", "2", "--padding", "1", "--output-padding", "1"],
        ["--transposed", "--stride", "2", "--output-shape", "16,13"],
        ["--transposed", "--stride", "2", "--padding", "same", "--strict-output-padding"],
        ["--x-shape", "2,7,6,3", "--w-shape", "3,2,3,4", "--dimension-numbers", "NHWC,HWIO,NHWC"],
        ["--dtype", "complex128", "--stride", "2"],
        ["--dtype", "int32", "--padding", "1"],
        ["--dtype", "int8", "--preferred-element-type", "int32"],
    ],
)
def test_check_takes_the_transposed_convolution_layouts_and_every_dtype(args: list[str]) -> None:
    result = _run("check", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refconv.naive dx" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: all within round-off")


def test_check_in_an_integer_dtype_compares_refconv_with_the_exact_result() -> None:
    result = _run("check", "--dtype", "int16", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["results"][0]["rows"]
    refconv_rows = [row for row in rows if row["backend"] == "refconv"]
    assert len(refconv_rows) == 4
    assert all(row["max_abs_diff"] == 0 for row in refconv_rows)  # integers: exact, bound 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--groups", "2"], "groups=2 must divide in_channels=3"),
        (["--x-shape", "2,3,x"], "argument --x-shape: expected comma-separated ints, got '2,3,x'"),
        (["--padding=1:2:3,0:0"], "padding="),
        (["--against", "tensorflow"], "unknown oracle 'tensorflow'"),
        (["--stride", "0"], "stride=0 must be >= 1"),
        (["--seed", "-1"], "argument --seed: expected a whole number >= 0, got '-1'"),
        (["--dtype", "float99"], "argument --dtype: 'float99' is not a dtype refconv computes"),
        (["--timeout", "-3"], "argument --timeout: expected a number of seconds > 0, got '-3'"),
        (["--output-padding", "1"], "output_padding, output_shape and strict_output_padding are keywords"),
        (["--dimension-numbers", "NHWC"], "argument --dimension-numbers: expected three layouts"),
        (["--preferred-element-type", "float99"], "preferred_element_type='float99' is not a dtype"),
    ],
)
def test_bad_options_exit_2_with_one_line_and_no_traceback(args: list[str], message: str) -> None:
    result = _run("check", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_reports_a_mismatch_and_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """refconv.naive with a wrong dw (its program, which runs in the worker, adds 1e-9: far above
    float64 round-off, far below anything visible by eye)."""
    naive_backend = BUILTIN["refconv.naive"]

    def wrong(s: Any, device: str) -> Program:
        right = naive_backend.program(s, device)
        return Program(right.setup, right.run + "\ngot['dw'] = got['dw'] + 1e-9")

    monkeypatch.setitem(BUILTIN, "refconv.naive", dataclasses.replace(naive_backend, make_program=wrong))
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "refconv.naive dw" in out
    assert "MISMATCH" in out.split("refconv.naive dw")[1].splitlines()[0]
    assert out.rstrip().endswith("verdict: MISMATCH")


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_check_in_low_precision_passes_within_the_dtypes_bound(dtype: str) -> None:
    if dtype == "bfloat16" and not _installed("ml_dtypes"):
        pytest.skip("bfloat16 comes from ml_dtypes")
    result = _run("check", "--dtype", dtype, "--stride", "2", "--padding", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"dtype={dtype}" in result.stdout
    assert "refconv       y" in result.stdout  # refconv in the dtype, judged against float64
    assert result.stdout.rstrip().endswith("verdict: all within round-off")


def test_check_shows_an_oracle_that_fails_on_a_case_its_api_can_express() -> None:
    """torch 2.13.0's conv2d with C_in = 0 returns (2, 0, 4, 3) instead of (2, 2, 4, 3), and its
    backward raises on that: a failure of torch, shown, and exit status 1 (never 'skipped')."""
    if not _installed("torch"):
        pytest.skip("torch is not installed")
    result = _run("check", "--x-shape", "2,0,5,4", "--w-shape", "2,0,2,2", "--against", "torch")
    assert result.returncode == 1, result.stdout + result.stderr
    torch_lines = [line for line in result.stdout.splitlines() if line.startswith("torch")]
    assert torch_lines
    assert not any(line.rstrip().endswith(" ok") for line in torch_lines), torch_lines
    assert "refconv.naive y" in result.stdout  # refconv.naive computes the definition's zeros


def test_check_json_is_structured() -> None:
    result = _run("check", "--json", "--groups", "3", "--x-shape", "2,6,7,6", "--w-shape", "6,2,3,2",
                  "--stride", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    (entry,) = report["results"]
    assert entry["config"]["keywords"] == {"stride": [2, 2], "groups": 3}
    assert (
        entry["spec"] == "refconv.spec((2, 6, 7, 6), (6, 2, 3, 2), stride=(2, 2), groups=3, dtype='float64')"
    )
    checked = {(row["backend"], row["array"]) for row in entry["rows"] if "array" in row}
    assert {("refconv.naive", a) for a in ("y", "dx", "dw", "db")} <= checked
    assert all(row["worst_diff_over_bound"] <= 1 for row in entry["rows"] if "array" in row)


def test_check_grid_shows_progress_and_names_a_bad_entry_by_its_index(tmp_path: Path) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps([
        {"x_shape": [2, 3, 9], "w_shape": [4, 3, 3], "stride": [2], "padding": [[1, 2]]},
        {"x_shape": [2, 4, 7, 6], "w_shape": [4, 2, 3, 2], "groups": 2, "padding": "same", "bias": False},
        {"x_shape": [2, 3, 5, 6], "w_shape": [3, 2, 2, 2], "transposed": True, "stride": 2},
    ]))  # fmt: skip
    result = _run("check", "--grid", str(grid))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3/3" in result.stderr
    assert result.stdout.count("refconv check: ") == 3
    cases = [
        ([{"x_shape": [2, 3, 9], "w_shape": [4, 3, 3], "strides": [2]}], "entry 0: unknown keys ['strides']"),
        ([{"x_shape": [2, 3, 9], "w_shape": [4, 3, 3]}, {"x_shape": [2, 5, 9], "w_shape": [4, 3, 3]}],
         "entry 1: w has 3 input channels but x has in_channels=5"),
        ([{"x_shape": [2, 3, 9], "w_shape": [4, 3, 3], "bias": "no"}],
         "entry 0: bias='no' must be true or false"),
        ([], "expected a non-empty JSON list"),
    ]  # fmt: skip
    for entries, message in cases:
        grid.write_text(json.dumps(entries))
        result = _run("check", "--grid", str(grid))
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def _cuda_visible() -> bool:
    if _installed("torch"):
        import torch

        if torch.cuda.is_available():
            return True
    if _installed("jax"):
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    return False


def test_check_on_cuda_runs_there_or_says_why_not() -> None:
    result = _run("check", "--device", "cuda")
    if _cuda_visible():
        assert result.returncode == 0, result.stdout + result.stderr
        assert "device=cuda" in result.stdout
    else:
        assert result.returncode == 2
        assert "--device cuda: no" in result.stderr


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


def test_explain_writes_negative_padding_as_a_reader_would() -> None:
    result = _run("explain", "--x-shape", "1,1,9", "--w-shape", "1,1,3", "--stride", "2", "--padding=-1:2")
    assert "m = (9 - 1 + 2 - 3) // 2 + 1 = 4" in result.stdout
    assert "+ -" not in result.stdout


def test_explain_names_swapped_groups_transposed_convolutions_and_bad_options() -> None:
    out = _run("explain", "--x-shape", "2,6,7,6", "--w-shape", "9,2,3,2", "--groups", "3").stdout
    assert "(9, 2, 3, 2) -> (6, 3, 3, 2)" in out
    assert "groups=1, batch_groups=3 (swapped)" in out
    transposed = _run("explain", "--transposed", "--stride", "2", "--output-padding", "1").stdout
    assert "y = conv(x, w_t)" in transposed
    assert "(k_hat-1-lo, k_hat-1-hi+output_padding)" in transposed
    result = _run("explain", "--w-shape", "4,2,3,2")
    assert result.returncode == 2
    assert "refconv explain: error:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_vectors_writes_a_directory_and_names_a_path_it_cannot_write(tmp_path: Path) -> None:
    result = _run("vectors", "--out", str(tmp_path / "v"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "v" / "manifest.json").is_file()
    a_file = tmp_path / "file"
    a_file.write_text("")
    for out, message in [(a_file, "is a file, not a directory"), (a_file / "under", "--out")]:
        result = _run("vectors", "--out", str(out))
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    result = _run("vectors", "--out", str(tmp_path), "--seed", "-5")
    assert "argument --seed: expected a whole number >= 0, got '-5'" in result.stderr


def test_check_skips_naive_for_size_says_so_and_takes_no_naive() -> None:
    """refconv.naive's loops would visit 3 x 299,998 window-tap pairs: skipped, with the count."""
    big = ("check", "--x-shape", "1,1,300000", "--w-shape", "1,1,3", "--json")
    if not (_installed("jax") or _installed("torch")):
        pytest.skip("no oracle to judge refconv once refconv.naive is skipped (see the test below)")
    result = _run(*big)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(result.stdout)["results"][0]["rows"]
    naive = [row for row in rows if row["backend"] == "refconv.naive"]
    assert naive == [{"backend": "refconv.naive", "verdict": "skipped", "ok": True, "detail":
                      "its loops would visit 899,994 window-tap pairs, more than 200,000 (about 20 us each); "
                      "--no-naive skips it always"}]  # fmt: skip
    assert any(row["backend"] in ("jax", "torch") and row["ok"] for row in rows)
    small = json.loads(_run("check", "--no-naive", "--json").stdout)["results"][0]["rows"]
    assert small
    assert all(row["backend"] != "refconv.naive" for row in small)
    assert any(
        row["backend"] == "refconv.naive"
        for row in json.loads(_run("check", "--json").stdout)["results"][0]["rows"]
    )


ORACLE_MODULES = ("jax", "torch")


def test_check_with_no_oracle_compares_naive_and_refuses_what_needs_an_oracle() -> None:
    """The paths for a machine with neither jax nor torch, in every session (the oracles hidden)."""
    result = _run("check", "--dtype", "float32", hide=ORACLE_MODULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refconv.naive y" in result.stdout
    assert not any(line.startswith(ORACLE_MODULES) for line in result.stdout.splitlines())
    assert "no oracle installed (pip install jax or torch); compared refconv.naive only" in result.stdout
    refused = {
        ("--no-naive",): "--no-naive: no oracle is installed, so nothing would judge refconv",
        ("--device", "cuda"): "--device cuda: no oracle is installed (pip install jax or torch with CUDA)",
        ("--x-shape", "1,1,300000", "--w-shape", "1,1,3"): "refconv.naive skipped (its loops would visit "
        "899,994 window-tap pairs, more than 200,000 (about 20 us each); --no-naive skips it always) and "
        "no oracle is installed",
    }
    for options, message in refused.items():
        result = _run("check", *options, hide=ORACLE_MODULES)
        assert result.returncode == 2, (options, result.stdout + result.stderr)
        assert message in result.stderr, options
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("missing", ORACLE_MODULES)
def test_check_names_an_oracle_asked_for_that_is_not_installed_and_uses_the_other(missing: str) -> None:
    asked = _run("check", "--against", missing, hide=(missing,))
    assert asked.returncode == 2, asked.stdout + asked.stderr
    hint = BUILTIN[missing].install_hint()
    assert f"refconv check: error: --against: {missing} is not installed ({hint})" in asked.stderr
    (other,) = set(ORACLE_MODULES) - {missing}
    if not _installed(other):
        pytest.skip(f"{other} is not installed either")
    result = _run("check", "--json", hide=(missing,))
    assert result.returncode == 0, result.stdout + result.stderr
    backends = {row["backend"] for row in json.loads(result.stdout)["results"][0]["rows"]}
    assert backends == {"refconv.naive", other}, result.stdout


def test_check_json_writes_a_preferred_element_type_by_its_name() -> None:
    """The keywords' dtypes are JSON strings (json.dumps raised on the np.dtype before)."""
    result = _run("check", "--dtype", "float16", "--preferred-element-type", "float32", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    config = json.loads(result.stdout)["results"][0]["config"]
    assert config["keywords"]["preferred_element_type"] == "float32"
