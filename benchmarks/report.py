"""Turn a pytest-benchmark JSON of ``benchmarks/test_layers.py`` into the performance table and plot.

``python benchmarks/report.py [RESULTS.json] [--plot PNG]`` prints a Markdown
table: per layer and dtype, the medians of refconv's forward + full VJP and of
torch's forward+backward, their ratio against the target (1.5 in float32,
1.0 in float64), refconv's GFLOP/s as a fraction of the matmul peak measured
in the same run, jax's jitted forward + VJP, and refconv's peak memory as a
multiple of the output's size. The docs build renders the committed results
with the same functions.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "latest.json"
TARGET = {"float32": 1.5, "float64": 1.0}
COLUMNS = [
    "layer", "dtype", "refconv fwd+vjp (ms)", "torch fwd+bwd (ms)", "ratio (target)",
    "refconv GFLOP/s", "of matmul peak", "jax fwd+vjp (ms)", "naive (ms)", "peak memory / output",
]  # fmt: skip


def load(path: Path = RESULTS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def medians(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """``{(layer, dtype): {impl: {"median": seconds, **extra_info}}}``."""
    table: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        table[info["layer"], info["dtype"]][info["impl"]] = {"median": bench["stats"]["median"], **info}
    return table


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary per layer and dtype, in the order the layers were run."""
    table = medians(data)
    out = []
    for (layer, dtype), impls in table.items():
        if layer == "matmul" or "refconv-forward" not in impls:
            continue
        peak = table["matmul", dtype]["numpy-matmul"]
        peak_gflops = peak["flops"] / peak["median"] / 1e9
        fwd, vjp, naive = impls["refconv-forward"], impls["refconv-vjp"], impls.get("naive-forward+vjp")
        refconv_s = fwd["median"] + vjp["median"]
        gflops = (fwd["flops"] + vjp["flops"]) / refconv_s / 1e9
        torch_s = impls.get("torch-forward+backward", {}).get("median")
        jax = [impls.get(f"jax-{w}", {}).get("median") for w in ("forward", "vjp")]
        out.append(
            {
                "layer": layer,
                "dtype": dtype,
                "refconv_ms": 1e3 * refconv_s,
                "torch_ms": None if torch_s is None else 1e3 * torch_s,
                "ratio": None if torch_s is None else refconv_s / torch_s,
                "target": TARGET[dtype],
                "gflops": gflops,
                "peak_fraction": gflops / peak_gflops,
                "jax_ms": None if None in jax else 1e3 * sum(jax),  # type: ignore[arg-type]
                "naive_ms": None if naive is None else 1e3 * naive["median"],
                "memory": max(fwd["peak_bytes"], vjp["peak_bytes"]) / fwd["output_bytes"],
            }
        )
    return out


def _cells(row: dict[str, Any]) -> list[str]:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f} ({row['target']:.1f})"
    if row["ratio"] is not None and row["ratio"] > row["target"]:
        ratio += " missed"
    return [
        row["layer"], row["dtype"], ms(row["refconv_ms"]), ms(row["torch_ms"]), ratio,
        f"{row['gflops']:.1f}", f"{row['peak_fraction']:.0%}", ms(row["jax_ms"]), ms(row["naive_ms"]),
        f"{row['memory']:.1f}x",
    ]  # fmt: skip


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
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows(data)]
    return "\n".join([machine(data), "", *lines])


def list_table(data: dict[str, Any]) -> list[str]:
    """The table as the lines of an rST ``list-table`` (the docs' performance page)."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [COLUMNS, *(_cells(row) for row in rows(data))]:
        lines += [f"   {'* ' if i == 0 else '  '}- {cell}" for i, cell in enumerate(cells)]
    return lines


def plot(data: dict[str, Any], ax: Any) -> None:
    """refconv's time over torch's, per layer, float32 and float64, with each target."""
    summary = [row for row in rows(data) if row["ratio"] is not None]
    layers = list(dict.fromkeys(row["layer"] for row in summary))
    width = 0.38
    for offset, dtype, colour in ((-width / 2, "float32", "tab:blue"), (width / 2, "float64", "tab:orange")):
        values = {row["layer"]: row["ratio"] for row in summary if row["dtype"] == dtype}
        xs = [i + offset for i, layer in enumerate(layers) if layer in values]
        ax.bar(xs, [values[layer] for layer in layers if layer in values], width, label=dtype, color=colour)
        ax.axhline(TARGET[dtype], color=colour, linestyle="--", linewidth=1)
    ax.set_xticks(range(len(layers)), layers, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("refconv (fwd + vjp) / torch (fwd + bwd)")
    ax.set_title("time relative to torch CPU (lower is faster; dashed: targets)", fontsize=9)
    ax.legend(frameon=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, help="also write the plot to this PNG")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    data = load(args.results)
    print(markdown(data))
    if args.out:
        args.out.write_text(markdown(data) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 3.5))
        plot(data, ax)
        fig.savefig(args.plot, bbox_inches="tight", dpi=110)


if __name__ == "__main__":
    main()
