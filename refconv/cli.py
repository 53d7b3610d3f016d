"""The ``refconv`` command: ``check`` a configuration, ``explain`` its VJPs, write golden ``vectors``.

``refconv check`` draws random ``x``, ``w``, ``b`` and ``dy`` for one
configuration (or each of a ``--grid`` file), computes ``y``, ``dx``, ``dw`` and
``db`` in ``--dtype`` with refconv, :mod:`refconv.naive` and each oracle (jax,
torch, on ``--device``), and compares every element with a float64 reference
within its round-off bound (:func:`refconv.testing.reference_and_bound`). Exit
status: 0 when every element is within its bound, 1 on a mismatch, 2 on bad
arguments. ``refconv explain`` prints the output size, ``r`` per dim and each
VJP as the convolution that computes it; ``refconv vectors`` writes
:func:`refconv.vectors.write_vectors`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

import refconv
from refconv import _normalize as norm
from refconv import naive, padding_modes
from refconv._spec import ConvSpec
from refconv.backends import BUILTIN, ORACLES, Unsupported, available, get
from refconv.geometry import (
    dilated_size,
    input_vjp_params,
    output_spatial_shape,
    remainder,
    weight_vjp_params,
)
from refconv.testing import ARRAYS, Results, compare, reference_and_bounds, results
from refconv.vectors import write_vectors

DTYPES = ("float64", "float32", "float16", "bfloat16")
#: The keys of a configuration (a --grid entry) beside x_shape, w_shape and bias: refconv.conv's keywords.
KEYWORDS = ("stride", "padding", "padding_mode", "dilation", "input_dilation", "groups", "batch_groups")


class UsageError(Exception):
    """A bad option value: reported on one line, exit status 2."""


class _OneLineParser(argparse.ArgumentParser):
    """Reports a bad option on one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def _padding(text: str) -> Any:
    """``1``, ``1,2`` (one per dim), ``1:2,0:-1`` ((lo, hi) per dim), or a word such as ``same``."""
    if text.lower() in norm.PADDING_WORDS:
        return text
    if ":" not in text:
        values = _ints(text)
        return values[0] if len(values) == 1 else values
    try:
        return tuple(tuple(int(v) for v in pair.split(":")) for pair in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected lo:hi pairs like 1:2,0:-1, got {text!r}") from None


def _one_or_each(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """A command-line ``2`` means every spatial dim; ``2,1`` one value per dim."""
    return values[0] if len(values) == 1 else values


def _as_tuples(value: Any) -> Any:
    """JSON lists (and nested lists) as the tuples refconv's parameters take."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--x-shape", type=_ints, default=(2, 3, 7, 6), help="N,C_in,*spatial (default 2,3,7,6)"
    )
    parser.add_argument(
        "--w-shape", type=_ints, default=(4, 3, 3, 2), help="C_out,C_in/groups,*kernel (default 4,3,3,2)"
    )
    parser.add_argument("--stride", type=_ints, default=(1,))
    parser.add_argument(
        "--padding", type=_padding, default=0, help="p, p1,p2,..., lo:hi,lo:hi,... or valid/same/same_lower"
    )
    parser.add_argument("--padding-mode", default="zeros", choices=padding_modes.PADDING_MODES)
    parser.add_argument("--dilation", type=_ints, default=(1,))
    parser.add_argument("--input-dilation", type=_ints, default=(1,))
    parser.add_argument("--groups", type=int, default=1)
    parser.add_argument("--batch-groups", type=int, default=1)


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="refconv", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    check = commands.add_parser(
        "check",
        help="compare refconv, refconv.naive and every installed oracle with a float64 reference",
        description="Compare y, dx, dw, db of one configuration (or a --grid of them) across refconv, "
        "refconv.naive, jax and torch, element by element within the round-off bound of --dtype. "
        "Negative values need '=': --padding=-1:2,0:0.",
    )
    _add_config(check)
    check.add_argument("--no-bias", action="store_true", help="convolve without a bias")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument(
        "--against",
        type=lambda s: s.split(","),
        default=None,
        help=f"comma-separated oracles from {','.join(ORACLES)} (default: every installed one)",
    )
    check.add_argument(
        "--dtype", default="float64", choices=DTYPES, help="the dtype every backend computes in"
    )
    check.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the oracles run")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument(
        "--grid", type=Path, help="a JSON list of configurations ({'x_shape': [...], 'w_shape': [...], ...})"
    )
    explain = commands.add_parser(
        "explain", help="print the output size, r per dim, and each VJP as the convolution that computes it"
    )
    _add_config(explain)
    vectors = commands.add_parser("vectors", help="write golden test vectors (.npz per case, manifest.json)")
    vectors.add_argument("--out", type=Path, required=True, help="directory to write into")
    vectors.add_argument("--seed", type=int, default=0)
    _add_conform(commands)
    return parser


def _add_conform(commands: Any) -> None:
    conform = commands.add_parser(
        "conform",
        help="judge a convolution (a framework or your own function) against refconv, case by case",
        description="Run BACKEND (a built-in: " + ", ".join(BUILTIN) + "; a name registered under the "
        "refconv.backends entry point group; or module:function) through the curated suite and a "
        "property search; every element of y, dx, dw, db is judged within its round-off bound, and every "
        "failure is shrunk to a minimal, runnable reproducer. Exit status: 0 if every case agrees or is "
        "unsupported, 1 on a failure, 2 on bad usage.",
    )
    conform.add_argument("backend", help="a built-in name, a registered name, or module:function")
    conform.add_argument("--dtype", type=lambda s: s.split(","), default=None,
                         help="comma-separated dtypes (default: every dtype the backend claims)")  # fmt: skip
    conform.add_argument("--suite", choices=("all", "curated", "search"), default="all")
    conform.add_argument("--examples", type=int, default=200, help="configurations the search draws (200)")
    conform.add_argument("--budget", type=float, default=None, help="stop searching after this many seconds")
    conform.add_argument("--seed", type=int, default=0, help="the seed of arrays and search (0)")
    conform.add_argument("--shard", type=_shard, default=(1, 1), help="K/N: run the K-th of N slices")
    conform.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    conform.add_argument("--json", type=Path, help="write the report as JSON to this file ('-': stdout)")
    conform.add_argument("--markdown", type=Path, help="write the report as Markdown to this file")
    conform.add_argument("--quiet", action="store_true", help="no progress bar")
    conform.add_argument(
        "--in-process", action="store_true",
        help="run the framework in this process (default: in a worker process, which a crash may kill)",
    )  # fmt: skip


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N, e.g. 2/4, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"shard {text}: K must be between 1 and N")
    return k, n


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's configuration, as a dict like a --grid entry."""
    return {
        "x_shape": args.x_shape, "w_shape": args.w_shape, "stride": _one_or_each(args.stride),
        "padding": args.padding, "padding_mode": args.padding_mode, "dilation": _one_or_each(args.dilation),
        "input_dilation": _one_or_each(args.input_dilation),
        "groups": args.groups, "batch_groups": args.batch_groups, "bias": not getattr(args, "no_bias", False),
    }  # fmt: skip


def _spec(config: dict[str, Any], dtype: Any = None) -> ConvSpec:
    """The spec of a configuration, validated; an unknown key is a UsageError naming it."""
    known = {"x_shape", "w_shape", "bias", *KEYWORDS}
    unknown = sorted(set(config) - known)
    if unknown:
        raise UsageError(f"unknown configuration keys {unknown}; expected some of {sorted(known)}")
    keywords: dict[str, Any] = {name: _as_tuples(config[name]) for name in KEYWORDS if name in config}
    return refconv.spec(tuple(config["x_shape"]), tuple(config["w_shape"]), dtype=dtype, **keywords)


def _oracles(requested: list[str] | None) -> list[str]:
    installed = available()
    if requested is None:
        return installed
    for name in requested:
        if name not in ORACLES:
            raise UsageError(f"--against: unknown oracle {name!r}; choose from {', '.join(ORACLES)}")
        if name not in installed:
            raise UsageError(f"--against: {name} is not installed")
    return requested


def _dtype(name: str) -> Any:
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise UsageError("--dtype bfloat16 needs ml_dtypes (pip install ml_dtypes)") from None
        return ml_dtypes.bfloat16
    return np.dtype(name)


def _backend_results(backend: str, s: ConvSpec, arrays: tuple[Any, ...], device: str) -> Results:
    if backend in ("refconv", "refconv.naive"):
        x, w, b, dy = arrays
        return results(s, x, w, b, dy, module=refconv if backend == "refconv" else naive)
    try:
        x, w, b, dy = arrays
        return ORACLES[backend](s, x, w, b, dy, device=device)
    except (TypeError, RuntimeError) as error:  # a dtype or device the framework has no kernel for
        raise Unsupported(f"{type(error).__name__}: {str(error).splitlines()[0]}") from None


def check_config(
    config: dict[str, Any], backends: Sequence[str], dtype: str, device: str, seed: int
) -> dict[str, Any]:
    """Every backend's ``y, dx, dw, db`` for ``config`` in ``dtype``, against the float64 reference."""
    cast = _dtype(dtype)
    s = _spec(config, cast)
    rng = np.random.default_rng(seed)
    x, w = (
        rng.standard_normal(s.given_shape("x")).astype(cast),
        rng.standard_normal(s.given_shape("w")).astype(cast),
    )
    b = rng.standard_normal(s.y_shape[1]).astype(cast) if config.get("bias", True) else None
    dy = rng.standard_normal(s.given_shape("y")).astype(cast)
    references = reference_and_bounds(s, x, w, b, dy, cast)
    rows: list[dict[str, Any]] = []
    for backend in backends:
        try:
            got = _backend_results(backend, s, (x, w, b, dy), device)
        except Unsupported as reason:
            rows.append({"backend": backend, "skipped": str(reason)})
            continue
        for name in ARRAYS:
            verdict = compare(name, got[name], *references[name])
            rows.append(
                {"backend": backend, "array": name, "max_abs_diff": verdict.max_abs_diff,
                 "worst_diff_over_bound": verdict.ratio, "ok": verdict.ok}
            )  # fmt: skip
    ok = all(row.get("ok", True) for row in rows)
    return {"config": {**config, "keywords": repr(s.options())}, "dtype": dtype, "device": device,
            "rows": rows, "ok": ok}  # fmt: skip


def _print_table(result: dict[str, Any]) -> None:
    config = result["config"]
    print(
        f"refconv check: x {tuple(config['x_shape'])}, w {tuple(config['w_shape'])}, {config['keywords']}, "
        f"bias={config.get('bias', True)}, dtype={result['dtype']}, device={result['device']}"
    )
    print(f"{'backend':<14}{'array':<6}{'max |diff|':>12}{'diff/bound':>12}  verdict")
    for row in result["rows"]:
        if "skipped" in row:
            print(f"{row['backend']:<14}skipped: {row['skipped']}")
            continue
        verdict = "ok" if row["ok"] else "MISMATCH"
        print(
            f"{row['backend']:<14}{row['array']:<6}{row['max_abs_diff']:>12.3e}"
            f"{row['worst_diff_over_bound']:>12.3g}  {verdict}"
        )


def _progress(done: int, total: int, end: str | None = None) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = ("\n" if done == total else "") if end is None else end
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def _grid(path: Path) -> list[dict[str, Any]]:
    try:
        configs = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"--grid {path}: {error}") from None
    if not isinstance(configs, list) or not all(
        isinstance(c, dict) and "x_shape" in c and "w_shape" in c for c in configs
    ):
        raise UsageError(f"--grid {path}: expected a JSON list of objects with x_shape and w_shape")
    return configs


def check(args: argparse.Namespace) -> int:
    backends = ["refconv", "refconv.naive", *_oracles(args.against)]
    configs = _grid(args.grid) if args.grid else [_config(args)]
    for config in configs:
        _spec(config)  # every configuration is validated before any is run
    results = []
    for index, config in enumerate(configs):
        results.append(check_config(config, backends, args.dtype, args.device, args.seed))
        if args.grid:
            _progress(index + 1, len(configs))
    oracle_rows = [r for result in results for r in result["rows"] if r["backend"] in ORACLES]
    if args.device == "cuda" and oracle_rows and all("skipped" in r for r in oracle_rows):
        raise UsageError("--device cuda: no installed oracle sees a CUDA device")
    all_ok = all(result["ok"] for result in results)
    if args.json:
        print(json.dumps({"results": results, "ok": all_ok}, indent=1))
    else:
        for result in results:
            _print_table(result)
        if len(backends) == 2:
            print("no oracle installed (pip install jax or torch); compared refconv and refconv.naive only")
        print("verdict:", "all within round-off" if all_ok else "MISMATCH")
    return 0 if all_ok else 1


def explain(args: argparse.Namespace) -> int:
    s = _spec(_config(args))
    p = s.params
    print(s)
    for dim, (n, k) in enumerate(zip(s.x_shape[2:], s.w_shape[2:], strict=True)):
        D, d, st, (lo, hi) = p.input_dilation[dim], p.dilation[dim], p.stride[dim], p.padding[dim]
        n_hat, k_hat = dilated_size(n, D), dilated_size(k, d)
        m, r = (
            output_spatial_shape(s.x_shape[2:], s.w_shape[2:], p),
            remainder(s.x_shape[2:], s.w_shape[2:], p),
        )
        print(
            f"  dim {dim}: n_hat = {D}*({n}-1)+1 = {n_hat}, k_hat = {d}*({k}-1)+1 = {k_hat}, "
            f"m = ({n_hat} + {lo} + {hi} - {k_hat}) // {st} + 1 = {m[dim]}, r = {r[dim]}"
        )
    if s.padding_mode != "zeros":
        print(f"  padding_mode={s.padding_mode!r}: x is padded by copies first, the convolution has zero")
        print("  padding, and dx folds the padded positions' cotangents back onto the elements they copy")
    _explain_vjps(s)
    return 0


def _explain_vjps(s: ConvSpec) -> None:
    xs, ws, p = s.x_shape, s.w_shape, s.params
    q = input_vjp_params(xs[2:], ws[2:], p)
    swapped = (ws[1] * q.groups, ws[0] // q.groups, *ws[2:])
    print(
        f"dx = conv(dy, w_t), w_t = w flipped in every spatial axis, in/out swapped per group: {ws} ->",
        swapped,
    )
    print(f"     stride={q.stride} (the input dilation), input_dilation={q.input_dilation} (the stride),")
    print(f"     dilation={q.dilation}, padding={q.padding} = (k_hat-1-lo, k_hat-1-hi+r), groups={q.groups}")
    if p.batch_groups > 1:
        print(f"     then the {p.batch_groups} channel groups move back into the batch, group major")
    r = weight_vjp_params(xs[2:], ws[2:], p)
    print("dw = swap(conv(swap(x), swap(dy))), swap exchanging the batch and channel axes:")
    print(f"     stride={r.stride} (the dilation), dilation={r.dilation} (the stride), ", end="")
    print(f"input_dilation={r.input_dilation},")
    print(
        f"     padding={r.padding} = (lo, hi-r), groups={r.groups}, batch_groups={r.batch_groups} (swapped)"
    )
    print(f"db = dy summed over axes {(0, *range(2, len(xs)))}")


def vectors(args: argparse.Namespace) -> int:
    manifest = write_vectors(args.out, seed=args.seed)
    print(f"wrote {len(manifest['cases'])} cases and manifest.json to {args.out}")
    return 0


def conform_command(args: argparse.Namespace) -> int:
    from refconv import conform

    backend = get(args.backend)
    dtypes = tuple(args.dtype) if args.dtype is not None else backend.dtypes
    unclaimed = sorted(set(dtypes) - set(backend.dtypes))
    if unclaimed:
        raise UsageError(
            f"--dtype {','.join(unclaimed)}: {backend.name} claims only {', '.join(backend.dtypes)}"
        )
    if any(d not in DTYPES for d in dtypes):
        raise UsageError(f"--dtype {','.join(dtypes)}: choose from {', '.join(DTYPES)}")
    if not backend.installed():
        raise UsageError(f"{backend.name} needs {', '.join(backend.requires)}, which is not installed")
    if args.suite != "curated" and importlib.util.find_spec("hypothesis") is None:
        raise UsageError(
            "the search needs hypothesis (pip install 'refconv[conform]'), or use --suite curated"
        )
    for name in dtypes:
        _dtype(name)  # bfloat16 needs ml_dtypes: a usage error if it is missing
    report = conform.run(
        backend, dtypes, suite=args.suite, examples=args.examples, seed=args.seed, shard=args.shard,
        budget=args.budget if args.budget is not None else float("inf"), device=args.device,
        progress=None if args.quiet else _ConformProgress(), isolate=not args.in_process,
    )  # fmt: skip
    if not args.quiet:
        print(file=sys.stderr)
    if args.json is not None:
        text = json.dumps(report.to_json(), indent=1)
        print(text) if str(args.json) == "-" else args.json.write_text(text + "\n")
    if args.markdown is not None:
        args.markdown.write_text(report.to_markdown())
    if args.json is None or str(args.json) != "-":
        print(report.to_text())
    return 0 if report.ok else 1


class _ConformProgress:
    """The curated suite as a progress bar, then the search's running counts, on standard error."""

    def __init__(self) -> None:
        self.searched: dict[str, int] = {}

    def __call__(self, done: int, total: int | None, outcome: Any) -> None:
        if total is not None:
            _progress(done, total, end=" curated suite")
            return
        self.searched[outcome.verdict] = self.searched.get(outcome.verdict, 0) + 1
        counts = ", ".join(f"{n} {v}" for v, n in sorted(self.searched.items()))
        print(
            f"\rsearch: {sum(self.searched.values())} judged ({counts})", end="", file=sys.stderr, flush=True
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {"check": check, "explain": explain, "vectors": vectors, "conform": conform_command}
        return commands[args.command](args)
    except (UsageError, ValueError, TypeError) as error:
        print(f"refconv {args.command}: error: {error}", file=sys.stderr)
        return 2
