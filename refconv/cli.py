"""The ``refconv`` command: ``refconv check`` compares refconv with every installed oracle.

``refconv check`` draws random ``x``, ``w``, ``b`` and ``dy`` for one
configuration, computes ``y``, ``dx``, ``dw`` and ``db`` with refconv, with
:mod:`refconv.naive` and with each oracle (jax, torch), and prints the largest
difference per backend and array beside its round-off bound
(:func:`refconv.testing.conv_error_bounds`). Exit status: 0 when every
difference is within its bound, 1 on a mismatch, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

import refconv
from refconv import _normalize as norm
from refconv import naive
from refconv.geometry import ConvParams
from refconv.oracles import ORACLES, Unsupported, available
from refconv.testing import conv_error_bounds

ARRAYS = ("y", "dx", "dw", "db")


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


def _scalar_or_tuple(values: tuple[int, ...]) -> Any:
    return values[0] if len(values) == 1 else values


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="refconv", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    check = commands.add_parser(
        "check",
        help="compare refconv with refconv.naive and every installed oracle on one configuration",
        description="Compare y, dx, dw, db of one configuration across refconv, refconv.naive, jax "
        "and torch. Negative values need '=': --padding=-1:2,0:0.",
    )
    check.add_argument(
        "--x-shape", type=_ints, default=(2, 3, 7, 6), help="N,C_in,*spatial (default 2,3,7,6)"
    )
    check.add_argument(
        "--w-shape", type=_ints, default=(4, 3, 3, 2), help="C_out,C_in/groups,*kernel (default 4,3,3,2)"
    )
    check.add_argument("--stride", type=_ints, default=(1,))
    check.add_argument(
        "--padding", type=_padding, default=0, help="p, p1,p2,..., lo:hi,lo:hi,... or valid/same/same_lower"
    )
    check.add_argument("--padding-mode", default="zeros", choices=norm.PADDING_MODES)
    check.add_argument("--dilation", type=_ints, default=(1,))
    check.add_argument("--input-dilation", type=_ints, default=(1,))
    check.add_argument("--groups", type=int, default=1)
    check.add_argument("--batch-groups", type=int, default=1)
    check.add_argument("--no-bias", action="store_true", help="convolve without a bias")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument(
        "--against",
        type=lambda s: s.split(","),
        default=None,
        help=f"comma-separated oracles from {','.join(ORACLES)} (default: every installed one)",
    )
    return parser


def _params(args: argparse.Namespace) -> ConvParams:
    return norm.checked_params(
        args.x_shape,
        args.w_shape,
        stride=_scalar_or_tuple(args.stride),
        padding=args.padding,
        dilation=_scalar_or_tuple(args.dilation),
        input_dilation=_scalar_or_tuple(args.input_dilation),
        groups=args.groups,
        batch_groups=args.batch_groups,
    )


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


def _refconv_results(
    x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any], p: ConvParams, module: Any,
    padding_mode: str,
) -> dict[str, NDArray[Any]]:  # fmt: skip
    keywords = dict(vars(p), padding_mode=padding_mode)
    dx, dw, db = module.conv_vjp(x, w, dy, **keywords)
    return {"y": module.conv(x, w, b, **keywords), "dx": dx, "dw": dw, "db": db}


def _row(backend: str, name: str, got: NDArray[Any], want: NDArray[Any], bound: float) -> tuple[str, bool]:
    diff = float(np.max(np.abs(got - want))) if want.size else 0.0
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    ok = got.shape == want.shape and diff <= bound
    rel = diff / scale if scale else 0.0
    verdict = "ok" if ok else "MISMATCH"
    return f"{backend:<14}{name:<5}{diff:>12.3e}{rel:>12.3e}{bound:>12.3e}  {verdict}", ok


def check(args: argparse.Namespace) -> int:
    p = _params(args)
    oracles = _oracles(args.against)
    rng = np.random.default_rng(args.seed)
    x, w = rng.standard_normal(args.x_shape), rng.standard_normal(args.w_shape)
    b = None if args.no_bias else rng.standard_normal(args.w_shape[0])
    dy = rng.standard_normal(refconv.conv_output_shape(args.x_shape, args.w_shape, **vars(p)))
    mode = norm.checked_padding_mode(args.padding_mode, args.x_shape, p)
    want = _refconv_results(x, w, b, dy, p, refconv, mode)
    bounds = conv_error_bounds(x, w, dy, p, b, padding_mode=mode)
    print(
        f"refconv check: x {args.x_shape}, w {args.w_shape}, {p}, padding_mode={mode!r}, bias={b is not None}"
    )
    print(f"{'backend':<14}{'array':<5}{'max |diff|':>12}{'max rel':>12}{'bound':>12}  verdict")
    all_ok = True
    for backend in ["refconv.naive", *oracles]:
        try:
            if backend == "refconv.naive":
                got = _refconv_results(x, w, b, dy, p, naive, mode)
            else:
                got = ORACLES[backend](x, w, b, dy, p, padding_mode=mode)
        except Unsupported as reason:
            print(f"{backend:<14}skipped: {reason}")
            continue
        for name in ARRAYS:
            line, ok = _row(backend, name, got[name], want[name], bounds[name])
            print(line)
            all_ok &= ok
    if not oracles:
        print("no oracle installed (pip install jax or torch); compared with refconv.naive only")
    print("verdict:", "all within round-off" if all_ok else "MISMATCH")
    return 0 if all_ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return check(args)
    except (UsageError, ValueError, TypeError) as error:
        print(f"refconv {args.command}: error: {error}", file=sys.stderr)
        return 2
