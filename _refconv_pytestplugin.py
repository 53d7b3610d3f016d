"""refconv's conformance suite as pytest tests: ``pytest --refconv-backend mypackage.adapter:conv``.

The plugin is registered under pytest's ``pytest11`` entry point when refconv is installed, and
does nothing unless a backend is named (``--refconv-backend``, or ``refconv_backend`` in the pytest
configuration); ``-p _refconv_pytestplugin`` loads it where refconv is not installed as a
package. It is a top-level module, not part of the ``refconv`` package, for the reason
hypothesis's ``_hypothesis_pytestplugin`` is: pytest imports every plugin before it collects
anything, and importing ``refconv.anything`` runs ``refconv/__init__.py`` (NumPy and the whole
API) in every pytest run of every project that has refconv installed, and puts refconv in
``sys.modules`` before a checkout's own ``refconv/`` is collected (pytest then refuses the
checkout's modules: "import file mismatch"). This module imports nothing of refconv until a
backend is named. With a backend it adds, to whatever else pytest collects, the tests of
:mod:`refconv.conform.pytest_suite`: one test per case of the curated suite (and of the covering
arrays or the enumeration, with ``--refconv-phases``), parametrized by the stable case ids, and
the search as one hypothesis test per feature, every test marked ``refconv``. So ``-k``, ``-m
refconv``, ``--lf``, ``-n auto`` (pytest-xdist) and ``--junitxml`` work as for any test. Each
case is judged by the one judge of ``refconv conform`` (:class:`refconv.conform.Judge`, the
backend in a worker process) and a failure's message is its verdict, its detail and the
runnable reproducer. A known-failures file (``--refconv-xfails``, the format of
:mod:`refconv.conform.xfails`) marks the cases it lists ``xfail``: a failure with the listed
verdict is XFAIL, a listed case that agrees XPASS (a failure under pytest's ``xfail_strict``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from refconv.backends.base import Backend
    from refconv.cases import Case
    from refconv.conform.judge import Judge
    from refconv.conform.xfails import Xfail

__all__ = ["RefconvXfailWarning", "Suite"]

#: The phases a plugin run takes by default: the curated suite in every dtype, and the search.
DEFAULT_PHASES = ("curated", "dtypes", "random")
#: Random draws per feature in a search test (hypothesis's max_examples).
DEFAULT_EXAMPLES = 20
#: The node id of the suite's tests: ``refconv::test_case[stride-float64-44814ac3]``.
NODE = "refconv"


class RefconvXfailWarning(pytest.PytestWarning):
    """A line of the known-failures file names no test of the suite."""


def _parsed(name: str) -> Callable[[str], Any]:
    """An option's parser from :mod:`refconv.cli.options`, imported when a value is parsed: the
    plugin is loaded by every pytest run where refconv is installed, and must cost nothing there."""

    def parse(text: str) -> Any:
        from refconv.cli import options

        parser: Callable[[str], Any] = getattr(options, name)
        return parser(text)

    parse.__name__ = name  # argparse names the type in its error
    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("refconv", "refconv conformance: judge a convolution case by case")
    group.addoption(
        "--refconv-backend",
        metavar="NAME",
        help="judge this backend (a built-in such as torch, a registered name, or module:function) with "
        "refconv's conformance suite; without it (or the refconv_backend setting) the plugin adds nothing",
    )
    group.addoption(
        "--refconv-dtype", type=_parsed("dtypes"), metavar="DTYPES",
        help="comma-separated dtypes to judge (default: every dtype the backend claims)",
    )  # fmt: skip
    group.addoption(
        "--refconv-phases", type=_parsed("phases"), metavar="PHASES",
        help="comma-separated phases: curated, pairs, enumeration, triples, dtypes (a test per case) and "
        "random (a hypothesis test per feature); default " + ",".join(DEFAULT_PHASES),
    )  # fmt: skip
    group.addoption(
        "--refconv-examples", type=_parsed("seed"), default=DEFAULT_EXAMPLES, metavar="N",
        help=f"random draws in each feature's search test ({DEFAULT_EXAMPLES}); --hypothesis-seed fixes them",
    )  # fmt: skip
    group.addoption(
        "--refconv-only-features", type=_parsed("features"), metavar="FEATURES",
        help="only the cases (and search tests) that use no feature but these",
    )  # fmt: skip
    group.addoption(
        "--refconv-skip-features", type=_parsed("features"), default=(), metavar="FEATURES",
        help="no case (and no search test) that uses one of these features",
    )  # fmt: skip
    group.addoption(
        "--refconv-xfails", metavar="FILE",
        help="known failures (refconv conform's --xfails format): the cases a line names are xfail",
    )  # fmt: skip
    group.addoption(
        "--refconv-write-xfails", metavar="FILE",
        help="write the failing tests as a known-failures file: each id, its verdict and headline",
    )  # fmt: skip
    group.addoption(
        "--refconv-xfail-mode", choices=("run", "skip"), default="run",
        help="run: judge the listed cases (XFAIL or XPASS); skip: mark them xfail without running them",
    )  # fmt: skip
    group.addoption(
        "--refconv-timeout", type=_parsed("seconds"), metavar="SECONDS",
        help="seconds the backend may take on one case (refconv conform's default)",
    )  # fmt: skip
    group.addoption("--refconv-device", choices=("cpu", "cuda"), default="cpu")
    group.addoption(
        "--refconv-in-process", action="store_true",
        help="run the backend in pytest's process, trusting it not to crash, exit or hang",
    )  # fmt: skip
    parser.addini("refconv_backend", "the backend --refconv-backend names when it is not given", default="")
    parser.addini("refconv_xfails", "the known-failures file --refconv-xfails names when it is not given",
                  default="")  # fmt: skip


@dataclass
class Suite:
    """What the plugin judges and how: the backend, and the options that choose the cases."""

    backend: Backend
    dtypes: tuple[str, ...]
    phases: tuple[str, ...]
    examples: int
    xfails: tuple[Xfail, ...] = ()
    xfail_mode: str = "run"
    only_features: tuple[str, ...] | None = None
    skip_features: tuple[str, ...] = ()
    timeout: float | None = None
    device: str = "cpu"
    isolate: bool = True
    named: set[str] = field(default_factory=set, repr=False)  # the ids of every test the suite made

    @cached_property
    def settings(self) -> Any:
        from refconv.conform.run import Settings

        return Settings(
            dtypes=self.dtypes, only_features=self.only_features, skip_features=self.skip_features
        )

    @cached_property
    def judge(self) -> Judge:
        """One judge (one worker process) for the session, or for each pytest-xdist worker."""
        from refconv.conform.judge import DEFAULT_TIMEOUT, Judge

        timeout = DEFAULT_TIMEOUT if self.timeout is None else self.timeout
        return Judge(self.backend, self.device, timeout, self.isolate)

    def cases(self) -> list[Case]:
        """The cases of the phases that have a test per case, in the order a run judges them; for a
        backend of the convolution's family, each as its operator's problem where it can be one (its
        test then has the id a known-failures file names it by)."""
        from refconv.conform.judge import as_operator
        from refconv.conform.run import PHASES, phase_cases

        wanted = [
            p for p in PHASES if p in self.phases and p != "random" and (p != "dtypes" or self.dtypes[1:])
        ]
        cases = [c for p in wanted for c in phase_cases(p, self.settings)]
        problems = [as_operator(c, self.backend.operator) for c in cases]
        return [c if isinstance(p, str) else p for c, p in zip(cases, problems, strict=True)]

    def features(self) -> list[str]:
        """The features that have a search test: each of those the options leave."""
        return list(self.settings.features) if "random" in self.phases else []

    def marks(self, name: str) -> list[pytest.MarkDecorator]:
        """The ``refconv`` mark, and ``xfail`` where a known failure names the test ``name``."""
        from refconv.conform.pytest_suite import failure_type

        self.named.add(name)
        marks = [pytest.mark.refconv]
        line = next((x for x in self.xfails if x.pattern in name), None)
        if line is not None:
            reason = f"{line.where}: {line.pattern}" + (f" ({line.reason})" if line.reason else "")
            run = self.xfail_mode == "run"
            marks.append(pytest.mark.xfail(reason=reason, raises=failure_type(line.verdict), run=run))
        return marks

    def unmatched(self) -> list[Xfail]:
        return [x for x in self.xfails if not any(x.pattern in name for name in self.named)]

    def close(self) -> None:
        if "judge" in self.__dict__:
            self.judge.close()


SUITE = pytest.StashKey[Suite]()


def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("refconv_backend") or config.getini("refconv_backend")
    if not name:
        return
    config.addinivalue_line("markers", "refconv: a test of refconv's conformance suite (--refconv-backend)")
    config.stash[SUITE] = suite = _suite(config, str(name))
    written = config.getoption("refconv_write_xfails")
    config.pluginmanager.register(_Recorder(suite, Path(written) if written else None), "refconv-recorder")


def _suite(config: pytest.Config, name: str) -> Suite:
    """The suite the options ask for; a bad one is a usage error that names it."""
    from refconv.backends.registry import get
    from refconv.conform import xfails

    try:
        backend = get(name)
    except ValueError as error:
        raise pytest.UsageError(f"--refconv-backend: {error}") from None
    if not backend.installed():
        raise pytest.UsageError(f"--refconv-backend {name}: needs {', '.join(backend.requires)} "
                                f"({backend.install_hint()})")  # fmt: skip
    dtypes = config.getoption("refconv_dtype") or backend.dtypes
    unclaimed = [d for d in dtypes if d not in backend.dtypes]
    if unclaimed:
        raise pytest.UsageError(f"--refconv-dtype {','.join(unclaimed)}: {name} claims only "
                                f"{', '.join(backend.dtypes)}")  # fmt: skip
    path = _xfails_path(config)
    try:
        known = tuple(xfails.read(path)) if path else ()
    except ValueError as error:
        raise pytest.UsageError(f"--refconv-xfails: {error}") from None
    return Suite(
        backend, tuple(dtypes), config.getoption("refconv_phases") or DEFAULT_PHASES,
        config.getoption("refconv_examples"), known, config.getoption("refconv_xfail_mode"),
        config.getoption("refconv_only_features"), config.getoption("refconv_skip_features"),
        config.getoption("refconv_timeout"), config.getoption("refconv_device"),
        not config.getoption("refconv_in_process"),
    )  # fmt: skip


def _xfails_path(config: pytest.Config) -> Path | None:
    """The known-failures file: ``--refconv-xfails`` from the directory pytest runs in, as any path on
    a command line; ``refconv_xfails`` from the configuration file's directory, as pytest's own."""
    if option := config.getoption("refconv_xfails"):
        return Path(config.invocation_params.dir, option)
    if setting := config.getini("refconv_xfails"):
        return Path(config.inipath.parent if config.inipath else config.rootpath, setting)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k, -m and --lf choose among the items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    suite = config.stash.get(SUITE, None)
    if suite is None:
        return
    from refconv.conform import pytest_suite

    module = _SuiteModule.from_parent(session, path=Path(pytest_suite.__file__), nodeid=NODE)
    items.extend(session.genitems(module))
    for line in suite.unmatched():  # shown where the line is
        path, _, number = line.where.rpartition(":")
        message = RefconvXfailWarning(f"{line.pattern!r} names no test of the suite")
        warnings.warn_explicit(message, RefconvXfailWarning, path, int(number))


class _SuiteModule(pytest.Module):
    """refconv's test module, whose tests are collected whatever the project's ``python_functions``."""

    def istestfunction(self, obj: object, name: str) -> bool:
        return name.startswith("test_") and callable(obj)


class _Recorder:
    """Notes the verdict of each failing test on its report (where pytest-xdist carries it from its
    workers), and writes the failures as a known-failures file at the end (``--refconv-write-xfails``)."""

    def __init__(self, suite: Suite, path: Path | None) -> None:
        self.suite, self.path = suite, path
        self.failed: list[tuple[str, str, str]] = []  # id, verdict, headline

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        from refconv.conform.pytest_suite import ConformanceFailure

        report = yield
        error = None if call.excinfo is None else call.excinfo.value
        failures = [error, *getattr(error, "exceptions", ())]  # hypothesis's group of distinct failures
        failure = next((e for e in failures if isinstance(e, ConformanceFailure)), None)
        if failure is not None:
            report.refconv_verdict = failure.outcome.verdict if failure is error else ""
            report.refconv_headline = failure.outcome.headline if failure is error else "several failures"
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        verdict = getattr(report, "refconv_verdict", None)
        if self.path is not None and report.when == "call" and report.failed and verdict is not None:
            name = report.nodeid.partition("[")[2].rstrip("]")
            self.failed.append((name, str(verdict), str(getattr(report, "refconv_headline", ""))))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from refconv.conform.xfails import text

        if self.path is None or hasattr(session.config, "workerinput"):  # an xdist worker: the controller's
            return
        backend = self.suite.backend
        listed = text(backend.name, backend.version(), sorted(self.failed), "pytest --refconv-write-xfails")
        self.path.write_text(listed, encoding="utf-8")


def pytest_unconfigure(config: pytest.Config) -> None:
    suite = config.stash.get(SUITE, None)
    if suite is not None:
        suite.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    suite = config.stash.get(SUITE, None)
    if suite is None:
        return []
    version = suite.backend.version() or "your function"
    known = f", {len(suite.xfails)} known failures" if suite.xfails else ""
    return [f"refconv: judging {suite.backend.name} ({version}) in {', '.join(suite.dtypes)}; "
            f"phases {', '.join(suite.phases)}{known}"]  # fmt: skip
