"""A convolution problem as another tool states it: refconv's case, and what the tool said of it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from refconv import _normalize as norm
from refconv.cases import Case

__all__ = ["DIRECTIONS", "MIXED", "Problem", "mixed"]

#: The note of a problem whose operands' dtype is not its result's.
MIXED = (
    "{operands} operands into a {result} result: refconv's case computes in {result} on arrays of "
    "{operands} values (its arrays have one dtype), so the products and sums are the problem's"
)

#: What an engine's test of a problem computes, by the arrays of :data:`refconv.cases.ARRAYS`.
DIRECTIONS = {
    "forward": ("y",), "backward_data": ("dx",), "backward_weights": ("dw",),
    "backward_weights_bias": ("dw", "db"), "backward": ("dx", "dw"), "all": ("y", "dx", "dw", "db"),
}  # fmt: skip


def mixed(made: Case, operands: str) -> Case:
    """``made`` (in its result's dtype) with its operands' values drawn as ``operands`` values: the
    mixed-precision problem's products and sums, where refconv's case has one array dtype."""
    return (
        made
        if operands == made.spec.dtype.name
        else replace(made, drawn_in=np.dtype(norm.as_dtype(operands, "dtype")))
    )


@dataclass(frozen=True)
class Problem:
    """One problem of a benchdnn descriptor or a MIOpenDriver command line, as a refconv case.

    ``case`` is the problem (its feature ``"problem"``); ``source`` the text it was read from,
    ``format`` which (``"benchdnn"``, ``"miopen"``), ``name`` the tool's name for it (benchdnn's
    ``n"..."``), ``arrays`` what the tool's test computes (refconv judges every array it
    answers). ``stated`` is the output spatial shape the tool itself computes for the problem;
    ``notes`` say what was read differently from the text's face value, or ignored.
    """

    case: Case
    source: str
    format: str
    arrays: tuple[str, ...] = ("y",)
    name: str = ""
    stated: tuple[int, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """Some lines: the source, the case, what the tool computes, and the notes."""
        s = self.case.spec
        lines = [
            f"{self.format}: {self.source}",
            f"  as refconv: {s.source()}" + ("" if self.case.bias else ", no bias"),
        ]
        lines.append(f"  output {s.given_shape('y')}; the tool's test computes {', '.join(self.arrays)}")
        if self.stated and tuple(s.y_shape[2:]) != self.stated:
            lines.append(
                f"  the tool states the spatial output {self.stated}; the definition gives {s.y_shape[2:]}"
            )
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)
