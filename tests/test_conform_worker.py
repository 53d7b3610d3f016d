"""The worker trusts the code it runs with nothing: every way a program can end is an answer.

The programs here are hand-written (a backend's program is Python source): exits, signals, a
hang, writes into the inputs, answers that are not arrays; and a framework's wrapped exception
read back to the line that says what went wrong.
"""

from __future__ import annotations

import multiprocessing.context
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from refconv.backends import Program
from refconv.cases import Arrays
from refconv.conform import Worker, message
from refconv.conform.worker import execute

ARRAYS = Arrays(np.ones((1, 1, 2)), np.ones((1, 1, 1)), None, np.ones((1, 1, 2)))


@pytest.fixture
def worker() -> Iterator[Worker]:
    w = Worker(timeout=60)
    yield w
    w.close()


def test_the_worker_survives_a_program_that_kills_its_process(worker: Worker) -> None:
    died = worker.run(Program("import os, signal", "os.kill(os.getpid(), signal.SIGFPE)"), ARRAYS)
    assert (died.status, died.detail) == ("crashed", "the process running it died (killed by SIGFPE)")
    answer = worker.run(Program("", "got = {'y': x + x}"), ARRAYS)  # a new process takes over
    assert answer.status == "ok"
    assert answer.arrays["y"].tolist() == [[[2.0, 2.0]]]


@pytest.mark.parametrize(
    ("run", "status", "detail"),
    [
        ("import sys; sys.exit(0)", "raised", "SystemExit: 0"),
        ("import os; os._exit(0)", "crashed", "the process running it died (exit status 0)"),
        ("import os; os._exit(3)", "crashed", "the process running it died (exit status 3)"),
        ("import ctypes; ctypes.string_at(0)", "crashed", "the process running it died (killed by SIGSEGV)"),
        ("raise KeyboardInterrupt", "raised", "KeyboardInterrupt"),
        ("raise GeneratorExit('bye')", "raised", "GeneratorExit: bye"),
        ("got = [1, 2]", "invalid", "got is a list, not a dict of arrays"),
        ("got = {'y': 3.0}", "invalid", "y is a float, not a NumPy array"),
        ("got = {'y': np.array(['a'])}", "invalid", "y has dtype <U1, not a number type"),
        ("got = {'y': np.array([None])}", "invalid", "y has dtype object, not a number type"),
    ],
)
def test_every_ending_is_an_answer(worker: Worker, run: str, status: str, detail: str) -> None:
    answer = worker.run(Program("", run), ARRAYS)
    assert (answer.status, answer.detail) == (status, detail)


def test_the_worker_stops_a_run_that_does_not_answer() -> None:
    worker = Worker(timeout=1)
    try:
        answer = worker.run(Program("import time", "time.sleep(30)"), ARRAYS)
        assert (answer.status, answer.detail) == ("timeout", "no answer within 1 s: the run was stopped")
        assert worker.run(Program("", "got = {'y': x}"), ARRAYS).status == "ok"  # and starts anew
    finally:
        worker.close()


@pytest.mark.parametrize("run", ["x[...] = 0\ngot = {'y': x}", "w *= 2\ngot = {'y': x}"])
def test_a_program_that_writes_into_its_inputs_is_caught_and_the_originals_are_untouched(run: str) -> None:
    originals = Arrays(ARRAYS.x.copy(), ARRAYS.w.copy(), None, ARRAYS.dy.copy())
    answer = execute(Program("", run), originals)
    assert answer.mutated == (run[0],)
    assert np.array_equal(originals.x, ARRAYS.x)
    assert np.array_equal(originals.w, ARRAYS.w)


def test_a_function_that_cannot_travel_to_a_worker_is_named(worker: Worker) -> None:
    program = Program("", "got = {'y': f(x)}", {"f": lambda a: a})
    with pytest.raises(ValueError, match="cannot be sent to a worker process"):
        worker.run(program, ARRAYS)


def test_an_exception_whose_message_raises_is_still_named() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert message(Unprintable()) == "Unprintable: <str() of the exception raised RuntimeError>"


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
    assert message(error) == said


def test_a_ctrl_c_while_the_child_starts_leaves_nothing_for_close_to_trip_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An interrupted start used to leave an unstarted process that close() then tried to join."""

    def interrupted(self: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", interrupted)
    worker = Worker(timeout=5)
    with pytest.raises(KeyboardInterrupt):
        worker._start()
    assert worker.process is None
    assert worker.connection is None
    worker.close()  # what the run's cleanup does after a Ctrl-C
