"""A failure as a script (:func:`~refconv.conform.reproducer`); who else computes refconv's values.

A failure is the backend's only when refconv's expected values are confirmed on its case by
:mod:`refconv.naive` (loops from the definition, which share no formula with refconv) and by a
second implementation, an installed oracle other than the backend itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from refconv import _normalize as norm
from refconv.backends.base import Backend
from refconv.backends.refconv_backend import FAMILY, NAIVE
from refconv.backends.registry import FAMILY_ORACLES, ORACLES
from refconv.conform.judge import Judge, Outcome, answered
from refconv.operators import CONV
from refconv.testing.family import operator_reference_and_bounds

__all__ = ["Confirmation", "confirm", "reproducer"]


def _literal(array: Any) -> str:
    """Python that rebuilds ``array`` exactly: its values, or for an empty array its shape."""
    dtype = np.dtype(array.dtype)
    if array.size == 0:  # a nested list of nothing has lost the shape: (0, 2, 1) would come back as (0,)
        plain = "float64" if dtype.type.__module__ == "ml_dtypes" else dtype.name
        cast = f".astype(ml_dtypes.{dtype.name})" if plain != dtype.name else ""
        return f"np.empty({tuple(array.shape)!r}, dtype=np.{plain}){cast}"
    if dtype.type.__module__ == "ml_dtypes":  # exact in float64, then rounded back (exactly) to it
        return f"np.array({np.asarray(array, np.float64).tolist()!r}).astype(ml_dtypes.{dtype.name})"
    return f"np.array({array.tolist()!r}, dtype=np.{dtype.name})"


def reproducer(backend: Backend, outcome: Outcome, device: str = "cpu") -> str:
    """A runnable script: the backend's program for the failing case, its arrays, refconv's values.

    It prints, for each array the backend answers, its shape against the expected one and the
    worst ``|diff| / bound`` (a value above 1 is the failure).
    """
    case, s = outcome.case, outcome.case.spec
    operands = case.operands()
    program = backend.program(s, device)
    wanted = outcome.answered or answered(backend.gradients, results=case.results)
    references = operator_reference_and_bounds(case.op, s, operands, wanted)
    header = [
        f"# refconv conform {backend.name} ({backend.version() or 'your function'}): {outcome.verdict}",
        *(f"#   {line}" for line in outcome.detail.splitlines()[:3]),
        *([] if case.op.name == "conv" else [f"# {case.op.source()} on the windows of this convolution:"]),
        *(f"# {line}" for line in str(s).splitlines()),
        f"# as a refconv case: {case!r}",
        "import numpy as np",
    ]
    if any(a is not None and a.dtype.type.__module__ == "ml_dtypes" for a in operands.values()):
        header.append("import ml_dtypes")
    arrays = [f"{name} = {'None' if a is None else _literal(a)}" for name, a in operands.items()]
    expected = ["# refconv's float64 values, and the round-off bound of each element in this dtype"]
    expected += ["expected = {}", "bound = {}"]
    for name in wanted:
        reference, bound = references[name]
        expected += [f"expected[{name!r}] = {_literal(reference)}", f"bound[{name!r}] = {_literal(bound)}"]
    wide = "complex128" if norm.kind(s.dtype) == "c" else "float64"
    check = [
        "for name, want in expected.items():",
        f"    have = np.asarray(got[name], dtype=np.{wide})",
        "    if have.shape != want.shape:",
        "        print(name, 'has shape', have.shape, 'expected', want.shape)",
        "    else:",
        "        ratio = np.abs(have - want) / np.where(bound[name] > 0, bound[name], np.inf)",
        "        print(name, 'worst |diff| / bound:', float(ratio.max(initial=0.0)))",
    ]
    return "\n".join([*header, *arrays, "", program.source().strip(), "", *expected, "", *check]) + "\n"


@dataclass(frozen=True)
class Confirmation:
    """What :mod:`refconv.naive` and each other installed oracle did on a failing case."""

    verdicts: Mapping[str, tuple[str, str]]  # name: (verdict, first line of its detail)

    @property
    def agree(self) -> list[str]:
        return [name for name, (verdict, _) in self.verdicts.items() if verdict == "agree"]

    @property
    def confirmed(self) -> bool:
        """refconv.naive (of the case's operator) and at least one second implementation compute
        refconv's values."""
        return any(name.startswith(NAIVE.name) for name in self.agree) and len(self.agree) > 1

    def line(self) -> str:
        """One line: who computes refconv's values, or that no second implementation could be asked."""
        agree = self.agree
        others = [f"{name} {verdict}" for name, (verdict, _) in self.verdicts.items() if name not in agree]
        if self.confirmed:
            head = f"confirmed: {' and '.join(agree)} compute refconv's values"
        else:
            head = f"NOT confirmed: only {' and '.join(agree) or 'nobody'} computes refconv's values"
        return head + (f" ({', '.join(others)})" if others else "")

    def to_json(self) -> dict[str, dict[str, str]]:
        return {name: {"verdict": v, "detail": d} for name, (v, d) in self.verdicts.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Confirmation:
        return cls({name: (entry["verdict"], entry["detail"]) for name, entry in data.items()})


def confirm(backend: Backend, outcome: Outcome, judge_of: Callable[[Backend], Judge]) -> Confirmation:
    """Who else computes refconv's values on ``outcome``'s case, each judged by ``judge_of(backend)``.

    :mod:`refconv.naive` in float64 on the same values (the case :meth:`~refconv.cases.Case.widened`),
    and each installed oracle of the case's operator (:data:`refconv.backends.ORACLES`,
    :data:`refconv.backends.FAMILY_ORACLES`) other than ``backend`` that claims the case's dtype, in it.
    """
    case = outcome.case
    naive = NAIVE if case.op == CONV else FAMILY[case.op.name][1]
    judged = {naive.name: judge_of(naive).judge(case.widened())}
    for name, oracle in (ORACLES | FAMILY_ORACLES).items():
        if oracle.operator != case.op.name or name == backend.name:
            continue
        if oracle.installed() and case.spec.dtype.name in oracle.dtypes:
            judged[name] = judge_of(oracle).judge(case)
    return Confirmation({name: (o.verdict, o.headline) for name, o in judged.items()})
