r"""Conformance: judge any convolution against refconv, case by case, and shrink each failure to a reproducer.

:func:`run` puts a backend (:mod:`refconv.backends`) through a curated suite,
one group of cases per feature (:func:`curated`), and then a property-based
search (:func:`search`, hypothesis over :func:`refconv.testing.conv_configs`).
Every element of ``y``, ``dx``, ``dw`` and ``db`` is judged against
refconv's float64 result within its round-off bound for the backend's dtype
(:func:`refconv.testing.reference_and_bounds`), shapes first. Each case gets
one verdict (:data:`VERDICTS`):

``agree``
    every array has the right shape and every element is within its bound;
``disagree``
    an element is out of bound;
``shape``
    an array has the wrong shape;
``raised``
    the framework raised on a configuration its API can express;
``unsupported``
    the backend's API cannot express it (the backend said why).

A failure is shrunk (:func:`shrink`) to a configuration that still fails the
same way and that no simpler candidate does, and printed as a runnable
reproducer (:func:`reproducer`): the backend's own program for that
configuration, its arrays, and refconv's expected values with their bounds.
Before it is reported, refconv's expected values are confirmed on that
configuration (:func:`confirm`) by :mod:`refconv.naive`, which shares no
formula with refconv, and by the installed oracles other than the backend
itself: a failure is the framework's when they agree with refconv.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import random
import re
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from refconv._spec import spec
from refconv.backends import Backend, Program, Unsupported, spec_source
from refconv.testing import (
    ARRAYS,
    FEATURES,
    Comparison,
    Config,
    compare,
    conv_configs,
    reference_and_bounds,
    results,
)

__all__ = [
    "CURATED",
    "VERDICTS",
    "Failure",
    "Outcome",
    "Report",
    "Worker",
    "confirm",
    "curated",
    "judge",
    "message",
    "reproducer",
    "run",
    "search",
    "shrink",
]

#: The verdicts on a case, in the order the reports list them.
VERDICTS = ("agree", "disagree", "shape", "raised", "unsupported")
FAILING = ("disagree", "shape", "raised")


@dataclass(frozen=True)
class Outcome:
    """A backend's verdict on one configuration, why, and the worst comparison behind it."""

    config: Config
    verdict: str
    detail: str = ""
    worst: Comparison | None = None


class Worker:
    """Runs programs in a process of their own, so that a framework that crashes or hangs fails one case.

    A framework can kill the process that runs it (MLX 0.32 dies of SIGFPE on one empty-batch
    transposed convolution): the worker's death is that case's verdict, ``raised``, and the next
    case starts a new worker. Programs of function backends (which carry a Python function) run
    in this process.
    """

    def __init__(self, timeout: float = 300.0) -> None:
        self.timeout = timeout
        self.process: Any = None
        self.connection: Any = None

    def run(self, program: Program, arrays: tuple[Any, ...]) -> tuple[str, Any]:
        """``("ok", results)``, ``("unsupported", reason)`` or ``("raised", what happened)``."""
        if self.process is None or not self.process.is_alive():
            self._start()
        try:
            self.connection.send((program.setup, program.run, arrays))
            if not self.connection.poll(self.timeout):
                self.close(stuck=True)
                return "raised", f"no answer within {self.timeout:.0f} s: the run was stopped"
            status, value = self.connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.process.join(timeout=5)  # reap it, to read how it died
            code = self.process.exitcode
            self.close()
            return "raised", f"the process running it died ({_signal_name(code)})"
        return status, value

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def close(self, stuck: bool = False) -> None:
        """Stop the process: ask it to end (or, ``stuck`` in a run, kill it), and wait for it."""
        if self.process is not None:
            if not stuck:
                with contextlib.suppress(OSError, BrokenPipeError):
                    self.connection.send(None)
                self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.process = self.connection = None


