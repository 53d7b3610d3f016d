"""``refconv check``: one convolution (or a grid of them) through refconv.naive and every oracle, judged.

Each backend (refconv itself when it computes in another dtype than the float64 reference,
:mod:`refconv.naive`, jax, torch) is judged by the one judge of :mod:`refconv.conform.judge`, in a
worker process: a backend that raises on a convolution its API can express has failed, and
says how; only what its API cannot say is ``unsupported``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from refconv import formats
from refconv._convspec import ConvSpec
from refconv._spec import spec
from refconv.backends.registry import BUILTIN, ORACLES, available
from refconv.cases import Case, as_tuples, jsonable
from refconv.cli.options import UsageError
from refconv.conform.judge import Judge, Outcome
from refconv.formats import Problem

__all__ = ["KEYWORDS", "check", "problem", "stated"]

#: The keys of a convolution (a --grid entry) beside x_shape, w_shape and bias: refconv.spec's keywords.
KEYWORDS = (
    "stride", "padding", "padding_mode", "dilation", "input_dilation", "groups", "batch_groups", "transposed",
    "output_padding", "output_shape", "strict_output_padding", "dimension_numbers", "preferred_element_type",
)  # fmt: skip
FLAGS = ("bias", "transposed", "strict_output_padding")
#: refconv.naive's loops run once per (window, tap) pair and group, each a small matmul in Python
#: (about 20 us): beyond this many, ``refconv check`` skips it and says so (about 10 s with its VJPs).
NAIVE_MAX_PAIRS = 200_000
#: The dtypes in which refconv's own result is the float64 (complex128) reference itself.
REFERENCE_DTYPES = ("float64", "complex128")


def problem(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's convolution, as a dict like a --grid entry (defaults left out)."""
    w_shape = args.w_shape or ((3, 4, 3, 2) if args.transposed else (4, 3, 3, 2))
    given = {
        "x_shape": args.x_shape, "w_shape": w_shape, "stride": args.stride, "padding": args.padding,
        "padding_mode": args.padding_mode, "dilation": args.dilation, "input_dilation": args.input_dilation,
        "groups": args.groups, "batch_groups": args.batch_groups, "transposed": args.transposed,
        "output_padding": args.output_padding, "output_shape": args.output_shape,
        "strict_output_padding": args.strict_output_padding, "dimension_numbers": args.dimension_numbers,
        "preferred_element_type": args.preferred_element_type, "bias": not getattr(args, "no_bias", False),
    }  # fmt: skip
    defaults = {"stride": (1,), "padding": 0, "padding_mode": "zeros", "dilation": (1,),
                "input_dilation": (1,), "groups": 1, "batch_groups": 1, "transposed": False,
                "output_padding": (0,), "strict_output_padding": False}  # fmt: skip
    return {k: _one_or_each(v) for k, v in given.items() if v is not None and defaults.get(k, ...) != v}


def _one_or_each(value: Any) -> Any:
    """A command-line ``2`` means every spatial dim; ``2,1`` one value per dim."""
    return value[0] if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], int) else value


def to_case(config: dict[str, Any], dtype: str = "float64", seed: int = 0, where: str = "") -> Case:
    """The case of a convolution dict, validated: a bad key or value is a UsageError naming ``where``."""
    known = {"x_shape", "w_shape", "bias", *KEYWORDS}
    unknown = sorted(set(config) - known)
    if unknown:
        raise UsageError(f"{where}unknown keys {unknown}; expected some of {sorted(known)}")
    for name in ("x_shape", "w_shape"):
        if name not in config:
            raise UsageError(f"{where}{name} is missing")
    for flag in FLAGS:
        if flag in config and not isinstance(config[flag], bool):
            raise UsageError(f"{where}{flag}={config[flag]!r} must be true or false")
    keywords = {name: as_tuples(config[name]) for name in KEYWORDS if name in config}
    try:
        s = spec(as_tuples(config["x_shape"]), as_tuples(config["w_shape"]), dtype=dtype, **keywords)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{where}{error}") from None
    return Case(s, bias=config.get("bias", True), seed=seed, feature="check")


