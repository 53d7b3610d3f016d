"""What every adapter's test module checks the same way: it writes a program for every curated case
(or says why not) without its framework, and where the framework is installed the programs agree."""

from __future__ import annotations

import importlib.util
import re

import pytest

import refconv
from refconv import backends, conform
from refconv.backends import Unsupported
from tests.helpers import known_bug

# bfloat16 arrays need ml_dtypes
DTYPES = ("float64", "float32", "float16", *(("bfloat16",) if importlib.util.find_spec("ml_dtypes") else ()))


def assert_writes_a_program_or_says_why(name: str, transposed_only: bool = False, most: bool = True) -> None:
    """Writing a program needs no framework: each curated case gives Python that compiles, or Unsupported
    (of the transposed cases only, for a backend of the transposed convolution alone); an adapter
    expresses ``most`` of them unless its framework's API is narrow (SciPy's: no stride)."""
    backend = backends.BUILTIN[name]
    written, reasons = 0, []
    chosen = [c for c in conform.curated(DTYPES) if c.spec.transposed or not transposed_only]
    for case in chosen:
        if case.spec.dtype.name not in backend.dtypes:
            continue
        try:
            program = backend.program(case.spec, "cpu")
        except Unsupported as reason:
            reasons.append(str(reason))
            continue
        compile(program.source(), f"<{name}>", "exec")
        written += 1
    assert all(reasons), f"{name} refused a case without saying why"
    assert written >= (len(chosen) // len(DTYPES) // 2 if most else 1)


def source(name: str, *shapes: tuple[int, ...], **keywords: object) -> str:
    """The program ``name`` writes for the spec of these shapes and keywords."""
    return backends.BUILTIN[name].program(refconv.spec(*shapes, **keywords), "cpu").source()  # type: ignore[arg-type]


def assert_agrees_on_the_curated_suite(
    name: str, unsupported: set[str], zero_size_limits: set[str] | None = None, most: bool = True
) -> None:
    """The framework through its adapter, as ``refconv conform NAME`` runs it: every case agrees, and
    only what its API cannot say (the reasons' patterns in ``unsupported``) is unsupported.

    A framework that refuses the definition's zero sizes (the ``zero_sizes`` cases) is ``raised``,
    a limitation the docs' framework tables list: ``zero_size_limits`` are the patterns of the
    messages it raises them with, each of which must occur (None: a framework these tests have
    not pinned down, whose raising on those cases is accepted; any other verdict fails).
    """
    pytest.importorskip(backends.BUILTIN[name].requires[0])
    report = conform.run(backends.get(name), ("float64",), suite="curated")
    limits = [o for o in report.outcomes if o.case.feature == "zero_sizes" and o.verdict == "raised"]
    failures = [
        o for o in report.outcomes if o.failed and o not in limits and not known_bug(name, o.case.spec)
    ]
    assert not failures, report.to_text()
    if zero_size_limits is not None:
        raised = {o.headline for o in limits}
        assert all(any(re.search(p, message) for p in zero_size_limits) for message in raised), raised
        assert all(any(re.search(p, message) for message in raised) for p in zero_size_limits), raised
    reasons = {o.detail for o in report.outcomes if o.verdict == "unsupported"}
    assert all(any(re.search(pattern, reason) for pattern in unsupported) for reason in reasons), reasons
    # what an adapter cannot say is at most four curated cases (torch: input dilation twice, batch
    # groups, the symmetric padding mode) and the 0-d ones (jax's alone), unless its API is narrower
    # (``most=False``)
    no_spatial = sum(c.spec.ndim == 0 for c in conform.CURATED)
    assert report.totals()["agree"] >= (len(conform.CURATED) - 4 - no_spatial - len(limits) if most else 1)
