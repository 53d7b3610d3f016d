"""The ``refconv`` command: ``check`` a convolution, ``explain`` its VJPs, write golden ``vectors``,
``conform`` a backend. ``refconv --help`` lists them; each command's ``--help`` its options.

Exit status: 0 when everything agrees, 1 on a disagreement (or a backend that failed), 2 on bad
usage (reported on one line), 130 for a conformance run stopped by Ctrl-C. Any other error is
refconv's own and ends in a traceback with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from refconv._explain import explain
from refconv.cli.check import check, problem, stated, to_case
from refconv.cli.conform import conform_command
from refconv.cli.options import UsageError, parser
from refconv.onnx_vectors import write_onnx
from refconv.vectors import write_stablehlo, write_vectors

__all__ = ["main"]


def _explain(args: argparse.Namespace) -> int:
    read = stated(args)
    if read is not None:
        print(read.describe())
        print()
    print(explain(read.case.spec if read is not None else to_case(problem(args), args.dtype).spec))
    return 0


def _vectors(args: argparse.Namespace) -> int:
    out = args.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")
    try:
        writers = {"npz": write_vectors, "stablehlo": write_stablehlo, "onnx": write_onnx}
        manifest = writers[args.format](out, args.seed)
    except OSError as error:
        raise UsageError(f"--out {out}: {error.strerror or error}") from None
    print(f"wrote {len(manifest['cases'])} cases and manifest.json to {out}")
    return 0


COMMANDS = {"check": check, "explain": _explain, "vectors": _vectors, "conform": conform_command}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"refconv {args.command}: error: {error}", file=sys.stderr)
        return 2
