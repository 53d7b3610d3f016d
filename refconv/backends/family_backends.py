"""The family's adapters: patches, locally connected and deformable convolutions in jax, torch and ONNX.

Each is a :class:`~refconv.backends.Backend` of one operator (:mod:`refconv.operators`): its
program gets that operator's operands by name and returns its results.

* ``jax-patches``: ``lax.conv_general_dilated_patches`` and its ``jax.vjp`` (the fold), every
  keyword as the convolution's adapter gives it (``dimension_numbers`` unchanged, the padding
  words as jax's, a padding mode as ``jnp.pad`` first); its output is refconv's layout of the
  patches (channel ``c K + t``).
* ``jax-local``: ``lax.conv_general_dilated_local`` and ``jax.vjp``, the bias added after.
* ``torch-local``: the local convolution written in torch (torch has no operator): ``F.unfold``
  then one ``einsum`` with each position's kernel, and autograd; a second oracle beside jax's.
* ``jax-deform``: the deformable convolution written in jax from its definition, not a jax
  operator (jax has none): ``jax.scipy.ndimage.map_coordinates`` (order 1, zeros outside) per
  image and channel, scaled by the mask, then one ``einsum`` per feature group; ``jax.vjp``
  gives the five VJPs, so it is a second oracle for them beside :mod:`refconv.naive`.
* ``torch-unfold``: ``torch.nn.functional.unfold`` (2-d, channels first, symmetric
  non-negative padding; no input dilation or padding mode) and its autograd (``fold``); refconv's
  patches are ``unfold(x).reshape(N, C K, *out)``.
* ``onnxruntime-deform``, ``onnx-reference-deform``: one ONNX DeformConv node (opset 22) in
  onnxruntime's CPU kernel (2-d only) and ONNX's reference evaluator; forward only, in float64
  (refconv judges the deformable convolution in float64 only: :func:`refconv.operators.unsupported`
  says why). ONNX forbids negative pads; ``offset_group`` is read from the offset's channels, as
  refconv reads it; without a bias but with a mask, ``B`` is given as zeros (the optional input
  before ``mask`` must be given).
* ``tensorflow-patches``: ``tf.image.extract_patches`` (2-d, ``NHWC``; ``sizes``, ``strides``,
  ``rates``; ``'SAME'`` and ``'VALID'``, other non-negative padding as ``tf.pad`` then
  ``'VALID'``) and ``tf.GradientTape``: TF's patch channels are tap-major, ``(t, c)``, reordered
  to refconv's ``(c, t)``; other layouts are transposed in and out.

torchvision's ``deform_conv2d`` does not load beside the CPU torch wheel these machines carry.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from refconv._spec import ConvSpec
from refconv.backends import channels_last
from refconv.backends.base import FLOATS, Backend, Program, Unsupported, cpu_only, require
from refconv.backends.jax_backend import specs, window_padding

__all__ = [
    "JAX_DEFORM", "JAX_LOCAL", "JAX_PATCHES", "ONNXRUNTIME_DEFORM", "REFERENCE_DEFORM", "TENSORFLOW_PATCHES",
    "TORCH_LOCAL", "TORCH_UNFOLD",
]  # fmt: skip

_JAX_SETUP = """
import jax
import jax.numpy as jnp
from jax import lax

jax.config.update("jax_enable_x64", True)
"""
_MODES = ("reflect", "replicate", "circular", "symmetric")


def _jax_window(s: ConvSpec) -> tuple[str, str]:
    """The ``jnp.pad`` line a padding mode needs first (or none), and jax's window keywords."""
    lhs, rhs, out = specs(s)
    pad, padding = window_padding(s)
    keywords = (
        f"window_strides={s.stride}, padding={padding}, filter_shape={tuple(s.w_shape[2:])},\n"
        f"        lhs_dilation={s.input_dilation}, rhs_dilation={s.dilation},\n"
        f"        dimension_numbers={(lhs, rhs, out)}, precision=lax.Precision.HIGHEST"
    )
    return pad, keywords


def _jax_patches(s: ConvSpec, device: str = "cpu") -> Program:
    cpu_only(device, "the jax family adapters run on the CPU")
    require(s, "jax's patches", min_ndim=0, input_dilation=True, padding_modes=_MODES)
    pad, keywords = _jax_window(s)
    setup = f"""{_JAX_SETUP}

def forward(x):
{pad}    return lax.conv_general_dilated_patches(
        x, {keywords})
"""
    run = """
y, pullback = jax.vjp(forward, x)
(dx,) = pullback(jnp.asarray(dy))
got = {"y": np.asarray(y), "dx": np.asarray(dx)}
"""
    return Program(setup, run)


