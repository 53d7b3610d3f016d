"""Running a backend's program without trusting it: on copies, in a process of its own, with a timeout.

The code under test may crash, hang, exit, raise anything, return anything or write into its
inputs. ``execute`` runs a program on copies of the arrays and turns every way it can end
into an :class:`~refconv.conform.Answer`; :class:`~refconv.conform.Worker` does that in a child
process, so that an ``os._exit``, a segfault, a signal or a hang ends one case, not the run. The
child ignores Ctrl-C: an interrupt is the user's, and the parent that judges decides what it means.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import re
import signal
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv import _normalize as norm
from refconv.backends.base import Program, Unsupported
from refconv.cases import Arrays

__all__ = ["Answer", "Worker", "execute", "message", "validated"]


@dataclass(frozen=True)
class Answer:
    """How a program's run ended.

    ``status`` is ``"ok"`` (``arrays`` holds what it returned), ``"unsupported"`` (it raised
    :class:`~refconv.backends.Unsupported`), ``"raised"`` (any other exception, ``SystemExit``
    and ``KeyboardInterrupt`` included), ``"invalid"`` (``got`` is not a dict of numeric
    NumPy arrays), ``"crashed"`` (its process died) or ``"timeout"``; ``detail`` says how, in
    one line. ``mutated`` names the inputs the program wrote into.
    """

    status: str
    detail: str = ""
    arrays: dict[str, NDArray[Any]] = field(default_factory=dict)
    mutated: tuple[str, ...] = ()


def execute(program: Program, arrays: Arrays | Mapping[str, NDArray[Any] | None]) -> Answer:
    """Run ``program`` here on copies of ``arrays`` (``x, w, b, dy``, or operands by name): what it
    returned, or how it failed.

    Every exception is the program's answer except ``KeyboardInterrupt``, which escapes: in this
    process it is the user's Ctrl-C. Run here, a program is trusted not to raise that, not to
    exit the process and not to hang; a :class:`refconv.conform.Worker` trusts it with nothing.
    """
    given = dict(arrays._asdict() if isinstance(arrays, Arrays) else arrays)
    copies = {name: None if a is None else a.copy() for name, a in given.items()}
    try:
        with (
            warnings.catch_warnings(),
            np.errstate(all="ignore"),
        ):  # a framework's warnings are not its verdict
            warnings.simplefilter("ignore")
            got = program(**copies)
    except Unsupported as reason:  # a function backend decides when it runs
        answer = Answer("unsupported", _text(reason))
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit, GeneratorExit, a custom BaseException: the backend's
        answer = Answer("raised", message(error))
    else:
        answer = validated(got)
    mutated = tuple(name for name, a in given.items() if _changed(a, copies[name]))
    return Answer(answer.status, answer.detail, answer.arrays, mutated)


def _changed(original: NDArray[Any] | None, copy: NDArray[Any] | None) -> bool:
    if original is None or copy is None:
        return False
    return (
        copy.shape != original.shape
        or copy.dtype != original.dtype
        or not np.array_equal(copy, original, equal_nan=True)
    )


def validated(got: Any) -> Answer:
    """``got`` as a dict of numeric arrays, or an ``"invalid"`` answer saying what it is instead."""
    if not isinstance(got, dict):
        return Answer("invalid", f"got is a {type(got).__name__}, not a dict of arrays")
    arrays = {}
    for name, value in got.items():
        if not isinstance(value, np.ndarray):
            return Answer("invalid", f"{name} is a {type(value).__name__}, not a NumPy array")
        if norm.kind(value.dtype) not in "iufc":
            return Answer("invalid", f"{name} has dtype {value.dtype}, not a number type")
        arrays[str(name)] = np.array(value)  # a plain array of its own, whatever subclass or view it was
    return Answer("ok", arrays=arrays)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\bname:\s*$")
_CONTEXT = re.compile(r"^(File |Detected at node|\[\[|Arguments received|\u2022)")
_INNER = re.compile(r"^\s*([A-Za-z_.]*(?:Error|Exception)): (.+)$")


def _text(error: BaseException) -> str:
    """``str(error)``, or what can be said when even that raises."""
    try:
        return str(error)
    except BaseException as inner:
        return f"<str() of the exception raised {type(inner).__name__}>"


def message(error: BaseException) -> str:
    """``"TypeName: what went wrong"``, one line, from an exception however the framework wrapped it.

    TensorFlow and Keras wrap what went wrong in context: "in user code:", "Graph execution
    error:", "Exception encountered when calling Pad.call().", a traceback of the traced
    function, ``{{function_node ...}}`` prefixes. The line that says it is an inner exception's
    (``ValueError: ...``), or else the first line that is none of that.
    """
    lines = [_NOISE.sub("", _ANSI.sub("", line)).rstrip() for line in _text(error).strip().splitlines()]
    lines = [line for line in lines if line.strip()]
    kind = type(error).__name__
    inner = next((m for m in map(_INNER.match, lines[1:]) if m), None)
    if inner is not None:
        kind, text = inner.group(1), inner.group(2)
    else:
        plain = [line.strip() for line in lines if not line.startswith((" ", "\t"))]
        said = [line for line in plain if not line.endswith((":", ".()")) and not _CONTEXT.match(line)]
        said = [line for line in said if not line.startswith("Exception encountered when calling")]
        text = (said or plain or [""])[0]
    return f"{kind}: {text}"[:300].rstrip(": ")


class Worker:
    """Runs programs in a child process of its own, each with a timeout; a dead child is replaced.

    A framework can kill the process that runs it (MLX 0.32 dies of SIGFPE on one empty-batch
    transposed convolution): the child's death is that case's answer, ``crashed``, and the next
    case starts a new child. A program that does not answer within ``timeout`` seconds is
    ``timeout``, and its child is killed.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.process: Any = None
        self.connection: Any = None

    def run(self, program: Program, arrays: Arrays | Mapping[str, NDArray[Any] | None]) -> Answer:
        """``execute`` of ``program`` on ``arrays`` in the child, or how the child ended."""
        try:
            bindings = pickle.dumps(program.bindings)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise ValueError(
                f"the backend's function cannot be sent to a worker process ({error}): give it as an "
                "importable module:function, or judge it in-process (which trusts it)"
            ) from None
        if self.process is None or not self.process.is_alive():
            self._start()
        try:
            self.connection.send((program.setup, program.run, bindings, arrays))
            if not self.connection.poll(self.timeout):
                self.close(stuck=True)
                return Answer("timeout", f"no answer within {self.timeout:g} s: the run was stopped")
            answer: Answer = self.connection.recv()
        except (EOFError, OSError):  # BrokenPipeError is an OSError
            self.process.join(timeout=5)  # reap it, to read how it died
            code = self.process.exitcode
            self.close()
            return Answer("crashed", f"the process running it died ({_ending(code)})")
        return answer

    def _start(self) -> None:
        """Start the child; a Ctrl-C while it starts leaves no half-started child for ``close``."""
        context = multiprocessing.get_context("spawn")
        connection, child = context.Pipe()
        process = context.Process(target=_serve, args=(child,), daemon=True)
        try:
            process.start()
        except BaseException:
            if process.pid is not None:
                process.kill()
                process.join()
            connection.close()
            raise
        finally:
            child.close()
        self.process, self.connection = process, connection

    def close(self, stuck: bool = False) -> None:
        """Stop the child: ask it to end (or, ``stuck`` in a run, kill it), and wait for it."""
        if self.process is not None:
            if not stuck:
                with contextlib.suppress(OSError):
                    self.connection.send(None)
                self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
            self.connection.close()
        self.process = self.connection = None


def _ending(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _serve(connection: Any) -> None:
    """The child: run each program it is sent and answer how it ended."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent
    while True:
        message_ = connection.recv()
        if message_ is None:
            return
        setup, run, bindings, arrays = message_
        try:
            answer = execute(Program(setup, run, pickle.loads(bindings)), arrays)
        except BaseException as error:  # KeyboardInterrupt is the backend's own here: SIGINT is ignored
            answer = Answer("raised", message(error))
        connection.send(answer)