def _grid(path: Path) -> list[dict[str, Any]]:
    try:
        configs = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:
        raise UsageError(f"--grid {path}: {error}") from None
    if not isinstance(configs, list) or not configs or not all(isinstance(c, dict) for c in configs):
        raise UsageError(f"--grid {path}: expected a non-empty JSON list of objects with x_shape and w_shape")
    return configs


def _backends(args: argparse.Namespace) -> list[str]:
    installed = available()
    requested = installed if args.against is None else args.against
    for name in requested:
        if name not in ORACLES:
            raise UsageError(f"--against: unknown oracle {name!r}; choose from {', '.join(ORACLES)}")
        if name not in installed:
            raise UsageError(f"--against: {name} is not installed ({ORACLES[name].install_hint()})")
    if args.device == "cuda" and not requested:
        raise UsageError("--device cuda: no oracle is installed (pip install jax or torch with CUDA)")
    if args.no_naive and not requested:
        raise UsageError(
            "--no-naive: no oracle is installed, so nothing would judge refconv (pip install jax or torch)"
        )
    own = [] if args.dtype in REFERENCE_DTYPES else ["refconv"]
    return [*own, *([] if args.no_naive else ["refconv.naive"]), *requested]


def naive_pairs(s: ConvSpec) -> int:
    """How many (window, tap) pairs refconv.naive's loops visit for the problem ``s``: its groups times
    the output positions (a transposed convolution: the input positions) times the kernel's taps."""
    positions = s.x_shape[2:] if s.transposed else s.y_shape[2:]
    pairs: int = s.groups * s.batch_groups * math.prod(positions) * math.prod(s.w_shape[2:])
    return pairs


def _rows(name: str, outcome: Outcome) -> list[dict[str, Any]]:
    """One row per array compared (its verdict: ``ok``, ``MISMATCH`` out of bound, or the verdict
    that is about it), or one row with the backend's verdict when nothing was compared."""
    if not outcome.comparisons:
        return [{"backend": name, "verdict": outcome.verdict, "detail": outcome.headline,
                 "ok": not outcome.failed}]  # fmt: skip
    rows = []
    for c in outcome.comparisons:
        at_fault = c.name == outcome.array and outcome.verdict in ("shape", "dtype")
        shown = outcome.verdict.upper() if at_fault else "ok" if c.ok else "MISMATCH"
        detail = "" if outcome.verdict == "agree" else outcome.headline
        rows.append({"backend": name, "array": c.name, "max_abs_diff": c.max_abs_diff,
                     "worst_diff_over_bound": c.ratio, "ok": shown == "ok", "verdict": outcome.verdict,
                     "shown": shown, "detail": detail})  # fmt: skip
    return rows


def _judged(case: Case, judges: dict[str, Judge], args: argparse.Namespace) -> dict[str, Any]:
    pairs = naive_pairs(case.spec)
    skip = {"refconv.naive"} if pairs > NAIVE_MAX_PAIRS else set()
    outcomes = {name: judge.judge(case) for name, judge in judges.items() if name not in skip}
    rows = [row for name, outcome in outcomes.items() for row in _rows(name, outcome)]
    if skip & set(judges):
        detail = (f"its loops would visit {pairs:,} window-tap pairs, more than {NAIVE_MAX_PAIRS:,} "
                  "(about 20 us each); --no-naive skips it always")  # fmt: skip
        rows.append({"backend": "refconv.naive", "verdict": "skipped", "detail": detail, "ok": True})
    if skip & set(judges) and not any(name in ORACLES for name in outcomes):
        raise UsageError(
            f"refconv.naive skipped ({rows[-1]['detail']}) and no oracle is installed: nothing would judge "
            "refconv (pip install jax or torch)"
        )
    s = case.spec
    config = {"x_shape": list(s.given_shape("x")), "w_shape": list(s.given_shape("w")), "bias": case.bias,
              "transposed": s.transposed, "keywords": jsonable(s.options())}  # fmt: skip
    return {"config": config, "spec": s.source(), "dtype": args.dtype, "device": args.device,
            "seed": args.seed, "rows": rows, "ok": not any(o.failed for o in outcomes.values())}  # fmt: skip


