"""Time refconv against its peers on real layer shapes: ``nox -s bench``.

Every layer of :mod:`benchmarks.layers` in float32 and float64: refconv's
forward and full VJP (dx, dw, db), torch's CPU forward and forward+backward,
jax's jitted CPU forward and VJP, onnxruntime's forward (float32: it has no
float64 Conv kernel) and the forward of ONNX's reference evaluator (the other
pure-NumPy reference), each a single-node model built once, and refconv.naive
on the small layers only. Each peer's result is checked once against
refconv's float64 reference within the round-off bound of its dtype before
it is timed, so that every row compares the same computation. A square
matmul measures the machine's BLAS peak in the same run, so that GFLOP/s can
be read as a fraction of it. Nothing here asserts a time: the numbers go to
the JSON that ``benchmarks/report.py`` turns into the table. Peak memory of
refconv's calls (tracemalloc, which sees NumPy's buffers) is recorded beside
each time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import refconv
from benchmarks.layers import LAYERS, Layer, peak_bytes
from refconv import naive
from refconv.testing import assert_conv_close

DTYPES = ["float32", "float64"]
ROUNDS = 9  # the median of 9 after a warm-up: this machine's timings drift by up to 2x between runs
SLOW_ROUNDS, SLOW_SECONDS = 3, 1.0  # a peer whose one call takes seconds (ONNX's reference ConvTranspose)
PEAK_N = 2048
THREADS = 2  # torch's and onnxruntime's; nox -s bench gives BLAS the same
ONNX_OPSET = 22


def _arrays(layer: Layer, dtype: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(layer.x_shape).astype(dtype)
    w = rng.standard_normal(layer.w_shape).astype(dtype)
    out = layer.output_shape()
    return x, w, rng.standard_normal(out[1]).astype(dtype), rng.standard_normal(out).astype(dtype)


def _record(benchmark: Any, layer: Layer, dtype: str, impl: str, flops: int) -> None:
    benchmark.group = f"{layer.id} {dtype}"
    benchmark.extra_info.update(layer=layer.id, dtype=dtype, impl=impl, flops=flops)


def _run(benchmark: Any, fn: Callable[[], Any], rounds: int = ROUNDS) -> None:
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_peak(benchmark: Any, dtype: str) -> None:
    """The BLAS peak of this machine in this run: a square matmul."""
    a = np.random.default_rng(0).standard_normal((PEAK_N, PEAK_N)).astype(dtype)
    benchmark.group = "matmul peak"
    benchmark.extra_info.update(layer="matmul", dtype=dtype, impl="numpy-matmul", flops=2 * PEAK_N**3)
    _run(benchmark, lambda: a @ a)


def _refconv_calls(layer: Layer, module: Any, arrays: tuple[Any, ...]) -> dict[str, Callable[[], Any]]:
    x, w, b, dy = arrays
    kw = layer.keywords
    if layer.transposed:
        return {
            "forward": lambda: module.conv_transpose(x, w, b, **kw),
            "vjp": lambda: module.conv_transpose_vjp(x, w, dy, **kw),
        }
    return {"forward": lambda: module.conv(x, w, b, **kw), "vjp": lambda: module.conv_vjp(x, w, dy, **kw)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["forward", "vjp"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.id)
def test_refconv(benchmark: Any, layer: Layer, which: str, dtype: str) -> None:
    fn = _refconv_calls(layer, refconv, _arrays(layer, dtype))[which]
    flops = layer.forward_flops() * (1 if which == "forward" else 2)
    _record(benchmark, layer, dtype, f"refconv-{which}", flops)
    benchmark.extra_info["peak_bytes"] = peak_bytes(fn)
    benchmark.extra_info["output_bytes"] = int(np.prod(layer.output_shape())) * np.dtype(dtype).itemsize
    _run(benchmark, fn)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", [layer for layer in LAYERS if layer.small], ids=lambda layer: layer.id)
def test_naive(benchmark: Any, layer: Layer, dtype: str) -> None:
    calls = _refconv_calls(layer, naive, _arrays(layer, dtype))
    _record(benchmark, layer, dtype, "naive-forward+vjp", 3 * layer.forward_flops())
    benchmark.pedantic(lambda: (calls["forward"](), calls["vjp"]()), rounds=1, iterations=1)


def _torch_conv(layer: Layer) -> Callable[..., Any]:
    import torch.nn.functional as F

    nd = len(layer.x_shape) - 2
    conv: Callable[..., Any] = getattr(F, f"conv_transpose{nd}d" if layer.transposed else f"conv{nd}d")
    return conv


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["forward", "forward+backward"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.id)
def test_torch(benchmark: Any, layer: Layer, which: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(THREADS)
    x, w, b, dy = (torch.from_numpy(a) for a in _arrays(layer, dtype))
    conv = _torch_conv(layer)
    kw = layer.keywords
    flops = layer.forward_flops() * (1 if which == "forward" else 3)
    _record(benchmark, layer, dtype, f"torch-{which}", flops)
    if which == "forward":

        def forward() -> Any:
            with torch.no_grad():
                return conv(x, w, b, **kw)

        _run(benchmark, forward)
        return
    leaves = [a.clone().requires_grad_(True) for a in (x, w, b)]

    def forward_backward() -> Any:
        for leaf in leaves:
            leaf.grad = None
        conv(*leaves, **kw).backward(dy)
        return [leaf.grad for leaf in leaves]

    _run(benchmark, forward_backward)


def _jax_functions(layer: Layer) -> tuple[Callable[..., Any], Callable[..., Any]]:
    jax = pytest.importorskip("jax")
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    s = layer.spec()
    p = s.general  # a transposed convolution as the general convolution that it is, as XLA runs it

    def kernel(w: Any) -> Any:
        return _jax_transpose_kernel(w, s.groups) if s.transposed else w

    nd = s.ndim

    def forward(x: Any, w: Any, b: Any) -> Any:
        y = lax.conv_general_dilated(
            x, kernel(w), p.stride, p.padding, lhs_dilation=p.input_dilation, rhs_dilation=p.dilation,
            feature_group_count=p.groups, batch_group_count=p.batch_groups, precision=lax.Precision.HIGHEST,
        )  # fmt: skip
        return y + b.reshape((1, -1) + (1,) * nd)

    def vjp(x: Any, w: Any, b: Any, dy: Any) -> Any:
        return jax.vjp(forward, x, w, b)[1](dy)

    return jax.jit(forward), jax.jit(vjp)


def _jax_transpose_kernel(w: Any, groups: int) -> Any:
    """:func:`refconv._ops.transpose_kernel` in jax.numpy (flip, swap in/out per group)."""
    import jax.numpy as jnp

    flipped = jnp.flip(w, axis=tuple(range(2, w.ndim)))
    c_in, c_out_g = w.shape[:2]
    grouped = flipped.reshape(groups, c_in // groups, c_out_g, *w.shape[2:]).swapaxes(1, 2)
    return grouped.reshape(groups * c_out_g, c_in // groups, *w.shape[2:])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["forward", "vjp"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.id)
def test_jax(benchmark: Any, layer: Layer, which: str, dtype: str) -> None:
    forward, vjp = _jax_functions(layer)
    import jax

    x, w, b, dy = (jax.device_put(a) for a in _arrays(layer, dtype))
    flops = layer.forward_flops() * (1 if which == "forward" else 2)
    _record(benchmark, layer, dtype, f"jax-{which}", flops)
    if which == "forward":
        _run(benchmark, lambda: forward(x, w, b).block_until_ready())
    else:
        _run(benchmark, lambda: jax.block_until_ready(vjp(x, w, b, dy)))


def _onnx_model(layer: Layer, dtype: str) -> Any:
    """A single Conv or ConvTranspose node for ``layer`` (refconv.backends.onnx_backend translates the
    general case; these layers need only explicit pads, strides, dilations, groups and output_padding)."""
    from onnx import helper

    s = layer.spec()
    attributes: dict[str, Any] = dict(
        strides=list(s.stride), dilations=list(s.dilation), group=s.groups, kernel_shape=list(s.w_shape[2:]),
        pads=[lo for lo, _ in s.padding] + [hi for _, hi in s.padding],
    )  # fmt: skip
    if s.transposed:
        attributes["output_padding"] = list(s.output_padding)
    operator = "ConvTranspose" if s.transposed else "Conv"
    element = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    arrays = dict(zip("xwb", (layer.x_shape, layer.w_shape, (s.y_shape[1],)), strict=True))
    graph = helper.make_graph(
        [helper.make_node(operator, list(arrays), ["y"], **attributes)], operator.lower(),
        [helper.make_tensor_value_info(name, element, shape) for name, shape in arrays.items()],
        [helper.make_tensor_value_info("y", element, s.y_shape)],
    )  # fmt: skip
    opsets = [helper.make_opsetid("", ONNX_OPSET)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def _time_checked_peer(benchmark: Any, layer: Layer, dtype: str, impl: str, run: Callable[..., Any]) -> None:
    """Check ``run(x, w, b)`` against refconv's float64 reference (the round-off bound of ``dtype``), then
    time it."""
    x, w, b, _ = _arrays(layer, dtype)
    start = time.perf_counter()
    y = run(x, w, b)
    slow = time.perf_counter() - start > SLOW_SECONDS
    assert_conv_close(y, x, w, b, transposed=layer.transposed, **layer.keywords)
    _record(benchmark, layer, dtype, impl, layer.forward_flops())
    _run(benchmark, lambda: run(x, w, b), SLOW_ROUNDS if slow else ROUNDS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.id)
def test_onnxruntime(benchmark: Any, layer: Layer, dtype: str) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    if dtype == "float64":
        pytest.skip("onnxruntime has no float64 Conv kernel on the CPU")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
    session = onnxruntime.InferenceSession(
        _onnx_model(layer, dtype).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    _time_checked_peer(
        benchmark,
        layer,
        dtype,
        "onnxruntime-forward",
        lambda x, w, b: session.run(None, dict(x=x, w=w, b=b))[0],
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.id)
def test_onnx_reference(benchmark: Any, layer: Layer, dtype: str) -> None:
    pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    evaluator: Any = ReferenceEvaluator(_onnx_model(layer, dtype))
    _time_checked_peer(
        benchmark,
        layer,
        dtype,
        "onnx-reference-forward",
        lambda x, w, b: evaluator.run(None, dict(x=x, w=w, b=b))[0],
    )
