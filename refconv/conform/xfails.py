"""Known failures: a file of case ids a run expects to fail, so that CI goes red only on a new one.

A line is an id or a substring of ids (:attr:`refconv.cases.Case.id`, ``feature-dtype-hash``),
optionally followed by the verdict it is expected to get, and a ``#`` comment::

    # torch refuses problems with no product (docs/frameworks.rst): a limitation
    zero_sizes-float64-                 raised
    transposed_words-float32-b467bb9f   disagree   # issue 1234
    -bfloat16-                          # every bfloat16 case, whatever its verdict

A failing case that some line matches (its pattern in the id, and its verdict if the line gives
one) is XFAIL: expected, not shrunk, not a reason to exit 1. A listed case that now agrees is
XPASS, a failure of the file only with ``strict`` (as pytest's ``xfail_strict``). A line that
matches no judged case is reported, so that a file does not keep lines for fixed bugs unnoticed.
:func:`text` makes a starting file from a run's failures (``--write-xfails``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from refconv.cases import Case
from refconv.conform.judge import FAILING, Outcome

__all__ = ["Xfail", "lines", "match", "parse", "read", "text"]


@dataclass(frozen=True)
class Xfail:
    """One line of a known-failures file: the id ``pattern``, the ``verdict`` expected (any failing
    one when empty), its ``reason`` (the comment) and where it is (``source:line``)."""

    pattern: str
    verdict: str = ""
    reason: str = ""
    where: str = ""

    def matches(self, case: Case) -> bool:
        """Whether the line names ``case`` (whatever its verdict)."""
        return self.pattern in case.id

    def expects(self, outcome: Outcome) -> bool:
        """Whether the line names ``outcome``'s case and expects its verdict."""
        return self.matches(outcome.case) and outcome.failed and self.verdict in ("", outcome.verdict)


def parse(source: str, name: str = "<xfails>") -> list[Xfail]:
    """The lines of a known-failures file's text; a ValueError names the line of a bad one."""
    entries = []
    for number, raw in enumerate(source.splitlines(), 1):
        body, _, comment = raw.partition("#")
        words = body.split()
        if not words:
            continue
        where = f"{name}:{number}"
        if len(words) > 2 or (len(words) == 2 and words[1] not in FAILING):
            raise ValueError(
                f"{where}: {raw.strip()!r}: expected an id, then optionally a failing verdict "
                f"({', '.join(FAILING)}), then optionally '# a reason'"
            )
        entries.append(Xfail(words[0], words[1] if len(words) == 2 else "", comment.strip(), where))
    return entries


def read(path: str | Path) -> list[Xfail]:
    """:func:`parse` of a file; a ValueError names the path if it cannot be read."""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read the known-failures file ({error})") from None
    return parse(source, str(path))


def match(entries: Sequence[Xfail], outcome: Outcome) -> Xfail | None:
    """The first line that expects ``outcome`` (a failure), or names it (an agreeing case: XPASS)."""
    agrees = outcome.verdict in ("agree", "convention")
    for entry in entries:
        if entry.expects(outcome) or (agrees and entry.matches(outcome.case)):
            return entry
    return None


def lines(failures: Iterable[Outcome | tuple[str, str, str]]) -> list[str]:
    """One line per failing case: its id, its verdict and its headline as the reason. A failure is
    an outcome (those that are not failures are left out) or an ``(id, verdict, headline)``."""
    entries = [
        (o.case.id, o.verdict, o.headline) if isinstance(o, Outcome) else o
        for o in failures
        if not isinstance(o, Outcome) or o.failed
    ]
    return [
        f"{name}  {verdict}" + (f"  # {headline[:100]}" if headline else "")
        for name, verdict, headline in entries
    ]


def text(
    backend: str, version: str, failures: Iterable[Outcome | tuple[str, str, str]],
    writer: str = "refconv conform --write-xfails",
) -> str:  # fmt: skip
    """A starting known-failures file of a run's ``failures`` (:func:`lines`), written by ``writer``."""
    head = [
        f"# Known failures of {backend} {version}".rstrip(),
        f"# written by {writer}: one case id per line, then the verdict it gets;",
        "# shorten an id to a prefix (zero_sizes-float64-) to cover a family of cases",
    ]
    return "\n".join([*head, *lines(failures)]) + "\n"