def _jax_local(s: ConvSpec, device: str = "cpu") -> Program:
    cpu_only(device, "the jax family adapters run on the CPU")
    require(s, "jax's local convolution", min_ndim=0, input_dilation=True, padding_modes=_MODES)
    pad, keywords = _jax_window(s)
    channel = specs(s)[2].index("C")
    bias = [-1 if i == channel else 1 for i in range(s.ndim + 2)]
    setup = f"""{_JAX_SETUP}

def forward(x, w, b):
{pad}    y = lax.conv_general_dilated_local(
        x, w, {keywords})
    return y + b.reshape({bias})
"""
    run = f"""
b = np.zeros(dy.shape[{channel}], x.dtype) if b is None else b
y, pullback = jax.vjp(forward, x, w, b)
dx, dw, db = pullback(jnp.asarray(dy))
got = {{name: np.asarray(t) for name, t in zip(("y", "dx", "dw", "db"), (y, dx, dw, db))}}
"""
    return Program(setup, run)


def _jax_deform(s: ConvSpec, device: str = "cpu") -> Program:
    cpu_only(device, "the jax family adapters run on the CPU")
    nd, kernel, out = s.ndim, tuple(s.w_shape[2:]), tuple(s.y_shape[2:])
    if not 1 <= nd <= 3:
        raise Unsupported(f"jax-deform is written for 1 to 3 spatial dims, not {nd}")
    if s.empty:
        raise Unsupported(
            "jax-deform is written for non-empty arrays (jnp.stack of no rows, a gather from nothing)"
        )
    starts = [(st, d, -lo) for st, d, (lo, _) in zip(s.stride, s.dilation, s.padding, strict=True)]
    letters = "uvw"[:nd]
    einsum = f"nc{letters.upper()}{letters},oc{letters.upper()}->no{letters}"
    setup = f"""{_JAX_SETUP}from jax.scipy.ndimage import map_coordinates

# tap t of output j samples dim e at stride * j + dilation * t - padding_lo, plus its offset
GRIDS = np.meshgrid(*(range(k) for k in {kernel}), *(range(o) for o in {out}), indexing="ij")
BASE = [st * GRIDS[{nd} + e] + d * GRIDS[e] + start for e, (st, d, start) in enumerate({starts})]


def forward(x, w, b, offset, mask):
    n, c = x.shape[:2]
    offset_groups = offset.shape[1] // ({math.prod(kernel)} * {nd})
    shifts = offset.reshape(n, offset_groups, *{kernel}, {nd}, *{out})
    scale = mask.reshape(n, offset_groups, *{kernel}, *{out})
    rows = []
    for image in range(n):
        for channel in range(c):
            g = channel // (c // offset_groups)
            points = [BASE[e] + shifts[image, g][(slice(None),) * {nd} + (e,)] for e in range({nd})]
            sampled = map_coordinates(x[image, channel], points, order=1, mode="constant", cval=0.0)
            rows.append(sampled * scale[image, g])
    columns = jnp.stack(rows).reshape(n, c, *{kernel}, *{out})
    i, o = c // {s.groups}, w.shape[0] // {s.groups}
    y = jnp.concatenate([
        jnp.einsum({einsum!r}, columns[:, k * i:(k + 1) * i], w[k * o:(k + 1) * o], precision="highest")
        for k in range({s.groups})], axis=1)
    return y + b.reshape(1, -1, *(1,) * {nd})
"""
    run = f"""
given = mask is not None
b = np.zeros(w.shape[0], x.dtype) if b is None else b
if mask is None:
    mask = np.ones((offset.shape[0], offset.shape[1] // {nd}, *offset.shape[2:]), x.dtype)
y, pullback = jax.vjp(forward, x, w, b, offset, mask)
names = ("y", "dx", "dw", "db", "doffset", "dmask")
got = {{name: np.asarray(t) for name, t in zip(names, (y, *pullback(jnp.asarray(dy))))}}
if not given:
    del got["dmask"]
"""
    return Program(setup, run)


