"""refconv.conform finds what is wrong with a convolution and shrinks it; in a right one it finds nothing.

The backends under test are tests/fake_backends.py: refconv.naive with one known bug each. The
shrunk reproducers are checked against what minimal means for that bug (one spatial dim, one
batch element and channel, only the parameter the bug lives in), and each reproducer is run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import refconv
from refconv import backends, conform
from refconv.backends import Program, Unsupported
from refconv.conform import Outcome, Report, Worker
from refconv.testing import Config

FAKE = "tests.fake_backends"


def _run(name: str, **keywords: Any) -> Report:
    backend = backends.get(f"{FAKE}:{name}")
    return conform.run(backend, backend.dtypes, examples=100, isolate=False, **keywords)


def _only_failure(report: Report) -> Outcome:
    assert not report.ok
    assert len(report.failures) == 1, [f.outcome.detail for f in report.failures]
    (failure,) = report.failures
    # refconv's values on the shrunk configuration are confirmed before the failure is the backend's:
    # naive computes them, and every installed oracle computes them or cannot express the problem
    assert failure.confirmed["refconv.naive"].startswith("agree: "), failure.confirmed
    oracles = {
        name: verdict.split(":")[0] for name, verdict in failure.confirmed.items() if name in backends.ORACLES
    }
    assert set(oracles.values()) <= {"agree", "unsupported"}, failure.confirmed
    if "agree" in oracles.values():
        assert failure.confirmation.startswith("confirmed: refconv.naive and "), failure.confirmed
    else:
        assert failure.confirmation.startswith("NOT confirmed: only refconv.naive"), failure.confirmed
    return failure.outcome


def _printed_ratios(source: str) -> dict[str, str]:
    """Run a reproducer; its printed line per array: 'y worst |diff| / bound: 3.2' or 'y has shape ...'."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<reproducer>", "exec"), {})
    return {line.split()[0]: line for line in out.getvalue().splitlines()}


def _ratio(line: str) -> float:
    return float(line.rsplit(":", 1)[1])


def test_a_correct_convolution_agrees_on_every_case() -> None:
    report = _run("correct")
    assert report.ok
    assert not report.failures
    totals = {verdict: sum(row[verdict] for row in report.table().values()) for verdict in conform.VERDICTS}
    # refconv.naive expresses everything: each curated case in both dtypes, and every draw, agrees
    assert totals == {**dict.fromkeys(conform.VERDICTS, 0), "agree": 2 * len(conform.CURATED) + 100}


def test_a_weight_vjp_with_stride_and_dilation_swapped_shrinks_to_one_dim_one_channel() -> None:
    failure = _only_failure(_run("swapped_weight_vjp"))
    s = failure.config.spec
    assert failure.verdict == "disagree"
    assert failure.detail.startswith("dw:")
    assert s.ndim == 1
    assert s.x_shape[:2] == (1, 1)
    assert s.w_shape[:2] == (1, 1)
    assert not failure.config.bias
    assert s.stride != s.dilation  # the bug is invisible where they are equal
    assert math.prod(s.x_shape) + math.prod(s.w_shape) <= 4


def test_the_reproducer_runs_and_shows_the_failing_array_over_its_bound() -> None:
    report = _run("swapped_weight_vjp")
    source = report.failures[0].reproducer
    lines = _printed_ratios(source)
    assert set(lines) == {"y", "dx", "dw", "db"}
    assert _ratio(lines["dw"]) > 1  # the bug
    assert all(_ratio(lines[name]) <= 1 for name in ("y", "dx", "db"))  # and nothing else
    assert f"from {FAKE} import swapped_weight_vjp" in source
    assert "# as a refconv spec: refconv.spec(" in source


def test_same_with_the_odd_pixel_first_shrinks_to_an_even_kernel_on_one_element() -> None:
    failure = _only_failure(_run("same_odd_pixel_first"))
    s = failure.config.spec
    assert failure.verdict == "disagree"
    assert failure.detail.startswith("y:")
    assert s.padding_word == "same"  # the word itself: its explicit pairs pass
    assert s.ndim == 1
    assert s.x_shape == (1, 1, 1)
    assert s.w_shape == (1, 1, 2)


