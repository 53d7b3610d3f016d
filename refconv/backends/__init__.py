"""Backends: the convolutions refconv judges, each a small adapter from a ConvSpec to a framework's call.

A backend turns a :class:`~refconv.ConvSpec` into a :class:`Program`: a few
lines of Python that call the framework's own API on NumPy arrays ``x, w, b,
dy`` (in the spec's layout and dtype) and leave ``got = {"y", "dx", "dw",
"db"}`` (:data:`refconv.testing.ARRAYS`; the VJPs where the framework has
autodiff). Running the backend runs that program, so the runnable
reproducer printed for a failure is the very code that failed. A
configuration the framework's API cannot express raises :class:`Unsupported`
with the reason, before anything runs; a framework that raises on a
configuration its API accepts has failed that case.

Backends are named: the built-ins of :data:`BUILTIN`, those a package
registers under the entry point group ``refconv.backends`` (an object with
this interface, or a plain function), and ``module:function`` for a
function of your own, ``function(spec, x, w, b, dy) -> dict`` (see
:func:`function_backend`). Frameworks are imported only when a program runs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv._spec import ConvSpec

__all__ = [
    "BUILTIN",
    "ORACLES",
    "Backend",
    "Program",
    "Unsupported",
    "available",
    "function_backend",
    "get",
    "require",
    "spec_source",
]

Results = dict[str, NDArray[Any]]


class Unsupported(Exception):
    """The backend cannot express this configuration; the message says why."""


def require(
    s: ConvSpec,
    framework: str,
    *,
    max_ndim: int | None = None,
    input_dilation: bool = False,
    batch_groups: bool = False,
    padding_modes: Sequence[str] = (),
    preferred_element_type: bool = False,
) -> None:
    """Raise :class:`Unsupported` where ``s`` needs what ``framework`` has not, in one wording for all.

    The keywords say what the framework has: at most ``max_ndim`` spatial dims
    (None: any), input dilation, batch groups, the ``padding_modes`` besides
    ``"zeros"``, and a result dtype other than the operands'.
    """
    if max_ndim is not None and s.ndim > max_ndim:
        raise Unsupported(f"{framework} has no {s.ndim}-d convolution (1 to {max_ndim} spatial dims)")
    if not input_dilation and any(d != 1 for d in s.input_dilation):
        raise Unsupported(f"{framework} has no input dilation (input_dilation={s.input_dilation})")
    if not batch_groups and s.batch_groups != 1:
        raise Unsupported(f"{framework} has no batch groups (batch_groups={s.batch_groups})")
    if s.padding_mode != "zeros" and s.padding_mode not in padding_modes:
        has = f"only {', '.join(padding_modes)}" if padding_modes else "none"
        raise Unsupported(f"{framework} has no {s.padding_mode} padding mode ({has})")
    if not preferred_element_type and s.preferred_element_type is not None:
        raise Unsupported(f"{framework} has no preferred_element_type (the operands' dtype is the result's)")


@dataclass(frozen=True)
class Program:
    """Python source computing a spec's results with a framework: ``setup``, then ``run``.

    ``setup`` imports the framework and defines ``forward(x, w, b)`` on the
    framework's arrays; ``run`` starts from NumPy ``x, w, b, dy`` (``b`` may be
    None) and leaves ``got``, a dict of NumPy arrays.
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

    def __call__(self, x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any]) -> Results:
        names = self.namespace()
        names.update(x=x, w=w, b=b, dy=dy)
        exec(compile(self.run, "<refconv backend run>", "exec"), names)
        got: Results = {name: np.asarray(value) for name, value in names["got"].items()}
        return got


@dataclass(frozen=True)
class Backend:
    """A named adapter: which framework it needs, the dtypes it claims, and its program for a spec.

    ``program(spec, device)`` raises :class:`Unsupported` for what the
    framework cannot express; ``gradients`` says whether its programs return
    ``dx``, ``dw`` and ``db`` as well as ``y`` (None: whichever a function returns).
    """

    name: str
    requires: tuple[str, ...]
    dtypes: tuple[str, ...]
    gradients: bool | None
    make_program: Callable[[ConvSpec, str], Program] = field(repr=False)
    describe: str = ""

    def program(self, s: ConvSpec, device: str = "cpu") -> Program:
        return self.make_program(s, device)

    def __call__(
        self, s: ConvSpec, x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any],
        device: str = "cpu",
    ) -> Results:  # fmt: skip
        return self.program(s, device)(x, w, b, dy)

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.requires)

    def version(self) -> str:
        """The installed versions of what the backend needs, e.g. ``"torch 2.13.0"``."""
        return ", ".join(f"{m} {_version(m)}" for m in self.requires)


