"""Where refconv's time goes, per layer and per array: a sampling profile with py-spy (``nox -s bench``).

``python -m benchmarks.profile [--seconds S] [--out JSON] [--md MD] [LAYER ...]``
runs refconv's forward and full VJP of each benchmark layer in a child
process, repeatedly for ``S`` seconds each, under ``py-spy record --native``
(native frames: BLAS kernels and NumPy's loops are visible), and sorts the
main thread's samples by what they were doing:

``matmul``
    inside BLAS (OpenBLAS's gemm kernels, packing and threads);
``window copy``
    NumPy copying inside a strategy of :mod:`refconv.fast` (im2col: the
    windows made contiguous for the matmul);
``layout``
    NumPy copying to pad, to move channels last or first, to swap batch and
    channels, or to convert an operand or a result;
``multiply-add``
    NumPy's elementwise and einsum loops (the depthwise taps, shifted
    products, sums and the bias);
``other``
    the interpreter, allocation and everything else.

and by which array it was computing: ``y`` (the forward), ``dx``, ``dw``
(``db`` is part of ``dw``'s row: it is one sum). Shares are of the main
thread's samples; the time per call is measured in the child without the
profiler (in a child of its own: sampling native stacks pauses the process).
Nothing here is asserted: it explains the benchmark's ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
KINDS = ("matmul", "window copy", "layout", "multiply-add", "other")
ARRAYS = ("y", "dx", "dw")
# the leaf native function's name: OpenBLAS's kernels, packing and threads; NumPy's copy and ufunc loops
BLAS = ("gemm", "gemv", "exec_blas", "inner_thread", "blas_thread", "openblas", "_kernel_", "oncopy",
        "incopy", "itcopy", "otcopy", "dot_k")  # fmt: skip
COPY = ("to_contig", "strided_to", "assign", "copy", "memcpy", "memmove", "_cast_", "transpose")
ELEMENTWISE = ("multiply", "add", "sum_of_products", "einsum", "_sum", "reduce", "FLOAT_", "DOUBLE_")
STRATEGIES = (
    "_image_matmul",
    "_window_matmul",
    "_contraction_chunks",
    "_depthwise_taps",
    "_window_dots",
    "_shifted_products",
    "_phases",
)
PUBLIC = ("conv", "conv_vjp", "conv_transpose", "conv_transpose_vjp")
VJP_FUNCTIONS = {"input_vjp": "dx", "weight_vjp": "dw", "bias_vjp": "dw"}


def _calls(layer_id: str, dtype: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    import numpy as np

    import refconv
    from benchmarks.layers import LAYERS

    layer = next(layer for layer in LAYERS if layer.id == layer_id)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(layer.x_shape).astype(dtype), rng.standard_normal(layer.w_shape).astype(dtype)
    out = layer.output_shape()
    b, dy = rng.standard_normal(out[1]).astype(dtype), rng.standard_normal(out).astype(dtype)
    kw = layer.keywords
    if layer.transposed:
        return (lambda: refconv.conv_transpose(x, w, b, **kw)), (
            lambda: refconv.conv_transpose_vjp(x, w, dy, **kw)
        )
    return (lambda: refconv.conv(x, w, b, **kw)), (lambda: refconv.conv_vjp(x, w, dy, **kw))


def _child(layer_id: str, dtype: str, seconds: float, times: Path | None) -> None:
    """Write the median of 5 calls of each to ``times``, or run both in turn for ``seconds`` (profiled)."""
    forward, vjp = _calls(layer_id, dtype)
    if times is not None:
        medians = {}
        for name, fn in (("forward", forward), ("vjp", vjp)):
            fn()
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - start)
            medians[name] = 1e3 * sorted(runs)[2]
        times.write_text(json.dumps(medians))
        return
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        forward()
        vjp()


def classify(frames: list[str]) -> tuple[str, str] | None:
    """``(array, kind)`` of one sample's stack (outermost first), or None outside the profiled calls."""
    names = [frame.split(" (")[0] for frame in frames]
    if not any(frame.startswith(f"{name} (refconv/") for frame in frames for name in PUBLIC):
        return None  # the child's setup, imports
    array = "y"
    for name in names:
        array = VJP_FUNCTIONS.get(name, array)
    leaf = names[-1]
    python = [name for frame, name in zip(frames, names, strict=True) if ".py:" in frame]
    if any(key in leaf for key in BLAS) or "libopenblas" in frames[-1] or "libscipy_openblas" in frames[-1]:
        return array, "matmul"
    if any(key in leaf for key in ELEMENTWISE):
        return array, "multiply-add"
    if any(key in leaf for key in COPY) or "(libc.so" in frames[-1]:  # libc: memcpy, memmove, memset
        return array, "window copy" if python and python[-1] in STRATEGIES else "layout"
    return array, "other"


