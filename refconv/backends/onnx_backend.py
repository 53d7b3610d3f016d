"""ONNX: a single Conv or ConvTranspose node (opset 22), run by onnxruntime, ONNX's reference evaluator and
OpenVINO.

Forward only. The translation (checked against ONNX 1.23's operator schemas):

* ``pads`` is ``[lo_1, ..., lo_n, hi_1, ..., hi_n]``; ONNX forbids negative pads, so a crop is
  unsupported. A padding word goes in as ``auto_pad`` (``SAME_UPPER``, ``SAME_LOWER``, ``VALID``),
  so that the engine's own split is what is judged.
* ``strides``, ``dilations``, ``group``; the weight layouts are refconv's (and PyTorch's) for both
  operators. ONNX has no input dilation, batch groups or padding modes (a Pad node before the
  Conv would judge Pad, not Conv), and one element type for every input and the output.
* ConvTranspose: ``pads`` and ``output_padding`` as PyTorch's, or ``auto_pad`` for refconv's
  transposed padding words, which are ONNX's (output ``n * stride``); both engines require
  ``output_padding < stride`` (the schema's "less than stride/dilation" read as the stride), so
  more is unsupported; refconv's ``output_shape`` is already an output_padding (ONNX's own
  ``output_shape`` attribute re-splits the pads and is not used).
* Layouts: ONNX is ``NC...`` only; other layouts are transposed in and out around the node.
* dtypes: onnxruntime has float32 and float16 Conv kernels only; the reference evaluator runs
  float64, float32, float16 and bfloat16.
* OpenVINO reads the same model through its ONNX frontend and compiles it for its CPU plugin:
  ``openvino`` as a user runs it, with the plugin's defaults, whose ``INFERENCE_PRECISION_HINT``
  is the machine's (bfloat16 on a CPU with bfloat16 instructions, as this one: a float32 model
  then computes in bfloat16), and ``openvino-f32`` with ``INFERENCE_PRECISION_HINT="f32"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from refconv._spec import ConvSpec
from refconv.backends.base import FLOATS, Backend, Program, Unsupported, cpu_only, require

OPSET = 22
ONNX_WORDS = {"same": "SAME_UPPER", "same_lower": "SAME_LOWER", "valid": "VALID"}


def attributes(s: ConvSpec) -> dict[str, Any]:
    """The Conv or ConvTranspose node's attributes for ``s``; Unsupported where ONNX cannot say it."""
    require(s, "ONNX's Conv")  # a Pad node first would judge Pad, not Conv
    said: dict[str, Any] = {"strides": list(s.stride), "dilations": list(s.dilation), "group": s.groups,
                            "kernel_shape": list(s.w_shape[2:])}  # fmt: skip
    if s.padding_word is not None:
        said["auto_pad"] = ONNX_WORDS[s.padding_word]
    else:
        if any(v < 0 for pair in s.padding for v in pair):
            raise Unsupported(f"ONNX forbids negative pads (padding={s.padding})")
        said["pads"] = [lo for lo, _ in s.padding] + [hi for _, hi in s.padding]
    if s.transposed:
        if any(o >= st for o, st in zip(s.output_padding, s.stride, strict=True)):
            raise Unsupported(f"ONNX runtimes need output_padding < stride ({s.output_padding}, {s.stride})")
        said["output_padding"] = list(s.output_padding)
    return said


def _attributes(s: ConvSpec) -> str:
    """The node's attributes as Python keyword arguments."""
    return ", ".join(f"{name}={value!r}" for name, value in attributes(s).items())


def _setup(s: ConvSpec, engine: str) -> str:
    operator = "ConvTranspose" if s.transposed else "Conv"
    if engine.startswith("openvino"):
        imports = "import openvino"
        config = (
            '{"INFERENCE_PRECISION_HINT": "f32"}' if engine == "openvino-f32" else "{}"
        )  # {}: the defaults
        run = f"""
    core = openvino.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString()), "CPU", {config})
    return compiled(inputs)[0]"""
    elif engine == "onnxruntime":
        imports = "import onnxruntime"
        run = """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 4
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]"""
    else:
        imports = "from onnx.reference import ReferenceEvaluator"
        run = """
    return ReferenceEvaluator(model).run(None, inputs)[0]"""
    return f'''
import onnx
from onnx import helper
{imports}


def forward(x, w, b):
    inputs = {{"x": x, "w": w, **({{"b": b}} if b is not None else {{}})}}
    element = helper.np_dtype_to_tensor_dtype(x.dtype)
    node = helper.make_node("{operator}", list(inputs), ["y"], {_attributes(s)})
    graph = helper.make_graph(
        [node], "{operator.lower()}",
        [helper.make_tensor_value_info(name, element, a.shape) for name, a in inputs.items()],
        [helper.make_tensor_value_info("y", element, [None] * x.ndim)])
    opsets = [helper.make_opsetid("", {OPSET})]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model){run}
'''


def _run(s: ConvSpec) -> str:
    """Move the arrays to ONNX's ``NC...`` layout, run the node, and move ``y`` back."""
    lines = []
    for name, role in (("x", "lhs"), ("w", "rhs")):
        perm = getattr(s.layout, role)
        lines.append(f"{name} = np.ascontiguousarray({name}.transpose({perm}))" if perm is not None else "")
    lines.append("y = forward(x, w, b)")
    out = s.layout.out
    if out is not None:
        lines.append(f"y = y.transpose({tuple(int(i) for i in np.argsort(out))})")
    lines.append('got = {"y": y}')
    return "\n".join(line for line in lines if line)


def _program(engine: str) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        cpu_only(device, f"the {engine} backend runs on the CPU only")
        return Program(_setup(s, engine), _run(s))

    return program


ONNXRUNTIME = Backend(
    "onnxruntime",
    ("onnx", "onnxruntime"),
    ("float32", "float16"),
    False,
    _program("onnxruntime"),
    extra="onnxruntime",
)
REFERENCE = Backend("onnx-reference", ("onnx",), FLOATS, False, _program("reference"), extra="onnx")
OPENVINO = Backend(
    "openvino",
    ("onnx", "openvino"),
    ("float32", "float16", "float64"),
    False,
    _program("openvino"),
    extra="openvino",
)
OPENVINO_F32 = Backend(
    "openvino-f32", ("onnx", "openvino"), ("float32", "float16", "float64"), False, _program("openvino-f32"),
    extra="openvino",
)  # fmt: skip