def test_a_missing_output_padding_is_a_shape_verdict() -> None:
    report = _run("forgets_output_padding")
    failure = _only_failure(report)
    s = failure.config.spec
    assert failure.verdict == "shape"
    assert s.transposed
    assert s.ndim == 1
    assert s.output_padding == (1,)
    assert s.x_shape == (1, 1, 1)
    assert s.w_shape == (1, 1, 1)
    assert "has shape (1, 1, 1) expected (1, 1, 2)" in _printed_ratios(report.failures[0].reproducer)["y"]


def test_an_exception_is_raised_with_its_message_once_per_kind_of_convolution() -> None:
    report = _run("refuses_groups")
    failures = [failure.outcome for failure in report.failures]
    assert sorted(o.config.spec.transposed for o in failures) == [False, True]
    for outcome in failures:
        s = outcome.config.spec
        assert outcome.verdict == "raised"
        assert outcome.detail == "RuntimeError: no kernel for groups=2"
        assert s.groups == 2
        assert s.ndim == 1
        assert s.x_shape == (1, 2, 1)


def test_float64_computed_in_float32_is_caught_on_a_single_product() -> None:
    failure = _only_failure(_run("float32_inside"))
    s = failure.config.spec
    assert failure.verdict == "disagree"
    assert s.dtype == np.float64
    assert s.x_shape == (1, 1, 1)
    assert s.w_shape == (1, 1, 1)
    assert failure.worst is not None
    assert failure.worst.ratio > 1e6


def test_shards_partition_the_curated_suite() -> None:
    backend = backends.get(f"{FAKE}:correct")
    whole = conform.run(backend, ("float64",), suite="curated", isolate=False)
    parts = [
        conform.run(backend, ("float64",), suite="curated", shard=(k, 3), isolate=False) for k in (1, 2, 3)
    ]

    def key(o: Outcome) -> str:
        return f"{backends.spec_source(o.config.spec)} {o.config.bias} {o.config.seed}"

    keys = [key(o) for part in parts for o in part.outcomes]
    assert len(keys) == len(set(keys)) == len(whole.outcomes)
    assert set(keys) == {key(o) for o in whole.outcomes}


def test_the_worker_survives_a_framework_that_kills_its_process() -> None:
    worker = Worker(timeout=60)
    arrays = (np.ones((1, 1, 1)), np.ones((1, 1, 1)), None, np.ones((1, 1, 1)))
    try:
        died = worker.run(Program("import os, signal", "os.kill(os.getpid(), signal.SIGFPE)"), arrays)
        assert died == ("raised", "the process running it died (killed by SIGFPE)")
        status, got = worker.run(Program("", "got = {'y': x + w}"), arrays)  # a new process takes over
        assert status == "ok"
        assert got["y"].tolist() == [[[2.0]]]
    finally:
        worker.close()


def test_the_worker_stops_a_run_that_does_not_answer() -> None:
    worker = Worker(timeout=1)
    try:
        status, detail = worker.run(Program("import time", "time.sleep(30)"), (None, None, None, None))
        assert (status, detail) == ("raised", "no answer within 1 s: the run was stopped")
    finally:
        worker.close()


def test_judge_reports_a_missing_gradient_and_a_wrong_dtype_claim_is_skipped_when_shrinking() -> None:
    def forward_only(spec: Any, x: Any, w: Any, b: Any, dy: Any) -> dict[str, Any]:
        return {"y": refconv.conv(x, w, b, **spec.options())}

    forward_only.gradients = True  # type: ignore[attr-defined]  # claims gradients, returns none
    backend = backends.function_backend(forward_only, "forward_only")
    config = Config(refconv.spec((1, 2, 5), (3, 2, 2)), bias=True)
    outcome = conform.judge(backend, config)
    assert (outcome.verdict, outcome.detail) == ("raised", "returned no dx, dw, db")


# ------------------------------------------------------------------------------------------------
# the command


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refconv", "conform", *args, "--quiet"],
        capture_output=True, text=True, check=False, cwd=Path(__file__).parents[1],
    )  # fmt: skip


def test_the_command_exits_0_for_a_correct_function_and_writes_json_and_markdown(tmp_path: Path) -> None:
    result = _command(f"{FAKE}:correct", "--examples", "20", "--json", str(tmp_path / "r.json"),
                      "--markdown", str(tmp_path / "r.md"))  # fmt: skip
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


