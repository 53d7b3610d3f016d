"""The property search: hypothesis draws cases (:func:`refconv.testing.conv_configs`), the judge judges each.

The search does not stop at a failure: every drawn case is judged, and the run shrinks one
failure of each kind. Cases the backend cannot express are replaced by others, and only the
ranks and features of which the curated suite found something expressible are searched
(``scope``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from refconv.cases import Case
from refconv.conform.judge import Judge, Outcome
from refconv.testing.strategies import FEATURES, conv_configs

__all__ = ["features_of", "scope", "search"]


def search(
    judge: Judge, dtypes: Sequence[str], examples: int, deadline: float, seed: int,
    ranks: Sequence[int] = (1, 2, 3), features: Sequence[str] = FEATURES,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:  # fmt: skip
    """Judge up to ``examples`` cases drawn by hypothesis (seeded by ``seed``), until ``deadline``."""
    from hypothesis import HealthCheck, Phase, assume, given, settings
    from hypothesis import seed as hypothesis_seed

    judged: list[Outcome] = []

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @hypothesis_seed(seed)
    @given(conv_configs(ranks=ranks, dtypes=dtypes, features=features))
    def explore(case: Case) -> None:
        if time.monotonic() > deadline:
            return  # out of time: the remaining draws are not judged
        outcome = judge.judge(case)
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


#: The features of generated cases (the phases after the curated suite): not curated groups.
_GENERATED = frozenset({"pairs", "enumeration", "triples", "search"})


def scope(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The ranks and features worth searching: the ranks of which some case was not unsupported, and
    the features of which some curated case was not (every feature if no curated case was judged).

    A backend that cannot express a feature at all would only have its draws rejected.
    """
    if not outcomes:
        return {"ranks": [1, 2, 3], "features": list(FEATURES)}
    supported = [o for o in outcomes if o.verdict != "unsupported"]
    ranks = sorted({o.case.spec.ndim for o in supported}) or [1, 2, 3]
    if not any(o.case.feature not in _GENERATED for o in outcomes):
        return {"ranks": ranks, "features": list(FEATURES)}
    groups = {o.case.feature for o in supported} - _GENERATED
    features = [f for g in groups for f in _SEARCHED.get(g, (g,)) if f in FEATURES] + ["bias"]
    return {"ranks": ranks, "features": sorted(set(features))}


def features_of(case: Case) -> frozenset[str]:
    """The features of :data:`refconv.testing.FEATURES` a case uses: the ones ``conv_configs`` would
    have to be given to draw it (``--only-features``, ``--skip-features`` select cases by them).

    ``output_shape`` comes with ``output_padding``: a spec holds the output padding that the shape
    asks for, the same problem either way. ``depthwise`` (as many groups as input channels) comes
    with ``groups``; ``conv_configs`` given ``groups`` alone can draw such a case too.
    """
    s = case.spec
    pads = [] if s.padding_word is not None else [p for pair in s.padding for p in pair]  # a word: its own
    on = {
        "stride": max(s.stride, default=1) > 1, "dilation": max(s.dilation, default=1) > 1,
        "input_dilation": max(s.input_dilation, default=1) > 1, "padding_words": s.padding_word is not None,
        "padding": any(pads), "negative_padding": any(p < 0 for p in pads), "groups": s.groups > 1,
        "depthwise": s.groups > 1 and s.x_shape[1] == s.groups, "batch_groups": s.batch_groups > 1,
        "bias": case.bias, "layouts": s.dimension_numbers is not None,
        "padding_modes": s.padding_mode != "zeros", "transposed": s.transposed,
        "output_padding": any(s.output_padding), "output_shape": any(s.output_padding),
        "empty_batch": s.x_shape[0] == 0,
    }  # fmt: skip
    return frozenset(name for name, used in on.items() if used)
