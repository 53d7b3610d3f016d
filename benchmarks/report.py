"""Turn a pytest-benchmark JSON of ``benchmarks/test_layers.py`` into the performance tables and plot.

``python -m benchmarks.report [RESULTS.json] [--plot PNG] [--out MD]`` prints
two Markdown tables. Per layer and dtype:

* forward + VJP: the medians of refconv's forward + full VJP, of torch's
  forward + backward and of jax's jitted forward + VJP, refconv's ratio to
  each against its target, refconv's GFLOP/s as a fraction of the matmul peak
  measured in the same run, refconv.naive, and refconv's peak memory as a
  multiple of the output's size;
* forward: refconv's forward against onnxruntime's (the ratio's target is
  1.5), ONNX's reference evaluator (refconv should be 3x faster), torch and jax.

:func:`summary` is the same numbers as data (``conftest.py`` adds it to the
results JSON under ``"summary"``); the docs build renders the committed
results with these functions.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.layers import LAYERS

RESULTS = Path(__file__).parent / "results" / "latest.json"

#: The targets of issue 12, each ``(description, comparison, value)``: a ratio of times (refconv's
#: over the peer's) must be at most ``value``, a speedup at least ``value``.
TARGETS: dict[str, dict[str, float]] = {
    "torch": {"float32": 1.5, "float64": 1.0},  # refconv fwd + VJP / torch fwd + bwd, at most
    "jax": {"float32": 1.0, "float64": 1.0},  # refconv fwd + VJP / jax fwd + VJP, below
    "onnxruntime": {"float32": 1.5},  # refconv fwd / onnxruntime fwd, at most
    "onnx_reference": {"float32": 3.0, "float64": 3.0},  # ONNX reference fwd / refconv fwd, at least
    "peak": {"float32": 0.5, "float64": 0.5},  # fraction of the matmul peak, large layers, at least
}
LARGE_LAYERS = tuple(layer.id for layer in LAYERS if layer.large)

VJP_COLUMNS = [
    "layer", "dtype", "refconv fwd+vjp (ms)", "torch fwd+bwd (ms)", "ratio (target)", "target needs",
    "jax fwd+vjp (ms)", "ratio (target)", "refconv GFLOP/s", "of matmul peak", "naive (ms)",
    "peak memory / output",
]  # fmt: skip
FORWARD_COLUMNS = [
    "layer", "dtype", "refconv fwd (ms)", "onnxruntime (ms)", "ratio (target)", "target needs",
    "ONNX reference (ms)", "speedup (target)", "torch fwd (ms)", "jax fwd (ms)",
]  # fmt: skip


def load(path: Path = RESULTS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def medians(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """``{(layer, dtype): {impl: {"median": seconds, "iqr": seconds, **extra_info}}}``."""
    table: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        info, stats = bench["extra_info"], bench["stats"]
        table[info["layer"], info["dtype"]][info["impl"]] = {
            "median": stats["median"],
            "iqr": stats["iqr"],
            **info,
        }
    return table


def _ms(impls: dict[str, dict[str, Any]], *names: str) -> float | None:
    """The sum of the medians of ``names`` in milliseconds, or None if one was not run."""
    found = [impls.get(name, {}).get("median") for name in names]
    return None if None in found else 1e3 * sum(found)  # type: ignore[arg-type]


def _spread(impls: dict[str, dict[str, Any]], *names: str) -> float | None:
    """The relative spread of the sum of ``names``: the sum of their IQRs over the sum of their medians."""
    if any(name not in impls for name in names):
        return None
    return sum(impls[n]["iqr"] for n in names) / sum(impls[n]["median"] for n in names)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


#: What each ratio divides: (numerator impls, denominator impls).
RATIO_OF: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "torch": (("refconv-forward", "refconv-vjp"), ("torch-forward+backward",)),
    "jax": (("refconv-forward", "refconv-vjp"), ("jax-forward", "jax-vjp")),
    "onnxruntime": (("refconv-forward",), ("onnxruntime-forward",)),
    "onnx_reference": (("onnx-reference-forward",), ("refconv-forward",)),
}


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary per layer and dtype, in the order the layers were run (times in ms)."""
    table = medians(data)
    out = []
    for (layer, dtype), impls in table.items():
        if layer == "matmul" or "refconv-forward" not in impls:
            continue
        peak = table["matmul", dtype]["numpy-matmul"]
        peak_gflops = peak["flops"] / peak["median"] / 1e9
        fwd, vjp = impls["refconv-forward"], impls["refconv-vjp"]
        refconv_s = fwd["median"] + vjp["median"]
        gflops = (fwd["flops"] + vjp["flops"]) / refconv_s / 1e9
        times = {
            "refconv_ms": 1e3 * refconv_s,
            "refconv_forward_ms": _ms(impls, "refconv-forward"),
            "torch_ms": _ms(impls, "torch-forward+backward"),
            "torch_forward_ms": _ms(impls, "torch-forward"),
            "jax_ms": _ms(impls, "jax-forward", "jax-vjp"),
            "jax_forward_ms": _ms(impls, "jax-forward"),
            "onnxruntime_ms": _ms(impls, "onnxruntime-forward"),
            "onnx_reference_ms": _ms(impls, "onnx-reference-forward"),
            "naive_ms": _ms(impls, "naive-forward+vjp"),
        }
        ratios = {
            "torch": _ratio(times["refconv_ms"], times["torch_ms"]),
            "jax": _ratio(times["refconv_ms"], times["jax_ms"]),
            "onnxruntime": _ratio(times["refconv_forward_ms"], times["onnxruntime_ms"]),
            "onnx_reference": _ratio(times["onnx_reference_ms"], times["refconv_forward_ms"]),
            "peak": gflops / peak_gflops if layer in LARGE_LAYERS else None,
        }
        # the ratio's relative spread (IQR over median, added in quadrature): a miss by less is noise
        spreads = {}
        for name, (top, bottom) in RATIO_OF.items():
            a, b = _spread(impls, *top), _spread(impls, *bottom)
            spreads[name] = None if a is None or b is None else (a * a + b * b) ** 0.5
        # the fraction of the matmul peak refconv would need to meet a time target: above 100%, no
        # arrangement of NumPy's own matmul meets it on this machine
        needs = {
            "torch": _needs(
                fwd["flops"] + vjp["flops"], TARGETS["torch"][dtype], times["torch_ms"], peak_gflops
            ),
            "onnxruntime": _needs(
                fwd["flops"], TARGETS["onnxruntime"].get(dtype), times["onnxruntime_ms"], peak_gflops
            ),
        }
        out.append(
            {
                "layer": layer,
                "dtype": dtype,
                **times,
                "ratios": ratios,
                "spreads": spreads,
                "needs_peak": needs,
                "met": {name: met(name, dtype, value) for name, value in ratios.items()},
                "gflops": gflops,
                "peak_fraction": gflops / peak_gflops,
                "memory": max(fwd["peak_bytes"], vjp["peak_bytes"]) / fwd["output_bytes"],
            }
        )
    return out


