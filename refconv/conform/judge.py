"""One judge: run a backend on a case, and decide what its answer is worth, the same way for every tool.

``refconv conform``, ``refconv check``, the golden vectors' manifest, the documentation's tables
and refconv's own tests all ask :class:`~refconv.conform.Judge` (or, for results already
computed, :func:`~refconv.conform.assess`). The judge decides once which arrays a backend answers,
draws the case's arrays, runs the backend on copies (in a :class:`~refconv.conform.Worker`
process unless told to trust it), and gives each case one verdict of :data:`refconv.conform.VERDICTS`:

``agree``
    every array has the right shape and dtype and every element is within its round-off bound;
``convention``
    every element is within its bound, or NaN only where the materialised-padding reading puts
    NaN (:func:`refconv.testing.conventions`): not a failure;
``disagree``
    an element is out of bound;
``shape``, ``dtype``
    an array has the wrong shape, or the wrong dtype (not the case's);
``mutated``
    the backend wrote into one of its inputs;
``invalid``
    its answer is not a dict of numeric NumPy arrays with the arrays it claims;
``raised``
    it raised (any exception, ``SystemExit`` and ``KeyboardInterrupt`` included) on a
    configuration its API can express;
``crashed``, ``timeout``
    its process died, or did not answer in time;
``unsupported``
    its API cannot express the case (the backend said why), or it does not claim the dtype.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from refconv._spec import spec
from refconv.backends.base import Backend, Unsupported
from refconv.cases import ARRAYS, Case
from refconv.conform.worker import Answer, Worker, execute, validated
from refconv.operators import CONV, Operator, unsupported
from refconv.testing.bounds import conventions
from refconv.testing.comparison import Comparison, compare
from refconv.testing.family import operator_reference_and_bounds

__all__ = ["DEFAULT_TIMEOUT", "FAILING", "VERDICTS", "Judge", "Outcome", "as_operator", "assess"]

#: The verdicts on a case, in the order the reports list them.
VERDICTS = ("agree", "convention", "disagree", "shape", "dtype", "mutated", "invalid", "raised", "crashed",
            "timeout", "unsupported")  # fmt: skip
#: The verdicts that are failures (``convention``: NaN only where the materialised-padding reading,
#: which the docs list per framework, puts it; counted apart, not a failure).
FAILING = VERDICTS[2:-1]
#: Seconds a backend may take on one case (its first case includes importing the framework).
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Outcome:
    """A backend's verdict on one case, why, which arrays it answered, and each array's comparison.

    ``array`` names the array a ``disagree``, ``shape`` or ``dtype`` verdict is about.
    """

    case: Case
    verdict: str
    detail: str = ""
    answered: tuple[str, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    array: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING

    @property
    def worst(self) -> Comparison | None:
        """The comparison furthest over (or nearest to) its bound, if any array was compared."""
        return max(self.comparisons, key=lambda c: c.ratio, default=None)

    @property
    def headline(self) -> str:
        """The detail's first line."""
        return self.detail.splitlines()[0] if self.detail else ""


def answered(
    gradients: bool | None, returned: Collection[str] = (), results: Sequence[str] = ARRAYS
) -> tuple[str, ...]:
    """The arrays a backend answers of a problem's ``results``: every one (``gradients`` True),
    ``y`` only (False), or ``y`` and the VJPs it ``returned`` (None: a function without the attribute)."""
    if gradients is None:
        return ("y", *(name for name in results[1:] if name in returned))
    return tuple(results) if gradients else ("y",)


def as_operator(case: Case, name: str) -> Case | str:
    """``case`` as a problem of the operator ``name`` on the same windows, or why it cannot be one.

    A convolution case becomes the patches of its input (its weight ``(1, C, *k)``: the patches
    have no output channels), the local convolution with its output channels, or the
    deformable convolution, with two offset groups where the input channels are even and one
    otherwise, and the modulation mask where the case has a bias (so the search draws both
    versions): the conformance phases and the search, written for the convolution, draw the
    family's problems too. A case of another operator is not converted.
    """
    if case.op.name == name:
        return case
    if case.op != CONV:
        return f"a {case.op.name} case, not {name}'s"
    s = case.spec
    c = s.x_shape[1]
    op = Operator(name, 2 if c and c % 2 == 0 else 1, case.bias) if name == "deform" else Operator(name)
    why = unsupported(op, s)
    if why is not None:
        return why
    if name == "patches":
        w = s.layout.shape_from_canonical((1, c, *s.w_shape[2:]), "rhs")
        s = spec(s.given_shape("x"), w, dtype=s.dtype, **s.options())
    return replace(case, spec=s, op=op)