def _torch_unfold_call(s: ConvSpec) -> str:
    """The ``F.unfold`` call on ``x`` for ``s``, or Unsupported where unfold cannot say it."""
    require(s, "torch's unfold", min_ndim=2, max_ndim=2)
    if s.dimension_numbers is not None:
        raise Unsupported("torch's unfold takes channels first only")
    if any(lo != hi or lo < 0 for lo, hi in s.padding):
        raise Unsupported(f"torch's unfold pads both sides alike, by >= 0 (padding={s.padding})")
    padding = tuple(lo for lo, _ in s.padding)
    kernel = tuple(s.w_shape[2:])
    return f"F.unfold(x, {kernel}, dilation={s.dilation}, padding={padding}, stride={s.stride})"


def _torch_unfold(s: ConvSpec, device: str = "cpu") -> Program:
    call = _torch_unfold_call(s)
    where = "cuda" if device == "cuda" else "cpu"
    setup = f"""
import torch
import torch.nn.functional as F


def forward(x):
    patches = {call}
    return patches.reshape(patches.shape[0], patches.shape[1], *{tuple(s.y_shape[2:])})
"""
    run = f"""
xt = torch.tensor(x, device={where!r}, requires_grad=True)
y = forward(xt)
y.backward(torch.tensor(dy, device={where!r}))
got = {{"y": y.detach().cpu().numpy(), "dx": xt.grad.cpu().numpy()}}
"""
    return Program(setup, run)


def _transpose(perm: list[int] | None, inverse: bool = False) -> str:
    """``.transpose(perm)`` (or its inverse) as source; nothing for None, no change."""
    if perm is None:
        return ""
    return f".transpose({[int(i) for i in np.argsort(perm)] if inverse else perm})"


def _tensorflow_patches(s: ConvSpec, device: str = "cpu") -> Program:
    cpu_only(device, "the tensorflow-patches backend runs on the CPU only")
    require(s, "tf.image.extract_patches", min_ndim=2, max_ndim=2)
    if s.padding_word in ("same", "valid"):
        padding, pad = repr(s.padding_word.upper()), ""
    elif all(lo >= 0 and hi >= 0 for lo, hi in s.padding):
        pad = (
            f"    x = tf.pad(x, {[[0, 0], *map(list, s.padding), [0, 0]]})\n"
            if any(map(any, s.padding))
            else ""
        )
        padding = "'VALID'"
    else:
        raise Unsupported(
            f"tf.image.extract_patches pads by 'SAME' or tf.pad, not crops (padding={s.padding})"
        )
    (kh, kw), c = s.w_shape[2:], s.x_shape[1]
    taps = kh * kw
    setup = f"""
import tensorflow as tf


def forward(x):  # NHWC; TF's patch channels are tap-major, (t, c): reordered to refconv's (c, t)
{pad}    patches = tf.image.extract_patches(
        x, sizes=[1, {kh}, {kw}, 1], strides=[1, {s.stride[0]}, {s.stride[1]}, 1],
        rates=[1, {s.dilation[0]}, {s.dilation[1]}, 1], padding={padding})
    n, oh, ow = patches.shape[:3]
    patches = tf.transpose(tf.reshape(patches, [-1, oh, ow, {taps}, {c}]), [0, 1, 2, 4, 3])
    return tf.reshape(patches, [-1, oh, ow, {c * taps}])
"""
    x_last, _, y_given = channels_last.permutations(s)  # given x to NHWC; NHWC y to the given layout
    run = f"""
xt = tf.constant(np.ascontiguousarray(x{_transpose(x_last)}))
with tf.GradientTape() as tape:
    tape.watch(xt)
    y = forward(xt)
cotangent = tf.constant(np.ascontiguousarray(dy{_transpose(y_given, inverse=True)}))
dx = tape.gradient(y, xt, output_gradients=cotangent)
got = {{"y": y.numpy(){_transpose(y_given)}, "dx": dx.numpy(){_transpose(x_last, inverse=True)}}}
"""
    return Program(setup, run)


