r"""Conformance: judge any convolution against refconv, case by case, and shrink each failure to a reproducer.

:func:`refconv.conform.run` puts a backend (:mod:`refconv.backends`) through its phases
(:data:`refconv.conform.PHASES`): a curated suite, one group of cases per feature
(``refconv.conform.suite``); covering arrays of every pair and every triple of feature values and a
small-scope enumeration, all over one feature model (``refconv.conform.model``); then random draws
(``refconv.conform.search``). One judge (``refconv.conform.judge``) runs the backend in a
worker process (``refconv.conform.worker``) and gives each case one verdict of
:data:`refconv.conform.VERDICTS`. Each failure is shrunk (``refconv.conform.shrink``) to a case that still
fails the same way and that no simpler neighbour does, confirmed by :mod:`refconv.naive` and a
second framework, and printed as a runnable reproducer (``refconv.conform.reproduce``); the
report (``refconv.conform.report``) has it all.
"""

from refconv.conform.judge import DEFAULT_TIMEOUT, FAILING, VERDICTS, Judge, Outcome, assess
from refconv.conform.report import Failure, Phase, Report
from refconv.conform.reproduce import Confirmation, confirm, reproducer
from refconv.conform.run import PHASES, Progress, Settings, phase_cases, run
from refconv.conform.search import search
from refconv.conform.shrink import shrink
from refconv.conform.suite import CURATED, curated
from refconv.conform.worker import Answer, Worker, message

__all__ = [
    "CURATED",
    "DEFAULT_TIMEOUT",
    "FAILING",
    "PHASES",
    "VERDICTS",
    "Answer",
    "Confirmation",
    "Failure",
    "Judge",
    "Outcome",
    "Phase",
    "Progress",
    "Report",
    "Settings",
    "Worker",
    "assess",
    "confirm",
    "curated",
    "message",
    "phase_cases",
    "reproducer",
    "run",
    "search",
    "shrink",
]