def _signal_name(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _serve(connection: Any) -> None:
    """The worker: run each program it is sent, answer with its results or what went wrong."""
    while True:
        message = connection.recv()
        if message is None:
            return
        setup, run, arrays = message
        connection.send(_execute(Program(setup, run), arrays))


def _execute(program: Program, arrays: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        with warnings.catch_warnings():  # a framework's warnings are not its verdict
            warnings.simplefilter("ignore")
            return "ok", program(*arrays)
    except Unsupported as reason:  # a function backend decides when it runs
        return "unsupported", str(reason)
    except Exception as error:
        return "raised", message(error)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\bname:\s*$")
_CONTEXT = re.compile(r"^(File |Detected at node|\[\[|Arguments received|\u2022)")
_INNER = re.compile(r"^\s*([A-Za-z_.]*(?:Error|Exception)): (.+)$")


def message(error: BaseException) -> str:
    """``"TypeName: what went wrong"``, one line, from an exception however the framework wrapped it.

    TensorFlow and Keras wrap what went wrong in context: "in user code:", "Graph execution
    error:", "Exception encountered when calling Pad.call().", a traceback of the traced
    function, ``{{function_node ...}}`` prefixes. The line that says it is an inner exception's
    (``ValueError: ...``), or else the first line that is none of that.
    """
    lines = [_NOISE.sub("", _ANSI.sub("", line)).rstrip() for line in str(error).strip().splitlines()]
    lines = [line for line in lines if line.strip()]
    kind = type(error).__name__
    inner = next((m for m in map(_INNER.match, lines[1:]) if m), None)
    if inner is not None:
        kind, text = inner.group(1), inner.group(2)
    else:
        plain = [line.strip() for line in lines if not line.startswith((" ", "\t"))]
        said = [line for line in plain if not line.endswith((":", ".()")) and not _CONTEXT.match(line)]
        said = [line for line in said if not line.startswith("Exception encountered when calling")]
        text = (said or plain or [""])[0]
    return f"{kind}: {text}"[:300]


def judge(backend: Backend, config: Config, device: str = "cpu", worker: Worker | None = None) -> Outcome:
    """Run ``backend`` on ``config`` and judge every array it returns (``y``, and the VJPs if it has them).

    With a ``worker``, the program runs in the worker's process (see :class:`Worker`).
    """
    s = config.spec
    try:
        program = backend.program(s, device)
    except Unsupported as reason:
        return Outcome(config, "unsupported", str(reason))
    x, w, b, dy = config.arrays()
    if worker is not None and not program.bindings:
        status, got = worker.run(program, (x, w, b, dy))
    else:
        status, got = _execute(program, (x, w, b, dy))
    if status != "ok":
        return Outcome(config, status, got)
    wanted = {True: list(ARRAYS), False: ["y"], None: [n for n in ARRAYS if n in got]}[backend.gradients]
    missing = [name for name in wanted if name not in got]
    if missing or "y" not in got:
        return Outcome(config, "raised", f"returned no {', '.join(missing or ['y'])}")
    references = reference_and_bounds(s, x, w, b, dy, s.dtype, which=wanted)
    verdicts = [compare(name, got[name], *references[name]) for name in wanted]
    worst = max(verdicts, key=lambda v: v.ratio)
    if any(v.shape != v.expected_shape for v in verdicts):
        bad = next(v for v in verdicts if v.shape != v.expected_shape)
        return Outcome(config, "shape", bad.report(), bad)
    if not all(v.ok for v in verdicts):
        return Outcome(config, "disagree", worst.report(dtype=s.dtype).splitlines()[0], worst)
    return Outcome(config, "agree", f"worst |diff|/bound {worst.ratio:.2g} ({worst.name})", worst)


#: The cases of the curated suite, each (feature, x shape, w shape, keywords, transposed); small, with
#: N, C, H, W and the kernel sizes all different, r > 0 somewhere, each feature alone where it can be.
CURATED: list[tuple[str, tuple[int, ...], tuple[int, ...], dict[str, Any], bool]] = [
    ("basic", (2, 3, 7, 6), (4, 3, 3, 2), {}, False),
    ("basic", (3, 2, 9), (4, 2, 3), {}, False),
    ("basic", (2, 2, 5, 4, 6), (3, 2, 2, 3, 2), {}, False),
    ("stride", (3, 4, 11), (5, 4, 3), dict(stride=3), False),
    ("stride", (2, 3, 9, 8), (4, 3, 3, 2), dict(stride=(2, 3)), False),
    ("stride", (2, 3, 9, 8), (4, 3, 1, 2), dict(stride=(3, 4)), False),  # kernels smaller than the stride
    ("dilation", (2, 3, 10, 11), (4, 3, 3, 2), dict(dilation=(2, 3)), False),
    ("dilation", (2, 3, 10, 11), (4, 3, 3, 2), dict(stride=(2, 1), dilation=(2, 3)), False),
    ("input_dilation", (2, 3, 5, 6), (4, 3, 3, 2), dict(input_dilation=(2, 3)), False),
    ("input_dilation", (2, 3, 5, 6), (4, 3, 3, 2), dict(stride=(3, 2), input_dilation=2, padding=1), False),
    ("padding", (2, 3, 8, 7), (4, 3, 3, 2), dict(padding=1), False),
    ("padding", (2, 3, 8, 7), (4, 3, 3, 2), dict(stride=(2, 3), padding=((0, 2), (1, 0))), False),
    ("negative_padding", (2, 3, 9, 10), (4, 3, 3, 3), dict(stride=(1, 2), padding=((-1, 2), (2, -2))), False),
    ("negative_padding", (2, 3, 6, 5), (4, 3, 2, 2), dict(padding=((-2, 0), (0, -1))), False),
    ("padding_words", (2, 3, 7, 6), (4, 3, 3, 2), dict(padding="valid", stride=2), False),
    ("padding_words", (2, 3, 7, 8), (4, 3, 4, 3), dict(padding="same"), False),
    ("padding_words", (2, 3, 7, 8), (4, 3, 4, 3), dict(padding="same", stride=(2, 3)), False),
    ("padding_words", (2, 3, 9, 8), (4, 3, 3, 2), dict(padding="same", stride=2, dilation=(2, 1)), False),
    ("padding_words", (3, 2, 10), (4, 2, 4), dict(padding="same_lower", stride=3), False),
    ("groups", (2, 6, 8, 7), (9, 2, 3, 2), dict(groups=3), False),
    ("groups", (2, 4, 7, 6), (6, 2, 3, 3), dict(groups=2, stride=(1, 2), padding=1), False),
    ("depthwise", (2, 5, 9, 8), (5, 1, 3, 3), dict(groups=5, padding=1), False),
    ("depthwise", (2, 5, 9, 8), (10, 1, 3, 3), dict(groups=5, stride=2, padding=1), False),
    ("batch_groups", (6, 3, 7, 8), (4, 3, 3, 2), dict(batch_groups=2, stride=2, padding=1), False),
    ("layouts", (2, 7, 6, 3), (3, 2, 3, 4), dict(dimension_numbers=("NHWC", "HWIO", "NHWC"), stride=2),
     False),
    ("layouts", (3, 9, 4), (3, 4, 5), dict(dimension_numbers=("NWC", "WIO", "NWC"), padding=1), False),
    ("layouts", (2, 4, 5, 6, 3), (2, 3, 2, 3, 4),
     dict(dimension_numbers=("NDHWC", "DHWIO", "NDHWC"), stride=(1, 2, 1)), False),
    ("padding_modes", (2, 3, 7, 6), (4, 3, 3, 3), dict(padding=(2, 1), padding_mode="reflect"), False),
    ("padding_modes", (2, 3, 7, 6), (4, 3, 3, 2), dict(padding=((1, 2), (2, 0)), padding_mode="replicate"),
     False),
    ("padding_modes", (2, 3, 7, 6), (4, 3, 3, 2), dict(padding=((1, 2), (2, 0)), padding_mode="circular"),
     False),
    ("edges", (2, 3, 5, 4), (4, 3, 6, 5), dict(padding=((1, 0), (0, 1))), False),  # kernel = padded input
    ("edges", (2, 3, 3, 4), (4, 3, 2, 2), dict(padding=((0, 3), (4, 0))), False),  # outputs read only padding
    ("edges", (0, 3, 7, 6), (4, 3, 3, 2), dict(stride=2), False),  # empty batch
    ("edges", (0, 4, 5, 6), (4, 1, 3, 3), dict(groups=4), False),  # empty batch, depthwise kernels
    ("transposed", (2, 3, 5, 6), (3, 4, 3, 3), dict(stride=2, padding=1, output_padding=1), True),
    ("transposed", (3, 4, 7), (4, 5, 3), dict(stride=2), True),
    ("transposed", (2, 3, 5, 4), (3, 2, 3, 2), dict(stride=(2, 3), padding=((1, 0), (0, 2))), True),
    ("transposed", (2, 6, 5, 4), (6, 2, 3, 2), dict(stride=2, groups=3, dilation=(1, 2)), True),
    ("transposed", (2, 4, 6, 5), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4, output_padding=1), True),
    ("transposed", (2, 3, 5), (3, 2, 3), dict(dilation=3, output_padding=2), True),  # output_padding > stride
    ("transposed", (2, 3, 5, 6), (3, 4, 3, 3), dict(stride=2, padding=1, output_shape=(10, 11)), True),
    ("transposed", (2, 3, 3, 4, 2), (3, 2, 2, 3, 2), dict(stride=(2, 1, 3), output_padding=(1, 0, 2)), True),
    ("transposed", (2, 5, 4, 3), (3, 2, 4, 3),
     dict(dimension_numbers=("NHWC", "HWOI", "NHWC"), stride=2, padding=1), True),
    ("transposed_words", (2, 3, 4, 5), (3, 2, 3, 2), dict(stride=2, padding="same"), True),
    ("transposed_words", (2, 3, 4, 3), (3, 2, 4, 1), dict(stride=(3, 2), padding="same_lower"), True),
    ("transposed_words", (3, 2, 5), (2, 4, 3), dict(stride=2, padding="valid", output_padding=1), True),
]  # fmt: skip


def curated(dtypes: Sequence[str] = ("float64",), seed: int = 0) -> list[Config]:
    """The curated suite in each of ``dtypes``: every case of :data:`CURATED`, with and without a bias."""
    configs = []
    for dtype in dtypes:
        for index, (feature, x_shape, w_shape, keywords, transposed) in enumerate(CURATED):
            s = spec(x_shape, w_shape, transposed=transposed, dtype=dtype, **keywords)
            configs.append(Config(s, bias=index % 4 != 3, seed=seed + index, feature=feature))
    return configs


def search(
    backend: Backend, dtypes: Sequence[str], examples: int, deadline: float, seed: int, device: str = "cpu",
    ranks: Sequence[int] = (1, 2, 3), features: Sequence[str] = FEATURES,
    progress: Callable[[Outcome], None] | None = None, worker: Worker | None = None,
) -> list[Outcome]:  # fmt: skip
    """Judge up to ``examples`` configurations drawn by hypothesis, until ``deadline``; return every outcome.

    hypothesis draws from :func:`refconv.testing.conv_configs` (parameters out
    to their edges), and configurations the backend cannot express are
    replaced by others. The search does not stop at a failure: every drawn
    configuration is judged, and :func:`run` shrinks one failure of each kind.
    """
    from hypothesis import HealthCheck, Phase, assume, given, settings
    from hypothesis import seed as hypothesis_seed

    judged: list[Outcome] = []

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @hypothesis_seed(seed)
    @given(conv_configs(ranks=ranks, dtypes=dtypes, features=features))
    def explore(config: Config) -> None:
        if time.monotonic() > deadline:
            return  # out of time: the remaining draws are not judged
        outcome = judge(backend, config, device, worker)
        assume(outcome.verdict != "unsupported")
        judged.append(outcome)
        if progress is not None:
            progress(outcome)

    explore()
    return judged


#: The search's features (refconv.testing.FEATURES) each curated group stands for.
_SEARCHED = {
    "transposed": ("transposed", "output_padding", "output_shape"), "edges": ("empty_batch",),
    "transposed_words": ("transposed", "padding_words"),
    "basic": ("bias",),
}  # fmt: skip


def _scope(outcomes: Sequence[Outcome]) -> tuple[list[int], list[str]]:
    """The ranks and features worth searching: those of which some curated case was not unsupported.

    A backend that cannot express a feature at all would only have its draws rejected.
    """
    if not outcomes:
        return [1, 2, 3], list(FEATURES)
    supported = [o for o in outcomes if o.verdict != "unsupported"]
    ranks = sorted({o.config.spec.ndim for o in supported}) or [1, 2, 3]
    groups = {o.config.feature for o in supported}
    features = [f for g in groups for f in _SEARCHED.get(g, (g,)) if f in FEATURES] + ["bias"]
    return ranks, sorted(set(features))


def _candidates(config: Config) -> Iterator[Config]:
    """Simpler neighbours of ``config``: one parameter moved toward its default, or one dim dropped."""
    s = config.spec
    options = dict(s.options())
    x, w = list(s.x_shape), list(s.w_shape)
    layout_free = {k: v for k, v in options.items() if k != "dimension_numbers"}

    def make(
        x_shape: Sequence[int], w_shape: Sequence[int], dtype: Any = None, **changes: Any
    ) -> Config | None:
        merged = {**layout_free, **changes}
        merged = {k: v for k, v in merged.items() if v is not None}
        dtype = s.dtype if dtype is None else dtype
        try:
            new = spec(tuple(x_shape), tuple(w_shape), transposed=s.transposed, dtype=dtype, **merged)
        except (ValueError, TypeError):
            return None
        return replace(config, spec=new)

    steps: list[Config | None] = []
    if s.ndim > 1:
        for drop in range(s.ndim):
            keep = [d for d in range(s.ndim) if d != drop]
            per_dim = {k: _drop(v, keep) for k, v in layout_free.items() if _is_per_dim(k, v, s.ndim)}
            steps.append(
                make([*x[:2], *(x[2 + d] for d in keep)], [*w[:2], *(w[2 + d] for d in keep)], **per_dim)
            )
    if config.bias:
        steps.append(replace(config, bias=False))
    steps.append(make(x, w))  # the canonical layout
    if s.padding_mode != "zeros":
        steps.append(make(x, w, padding_mode=None))
    if s.dtype != np.dtype(np.float64):
        steps.append(make(x, w, dtype=np.float64))
    if s.dtype.itemsize < 4:  # float16, bfloat16: float32 if float64 fails otherwise (or is not claimed)
        steps.append(make(x, w, dtype=np.float32))
    for name in ("groups", "batch_groups"):
        count = getattr(s, name)
        for fewer in range(1, count):  # the same per-group sizes, fewer groups
            x2, w2 = list(x), list(w)
            if s.transposed:
                x2[1] = w2[0] = x[1] // count * fewer
            elif name == "groups":
                x2[1], w2[0] = x[1] // count * fewer, w[0] // count * fewer
            else:
                x2[0], w2[0] = x[0] // count * fewer, w[0] // count * fewer
            steps.append(make(x2, w2, **{name: fewer if fewer > 1 else None}))
    steps += _size_steps(config, make, x, w)
    steps += _parameter_steps(config, make, x, w, layout_free)
    yield from (step for step in steps if step is not None)


def _is_per_dim(name: str, value: Any, ndim: int) -> bool:
    return name in ("stride", "dilation", "input_dilation", "padding", "output_padding", "output_shape") and (
        isinstance(value, tuple) and len(value) == ndim
    )


def _drop(value: tuple[Any, ...], keep: list[int]) -> tuple[Any, ...]:
    return tuple(value[d] for d in keep)


def _size_steps(config: Config, make: Any, x: list[int], w: list[int]) -> list[Config | None]:
    s, steps = config.spec, []
    batch_unit = 1 if s.transposed else s.batch_groups
    if x[0] != batch_unit:  # fewer images, or one instead of none: an empty batch is an edge, not simpler
        steps.append(make([batch_unit, *x[1:]], w))
    channel_unit = s.groups
    if s.transposed:
        if x[1] > channel_unit:
            steps.append(make([x[0], channel_unit, *x[2:]], [channel_unit, *w[1:]]))
        if w[1] > 1:
            steps.append(make(x, [w[0], 1, *w[2:]]))
    else:
        if w[1] > 1:
            steps.append(make([x[0], channel_unit, *x[2:]], [w[0], 1, *w[2:]]))
        out_unit = s.groups * s.batch_groups
        if w[0] > out_unit:
            steps.append(make(x, [out_unit, *w[1:]]))
    for axis in range(2, len(x)):
        for size in range(1, x[axis]):
            steps.append(make([*x[:axis], size, *x[axis + 1 :]], w))
        for size in range(1, w[axis]):
            steps.append(make(x, [*w[:axis], size, *w[axis + 1 :]]))
    return steps


def _parameter_steps(
    config: Config, make: Any, x: list[int], w: list[int], options: dict[str, Any]
) -> list[Config | None]:
    s, steps = config.spec, []
    if s.padding_word is not None:
        steps.append(make(x, w, padding=s.padding))  # the word's pairs: does the word itself matter?
    for name in ("stride", "dilation", "input_dilation"):
        values = getattr(s, name)
        for dim, value in enumerate(values):
            for smaller in range(1, value):
                steps.append(
                    make(x, w, **{name: tuple(smaller if d == dim else v for d, v in enumerate(values))})
                )
    if s.padding_word is None:
        for dim, (lo, hi) in enumerate(s.padding):
            for pair in ((0, hi), (lo, 0), (lo - _sign(lo), hi), (lo, hi - _sign(hi))):
                if pair != (lo, hi):
                    padding = tuple(pair if d == dim else p for d, p in enumerate(s.padding))
                    steps.append(make(x, w, padding=padding))
    if s.transposed and any(s.output_padding):
        for dim, value in enumerate(s.output_padding):
            for smaller in range(value):
                op = tuple(smaller if d == dim else v for d, v in enumerate(s.output_padding))
                steps.append(make(x, w, output_padding=op, output_shape=None))
    return steps


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _hypothesis_shrink(
    backend: Backend, outcome: Outcome, scope: dict[str, Any], examples: int, seed: int, device: str,
    deadline: float, worker: Worker | None = None,
) -> Outcome:  # fmt: skip
    """hypothesis's own shrinker on a drawn failure: ``find`` the simplest draw that fails the same way."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import HypothesisException, NoSuchExample

    kind = _kind(outcome)
    last: list[Outcome] = []

    def fails_alike(config: Config) -> bool:
        if time.monotonic() > deadline:
            return False
        judged = judge(backend, config, device, worker)
        if _kind(judged) == kind:
            last.append(judged)
            return True
        return False

    try:
        found = find(
            conv_configs(**scope), fails_alike, random=random.Random(seed),
            settings=settings(max_examples=max(examples, 100), database=None, deadline=None,
                              suppress_health_check=list(HealthCheck)),
        )  # fmt: skip
    except (NoSuchExample, HypothesisException, BaseExceptionGroup):  # none found, or a flaky framework
        return outcome
    return next((o for o in reversed(last) if o.config == found), judge(backend, found, device, worker))


def _kind(outcome: Outcome) -> tuple[str, ...]:
    """What a failure is, to shrink it without turning it into another and to report one of each.

    The verdict; the array that failed, or the exception's message without its numbers; convolution
    or transposed. (Not the dtype: the shrinker moves a failure to float64 if it fails there alike.)
    """
    head = outcome.detail.split(":")[0] if outcome.verdict in ("disagree", "shape") else outcome.detail
    head = re.sub(r"[-\d.,() ]+", " ", head)[:80].strip()
    kind = "transposed" if outcome.config.spec.transposed else "conv"
    return outcome.verdict, head, kind


def _same_problem(a: Outcome, b: Outcome) -> bool:
    """Whether two failures are one: the same kind, on the same configuration but maybe its dtype."""

    def problem(o: Outcome) -> str:
        return spec_source(o.config.spec).rsplit(", dtype=", 1)[0]

    return _kind(a) == _kind(b) and problem(a) == problem(b)


def _size(config: Config) -> tuple[int, ...]:
    """How big a configuration is, to decide which of two is simpler (fewer dims, fewer elements...)."""
    s = config.spec
    geometry = sum(sum(v) - len(v) for v in (s.stride, s.dilation, s.input_dilation))
    return (s.ndim, int(s.x_shape[0] == 0), math.prod(s.x_shape) + math.prod(s.w_shape), geometry,
            sum(abs(lo) + abs(hi) for lo, hi in s.padding), int(config.bias),
            {"float64": 0, "float32": 1}.get(s.dtype.name, 2))  # fmt: skip


def shrink(
    backend: Backend, outcome: Outcome, device: str = "cpu", deadline: float = math.inf,
    worker: Worker | None = None,
) -> Outcome:  # fmt: skip
    """The failure ``outcome``, made as small as it goes: take any simpler neighbour that fails alike.

    A neighbour moves one parameter toward its default (a smaller size,
    stride, dilation or padding, one dim fewer, no bias, the canonical layout,
    float64 or float32 if the backend claims it, one group); it replaces the failure if
    the backend still fails it the same way (the same verdict, on the same
    array or with the same exception). Stops when no neighbour does, or at
    ``deadline``.
    """
    current, kind = outcome, _kind(outcome)
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for candidate in sorted(_candidates(current.config), key=_size):
            if candidate.spec.dtype.name not in backend.dtypes:
                continue  # a dtype the backend does not claim
            if _size(candidate) >= _size(current.config) and candidate.spec == current.config.spec:
                continue
            judged = judge(backend, candidate, device, worker)
            if _kind(judged) == kind:
                current, improved = judged, True
                break
            if time.monotonic() >= deadline:
                break
    return current


def _literal(array: Any) -> str:
    """Python that rebuilds ``array`` exactly: its values (exact in float64 for every dtype), or its shape."""
    dtype = np.dtype(array.dtype).name
    cast = f".astype(ml_dtypes.{dtype})" if dtype == "bfloat16" else ""
    plain = "float64" if dtype == "bfloat16" else dtype
    if array.size == 0:  # a nested list of nothing has lost the shape: (0, 2, 1) would come back as (0,)
        return f"np.empty({tuple(array.shape)!r}, dtype=np.{plain}){cast}"
    return f"np.array({np.asarray(array, dtype=np.float64).tolist()!r}, dtype=np.{plain}){cast}"


def reproducer(backend: Backend, outcome: Outcome, device: str = "cpu") -> str:
    """A runnable script: the backend's program for the failing configuration, its arrays, refconv's values.

    It prints, for each array, its shape against the expected one and the
    worst ``|diff| / bound`` (a value above 1 is the failure).
    """
    config, s = outcome.config, outcome.config.spec
    x, w, b, dy = config.arrays()
    program = backend.program(s, device)
    wanted = [name for name in ARRAYS if backend.gradients is not False or name == "y"]
    references = reference_and_bounds(s, x, w, b, dy, s.dtype, which=wanted)
    header = [
        f"# refconv conform {backend.name} ({backend.version() or 'your function'}): {outcome.verdict}",
        *(f"#   {line}" for line in outcome.detail.splitlines()[:3]),
        *(f"# {line}" for line in str(s).splitlines()),
        f"# as a refconv spec: {spec_source(s)}",
        "import numpy as np",
    ]
    if s.dtype.name == "bfloat16":
        header.append("import ml_dtypes")
    arrays = [f"x = {_literal(x)}", f"w = {_literal(w)}", f"b = {'None' if b is None else _literal(b)}",
              f"dy = {_literal(dy)}"]  # fmt: skip
    expected = ["# refconv's float64 values, and the round-off bound of each element in this dtype"]
    expected += ["expected = {}", "bound = {}"]
    for name in wanted:
        reference, bound = references[name]
        expected += [f"expected[{name!r}] = {_literal(reference)}", f"bound[{name!r}] = {_literal(bound)}"]
    check = [
        "for name, want in expected.items():",
        "    have = np.asarray(got[name], dtype=np.float64)",
        "    if have.shape != want.shape:",
        "        print(name, 'has shape', have.shape, 'expected', want.shape)",
        "    else:",
        "        ratio = np.abs(have - want) / np.where(bound[name] > 0, bound[name], np.inf)",
        "        print(name, 'worst |diff| / bound:', float(ratio.max(initial=0.0)))",
    ]
    return "\n".join([*header, *arrays, "", program.source().strip(), "", *expected, "", *check]) + "\n"


def confirm(
    backend: Backend, outcome: Outcome, device: str = "cpu", worker: Worker | None = None
) -> dict[str, str]:
    """Who else computes refconv's values on a failing configuration: what makes the failure the backend's.

    :mod:`refconv.naive` (loops from the definition, in float64 on the same
    values) and each installed oracle of :data:`refconv.backends.ORACLES` other
    than ``backend``, in the configuration's dtype, are judged against refconv's
    expected values as ``backend`` was. Each entry reads ``"agree: ..."`` when
    it computes them, or its own verdict and why.
    """
    from refconv import naive
    from refconv.backends import ORACLES, get

    config, s = outcome.config, outcome.config.spec
    given_x, given_w, given_b, given_dy = config.arrays()
    x, w, dy = (np.asarray(a, np.float64) for a in (given_x, given_w, given_dy))
    b = None if given_b is None else np.asarray(given_b, np.float64)
    wide = replace(s, dtype=np.dtype(np.float64))
    wanted = [name for name in ARRAYS if backend.gradients is not False or name == "y"]
    references = reference_and_bounds(wide, x, w, b, dy, np.float64, which=wanted)
    got = results(wide, x, w, b, dy, module=naive)
    worst = max((compare(name, got[name], *references[name]) for name in wanted), key=lambda c: c.ratio)
    verdict = "agree" if worst.ok and worst.shape == worst.expected_shape else "disagree"
    confirmed = {"refconv.naive": f"{verdict}: worst |diff|/bound {worst.ratio:.2g} ({worst.name}, float64)"}
    for name in ORACLES:
        oracle = get(name)
        if name != backend.name and oracle.installed() and s.dtype.name in oracle.dtypes:
            judged = judge(oracle, config, device, worker)
            confirmed[name] = f"{judged.verdict}: {judged.detail.splitlines()[0] if judged.detail else ''}"
    return confirmed


def _confirmed_by(confirmed: dict[str, str]) -> str:
    """One line: who computes refconv's values, or that no second implementation could be asked."""
    agree = [name for name, verdict in confirmed.items() if verdict.startswith("agree")]
    others = [f"{name} {verdict.split(':')[0]}" for name, verdict in confirmed.items() if name not in agree]
    if "refconv.naive" in agree and len(agree) > 1:
        line = f"confirmed: {' and '.join(agree)} compute refconv's values"
    else:
        line = f"NOT confirmed: only {' and '.join(agree) or 'nobody'} computes refconv's values"
    return line + (f" ({', '.join(others)})" if others else "")


@dataclass(frozen=True)
class Failure:
    """A failure shrunk to its smallest configuration, its reproducer, and who confirmed refconv's values."""

    outcome: Outcome
    reproducer: str
    confirmed: dict[str, str]

    @property
    def confirmation(self) -> str:
        return _confirmed_by(self.confirmed)


@dataclass
class Report:
    """Every outcome of a conformance run, and the shrunk failures with their reproducers."""

    backend: str
    version: str
    dtypes: tuple[str, ...]
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)
    failures: list[Failure] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> dict[str, dict[str, int]]:
        """Counts of each verdict per feature (``"search"`` for drawn configurations)."""
        counts: dict[str, dict[str, int]] = {}
        for outcome in self.outcomes:
            row = counts.setdefault(outcome.config.feature, dict.fromkeys(VERDICTS, 0))
            row[outcome.verdict] += 1
        return counts

    @property
    def ok(self) -> bool:
        return not any(o.verdict in FAILING for o in self.outcomes)

    def rows(self) -> list[list[str]]:
        """The table of verdicts by feature: a header row, then one row per feature."""
        rows = [["feature", *VERDICTS]]
        for feature, counts in self.table().items():
            rows.append([feature, *(str(counts[v]) for v in VERDICTS)])
        return rows

    def summary(self) -> str:
        total = dict.fromkeys(VERDICTS, 0)
        for row in self.table().values():
            for verdict, count in row.items():
                total[verdict] += count
        outcome = "every case agrees or is unsupported" if self.ok else "FAILURES"
        counts = ", ".join(f"{count} {name}" for name, count in total.items())
        head = f"{self.backend} ({self.version or 'your function'}), {', '.join(self.dtypes)}"
        return f"{head}: {counts}; {outcome} ({self.seconds:.0f} s)"

    def to_text(self) -> str:
        rows = self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                           enumerate(zip(row, widths, strict=True))) for row in rows]  # fmt: skip
        for failure in self.failures:
            outcome = failure.outcome
            title = f"--- {outcome.config.feature}: {outcome.verdict}: {outcome.detail.splitlines()[0]}"
            lines += ["", title, failure.confirmation, "minimal reproducer:", failure.reproducer.rstrip()]
        return "\n".join([*lines, "", self.summary()])

    def to_markdown(self) -> str:
        rows = self.rows()
        lines = [f"## {self.backend}", "", f"{self.summary()}", ""]
        lines += ["| " + " | ".join(row) + " |" for row in rows[:1]]
        lines += ["|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        for failure in self.failures:
            outcome = failure.outcome
            lines += [
                "",
                f"### {outcome.config.feature}: {outcome.verdict}",
                "",
                outcome.detail.splitlines()[0],
            ]
            lines += ["", failure.confirmation, "", "```python", failure.reproducer.rstrip(), "```"]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        def case(outcome: Outcome) -> dict[str, Any]:
            s = outcome.config.spec
            config = outcome.config
            return {"feature": config.feature, "verdict": outcome.verdict, "detail": outcome.detail,
                    "spec": spec_source(s), "bias": config.bias, "seed": config.seed}  # fmt: skip

        return {
            "backend": self.backend, "version": self.version, "dtypes": list(self.dtypes),
            "seconds": round(self.seconds, 1), "ok": self.ok, "table": self.table(),
            "outcomes": [case(o) for o in self.outcomes],
            "failures": [{**case(f.outcome), "confirmed": f.confirmed, "reproducer": f.reproducer}
                         for f in self.failures],
        }  # fmt: skip


def run(
    backend: Backend,
    dtypes: Sequence[str] = ("float64",),
    *,
    suite: str = "all",
    examples: int = 200,
    budget: float = math.inf,
    seed: int = 0,
    shard: tuple[int, int] = (1, 1),
    device: str = "cpu",
    progress: Callable[[int, int | None, Outcome], None] | None = None,
    isolate: bool = True,
) -> Report:
    """Judge ``backend`` on the curated suite and a property search, shrink every failure, write reproducers.

    ``shard=(k, n)`` takes the k-th of n deterministic slices: every n-th
    curated case from the k-th, and a search of ``examples // n`` draws with
    its own seed, so that n machines together do one run's work. With
    ``isolate``, the framework runs in a :class:`Worker` process.
    """
    worker = Worker() if isolate else None
    try:
        return _run(backend, dtypes, suite, examples, budget, seed, shard, device, progress, worker)
    finally:
        if worker is not None:
            worker.close()


def _run(
    backend: Backend, dtypes: Sequence[str], suite: str, examples: int, budget: float, seed: int,
    shard: tuple[int, int], device: str, progress: Callable[[int, int | None, Outcome], None] | None,
    worker: Worker | None,
) -> Report:  # fmt: skip
    start = time.monotonic()
    deadline = start + budget
    k, n = shard
    report = Report(backend.name, backend.version(), tuple(dtypes))
    cases = curated(dtypes, seed)[k - 1 :: n] if suite in ("all", "curated") else []
    for index, config in enumerate(cases):
        outcome = judge(backend, config, device, worker)
        report.outcomes.append(outcome)
        if progress is not None:
            progress(index + 1, len(cases), outcome)
    ranks, features = _scope(report.outcomes)
    scope = {"ranks": ranks, "features": features, "dtypes": dtypes}
    if suite in ("all", "search") and examples > 0 and time.monotonic() < deadline:
        drawn = search(backend, dtypes, max(examples // n, 1), deadline, seed * 1000 + k, device, ranks,
                       features, progress=lambda o: progress(0, None, o) if progress else None,
                       worker=worker)  # fmt: skip
        report.outcomes.extend(drawn)
    seen: set[tuple[str, ...]] = set()
    for outcome in sorted(
        (o for o in report.outcomes if o.verdict in FAILING), key=lambda o: _size(o.config)
    ):
        if (*_kind(outcome), outcome.config.spec.dtype.name) in seen:
            continue  # one reproducer per kind of failure and dtype
        limit = max(
            deadline, time.monotonic() + 60
        )  # a failure gets a minute of shrinking, whatever the budget
        if outcome.config.feature == "search":
            outcome = _hypothesis_shrink(backend, outcome, scope, examples, seed, device, limit, worker)
        small = shrink(backend, outcome, device, deadline=limit, worker=worker)
        seen |= {(*_kind(o), o.config.spec.dtype.name) for o in (outcome, small)}
        if any(_same_problem(small, known.outcome) for known in report.failures):
            continue  # two failures that shrank to the same configuration (in whatever dtype)
        source = reproducer(backend, small, device)
        report.failures.append(Failure(small, source, confirm(backend, small, device, worker)))
    report.seconds = time.monotonic() - start
    return report