def assess(
    case: Case, answer: Answer | Mapping[str, Any], gradients: bool | None = True,
    arrays: Sequence[Any] | Mapping[str, Any] | None = None, expected: Mapping[str, Any] | None = None,
) -> Outcome:  # fmt: skip
    """The verdict on ``answer`` (how a run ended, or the results themselves) for ``case``.

    The results are judged against refconv's float64 reference of the case's ``arrays``
    (``x, w, b, dy``, or the operands by name; drawn from the case unless given), or against
    ``expected`` values, within each element's round-off bound in the case's dtype
    (:func:`refconv.testing.family.operator_reference_and_bounds`): shapes first, then dtypes,
    then values.
    """
    if not isinstance(answer, Answer):  # results computed already, by a test or a tool
        answer = validated(dict(answer))
    if answer.mutated:
        return Outcome(case, "mutated", f"wrote into its input {', '.join(answer.mutated)}")
    if answer.status != "ok":
        return Outcome(case, answer.status, answer.detail)
    wanted = answered(gradients, answer.arrays, case.results)
    missing = [name for name in wanted if name not in answer.arrays]
    if missing:
        return Outcome(case, "invalid", f"returned no {', '.join(missing)}", wanted)
    s = case.spec
    given = case.operands() if arrays is None else arrays
    operands = (
        dict(given) if isinstance(given, Mapping) else dict(zip(("x", "w", "b", "dy"), given, strict=True))
    )
    references = operator_reference_and_bounds(case.op, s, operands, wanted)
    values = {name: references[name][0] if expected is None else expected[name] for name in wanted}
    masks = {} if case.op != CONV else conventions(s, operands["x"], operands["w"], operands["dy"], wanted)
    compared = tuple(
        compare(name, answer.arrays[name], values[name], references[name][1], convention=masks.get(name))
        for name in wanted
    )
    return _verdict(case, wanted, compared, {name: answer.arrays[name].dtype.name for name in wanted})


def _verdict(
    case: Case, wanted: tuple[str, ...], compared: tuple[Comparison, ...], dtypes: dict[str, str]
) -> Outcome:
    s = case.spec
    for c in compared:
        if c.shape != c.expected_shape:
            return Outcome(case, "shape", c.report(), wanted, compared, c.name)
    for c in compared:
        if dtypes[c.name] != s.dtype.name:
            values = "its values are within their bounds" if c.ok else "its values are out of bound too"
            detail = f"{c.name} has dtype {dtypes[c.name]}, not the case's {s.dtype.name}; {values}"
            return Outcome(case, "dtype", detail, wanted, compared, c.name)
    worst = max(compared, key=lambda c: c.ratio)
    if not worst.ok:
        return Outcome(case, "disagree", worst.report(dtype=s.dtype), wanted, compared, worst.name)
    ratio = "0" if worst.ratio == 0 else f"{worst.ratio:.2g}" if math.isfinite(worst.ratio) else "inf"
    other = [c for c in compared if c.convention]
    if other:
        counts = ", ".join(f"{c.convention} of {c.size} in {c.name}" for c in other)
        detail = f"NaN where a padding or inserted zero meets NaN or inf (the materialised reading): {counts}"
        return Outcome(
            case, "convention", f"{detail}; otherwise worst |diff|/bound {ratio}", wanted, compared
        )
    return Outcome(case, "agree", f"worst |diff|/bound {ratio} ({worst.name})", wanted, compared)


class Judge:
    """Judges ``backend`` case by case (``judge``), each in a worker process with a timeout.

    ``isolate=False`` runs the backend in this process instead, for debugging: it is then
    trusted not to exit, crash or hang (a mutated input or any exception is still a verdict).
    Use it as a context manager, or ``close`` it, to stop the worker.
    """

    def __init__(
        self, backend: Backend, device: str = "cpu", timeout: float = DEFAULT_TIMEOUT, isolate: bool = True
    ) -> None:
        self.backend, self.device, self.isolate = backend, device, isolate
        self.worker = Worker(timeout) if isolate else None

    def judge(self, case: Case) -> Outcome:
        """Run the backend on ``case`` (as a problem of the backend's operator,
        :func:`refconv.conform.judge.as_operator`) and return its verdict."""
        problem = as_operator(case, self.backend.operator)
        if isinstance(problem, str):
            return Outcome(case, "unsupported", problem)
        case, s = problem, problem.spec
        if s.dtype.name not in self.backend.dtypes:
            return Outcome(
                case, "unsupported", f"{self.backend.name} claims {', '.join(self.backend.dtypes)}"
            )
        try:
            program = self.backend.program(s, self.device)
        except Unsupported as reason:
            return Outcome(case, "unsupported", str(reason))
        arrays = case.operands()
        answer = execute(program, arrays) if self.worker is None else self.worker.run(program, arrays)
        return assess(case, answer, self.backend.gradients, arrays)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
