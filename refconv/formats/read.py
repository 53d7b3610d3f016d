"""Which format a text is in, and its problems (:func:`problem`, :func:`problems`)."""

from __future__ import annotations

from pathlib import Path

from refconv.formats import benchdnn, miopen
from refconv.formats.problem import Problem

__all__ = ["problem", "problems"]


def _is_miopen(text: str) -> bool:
    """MIOpenDriver's: it starts with its driver name, a conv base argument or a flag of one dash."""
    first = text.split(maxsplit=1)[0] if text.split() else ""
    first = first.rsplit("/", 1)[-1]
    return (
        first == "MIOpenDriver"
        or first.startswith("conv")
        or (first.startswith("-") and not first.startswith("--"))
    )


def problem(text: str) -> Problem:
    """The one problem of a benchdnn descriptor (with options before it, ``--dir=BWD_D mb2ic16...``)
    or a MIOpenDriver command line; a ValueError names what is wrong."""
    found = miopen.lines(text) if _is_miopen(text) else benchdnn.batch(text, "--problem")
    if len(found) != 1:
        raise ValueError(f"{text!r}: {len(found)} problems; give one (a file of them: --problems)")
    return found[0]


def problems(path: str | Path, refused: list[str] | None = None) -> list[Problem]:
    """The problems of a file: a benchdnn batch file, or MIOpenDriver command lines (one per line),
    told apart by its first line that is not a comment. One refconv cannot take is a ValueError,
    or, given a ``refused`` list, a line appended to it (where, and why)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = (line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    first = next(lines, "")
    if first and _is_miopen(first):
        return miopen.lines(text, str(path), refused)
    return benchdnn.batch(text, path, refused)