def _needs(flops: int, target: float | None, peer_ms: float | None, peak_gflops: float) -> float | None:
    """The fraction of the matmul peak at which ``flops`` take ``target`` times the peer's time."""
    if target is None or peer_ms is None:
        return None
    return flops / (target * peer_ms * 1e6) / peak_gflops


def within_noise(row: dict[str, Any], name: str) -> bool:
    """Whether a missed target is missed by less than the ratio's relative spread."""
    value, spread, target = row["ratios"][name], row["spreads"].get(name), TARGETS[name].get(row["dtype"])
    if value is None or spread is None or target is None:
        return False
    return abs(value - target) <= spread * value


def met(name: str, dtype: str, value: float | None) -> bool | None:
    """Whether ``value`` meets its target (None where there is no target or no measurement)."""
    target = TARGETS[name].get(dtype)
    if target is None or value is None:
        return None
    if name in ("onnx_reference", "peak"):
        return value >= target
    return value < target if name == "jax" else value <= target


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """The rows, the targets and the misses: what ``conftest.py`` adds to the results JSON."""
    found = rows(data)
    missed = [
        f"{row['layer']} {row['dtype']}: {name} {row['ratios'][name]:.2f}"
        f" (target {TARGETS[name][row['dtype']]})"
        for row in found
        for name, ok in row["met"].items()
        if ok is False
    ]
    return {"machine": machine(data), "targets": TARGETS, "rows": found, "missed": missed}


