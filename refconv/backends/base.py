"""What a backend is: an adapter that turns a :class:`~refconv.ConvSpec` into a framework's own code.

A backend turns a spec into a :class:`~refconv.backends.Program`: a few lines of Python that call the
framework's own API on NumPy arrays ``x, w, b, dy`` (in the spec's layout and dtype) and leave ``got``, a
dict of NumPy arrays named by :data:`refconv.cases.ARRAYS` (the VJPs where the framework has
autodiff). Running the backend runs that program, so the reproducer printed for a failure is
the very code that failed. A configuration the framework's API cannot express raises
:class:`refconv.backends.Unsupported` with the reason, before anything runs.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv._convspec import ConvSpec

__all__ = ["FLOATS", "Backend", "Program", "Unsupported", "cpu_only", "require"]

#: The dtypes a framework's float convolution claims (bfloat16 through ml_dtypes).
FLOATS = ("float64", "float32", "float16", "bfloat16")


class Unsupported(Exception):
    """The backend cannot express this configuration; the message says why."""


def require(
    s: ConvSpec,
    framework: str,
    *,
    min_ndim: int = 1,
    max_ndim: int | None = None,
    input_dilation: bool = False,
    batch_groups: bool = False,
    padding_modes: Sequence[str] = (),
    preferred_element_type: bool = False,
) -> None:
    """Raise :class:`~refconv.backends.Unsupported` where ``s`` needs what ``framework`` has not.

    The keywords say what the framework has: at least ``min_ndim`` spatial dims
    (most have no 0-d convolution) and at most ``max_ndim`` (None: any), input
    dilation, batch groups, the ``padding_modes`` besides ``"zeros"``, and a
    result dtype other than the operands'.
    """
    if s.ndim < min_ndim or (max_ndim is not None and s.ndim > max_ndim):
        has = f"{min_ndim} to {max_ndim}" if max_ndim is not None else f"{min_ndim} or more"
        raise Unsupported(f"{framework} has no {s.ndim}-d convolution ({has} spatial dims)")
    if not input_dilation and any(d != 1 for d in s.input_dilation):
        raise Unsupported(f"{framework} has no input dilation (input_dilation={s.input_dilation})")
    if not batch_groups and s.batch_groups != 1:
        raise Unsupported(f"{framework} has no batch groups (batch_groups={s.batch_groups})")
    if s.padding_mode != "zeros" and s.padding_mode not in padding_modes:
        has = f"only {', '.join(padding_modes)}" if padding_modes else "none"
        raise Unsupported(f"{framework} has no {s.padding_mode} padding mode ({has})")
    if not preferred_element_type and s.preferred_element_type is not None:
        raise Unsupported(f"{framework} has no preferred_element_type (the operands' dtype is the result's)")


def cpu_only(device: str, why: str) -> None:
    """Raise :class:`Unsupported` (saying ``why``) for a ``device`` other than the CPU."""
    if device != "cpu":
        raise Unsupported(why)


@dataclass(frozen=True)
class Program:
    """Python source computing a spec's results with a framework: ``setup``, then ``run``.

    ``setup`` imports the framework and defines ``forward(x, w, b)`` on the framework's arrays
    (the function backends' setup imports the function instead); ``run`` starts from NumPy
    ``x, w, b, dy`` (``b`` may be None) and leaves ``got``. ``bindings`` are names the source
    uses but cannot import (a function given as an object): they travel to a worker by pickle.
    """

    setup: str
    run: str
    bindings: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def source(self) -> str:
        return f"{self.setup.strip()}\n\n{self.run.strip()}\n".lstrip()

    def namespace(self) -> dict[str, Any]:
        """The names ``setup`` defines (``forward`` among them), after ``bindings``."""
        names: dict[str, Any] = {"np": np, **self.bindings}
        exec(compile(self.setup, "<refconv backend setup>", "exec"), names)
        return names

    def forward(self) -> Callable[..., Any]:
        """``forward(x, w, b) -> y`` on the framework's arrays, for tests of forward mode and second order."""
        function: Callable[..., Any] = self.namespace()["forward"]
        return function

    def __call__(self, *arrays: NDArray[Any] | None, **named: NDArray[Any] | None) -> Any:
        """Run the program on these arrays (in this process) and return its ``got`` as it left it.

        The arrays are ``x, w, b, dy`` in order, or by name (the family's operands too:
        :func:`refconv.operators.operand_shapes`).
        """
        names = self.namespace()
        names.update(zip(("x", "w", "b", "dy"), arrays, strict=False))  # some, in order
        names.update(named)
        exec(compile(self.run, "<refconv backend run>", "exec"), names)
        return names["got"]


@dataclass(frozen=True)
class Backend:
    """A named adapter: which modules it needs, the dtypes it claims, and its program for a spec.

    ``program(spec, device)`` raises :class:`refconv.backends.Unsupported` for what the framework cannot
    express; ``gradients`` says whether its programs return ``dx``, ``dw`` and ``db`` as well
    as ``y`` (None: whichever a function returns). ``extra`` is the pyproject extra that
    installs what it needs (``pip install "refconv[extra]"``). ``operator`` is the function it
    computes (:data:`refconv.operators.OPERATORS`): its program gets that operator's operands by
    name (``x, w, b, dy`` for the convolution) and returns its results.
    """

    name: str
    requires: tuple[str, ...]
    dtypes: tuple[str, ...]
    gradients: bool | None
    make_program: Callable[[ConvSpec, str], Program] = field(repr=False)
    extra: str = ""
    operator: str = "conv"

    def program(self, s: ConvSpec, device: str = "cpu") -> Program:
        return self.make_program(s, device)

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.requires)

    def install_hint(self) -> str:
        """What to run when ``installed`` is False."""
        if self.extra:
            return f'pip install "refconv[{self.extra}]"'
        return f"pip install {' '.join(self.requires)}"

    def version(self) -> str:
        """The installed versions of what the backend needs, e.g. ``"torch 2.13.0"``."""
        return ", ".join(f"{m} {_version(m)}" for m in self.requires)


#: The distributions of the modules whose name is not their distribution's (TensorFlow's CPU wheel first).
_WHEELS = {
    "tensorflow": "tensorflow-cpu",
    "iree.compiler": "iree-base-compiler",
    "iree.runtime": "iree-base-runtime",
    "tvm": "apache-tvm",
    "paddle": "paddlepaddle",
}


def _version(module: str) -> str:
    for distribution in (_WHEELS.get(module, module), module):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"
