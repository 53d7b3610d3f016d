"""Backends that attack the judge: each misbehaves the way untrusted code can, and must get a verdict.

Each is a correct convolution (refconv.naive) that, on the cases ``_target`` picks (a circular
padding mode, one curated case per dtype, so that a whole run stays short), does one hostile
thing instead: writes into its inputs, exits, dies, hangs, raises what is not an Exception,
returns what is not a float64 array. ``VERDICTS`` says what the judge must make of each.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from refconv import ConvSpec
from tests.fake_backends import correct

Arrays = dict[str, Any]


def _target(spec: ConvSpec) -> bool:
    """The cases a hostile backend misbehaves on: circular padding (one curated case per dtype)."""
    return spec.padding_mode == "circular"


def _hostile(misbehave: Any, dtypes: tuple[str, ...] = ("float64",)) -> Any:
    def backend(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
        if _target(spec):
            answer = misbehave(spec, x, w, b, dy)
            if answer is not None:
                return answer
        return correct(spec, x, w, b, dy)

    backend.gradients = True  # type: ignore[attr-defined]
    backend.dtypes = dtypes  # type: ignore[attr-defined]
    return backend


def _zero_x(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    x[...] = 0  # then computes from what it left there
    return correct(spec, x, w, b, dy)


def _double_w(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    w *= 2
    return correct(spec, x, w, b, dy)


class Boom(BaseException):  # not an Exception: what a careless harness lets through
    pass


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


def _raise(error: BaseException) -> Any:
    def misbehave(*_: Any) -> None:
        raise error

    return misbehave


def _as_dtype(dtype: str) -> Any:
    def misbehave(spec: ConvSpec, *arrays: Any) -> Arrays:
        return {name: value.astype(dtype) for name, value in correct(spec, *arrays).items()}

    return misbehave


def _list(spec: ConvSpec, *arrays: Any) -> Arrays:
    return {name: value.tolist() for name, value in correct(spec, *arrays).items()}


def _strings(spec: ConvSpec, *arrays: Any) -> Arrays:
    return {name: np.full(value.shape, "a") for name, value in correct(spec, *arrays).items()}


def _objects(spec: ConvSpec, *arrays: Any) -> Arrays:
    return {name: value.astype(object) for name, value in correct(spec, *arrays).items()}


def _tuple(spec: ConvSpec, *arrays: Any) -> Any:
    return tuple(correct(spec, *arrays).values())


mutates_x = _hostile(_zero_x)
mutates_w = _hostile(_double_w)
exits_0 = _hostile(lambda *_: sys.exit(0))
os_exit_0 = _hostile(lambda *_: os._exit(0))
os_exit_3 = _hostile(lambda *_: os._exit(3))
segfaults = _hostile(lambda *_: ctypes.string_at(0))
kills_itself = _hostile(lambda *_: os.kill(os.getpid(), signal.SIGKILL))
hangs = _hostile(lambda *_: time.sleep(10**6))
keyboard_interrupt = _hostile(_raise(KeyboardInterrupt()))
generator_exit = _hostile(_raise(GeneratorExit()))
base_exception = _hostile(_raise(Boom("not an Exception")))
unprintable = _hostile(_raise(Unprintable()))
float64_for_float32 = _hostile(_as_dtype("float64"), dtypes=("float32",))
complex64_for_float32 = _hostile(_as_dtype("complex64"), dtypes=("float32",))
returns_lists = _hostile(_list)
returns_strings = _hostile(_strings)
returns_objects = _hostile(_objects)
returns_a_tuple = _hostile(_tuple)

#: Each hostile backend's verdict, and what its detail must say.
VERDICTS = {
    "mutates_x": ("mutated", "wrote into its input x"),
    "mutates_w": ("mutated", "wrote into its input w"),
    "exits_0": ("raised", "SystemExit: 0"),
    "os_exit_0": ("crashed", "the process running it died (exit status 0)"),
    "os_exit_3": ("crashed", "the process running it died (exit status 3)"),
    "segfaults": ("crashed", "the process running it died (killed by SIGSEGV)"),
    "kills_itself": ("crashed", "the process running it died (killed by SIGKILL)"),
    "hangs": ("timeout", "no answer within 2 s: the run was stopped"),
    "keyboard_interrupt": ("raised", "KeyboardInterrupt"),
    "generator_exit": ("raised", "GeneratorExit"),
    "base_exception": ("raised", "Boom: not an Exception"),
    "unprintable": ("raised", "Unprintable: <str() of the exception raised RuntimeError>"),
    "float64_for_float32": ("dtype", "y has dtype float64, not the case's float32"),
    "complex64_for_float32": ("dtype", "y has dtype complex64, not the case's float32"),
    "returns_lists": ("invalid", "y is a list, not a NumPy array"),
    "returns_strings": ("invalid", "y has dtype <U1, not a number type"),
    "returns_objects": ("invalid", "y has dtype object, not a number type"),
    "returns_a_tuple": ("invalid", "got is a tuple, not a dict of arrays"),
}


def forward_only(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Returns y only and has no ``gradients`` attribute: only y is judged (and reproduced)."""
    return {"y": correct(spec, x, w, b, dy)["y"] * (1.5 if _target(spec) else 1.0)}


def slow(spec: ConvSpec, x: Any, w: Any, b: Any, dy: Any) -> Arrays:
    """Correct, and a tenth of a second per case: a run long enough to interrupt. It touches the
    file ``REFCONV_TEST_JUDGING`` names, if set: the test knows the run is judging cases."""
    if "REFCONV_TEST_JUDGING" in os.environ:
        Path(os.environ["REFCONV_TEST_JUDGING"]).touch()
    time.sleep(0.1)
    return correct(spec, x, w, b, dy)


slow.gradients = True  # type: ignore[attr-defined]