def test_the_command_exits_1_and_prints_the_reproducer_for_a_broken_one() -> None:
    result = _command(f"{FAKE}:same_odd_pixel_first", "--json", "-")
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is False
    (failure,) = data["failures"]
    assert failure["verdict"] == "disagree"
    assert failure["spec"] == "refconv.spec((1, 1, 1), (1, 1, 2), padding='same', dtype='float64')"
    assert _ratio(_printed_ratios(failure["reproducer"])["y"]) > 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_backend"], "unknown backend 'no_such_backend'"),
        ([f"{FAKE}:no_such_function"], "cannot import 'no_such_function' from 'tests.fake_backends'"),
        ([f"{FAKE}:correct", "--shard", "3/2"], "shard 3/2: K must be between 1 and N"),
        ([f"{FAKE}:correct", "--dtype", "float128"], "float128"),
    ],
)
def test_the_command_exits_2_with_one_line_for_bad_arguments(args: list[str], message: str) -> None:
    result = _command(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------------
# the built-in adapters: what each translates, without its framework installed


# bfloat16 arrays need ml_dtypes, which the torch sessions do not install
ALL_DTYPES = (
    "float64",
    "float32",
    "float16",
    *(("bfloat16",) if importlib.util.find_spec("ml_dtypes") else ()),
)


@pytest.mark.parametrize("name", sorted(backends.BUILTIN))
def test_every_adapter_writes_a_program_or_says_why_not_for_every_curated_case(name: str) -> None:
    """Writing a program needs no framework: each curated case gives Python that compiles, or Unsupported."""
    backend = backends.BUILTIN[name]
    written, reasons = 0, []
    for config in conform.curated(ALL_DTYPES):
        try:
            program = backend.program(config.spec, "cpu")
        except Unsupported as reason:
            reasons.append(str(reason))
            continue
        compile(program.source(), f"<{name}>", "exec")
        written += 1
    assert all(reasons), f"{name} refused a case without saying why"
    assert written >= len(conform.CURATED) // 2  # every adapter expresses most of the suite


def _source(name: str, *shapes: Any, **keywords: Any) -> str:
    return backends.BUILTIN[name].program(refconv.spec(*shapes, **keywords), "cpu").source()


def test_adapters_translate_the_conventions_that_differ() -> None:
    # ONNX: the transposed words are auto_pad; negative pads cannot be said
    assert "auto_pad='SAME_LOWER'" in _source("onnxruntime", (1, 2, 5), (2, 3, 3), transposed=True, stride=2,
                                              padding="same_lower", dtype="float32")  # fmt: skip
    with pytest.raises(Unsupported, match="negative"):
        _source("onnx-reference", (1, 2, 5), (3, 2, 2), padding=((-1, 0),))
    # TensorFlow: channels-last, and a filter (*k, C_in, C_out)
    source = _source("tensorflow", (1, 2, 5, 4), (3, 2, 2, 2))
    assert "tf.transpose(x, [0, 2, 3, 1])" in source
    assert "tf.transpose(w, [2, 3, 1, 0])" in source
    # torch: signed padding is F.pad, then the convolution
    source = _source("torch", (1, 2, 5, 4), (3, 2, 2, 2), padding=((1, -1), (0, 0)))
    assert "F.pad(F.pad(x, [0, 0, 1, 0]), [0, 0, 0, -1])" in source
    # frameworks without input dilation or batch groups say so
    for name in ("torch", "tensorflow", "onnxruntime", "mlx", "tinygrad", "keras"):
        with pytest.raises(Unsupported):
            _source(name, (2, 2, 5), (2, 2, 2), batch_groups=2)


@pytest.mark.parametrize("name", sorted(backends.ORACLES))
def test_each_oracle_agrees_with_refconv_on_the_curated_suite(name: str) -> None:
    """The two oracles through their adapters, as `refconv conform jax` runs them: every case agrees.

    Only what their APIs cannot say is unsupported: torch's input dilation and batch groups, and
    jax's transposed convolutions whose output_padding reaches the stride (jax.vjp of a convolution
    cannot give those; see docs/transpose.rst).
    """
    pytest.importorskip(name)
    report = conform.run(backends.get(name), ("float64",), suite="curated", isolate=False)
    assert report.ok, report.to_text()
    reasons = {o.detail for o in report.outcomes if o.verdict == "unsupported"}
    expected = {
        "jax": {r"output_padding=\(2,\) >= stride=\(1,\)"},
        "torch": {r"torch has no input dilation", r"torch has no batch groups"},
    }[name]
    assert all(any(re.search(pattern, reason) for pattern in expected) for reason in reasons), reasons
    assert sum(row["agree"] for row in report.table().values()) >= len(conform.CURATED) - 3


def test_a_low_precision_failure_shrinks_to_float32_when_float64_fails_otherwise() -> None:
    """Run in float64 and float16 only: the float16 failure is reported in float32, which it claims."""
    backend = backends.get(f"{FAKE}:no_float64_and_stride_ignored")
    report = conform.run(backend, ("float64", "float16"), examples=100, isolate=False)
    found = {(f.outcome.verdict, f.outcome.config.spec.dtype.name): f.outcome for f in report.failures}
    assert set(found) == {("raised", "float64"), ("shape", "float32")}
    s = found["shape", "float32"].config.spec
    assert s.stride == (2,)
    assert s.x_shape == (1, 1, 2)
    assert s.w_shape == (1, 1, 1)


def test_a_failure_found_on_an_empty_batch_shrinks_to_one_image_when_it_fails_there_too() -> None:
    backend = backends.get(f"{FAKE}:refuses_groups")
    empty = Config(refconv.spec((0, 4, 3), (4, 2, 2), groups=2), bias=True)
    small = conform.shrink(backend, conform.judge(backend, empty))
    assert small.verdict == "raised"
    assert small.config.spec.x_shape == (1, 2, 1)
    assert small.config.spec.w_shape == (2, 1, 1)


def test_the_reproducer_of_an_empty_batch_keeps_its_shapes() -> None:
    report = _run("keeps_one_image")
    assert sorted(f.outcome.config.spec.transposed for f in report.failures) == [False, True]
    for failure in report.failures:
        assert failure.outcome.config.spec.x_shape[0] == 0
        lines = _printed_ratios(failure.reproducer)
        assert lines["y"].startswith("y has shape (1, ")
        assert all(_ratio(lines[name]) == 0 for name in ("dx", "dw", "db"))  # empty: nothing to differ


# what TensorFlow 2.21 and Keras 3.15 raise, verbatim but for paths: the cause is one line inside
WRAPPED = [
    (
        ValueError(
            "in user code:\n\n"
            '    File "/venv/keras/src/backend/tensorflow/nn.py", line 840, in _conv_xla  *\n'
            "        return _conv()\n\n"
            "    ValueError: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            "Received: strides=[2] and dilation_rate=[2]\n"
        ),
        "ValueError: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
        "Received: strides=[2] and dilation_rate=[2]",
    ),
    (
        RuntimeError(
            "Graph execution error:\n\nDetected at node gradient_tape/conv1d/Conv2DBackpropInput defined at "
            '(most recent call last):\n  File "<refconv backend run>", line 7, in vjp\n\n'
            "Current CPU implementations do not yet support dilation rates larger than 1.\n"
            "\t [[{{node gradient_tape/conv1d/Conv2DBackpropInput}}]] [Op:__inference_vjp_49]"
        ),
        "RuntimeError: Current CPU implementations do not yet support dilation rates larger than 1.",
    ),
    (
        RuntimeError(
            "Exception encountered when calling Pad.call().\n\n\x1b[1m{{function_node "
            "__wrapped__MirrorPad_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
            "paddings must be less than the dimension size: 0, 0 not less than 0 [Op:MirrorPad] "
            "name: \x1b[0m\n\n"
            "Arguments received by Pad.call():\n  \u2022 x=tf.Tensor(shape=(0, 1, 1), dtype=float64)"
        ),
        "RuntimeError: paddings must be less than the dimension size: 0, 0 not less than 0 [Op:MirrorPad]",
    ),
    (ValueError("cannot reshape array of size 4 into shape (1,1,2)"),
     "ValueError: cannot reshape array of size 4 into shape (1,1,2)"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "said"), WRAPPED)
def test_a_wrapped_exception_is_reported_by_the_line_that_says_what_went_wrong(
    error: Exception, said: str
) -> None:
    assert conform.message(error) == said