def profile(layer_id: str, dtype: str, seconds: float) -> dict[str, Any]:
    """One layer and dtype: times per call and the shares of the samples per array and kind."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, times = Path(tmp) / "samples.txt", Path(tmp) / "times.json"
        child = [sys.executable, "-m", "benchmarks.profile", "--child", layer_id, dtype, str(seconds)]
        subprocess.run([*child, str(times)], check=True, cwd=ROOT)
        # py-spy may exit 1 ("No child process") after the child ended and the samples are written
        record = ["py-spy", "record", "--native", "--format", "raw", "--rate", "200", "--output", str(raw)]
        spy = subprocess.run([*record, "--", *child], capture_output=True, text=True, cwd=ROOT)
        if not (raw.is_file() and times.is_file()):
            raise RuntimeError(f"py-spy wrote no samples for {layer_id} {dtype}:\n{spy.stdout}\n{spy.stderr}")
        counts: Counter[tuple[str, str]] = Counter()
        for line in raw.read_text().splitlines():
            stack, count = line.rsplit(" ", 1)
            found = classify(stack.split(";"))
            if found is not None:
                counts[found] += int(count)
        medians = json.loads(times.read_text())
    total = sum(counts.values())
    shares = {array: {kind: counts[array, kind] / total for kind in KINDS} for array in ARRAYS}
    return {"layer": layer_id, "dtype": dtype, "ms": medians, "samples": total, "shares": shares}


COLUMNS = ["layer", "dtype", "array", "ms", *KINDS]


def table(profiles: list[dict[str, Any]]) -> list[list[str]]:
    """One row per layer, dtype and array: its time (its share of forward + VJP), split by kind."""
    out = []
    for p in profiles:
        total_ms = p["ms"]["forward"] + p["ms"]["vjp"]
        for array in ARRAYS:
            share = sum(p["shares"][array].values())
            kinds = [f"{p['shares'][array][kind] / share:.0%}" if share else "-" for kind in KINDS]
            out.append([p["layer"], p["dtype"], array, f"{share * total_ms:.1f}", *kinds])
    return out


def markdown(profiles: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in table(profiles)])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], float(sys.argv[4]), Path(sys.argv[5]) if len(sys.argv) > 5 else None)
        return
    from benchmarks.layers import LAYERS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("layers", nargs="*", help="layer ids (default: all)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "profile.json")
    parser.add_argument("--md", type=Path, default=RESULTS / "profile.md")
    args = parser.parse_args()
    chosen = [layer.id for layer in LAYERS if not args.layers or layer.id in args.layers]
    profiles = []
    for layer_id in chosen:
        for dtype in ("float32", "float64"):
            profiles.append(profile(layer_id, dtype, args.seconds))
            print(f"{layer_id} {dtype}: {profiles[-1]['samples']} samples", file=sys.stderr, flush=True)
    meta = {
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "date": time.strftime("%Y-%m-%d"),
        "py_spy": subprocess.run(["py-spy", "--version"], capture_output=True, text=True).stdout.split()[-1],
    }
    args.out.write_text(json.dumps({**meta, "profiles": profiles}, indent=1) + "\n")
    args.md.write_text(markdown(profiles) + "\n")
    print(markdown(profiles))


if __name__ == "__main__":
    main()
