"""The tests :mod:`_refconv_pytestplugin` adds: one per case, and one hypothesis search per feature.

``test_case[<case id>]`` judges one case of the suite; ``test_search[search-<feature>]`` draws
cases that vary that feature (and what it needs: ``output_padding`` comes with ``transposed``)
with :func:`refconv.testing.conv_configs` and judges each, hypothesis shrinking a failure to its
smallest case. The judge is :class:`refconv.conform.Judge`, the one ``refconv conform`` uses. A
failure raises the :class:`ConformanceFailure` of its verdict (``DisagreeFailure``,
``RaisedFailure``, ...), whose message is the verdict, its detail, the case and the runnable
reproducer; an ``unsupported`` case is skipped with the backend's reason. Search tests keep
hypothesis's example database (``.hypothesis/`` by default, or the settings profile's), each
under its own key, so a failure they found is replayed first on the next run.

This module is not collected by pytest's own rules: the plugin adds it when a backend is named.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from _refconv_pytestplugin import SUITE, Suite
from refconv.conform.judge import FAILING, Outcome
from refconv.conform.reproduce import reproducer

__all__ = ["ConformanceFailure", "failure_type", "needs", "test_case", "test_search"]

#: The features a search test of a feature varies besides it: the ones without which it draws nothing.
_NEEDS = {
    "output_padding": ("transposed",), "output_shape": ("transposed",), "depthwise": ("groups",),
    "negative_padding": ("padding",), "padding_modes": ("padding",),
}  # fmt: skip


class ConformanceFailure(AssertionError):
    """A case the backend failed: its verdict, what went wrong, the case, and a runnable reproducer.

    Each failing verdict has its subclass (:func:`failure_type`), so that a known failure listed
    with a verdict is pytest's ``xfail(raises=...)`` of exactly that verdict.
    """

    verdict = ""

    def __init__(self, outcome: Outcome, suite: Suite) -> None:
        super().__init__(outcome.headline)
        self.outcome, self.suite = outcome, suite

    def __str__(self) -> str:  # the reproducer is written only for the failure pytest shows
        o = self.outcome
        script = reproducer(self.suite.backend, o, self.suite.device)
        return f"{o.verdict}: {o.detail}\n\n{o.case!r} (id {o.case.id})\n\nreproducer:\n{script}"


_FAILURES = {
    verdict: type(
        f"{verdict.capitalize()}Failure", (ConformanceFailure,), {"verdict": verdict, "__module__": __name__}
    )
    for verdict in FAILING
}
globals().update({cls.__name__: cls for cls in _FAILURES.values()})


def failure_type(verdict: str) -> type[ConformanceFailure]:
    """The exception a failure with ``verdict`` raises (any failing verdict: ``""``)."""
    return _FAILURES[verdict] if verdict else ConformanceFailure


def needs(feature: str) -> tuple[str, ...]:
    """The features a search test of ``feature`` draws with: it, what it needs, and a bias."""
    return (feature, *_NEEDS.get(feature, ()), "bias")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    suite = metafunc.config.stash[SUITE]
    if metafunc.function is test_case:
        params = [pytest.param(c, id=c.id, marks=suite.marks(c.id)) for c in suite.cases()]
        metafunc.parametrize("case", params)
    elif metafunc.function is test_search:
        chosen = [f for f in suite.features() if set(needs(f)) - {"bias"} <= set(suite.features())]
        metafunc.parametrize("feature", [pytest.param(f, id=f"search-{f}", marks=suite.marks(f"search-{f}"))
                                         for f in chosen])  # fmt: skip


def _judged(suite: Suite, case: Any) -> Outcome:
    """The judge's verdict on ``case``; a failure raises the exception of its verdict."""
    __tracebackhide__ = True
    outcome = suite.judge.judge(case)
    if outcome.failed:
        raise failure_type(outcome.verdict)(outcome, suite)
    return outcome


def test_case(case: Any, request: pytest.FixtureRequest) -> None:
    """The backend computes the case's arrays within their round-off bounds."""
    __tracebackhide__ = True
    outcome = _judged(request.config.stash[SUITE], case)
    if outcome.verdict == "unsupported":
        pytest.skip(f"unsupported: {outcome.headline}")


def test_search(feature: str, request: pytest.FixtureRequest) -> None:
    """The backend computes every drawn case that varies ``feature`` within its round-off bounds."""
    __tracebackhide__ = True
    from hypothesis import HealthCheck, Phase, assume, given, settings
    from hypothesis.errors import Unsatisfiable

    from refconv.testing.strategies import conv_configs

    suite = request.config.stash[SUITE]
    known = request.node.get_closest_marker("xfail") is not None
    phases = [
        Phase.explicit,
        Phase.reuse,
        Phase.generate,
        *([] if known else [Phase.shrink]),
    ]  # XFAIL: no shrink
    key = f"refconv {request.node.nodeid} {suite.backend.name} {','.join(suite.dtypes)} ".encode()
    unsupported: list[str] = []

    @settings(max_examples=max(suite.examples, 1), deadline=None, suppress_health_check=list(HealthCheck),
              phases=phases, database=_prefixed(_default_database(), key))  # fmt: skip
    @given(conv_configs(dtypes=suite.dtypes, features=needs(feature)))
    def search(case: Any) -> None:
        __tracebackhide__ = True
        outcome = _judged(suite, case)
        if outcome.verdict == "unsupported":
            unsupported.append(outcome.headline)
            assume(False)

    try:
        search()
    except Unsatisfiable:
        pytest.skip(f"unsupported: every {feature} draw ({len(unsupported)}); the last: {unsupported[-1:]}")


def _default_database() -> Any:
    """The example database of hypothesis's current settings profile (``.hypothesis/`` by default)."""
    from hypothesis import settings

    return None if settings.default is None else settings.default.database


def _prefixed(database: Any, prefix: bytes) -> Any:
    """``database`` (a hypothesis example database) seen through a key prefix: each search test's
    examples apart, though every test runs the same inner function (whose source is hypothesis's key)."""
    if database is None:
        return None
    from hypothesis.database import ExampleDatabase

    class Prefixed(ExampleDatabase):
        def save(self, key: bytes, value: bytes) -> None:
            database.save(prefix + key, value)

        def fetch(self, key: bytes) -> Iterable[bytes]:
            return database.fetch(prefix + key)  # type: ignore[no-any-return]

        def delete(self, key: bytes, value: bytes) -> None:
            database.delete(prefix + key, value)

        def move(self, src: bytes, dest: bytes, value: bytes) -> None:
            database.move(prefix + src, prefix + dest, value)

    return Prefixed()
