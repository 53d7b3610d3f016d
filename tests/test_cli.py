"""`refconv check` through its entry points: verdicts, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from refconv import cli, naive


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
    assert "padding_mode='reflect'" in result.stdout
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