def _cell(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    """A fraction of the matmul peak, as the tables show it."""
    return "n/a" if value is None else f"{value:.0%} of peak"


def _target_cell(row: dict[str, Any], name: str, percent: bool = False) -> str:
    value, target = row["ratios"][name], TARGETS[name].get(row["dtype"])
    if value is None:
        return "n/a"
    text = f"{value:.0%}" if percent else f"{value:.2f}"
    if target is not None:
        text += f" ({target:.0%})" if percent else f" ({target:.1f})"
    if row["met"][name] is False:
        text += " missed (within noise)" if within_noise(row, name) else " missed"
    return text


def _vjp_cells(row: dict[str, Any]) -> list[str]:
    return [
        row["layer"], row["dtype"], _cell(row["refconv_ms"]), _cell(row["torch_ms"]),
        _target_cell(row, "torch"), _percent(row["needs_peak"]["torch"]), _cell(row["jax_ms"]),
        _target_cell(row, "jax"), f"{row['gflops']:.1f}",
        _target_cell(row, "peak", percent=True) if row["ratios"]["peak"] is not None
        else f"{row['peak_fraction']:.0%}",
        _cell(row["naive_ms"]), f"{row['memory']:.1f}x",
    ]  # fmt: skip


def _forward_cells(row: dict[str, Any]) -> list[str]:
    return [
        row["layer"], row["dtype"], _cell(row["refconv_forward_ms"]), _cell(row["onnxruntime_ms"]),
        _target_cell(row, "onnxruntime"), _percent(row["needs_peak"]["onnxruntime"]),
        _cell(row["onnx_reference_ms"]), _target_cell(row, "onnx_reference"),
        _cell(row["torch_forward_ms"]), _cell(row["jax_forward_ms"]),
    ]  # fmt: skip


TABLES = {"vjp": (VJP_COLUMNS, _vjp_cells), "forward": (FORWARD_COLUMNS, _forward_cells)}


def machine(data: dict[str, Any]) -> str:
    info = data.get("machine_info", {})
    cpu = info.get("cpu", {}).get("brand_raw", "unknown CPU")
    peaks = {
        b["extra_info"]["dtype"]: b["extra_info"]["flops"] / b["stats"]["median"] / 1e9
        for b in data["benchmarks"]
        if b["extra_info"]["impl"] == "numpy-matmul"
    }
    peak_text = ", ".join(f"{dtype} {gflops:.0f} GFLOP/s" for dtype, gflops in sorted(peaks.items()))
    python, day = info.get("python_version", "?"), data.get("datetime", "")[:10]
    return f"{cpu}, Python {python}, {day}; matmul peak {peak_text}"


def markdown(data: dict[str, Any]) -> str:
    lines = [machine(data)]
    for title, (columns, cells) in zip(("Forward + VJP", "Forward"), TABLES.values(), strict=True):
        lines += ["", f"{title}:", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(cells(row)) + " |" for row in rows(data)]
    return "\n".join(lines)


def list_table(data: dict[str, Any], which: str = "vjp") -> list[str]:
    """One table as the lines of an rST ``list-table`` (the docs' performance page)."""
    columns, cells = TABLES[which]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row_cells in [columns, *(cells(row) for row in rows(data))]:
        lines += [f"   {'* ' if i == 0 else '  '}- {cell}" for i, cell in enumerate(row_cells)]
    return lines


PANELS = (
    ("torch", "refconv (fwd + vjp) / torch (fwd + bwd)"),
    ("jax", "refconv (fwd + vjp) / jax (fwd + vjp)"),
    ("onnxruntime", "refconv fwd / onnxruntime fwd"),
    ("onnx_reference", "ONNX reference fwd / refconv fwd"),
)


def plot(data: dict[str, Any], axes: Any) -> None:
    """One panel per peer: refconv's ratio per layer, float32 and float64, each target dashed.

    Three panels are time ratios (lower is better for refconv); the ONNX
    reference panel is a speedup (higher is better). The log axes are labelled
    at a few round ratios only, so that no two labels overlap.
    """
    from matplotlib.ticker import NullFormatter

    summary_rows = rows(data)
    layers = list(dict.fromkeys(row["layer"] for row in summary_rows))
    width = 0.38
    for ax, (name, label) in zip(axes, PANELS, strict=True):
        shown_values = []
        for offset, dtype, colour in (
            (-width / 2, "float32", "tab:blue"),
            (width / 2, "float64", "tab:orange"),
        ):
            values = {r["layer"]: r["ratios"][name] for r in summary_rows if r["dtype"] == dtype}
            shown = [layer for layer in layers if values.get(layer) is not None]
            xs = [layers.index(layer) + offset for layer in shown]
            ax.bar(xs, [values[layer] for layer in shown], width, label=dtype, color=colour)
            shown_values += [values[layer] for layer in shown]
            if dtype in TARGETS[name]:
                ax.axhline(TARGETS[name][dtype], color=colour, linestyle="--", linewidth=1)
                shown_values.append(TARGETS[name][dtype])
        ax.set_xticks(range(len(layers)), layers, rotation=30, ha="right", fontsize=7)
        ax.set_yscale("log")
        low, high = min(shown_values, default=1.0), max(shown_values, default=1.0)
        ax.set_yticks([t for t in ROUND_RATIOS if low / 2 <= t <= high * 2] or [1.0])
        ax.yaxis.set_major_formatter("{x:g}")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="y", which="both", labelsize=7)
        ylabel = "speedup over the peer" if name == "onnx_reference" else "time / peer's time"
        ax.set_ylabel(ylabel, fontsize=7)
        ax.set_title(label, fontsize=8)
    axes[0].legend(frameon=False, fontsize=7)


#: The ratios a log axis is labelled at.
ROUND_RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, help="also write the plot to this PNG")
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args()
    data = load(args.results)
    print(markdown(data))
    if args.out:
        args.out.write_text(markdown(data) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
        plot(data, axes.ravel())
        fig.tight_layout()
        fig.savefig(args.plot, bbox_inches="tight", dpi=110)


if __name__ == "__main__":
    main()
