"""Backends by name: the built-ins, those a package registers, and ``module:function``.

Built in (:data:`refconv.backends.BUILTIN`): refconv and :mod:`refconv.naive` themselves, and the
adapters of jax (``conv_general_dilated``, and ``conv_transpose`` three ways), torch, TensorFlow
(eager, graph, XLA), Keras, onnxruntime, ONNX's reference evaluator, OpenVINO, tinygrad, MLX, TVM,
PaddlePaddle, SciPy
(``signal.correlate``, ``signal.convolve``, ``ndimage.correlate``) and IREE (through StableHLO); and the
family's (:mod:`refconv.backends.family_backends`, refconv and refconv.naive of each operator). A package
registers a backend under the entry point group ``refconv.backends`` (a
:class:`~refconv.backends.Backend` or a plain function), and any
function ``function(spec, x, w, b, dy) -> dict`` is one by its import path (see
:func:`refconv.backends.function_backend`). Frameworks are imported only when a program runs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Sequence
from typing import Any

from refconv._convspec import ConvSpec
from refconv.backends import (
    family_backends,
    iree_backend,
    jax_backend,
    jax_transpose_backend,
    keras_backend,
    mlx_backend,
    onnx_backend,
    paddle_backend,
    refconv_backend,
    scipy_backend,
    tensorflow_backend,
    tinygrad_backend,
    torch_backend,
    tvm_backend,
)
from refconv.backends.base import Backend, Program
from refconv.operators import OPERANDS, OPERATORS

__all__ = ["BUILTIN", "FAMILY_ORACLES", "ORACLES", "available", "function_backend", "get"]

#: The built-in backends by name.
BUILTIN: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        refconv_backend.REFCONV, refconv_backend.NAIVE, jax_backend.BACKEND, jax_transpose_backend.PLAIN,
        jax_transpose_backend.KERNEL, jax_transpose_backend.CONSISTENT, torch_backend.BACKEND,
        torch_backend.COMPILE, torch_backend.CHANNELS_LAST, torch_backend.NO_MKLDNN,
        tensorflow_backend.EAGER, tensorflow_backend.GRAPH, tensorflow_backend.XLA, keras_backend.BACKEND,
        onnx_backend.ONNXRUNTIME, onnx_backend.REFERENCE, onnx_backend.OPENVINO, onnx_backend.OPENVINO_F32,
        tinygrad_backend.BACKEND, mlx_backend.BACKEND, tvm_backend.BACKEND, paddle_backend.BACKEND,
        scipy_backend.CORRELATE, scipy_backend.CONVOLVE, scipy_backend.NDIMAGE, iree_backend.BACKEND,
        *(backend for pair in refconv_backend.FAMILY.values() for backend in pair),
        family_backends.JAX_PATCHES, family_backends.TORCH_UNFOLD, family_backends.JAX_LOCAL,
        family_backends.JAX_DEFORM, family_backends.ONNXRUNTIME_DEFORM, family_backends.REFERENCE_DEFORM,
        family_backends.TENSORFLOW_PATCHES, family_backends.TORCH_LOCAL,
    )
}  # fmt: skip
#: The frameworks refconv's own test suite and ``refconv check`` trust as oracles: jax and torch.
ORACLES: dict[str, Backend] = {name: BUILTIN[name] for name in ("jax", "torch")}
#: The second implementations that confirm a failure of the family, by name: jax's patches and local
#: convolution, torch's unfold, and the local and deformable convolutions written in torch and jax.
FAMILY_ORACLES: dict[str, Backend] = {
    name: BUILTIN[name] for name in ("jax-patches", "torch-unfold", "jax-local", "torch-local", "jax-deform")
}


def function_backend(
    function: Callable[..., Any], name: str, dtypes: Sequence[str] = ("float64",)
) -> Backend:
    """A backend that calls ``function(spec, x, w, b, dy)`` (your own convolution) and judges its dict.

    The function gets a :class:`~refconv.ConvSpec` and NumPy arrays in the spec's layout and
    dtype (``b`` may be None), and returns ``{"y": ...}`` plus ``"dx"``, ``"dw"``, ``"db"`` for
    the VJPs it computes (all three if its attribute ``gradients`` is True, none if False;
    without the attribute, whichever it returns are judged), NumPy arrays in the spec's dtype;
    it raises :class:`~refconv.backends.Unsupported` for a configuration it does not handle. It
    claims the dtypes of its attribute ``dtypes`` if it has one, else ``dtypes``. When ``name``
    is the ``module:function`` that imports it, the program (and the reproducer) imports it,
    and a worker process can run it; otherwise the function itself is carried along, which a
    worker can use only if it pickles.

    A function with the attribute ``operator`` (``"patches"``, ``"local"`` or ``"deform"``:
    :data:`refconv.operators.OPERATORS`) computes that operator of the family instead: it is
    called ``function(spec, **operands)`` with the operator's operands by name
    (:func:`refconv.operators.operand_shapes`: ``x, dy`` for the patches; ``x, w, b, dy`` for the
    local convolution; ``x, w, b, offset, mask, dy`` for the deformable one, ``b`` and ``mask``
    possibly None) on the windows of ``spec`` (its kernel is ``spec.w_shape[2:]``), and returns
    the operator's results (:func:`refconv.operators.result_names`).
    """
    module, _, attribute = name.partition(":")
    importable = attribute.isidentifier() and _imports_as(module, attribute, function)
    call = attribute if importable else "function"
    setup = "import refconv\n" + (f"from {module} import {attribute}\n" if importable else "")
    operator = getattr(function, "operator", "conv")
    if operator not in OPERATORS:
        raise ValueError(f"backend {name!r}: operator={operator!r}; expected one of {', '.join(OPERATORS)}")
    arguments = "x, w, b, dy" if operator == "conv" else ", ".join(f"{n}={n}" for n in OPERANDS[operator])

    def program(s: ConvSpec, device: str) -> Program:
        del device
        return Program(
            setup, f"got = {call}({s.source()}, {arguments})", {} if importable else {call: function}
        )

    claimed = tuple(getattr(function, "dtypes", dtypes))
    return Backend(name, (), claimed, getattr(function, "gradients", None), program, operator=operator)


def _imports_as(module: str, attribute: str, function: Any) -> bool:
    try:
        return getattr(importlib.import_module(module), attribute) is function
    except (ImportError, AttributeError, ValueError):
        return False


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
