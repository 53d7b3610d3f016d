"""``refconv conform``: every option checked before the run, a report whatever the backend does,
the documented exit status (0 agree, 1 a failure, 2 bad usage, 130 interrupted)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from refconv import conform
from tests import hostile_backends
from tests.conform_helpers import FAKE, printed_ratios, ratio

ROOT = Path(__file__).parents[1]

pytestmark = pytest.mark.process  # the matrix runs these once (pyproject.toml)


def _command(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "refconv", "conform", *args, "--quiet"],
        capture_output=True, text=True, check=False, cwd=cwd, env=env,
    )  # fmt: skip


def test_the_command_exits_0_for_a_correct_function_and_writes_json_and_markdown(tmp_path: Path) -> None:
    reports = ["--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")]
    result = _command(
        f"{FAKE}:correct", "--phases", "curated,dtypes,random", "--examples", "20", *reports, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"every case agrees or is unsupported \(\d+ s\)$", result.stdout.rstrip())
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["ok"] is True
    assert data["failures"] == []
    assert len(data["outcomes"]) == 2 * len(conform.CURATED) + 20
    assert all(o["verdict"] == "agree" for o in data["outcomes"])
    markdown = (tmp_path / "r.md").read_text()
    assert markdown.startswith(f"## {FAKE}:correct")
    assert "| feature | agree |" in markdown
    assert not (tmp_path / ".hypothesis").exists()  # hypothesis keeps its files in the user's cache


def test_phases_picks_the_phases_and_the_report_says_what_each_covered() -> None:
    result = _command(f"{FAKE}:correct", "--dtype", "float64", "--phases", "triples,pairs", "--json", "-")
    assert result.returncode == 0, result.stdout + result.stderr
    phases = json.loads(result.stdout)["phases"]
    pairs, triples = len(conform.model.array(2)), len(conform.model.array(3))
    assert [(p["name"], p["planned"], p["judged"], p["finished"]) for p in phases] == [
        ("pairs", pairs, pairs, True), ("triples", triples, triples, True)
    ]  # fmt: skip
    covered, coverable = phases[1]["coverage"]["triples"]
    assert covered == coverable == conform.model.coverage(conform.model.array(3), 3)[1]


def test_the_command_exits_1_and_prints_the_reproducer_for_a_broken_one() -> None:
    result = _command(f"{FAKE}:same_odd_pixel_first", "--json", "-")
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is False
    (failure,) = data["failures"]
    assert failure["verdict"] == "disagree"
    assert failure["spec"] == "refconv.spec((1, 1, 1), (1, 1, 2), padding='same', dtype='float64')"
    assert ratio(printed_ratios(failure["reproducer"])["y"]) > 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_backend"], "unknown backend 'no_such_backend'"),
        ([f"{FAKE}:no_such_function"], "cannot import 'no_such_function' from 'tests.fake_backends'"),
        ([f"{FAKE}:correct", "--shard", "3/2"], "shard 3/2: K must be between 1 and N"),
        ([f"{FAKE}:correct", "--dtype", "float128"], "--dtype: 'float128' is not a dtype refconv computes"),
        ([f"{FAKE}:correct", "--dtype", "float99"], "--dtype: 'float99' is not a dtype refconv computes"),
        ([f"{FAKE}:correct", "--dtype", "float16"], "--dtype float16: tests.fake_backends:correct claims"),
        ([f"{FAKE}:correct", "--examples", "-5"], "--examples: expected a whole number >= 0, got '-5'"),
        ([f"{FAKE}:correct", "--budget", "-1"], "--budget: expected a number of seconds > 0, got '-1'"),
        ([f"{FAKE}:correct", "--budget", "nan"], "--budget: expected a number of seconds > 0, got 'nan'"),
        ([f"{FAKE}:correct", "--timeout", "0"], "--timeout: expected a number of seconds > 0, got '0'"),
        ([f"{FAKE}:correct", "--json", "no/such/dir/r.json"], "the directory no/such/dir does not exist"),
        ([f"{FAKE}:correct", "--json", "README.md/r.json"], "the directory README.md does not exist"),
        ([f"{FAKE}:correct", "--markdown", "docs"], "--markdown: docs is a directory; give a file name"),
        ([f"{FAKE}:correct", "--phases", "pairs,quads"], "--phases: 'quads' is not a phase (curated, pairs,"),
        ([f"{FAKE}:correct", "--phases", "pairs", "--suite", "curated"],
         "--phases pairs and --suite curated: give one of them"),
        (["mlx"], 'pip install "refconv[mlx]"'),
        ([f"{FAKE}:correct", "--xfail-mode", "skip"], "--xfail-mode skip: give the known failures"),
        ([f"{FAKE}:correct", "--skip-features", "stride,strides"], "'strides' is not a feature (stride, "),
        ([f"{FAKE}:correct", "--skip-dtypes", "float32,float64"], "--skip-dtypes float32,float64 leaves no"),
        ([f"{FAKE}:correct", "--skip-dtypes", "float128"], "'float128' is not a dtype refconv computes"),
        ([f"{FAKE}:correct", "--xfails", "/nonexistent/known.txt"], "cannot read the known-failures file"),
        ([f"{FAKE}:correct", "--database", "README.md"], "README.md exists and is not a directory"),
        ([f"{FAKE}:correct", "--problems", "/nonexistent/problems.txt"], "No such file or directory"),
        ([f"{FAKE}:correct", "--problems", "README.md"], "README.md holds no problem refconv can take (2"),
    ],
)  # fmt: skip
def test_the_command_exits_2_with_one_line_for_bad_arguments(args: list[str], message: str) -> None:
    if args == ["mlx"] and not _missing("mlx"):
        pytest.skip("mlx is installed")
    result = _command(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


@pytest.mark.parametrize(("name", "expected"), sorted(hostile_backends.VERDICTS.items()))
def test_a_hostile_backend_gets_its_verdict_a_report_and_exit_status_1(
    name: str, expected: tuple[str, str], tmp_path: Path
) -> None:
    """Whatever it does on its case (exit, crash, hang, mutate, lie about its dtype), the run goes on,
    judges every other case, writes the report and exits 1 (never 0)."""
    report = tmp_path / "report.json"
    result = _command(f"tests.hostile_backends:{name}", "--suite", "curated", "--timeout", "2",
                      "--shrink-seconds", "3", "--json", str(report))  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(report.read_text())
    verdicts = {o["verdict"] for o in data["outcomes"]}
    assert verdicts == {"agree", expected[0]}, verdicts
    assert [f["verdict"] for f in data["failures"]] == [expected[0]]
    assert data["failures"][0]["detail"].startswith(expected[1])


def _sigint_as_in_a_terminal() -> None:
    """SIGINT's default action in the command's process: a job a shell starts in the background (a CI
    script's ``cmd &``, ``nohup``) ignores SIGINT, its children inherit that, and Python then leaves
    it ignored, so Ctrl-C would never reach the run this test interrupts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_writes_the_report_of_what_was_judged_and_exits_130(tmp_path: Path) -> None:
    report, judging = tmp_path / "report.json", tmp_path / "judging"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REFCONV_TEST_JUDGING": str(judging)}
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "refconv", "conform", "tests.hostile_backends:slow",
         "--json", str(report), "--quiet"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_sigint_as_in_a_terminal,
    )  # fmt: skip
    try:  # interrupt once cases are being judged (~0.1 s each), however long the start took
        deadline = time.monotonic() + 120
        while not judging.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # where it hangs: faulthandler's traceback of every thread
            process.send_signal(signal.SIGABRT)
            out, err = process.communicate(timeout=30)
            pytest.fail(f"no exit within 60 s of Ctrl-C; its threads when aborted:\n{err[-6000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, out + err
    data = json.loads(report.read_text())
    assert data["interrupted"] is True
    assert 0 < len(data["outcomes"]) < 2 * len(conform.CURATED)
    assert "INTERRUPTED" in out
