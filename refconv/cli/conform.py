"""``refconv conform BACKEND``: every option checked first, progress on standard error, the report always."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
from pathlib import Path

from refconv.backends.registry import get
from refconv.cli.options import UsageError
from refconv.conform import xfails
from refconv.conform.database import open_directory
from refconv.conform.merge import merge
from refconv.conform.report import Report
from refconv.conform.run import PHASES, SUITES, Progress, run

__all__ = ["conform_command"]

#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "refconv" / "hypothesis"


def _dtypes(args: argparse.Namespace, claimed: tuple[str, ...], name: str) -> tuple[str, ...]:
    dtypes = tuple(args.dtype) if args.dtype is not None else claimed
    unclaimed = [d for d in dtypes if d not in claimed]
    if unclaimed:
        raise UsageError(f"--dtype {','.join(unclaimed)}: {name} claims only {', '.join(claimed)}")
    dtypes = tuple(d for d in dtypes if d not in args.skip_dtypes)
    if not dtypes:
        raise UsageError(f"--skip-dtypes {','.join(args.skip_dtypes)} leaves no dtype to judge")
    if "bfloat16" in dtypes and importlib.util.find_spec("ml_dtypes") is None:
        raise UsageError('--dtype bfloat16 needs ml_dtypes (pip install "refconv[conform]")')
    return dtypes


def _merged(paths: list[Path]) -> Report:
    """The report of the shards' JSON reports (``refconv conform merge``)."""
    if not paths:
        raise UsageError("merge: give the JSON reports of the shards (--json of each --shard K/N run)")
    reports = []
    for path in paths:
        try:
            reports.append(Report.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(
                f"merge: {path}: not a report refconv conform --json wrote ({error})"[:300]
            ) from None
    try:
        return merge(reports)
    except ValueError as error:
        raise UsageError(f"merge: {error}") from None


def conform_command(args: argparse.Namespace) -> int:
    if args.backend == "merge":
        return _write(_merged(args.reports), args)
    if args.reports:
        raise UsageError(f"unexpected arguments {' '.join(map(str, args.reports))} (one BACKEND, or 'merge')")
    try:
        backend = get(args.backend)
    except ValueError as error:
        raise UsageError(str(error)) from None
    dtypes = _dtypes(args, backend.dtypes, backend.name)
    if not backend.installed():
        raise UsageError(f"{backend.name} needs {', '.join(backend.requires)}, which is not installed "
                         f"({backend.install_hint()})")  # fmt: skip
    if args.xfail_mode == "skip" and not args.xfails:
        raise UsageError("--xfail-mode skip: give the known failures to skip with --xfails FILE")
    if args.phases is not None and args.suite != "all":
        raise UsageError(f"--phases {','.join(args.phases)} and --suite {args.suite}: give one of them")
    if args.problems and args.phases is None and args.suite == "all":
        args.phases = ()  # the problems alone
    taken = SUITES[args.suite] if args.phases is None else args.phases
    if args.database is not None and importlib.util.find_spec("hypothesis") is None:
        raise UsageError('--database is a hypothesis example database: pip install "refconv[conform]"')
    if "random" in taken and importlib.util.find_spec("hypothesis") is None:
        others = ",".join(p for p in PHASES if p != "random")
        raise UsageError(
            f'the random phase needs hypothesis (pip install "refconv[conform]"), or --phases {others}'
        )
    if (
        importlib.util.find_spec("hypothesis") is not None
        and "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ
    ):
        from hypothesis import configuration

        configuration.set_hypothesis_home_dir(_cache_home())  # not a .hypothesis/ in the user's directory
    report = run(
        backend, dtypes, suite=args.suite, phases=args.phases, examples=args.examples, seed=args.seed,
        shard=args.shard,
        budget=math.inf if args.budget is None else args.budget, device=args.device, timeout=args.timeout,
        isolate=not args.in_process, shrink_seconds=args.shrink_seconds,
        xfails=args.xfails, xfail_mode=args.xfail_mode, xfail_strict=args.xfail_strict,
        only_features=args.only_features, skip_features=args.skip_features,
        database=None if args.database is None else open_directory(args.database), problems=args.problems,
        progress=None if args.quiet else _Progress(),
    )  # fmt: skip
    if not args.quiet:
        print(file=sys.stderr)
    return _write(report, args)


def _write(report: Report, args: argparse.Namespace) -> int:
    """Write the report where the options say, print it, and return the exit status."""
    to_stdout = args.json is not None and str(args.json) == "-"
    if args.json is not None:
        text = json.dumps(report.to_json(), indent=1)
        print(text) if to_stdout else args.json.write_text(text + "\n")
    if args.markdown is not None:
        args.markdown.write_text(report.to_markdown())
    if args.junit_xml is not None:
        args.junit_xml.write_text(report.to_junit())
    if args.write_xfails is not None:
        args.write_xfails.write_text(xfails.text(report.backend, report.version, report.outcomes))
    if not to_stdout:
        print(report.to_text())
    if report.interrupted:
        return INTERRUPTED
    return 0 if report.ok else 1


class _Progress:
    """Each phase as a bar (the random draws as running counts), then each failure shrunk and confirmed."""

    def __init__(self) -> None:
        self.searched: dict[str, int] = {}
        self.phase = ""

    def __call__(self, event: Progress) -> None:
        if event.phase != self.phase and self.phase in PHASES:
            print(file=sys.stderr)  # the finished phase's last line stays
        self.phase = event.phase
        if event.phase in PHASES and event.total is not None:
            filled = 30 * event.done // max(event.total, 1)
            line = f"[{'#' * filled}{'.' * (30 - filled)}] {event.done}/{event.total} {event.phase}"
        elif event.phase == "random" and event.outcome is not None:
            self.searched[event.outcome.verdict] = self.searched.get(event.outcome.verdict, 0) + 1
            counts = ", ".join(f"{n} {v}" for v, n in sorted(self.searched.items()))
            line = f"random: {sum(self.searched.values())} judged ({counts})"
        else:
            what = (
                "" if event.outcome is None else f" ({event.outcome.verdict}: {event.outcome.headline[:50]})"
            )
            doing = "shrinking" if event.phase == "shrink" else "confirming"
            line = f"{doing} failure {event.done} of {event.total}{what}"
        print(f"\r\x1b[K{line}" if sys.stderr.isatty() else f"\r{line}", end="", file=sys.stderr, flush=True)