def _print_table(result: dict[str, Any]) -> None:
    config = result["config"]
    keywords = ", ".join(f"{k}={v}" for k, v in config["keywords"].items()) or "defaults"
    kind = "conv_transpose" if config["transposed"] else "conv"
    print(f"refconv check: {kind} x {tuple(config['x_shape'])}, w {tuple(config['w_shape'])}, {keywords}, "
          f"bias={config['bias']}, dtype={result['dtype']}, device={result['device']}")  # fmt: skip
    print(f"{'backend':<14}{'array':<6}{'max |diff|':>12}{'diff/bound':>12}  verdict")
    for row in result["rows"]:
        if "array" not in row:
            print(f"{row['backend']:<14}{row['verdict']}: {row['detail']}")
            continue
        print(f"{row['backend']:<14}{row['array']:<6}{row['max_abs_diff']:>12.3e}"
              f"{row['worst_diff_over_bound']:>12.3g}  {row['shown']}")  # fmt: skip
    for row in result["rows"]:
        if "array" in row and row["detail"] and row["verdict"] in ("shape", "dtype") and row["shown"] != "ok":
            print(f"  {row['backend']}: {row['verdict']}: {row['detail']}")


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done == total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def stated(args: argparse.Namespace) -> Problem | None:
    """The ``--problem`` of the command line, read (None without one); its dtype is the command's
    unless ``--dtype`` is given. A problem refconv cannot read is a UsageError naming it."""
    if args.problem is None:
        args.dtype = args.dtype or "float64"
        return None
    if getattr(args, "grid", None):
        raise UsageError("--problem and --grid: give one of them")
    try:
        read = formats.problem(args.problem)
    except (ValueError, OSError) as error:
        raise UsageError(f"--problem: {error}") from None
    if args.dtype is not None:
        read = replace(read, case=read.case.in_dtype(args.dtype))
    args.dtype = read.case.spec.dtype.name
    return read


def check(args: argparse.Namespace) -> int:
    read = stated(args)
    configs = _grid(args.grid) if args.grid else [problem(args)]
    where = [f"--grid {args.grid}: entry {i}: " if args.grid else "" for i in range(len(configs))]
    if read is None:
        cases = [
            to_case(c, args.dtype, args.seed, w) for c, w in zip(configs, where, strict=True)
        ]  # all first
    else:
        cases = [replace(read.case, seed=args.seed)]
        if not args.json:
            print(read.describe())
    names = _backends(args)
    judges = {name: Judge(BUILTIN[name], args.device, args.timeout) for name in names}
    try:
        results = []
        for index, case in enumerate(cases):
            results.append(_judged(case, judges, args))
            if args.grid:
                _progress(index + 1, len(cases))
    finally:
        for judge in judges.values():
            judge.close()
    oracle_rows = [r for result in results for r in result["rows"] if r["backend"] in ORACLES]
    if args.device == "cuda" and all(r["verdict"] == "unsupported" for r in oracle_rows):
        raise UsageError("--device cuda: no installed oracle sees a CUDA device")
    return _report(results, names, args)


def _report(results: Sequence[dict[str, Any]], names: list[str], args: argparse.Namespace) -> int:
    all_ok = all(result["ok"] for result in results)
    if args.json:
        print(json.dumps({"results": results, "ok": all_ok}, indent=1))
        return 0 if all_ok else 1
    for result in results:
        _print_table(result)
    if args.dtype in REFERENCE_DTYPES:
        print(f"refconv in {args.dtype} is the reference: every row is compared with it")
    if not any(name in ORACLES for name in names):
        print("no oracle installed (pip install jax or torch); compared refconv.naive only")
    print("verdict:", "all within round-off" if all_ok else "MISMATCH")
    return 0 if all_ok else 1