def _version(module: str) -> str:
    for distribution in ({"tensorflow": "tensorflow-cpu"}.get(module, module), module):  # the CPU wheel first
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def spec_source(s: ConvSpec) -> str:
    """A Python expression that rebuilds ``s`` with :func:`refconv.spec`."""
    options = {
        k: (f"np.dtype({v.name!r})" if isinstance(v, np.dtype) else repr(v)) for k, v in s.options().items()
    }
    arguments = [repr(s.given_shape("x")), repr(s.given_shape("w"))]
    arguments += [f"{k}={v}" for k, v in options.items()]
    if s.transposed:
        arguments.append("transposed=True")
    arguments.append(f"dtype={s.dtype.name!r}")
    return f"refconv.spec({', '.join(arguments)})"


def function_backend(
    function: Callable[..., Any], name: str, dtypes: Sequence[str] = ("float64",)
) -> Backend:
    """A backend that calls ``function(spec, x, w, b, dy)`` (your own convolution) and judges its dict.

    The function gets a :class:`~refconv.ConvSpec` and NumPy arrays in the
    spec's layout and dtype (``b`` may be None), and returns ``{"y": ...}``
    plus ``"dx"``, ``"dw"``, ``"db"`` for the VJPs it computes (all three if its
    attribute ``gradients`` is True, none if False; without the attribute,
    whichever it returns are judged); it raises :class:`Unsupported` for a
    configuration it does not handle. It claims the dtypes of its attribute
    ``dtypes`` if it has one, else ``dtypes``.
    ``name`` is ``module:function`` when it can be imported by that path (the
    reproducer then imports it).
    """
    module, _, attribute = name.partition(":")
    call = attribute if attribute.isidentifier() else "function"
    setup = "import refconv\n" + (f"from {module} import {attribute}\n" if call == attribute else "")

    def program(s: ConvSpec, device: str) -> Program:
        del device
        run = f"got = {call}({spec_source(s)}, x, w, b, dy)"
        return Program(setup, run, {call: function})

    claimed = tuple(getattr(function, "dtypes", dtypes))
    gradients = getattr(function, "gradients", None)
    return Backend(name, (), claimed, gradients, program, describe=f"the function {name}")


def _builtins() -> dict[str, Backend]:
    from refconv.backends import (
        jax_backend,
        keras_backend,
        mlx_backend,
        onnx_backend,
        tensorflow_backend,
        tinygrad_backend,
        torch_backend,
    )  # fmt: skip

    backends = [
        jax_backend.BACKEND, torch_backend.BACKEND,
        tensorflow_backend.EAGER, tensorflow_backend.GRAPH, tensorflow_backend.XLA,
        onnx_backend.ONNXRUNTIME, onnx_backend.REFERENCE,
        tinygrad_backend.BACKEND, mlx_backend.BACKEND, keras_backend.BACKEND,
    ]  # fmt: skip
    return {backend.name: backend for backend in backends}


#: The built-in backends by name.
BUILTIN: dict[str, Backend] = _builtins()
#: The backends refconv's own test suite and ``refconv check`` trust as oracles: jax and torch.
ORACLES: dict[str, Backend] = {name: BUILTIN[name] for name in ("jax", "torch")}


def get(name: str) -> Backend:
    """The backend called ``name``: a built-in, a registered entry point, or ``module:function``.

    Raises
    ------
    ValueError
        For a name that is none of these, naming what exists.
    """
    if name in BUILTIN:
        return BUILTIN[name]
    registered = {entry.name: entry for entry in importlib.metadata.entry_points(group="refconv.backends")}
    if name in registered:
        return _as_backend(registered[name].load(), name)
    if ":" in name:
        module, _, attribute = name.partition(":")
        try:
            loaded = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(
                f"backend {name!r}: cannot import {attribute!r} from {module!r} ({error})"
            ) from None
        return _as_backend(loaded, name)
    known = sorted(BUILTIN) + sorted(registered)
    raise ValueError(f"unknown backend {name!r}; choose from {', '.join(known)} or give module:function")


def _as_backend(loaded: Any, name: str) -> Backend:
    if isinstance(loaded, Backend):
        return loaded
    if callable(loaded):
        return function_backend(loaded, name)
    raise ValueError(f"backend {name!r} is {type(loaded).__name__}, neither a Backend nor a function")


def available(names: Sequence[str] | None = None) -> list[str]:
    """Those of ``names`` (default: the oracles) whose framework is installed."""
    return [name for name in (ORACLES if names is None else names) if BUILTIN[name].installed()]