def _torch_local(s: ConvSpec, device: str = "cpu") -> Program:
    call = _torch_unfold_call(s)
    where = "cuda" if device == "cuda" else "cpu"
    setup = f"""
import torch
import torch.nn.functional as F


def forward(x, w, b):  # the patches (N, C K, L) times each position's kernel (O, C K, L)
    patches = {call}
    y = torch.einsum("nql,oql->nol", patches, w.reshape(w.shape[0], w.shape[1], -1))
    return y.reshape(y.shape[0], y.shape[1], *{tuple(s.y_shape[2:])}) + b.reshape(1, -1, 1, 1)
"""
    run = f"""
b = np.zeros(w.shape[0], x.dtype) if b is None else b
xt, wt, bt = (torch.tensor(a, device={where!r}, requires_grad=True) for a in (x, w, b))
y = forward(xt, wt, bt)
y.backward(torch.tensor(dy, device={where!r}))
got = {{"y": y.detach().cpu().numpy(), "dx": xt.grad.cpu().numpy(), "dw": wt.grad.cpu().numpy(),
       "db": bt.grad.cpu().numpy()}}
"""
    return Program(setup, run)


_ENGINES = {
    "onnxruntime": (
        "import onnxruntime",
        """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 4
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]""",
    ),
    "reference": (
        "from onnx.reference import ReferenceEvaluator",
        """
    return ReferenceEvaluator(model).run(None, inputs)[0]""",
    ),
}


def _onnx_deform(engine: str) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        cpu_only(device, f"the {engine} backend runs on the CPU only")
        two = engine == "onnxruntime"  # its CPU kernel is 2-d only
        require(s, "ONNX's DeformConv", min_ndim=2 if two else 1, max_ndim=2 if two else None)
        if any(v < 0 for pair in s.padding for v in pair):
            raise Unsupported(f"ONNX forbids negative pads (padding={s.padding})")
        attributes = {
            "kernel_shape": list(s.w_shape[2:]), "strides": list(s.stride), "dilations": list(s.dilation),
            "pads": [lo for lo, _ in s.padding] + [hi for _, hi in s.padding], "group": s.groups,
        }  # fmt: skip
        imports, run = _ENGINES[engine]
        per_group = math.prod(s.w_shape[2:]) * s.ndim
        setup = f"""
import onnx
from onnx import helper
{imports}


def forward(x, w, offset, b, mask):
    inputs = {{"X": x, "W": w, "offset": offset}}
    if b is not None or mask is not None:  # an optional input left out is named ""
        inputs["B"] = b if b is not None else np.zeros(w.shape[0], x.dtype)
    if mask is not None:
        inputs["mask"] = mask
    element = helper.np_dtype_to_tensor_dtype(x.dtype)
    offset_group = max(offset.shape[1] // {per_group or 1}, 1)
    node = helper.make_node("DeformConv", list(inputs), ["Y"], offset_group=offset_group, **{attributes!r})
    graph = helper.make_graph(
        [node], "deform_conv",
        [helper.make_tensor_value_info(name, element, a.shape) for name, a in inputs.items()],
        [helper.make_tensor_value_info("Y", element, [None] * x.ndim)])
    opsets = [helper.make_opsetid("", 22)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model){run}
"""
        return Program(setup, 'got = {"y": forward(x, w, offset, b, mask)}')

    return program


JAX_PATCHES = Backend("jax-patches", ("jax",), FLOATS, True, _jax_patches, extra="jax", operator="patches")
JAX_LOCAL = Backend("jax-local", ("jax",), FLOATS, True, _jax_local, extra="jax", operator="local")
JAX_DEFORM = Backend("jax-deform", ("jax",), ("float64",), True, _jax_deform, extra="jax", operator="deform")
TORCH_UNFOLD = Backend(
    "torch-unfold", ("torch",), ("float64", "float32"), True, _torch_unfold, extra="torch", operator="patches"
)
TORCH_LOCAL = Backend(
    "torch-local", ("torch",), ("float64", "float32"), True, _torch_local, extra="torch", operator="local"
)
TENSORFLOW_PATCHES = Backend(
    "tensorflow-patches", ("tensorflow",), ("float64", "float32", "float16"), True, _tensorflow_patches,
    extra="tensorflow", operator="patches",
)  # fmt: skip
ONNXRUNTIME_DEFORM = Backend(
    "onnxruntime-deform", ("onnx", "onnxruntime"), ("float64",), False, _onnx_deform("onnxruntime"),
    extra="onnxruntime", operator="deform",
)  # fmt: skip
REFERENCE_DEFORM = Backend(
    "onnx-reference-deform", ("onnx",), ("float64",), False, _onnx_deform("reference"),
    extra="onnx", operator="deform",
)  # fmt: skip
