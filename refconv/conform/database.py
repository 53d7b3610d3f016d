"""Failures remembered between runs: a hypothesis example database of the cases that failed.

``refconv conform --database DIR`` keeps, in hypothesis's
``DirectoryBasedExampleDatabase`` at ``DIR``, every case of a run that
failed and was not a known failure: the random draws that failed and each failure's shrunk case.
The next run with the same directory judges those cases first (the ``replay`` phase), so a
failure the search found once is tried again whatever the seed, and a case that no longer fails
is forgotten, as hypothesis forgets an example that no longer fails. Any hypothesis database
works (``hypothesis.database.ExampleDatabase``: a directory in a CI cache, or
``GitHubArtifactDatabase`` wrapped in a multiplexed one, for example).

Each backend has its key, ``refconv conform <backend name>``; a value is one case, the canonical
JSON text of :meth:`refconv.cases.Case.to_json`. Without a database a run is what its seed makes
it, and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from refconv.cases import Case

__all__ = ["Failures", "in_shard", "open_directory", "order"]


def open_directory(path: str | Path) -> Any:
    """Hypothesis's directory database at ``path`` (made when first written); a ValueError names a
    path that exists and is not a directory."""
    from hypothesis.database import DirectoryBasedExampleDatabase

    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"database={str(path)!r} is not a directory")
    return DirectoryBasedExampleDatabase(str(path))


class Failures:
    """The remembered failing cases of one backend in an example ``database``."""

    def __init__(self, database: Any, backend: str) -> None:
        self.database = database
        self.key = f"refconv conform {backend}".encode()

    def cases(self) -> list[Case]:
        """The remembered cases, ordered by id and then by their text (every shard of a run sees the
        same order); a value
        that is not a case (written by another refconv, or damaged) is dropped."""
        found = []
        for value in set(self.database.fetch(self.key)):
            try:
                case = Case.from_json(json.loads(value))
            except (ValueError, TypeError, AttributeError):  # JSON or a case's fields: not ours to keep
                self.database.delete(self.key, value)
                continue
            found.append(case)
        return sorted(found, key=order)

    def remember(self, cases: Iterable[Case]) -> None:
        for case in cases:
            self.database.save(self.key, _value(case))

    def forget(self, case: Case) -> None:
        self.database.delete(self.key, _value(case))


def order(case: Case) -> tuple[str, bytes]:
    """Where a remembered case comes in a replay: by id, then by its text (the seed)."""
    return case.id, _value(case)


def in_shard(case: Case, shard: tuple[int, int]) -> bool:
    """Whether the ``(k, n)`` shard replays ``case``: by a hash of its text, not its place in the
    list, so that what one shard forgets does not move a case into another."""
    k, n = shard
    return int(hashlib.sha256(_value(case)).hexdigest(), 16) % n == k - 1


def _value(case: Case) -> bytes:
    return json.dumps(case.to_json(), sort_keys=True, separators=(",", ":")).encode()
