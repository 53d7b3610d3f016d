"""The ``refconv`` command's options: only parsing. Every value is checked here, and a bad one is
named on one line (exit status 2) before anything runs."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

from refconv import _normalize as norm
from refconv import padding_modes
from refconv._version import __version__
from refconv.backends.registry import BUILTIN, ORACLES
from refconv.cases import DTYPES, Case
from refconv.conform.judge import DEFAULT_TIMEOUT
from refconv.conform.run import PHASES, SHRINK_SECONDS, SUITES, XFAIL_MODES
from refconv.conform.xfails import Xfail, read
from refconv.testing.strategies import FEATURES

__all__ = ["UsageError", "parser"]

DESCRIPTION = """\
A reference for the convolution operator: check one convolution against refconv and the
installed oracles, explain its VJPs, write golden test vectors, or judge a whole backend.

Exit status: 0 when everything agrees, 1 on a disagreement, 2 on bad usage.
'refconv COMMAND --help' describes each command."""


class UsageError(Exception):
    """A bad option value: reported on one line, exit status 2."""


class _OneLineParser(argparse.ArgumentParser):
    """Reports a bad option on one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def padding(text: str) -> Any:
    """``1``, ``1,2`` (one per dim), ``1:2,0:-1`` ((lo, hi) per dim), or a word such as ``same``."""
    if text.lower() in norm.PADDING_WORDS:
        return text
    if ":" not in text:
        values = ints(text)
        return values[0] if len(values) == 1 else values
    try:
        return tuple(tuple(int(v) for v in pair.split(":")) for pair in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected lo:hi pairs like 1:2,0:-1, got {text!r}") from None


def layouts(text: str) -> tuple[str, str, str]:
    parts = tuple(text.split(","))
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected three layouts like NHWC,HWIO,NHWC, got {text!r}")
    return parts[0], parts[1], parts[2]


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _names(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Comma-separated names, each one of ``allowed`` (an error names ``what`` it must be, and all)."""
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        if name not in allowed:
            raise argparse.ArgumentTypeError(f"{name!r} is not {what} ({', '.join(allowed)})")
    return names


def dtypes(text: str) -> tuple[str, ...]:
    """Comma-separated dtypes of refconv.cases.DTYPES."""
    return _names(text, DTYPES, "a dtype refconv computes")


def features(text: str) -> tuple[str, ...]:
    """Comma-separated features of refconv.testing.FEATURES."""
    return _names(text, FEATURES, "a feature")


def shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N, e.g. 2/4, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"shard {text}: K must be between 1 and N")
    return k, n


def phases(text: str) -> tuple[str, ...]:
    """Comma-separated phases of a conformance run (refconv.conform.PHASES)."""
    return _names(text, PHASES, "a phase")


def report_path(text: str) -> Path:
    """A file a report can be written to: ``-`` (standard output) or a path in an existing directory."""
    path = Path(text)
    if text == "-":
        return path
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the directory {path.parent} does not exist")
    return path


def directory(text: str) -> Path:
    """A directory, or a path where one can be made (its parent exists)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    if not path.exists() and not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the directory {path.parent} does not exist")
    return path


def problems_file(text: str) -> tuple[Case, ...]:
    """A file of benchdnn descriptors (a batch file) or MIOpenDriver command lines, read and checked;
    the problems refconv cannot take (post-ops, mixed operand types) are counted on standard error."""
    from refconv import formats

    refused: list[str] = []
    try:
        read = formats.problems(text, refused)
    except (ValueError, OSError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    first = f"{len(refused)} refused, the first: {refused[0]}"[:200] if refused else ""
    if not read:
        raise argparse.ArgumentTypeError(f"{text} holds no problem refconv can take ({first or 'none'})")
    if refused:
        print(f"refconv: --problems {text}: {first}", file=sys.stderr)
    return tuple(p.case for p in read)


def xfails_file(text: str) -> tuple[Xfail, ...]:
    """A known-failures file (refconv.conform.xfails), read and checked line by line."""
    try:
        return tuple(read(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _problem(command: argparse.ArgumentParser) -> None:
    """The options that describe one convolution (check and explain)."""
    add = command.add_argument
    add("--x-shape", type=ints, default=(2, 3, 7, 6), help="N,C_in,*spatial (default 2,3,7,6)")
    add(
        "--w-shape",
        type=ints,
        default=None,
        help="C_out,C_in/groups,*kernel (default 4,3,3,2; transposed: C_in,C_out/groups,*kernel, 3,4,3,2)",
    )
    add("--stride", type=ints, default=(1,))
    add("--padding", type=padding, default=0, help="p, p1,p2,..., lo:hi,lo:hi,... or valid/same/same_lower")
    add("--padding-mode", default="zeros", choices=padding_modes.PADDING_MODES)
    add("--dilation", type=ints, default=(1,))
    add("--input-dilation", type=ints, default=(1,))
    add("--groups", type=int, default=1)
    add("--batch-groups", type=int, default=1)
    add("--transposed", action="store_true", help="the transposed convolution (PyTorch's conv_transpose)")
    add("--output-padding", type=ints, default=(0,), help="transposed: rows added at the end of each dim")
    add("--output-shape", type=ints, default=None, help="transposed: the spatial output shape instead")
    add("--strict-output-padding", action="store_true", help="transposed: output_padding < stride (ONNX, TF)")
    add("--dimension-numbers", type=layouts, default=None, help="the layouts of x, w, y, e.g. NHWC,HWIO,NHWC")
    add("--dtype", type=lambda t: dtypes(t)[0], default=None,
        help=f"the dtype every backend computes in: {', '.join(DTYPES)} "
        "(default float64, or the --problem's)")  # fmt: skip
    add("--preferred-element-type", default=None, help="the result's dtype, when it is not the inputs'")
    add(
        "--problem", metavar="TEXT", default=None,
        help="the convolution as oneDNN's benchdnn describes it ('--dir=BWD_D mb2ic16ih7oc16oh7kh3ph1', "
        "'--deconv ...') or a MIOpenDriver command line ('conv -n 16 -c 3 -H 299 ...'), instead of the "
        "shape options above",
    )  # fmt: skip


def parser() -> argparse.ArgumentParser:
    top = _OneLineParser(
        prog="refconv", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument("--version", action="version", version=f"refconv {__version__}")
    commands = top.add_subparsers(
        dest="command", required=True, parser_class=_OneLineParser, metavar="COMMAND"
    )
    check = commands.add_parser(
        "check", help="compare refconv, refconv.naive and every installed oracle with a float64 reference",
        description="Compare y, dx, dw, db of one convolution (or each of a --grid of them) from refconv, "
        "refconv.naive, jax and torch, element by element within the round-off bound of --dtype. Negative "
        "values need '=': --padding=-1:2,0:0. Exit status: 0 all within round-off, 1 a mismatch or a "
        "backend that failed, 2 bad usage.",
    )  # fmt: skip
    _problem(check)
    check.add_argument("--no-bias", action="store_true", help="convolve without a bias")
    check.add_argument("--seed", type=seed, default=0, help="the seed of the arrays (0)")
    check.add_argument(
        "--against", type=lambda s: s.split(","), default=None,
        help=f"comma-separated oracles from {','.join(ORACLES)} (default: every installed one)",
    )  # fmt: skip
    check.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the oracles run")
    check.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, help="seconds a backend may take")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument(
        "--no-naive", action="store_true",
        help="do not run refconv.naive (its Python loops; skipped anyway, and said so, for a problem of more "
        "than 200,000 window-tap pairs)",
    )  # fmt: skip
    check.add_argument(
        "--grid", type=Path, help="a JSON list of convolutions ({'x_shape': [...], 'w_shape': [...], ...})"
    )
    explain = commands.add_parser(
        "explain", help="print the output size, r per dim, and each VJP as the convolution that computes it"
    )
    _problem(explain)
    vectors = commands.add_parser("vectors", help="write golden test vectors (.npz per case, manifest.json)")
    vectors.add_argument(
        "--out", type=Path, required=True, help="the directory to write into (made if missing)"
    )
    vectors.add_argument("--seed", type=seed, default=0)
    vectors.add_argument(
        "--format", choices=("npz", "stablehlo", "onnx"), default="npz",
        help="npz: x, w, b, dy and refconv's y, dx, dw, db per case (default); stablehlo: each case's "
        "convolutions as a StableHLO module with .npy inputs and expected outputs for iree-run-module; "
        "onnx: ONNX backend test data (kind 'refconv') of every golden and curated case one Conv or "
        "ConvTranspose node can say, float32, atol the largest round-off bound",
    )  # fmt: skip
    _conform(commands)
    return top


def _conform(commands: Any) -> None:
    conform = commands.add_parser(
        "conform",
        help="judge a convolution (a framework or your own function) against refconv, case by case",
        description="Run BACKEND (a built-in: " + ", ".join(BUILTIN) + "; a name registered under the "
        "refconv.backends entry point group; or module:function) through the curated suite, "
        "covering arrays, a small-scope enumeration and random draws, each case in a worker process. "
        "Every element of y, dx, dw, db is judged within its round-off bound, and every failure is "
        "shrunk to a minimal, runnable reproducer. Every case has an id (feature-dtype-hash) that stays "
        "the same as long as its problem does. Exit status: "
        "0 if every case agrees, is unsupported or is a known failure (--xfails), 1 on any other failure "
        "(and on XPASS with --xfail-strict), 2 on bad usage, 130 when interrupted "
        "(the report of what was judged is written).",
    )
    add = conform.add_argument
    add("backend", help="a built-in name, a registered name, or module:function; or 'merge' (below)")
    add(
        "reports",
        nargs="*",
        type=Path,
        metavar="REPORT",
        help="with 'merge': the JSON reports of the shards 1/N to N/N of one run, written again as the "
        "report of the whole run (--json, --markdown, --junit-xml, and the text on standard output)",
    )
    add(
        "--dtype",
        type=dtypes,
        default=None,
        help="comma-separated dtypes (default: every dtype the backend claims)",
    )
    add(
        "--skip-dtypes",
        type=dtypes,
        default=(),
        metavar="DTYPES",
        help="comma-separated dtypes not to judge, of those --dtype gives or the backend claims",
    )
    add(
        "--only-features",
        type=features,
        default=None,
        metavar="FEATURES",
        help="judge only the cases that use no feature but these (comma-separated, of "
        + ", ".join(FEATURES)
        + "); a plain convolution uses none",
    )
    add(
        "--skip-features",
        type=features,
        default=(),
        metavar="FEATURES",
        help="judge no case that uses one of these features (comma-separated, as --only-features)",
    )
    add(
        "--phases",
        type=phases,
        default=None,
        help="comma-separated phases to take, in this order: " + ", ".join(PHASES) + " (default: all)",
    )
    add("--suite", choices=SUITES, default="all", help="older spelling: curated = --phases curated, "
        "search = every phase but curated")  # fmt: skip
    add(
        "--problems",
        type=problems_file,
        default=(),
        metavar="FILE",
        help="your own problems, judged first (phase 'problems'), each in its own dtype: a oneDNN benchdnn "
        "batch file (descriptors, --dir, --dt, --deconv, --batch) or MIOpenDriver command lines, one per "
        "line; with it, no other phase unless --phases names some",
    )
    add("--examples", type=seed, default=200, help="cases the random phase draws (200)")
    add("--budget", type=seconds, default=None, help="stop searching after this many seconds")
    add("--seed", type=seed, default=0, help="the seed of arrays and search (0)")
    add(
        "--database",
        type=directory,
        metavar="DIR",
        help="a hypothesis example database directory: the failures earlier runs remembered there are "
        "judged first (the replay phase), those that no longer fail are forgotten, and this run's new "
        "failures are remembered (default: none; a run is what its --seed makes it)",
    )
    add("--shard", type=shard, default=(1, 1), help="K/N: run the K-th of N slices")
    add("--device", default="cpu", choices=("cpu", "cuda"))
    add(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds the backend may take on one case before it is stopped ({DEFAULT_TIMEOUT:g})",
    )
    add(
        "--shrink-seconds",
        type=seconds,
        default=SHRINK_SECONDS,
        help=f"seconds each failure is shrunk for, beyond the budget ({SHRINK_SECONDS:g})",
    )
    add(
        "--xfails",
        type=xfails_file,
        default=(),
        metavar="FILE",
        help="known failures: lines of case ids or substrings of them, each optionally followed by the "
        "verdict it gets and a '# reason'; a failure a line expects is XFAIL (not shrunk, not exit 1), "
        "a listed case that agrees XPASS, a line that matches no case a warning",
    )
    add(
        "--xfail-mode",
        choices=XFAIL_MODES,
        default="run",
        help="run: judge the listed cases (XFAIL or XPASS); skip: do not judge them (default run)",
    )
    add("--xfail-strict", action="store_true", help="a listed case that agrees (XPASS) fails the run")
    add(
        "--write-xfails",
        type=report_path,
        metavar="FILE",
        help="write this run's failures as a known-failures file: each case's id, verdict and headline",
    )
    add("--json", type=report_path, help="write the report as JSON to this file ('-': standard output)")
    add("--markdown", type=report_path, help="write the report as Markdown to this file")
    add("--junit-xml", type=report_path, metavar="FILE", help="write the report as JUnit XML to this file")
    add("--quiet", action="store_true", help="no progress on standard error")
    add(
        "--in-process",
        action="store_true",
        help="run the backend in this process, trusting it not to crash, exit or hang (for debugging)",
    )
