"""Failures remembered between runs (``--database DIR``): a failure the search found is judged first on
the next run whatever its seed, one that no longer fails is forgotten, and a run without a database
reads and writes nothing."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import pytest

from refconv import backends, conform
from refconv.cases import Case
from refconv.cli import options
from refconv.conform import database
from refconv.conform.database import Failures
from refconv.conform.merge import merge
from refconv.conform.suite import curated
from tests import fake_backends
from tests.conform_helpers import FAKE

BUGGY = f"{FAKE}:swapped_weight_vjp"  # dw wrong wherever stride != dilation


def _search(name: str, db: Any, seed: int, examples: int, **keywords: Any) -> conform.Report:
    """Only the random draws (and the replay) of ``name``, in float64, in this process."""
    backend = keywords.pop("backend", None) or backends.get(name)
    return conform.run(backend, ("float64",), phases=("random",), examples=examples, seed=seed,
                       isolate=False, shrink_seconds=5, database=db, **keywords)  # fmt: skip


def test_a_failure_the_search_found_is_judged_first_by_the_next_run_whatever_its_seed(tmp_path: Path) -> None:
    db = database.open_directory(tmp_path / "db")
    first = _search(BUGGY, db, seed=1, examples=40)
    assert [p.name for p in first.phases] == ["replay", "random"]
    assert first.phases[0].planned == first.phases[0].judged == 0  # nothing remembered yet
    failed = {o.case for o in first.outcomes if o.failed}
    assert failed, "the search found no failure to remember"
    remembered = Failures(db, BUGGY).cases()
    shrunk = {f.outcome.case for f in first.failures}
    assert failed | shrunk == set(remembered)

    # no random draws at all this time, and another seed: the remembered cases alone fail the run
    second = _search(BUGGY, db, seed=2, examples=0)
    replayed = second.outcomes[: second.phases[0].judged]
    assert [o.case for o in replayed] == remembered
    assert all(o.verdict == "disagree" and o.array == "dw" for o in replayed)
    assert not second.ok
    assert Failures(db, BUGGY).cases() == remembered  # still failing: still remembered


def test_a_remembered_case_that_now_agrees_is_forgotten(tmp_path: Path) -> None:
    db = database.open_directory(tmp_path / "db")
    _search(BUGGY, db, seed=1, examples=40)
    remembered = Failures(db, BUGGY).cases()
    assert remembered
    fixed = backends.function_backend(fake_backends.correct, BUGGY, ("float64",))  # the same name, no bug
    report = _search(BUGGY, db, seed=1, examples=0, backend=fixed)
    assert [o.verdict for o in report.outcomes] == ["agree"] * len(remembered)
    assert report.ok
    assert Failures(db, BUGGY).cases() == []


def test_each_backend_has_its_own_failures_and_a_damaged_value_is_dropped(tmp_path: Path) -> None:
    db = database.open_directory(tmp_path / "db")
    cases = curated()[:3]
    Failures(db, "torch").remember(cases)
    Failures(db, "torch").remember(cases[:1])  # remembered twice: one entry
    db.save(Failures(db, "torch").key, b"{not json")
    db.save(Failures(db, "torch").key, b'{"x_shape": [1]}')  # JSON, not a case
    assert Failures(db, "jax").cases() == []
    assert Failures(db, "torch").cases() == sorted(cases, key=lambda c: c.id)
    assert len(list(db.fetch(Failures(db, "torch").key))) == 3  # the damaged values were deleted


def test_without_a_database_a_run_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = _search(BUGGY, None, seed=1, examples=5)
    assert [p.name for p in report.phases] == ["random"]
    assert any(o.failed for o in report.outcomes)  # failures found, and none remembered
    assert list(tmp_path.iterdir()) == []


def test_the_replay_of_shards_merges_into_the_replay_of_one_run(tmp_path: Path) -> None:
    remembered = [c for c in curated() if c.spec.dtype.name == "float64"]
    Failures(database.open_directory(tmp_path / "0"), BUGGY).remember(remembered)
    for k in (1, 2, 3):  # each shard's machine restores the directory as the last run left it
        shutil.copytree(tmp_path / "0", tmp_path / str(k))
    whole = _search(BUGGY, database.open_directory(tmp_path / "0"), seed=0, examples=0)
    shards = [
        _search(BUGGY, database.open_directory(tmp_path / str(k)), seed=0, examples=0, shard=(k, 3))
        for k in (1, 2, 3)
    ]
    assert all(s.outcomes for s in shards)
    merged = merge(shards)
    assert [o.case for o in merged.outcomes] == [o.case for o in whole.outcomes]
    assert [o.verdict for o in merged.outcomes] == [o.verdict for o in whole.outcomes]
    assert merged.phases[0].judged == whole.phases[0].judged == len(remembered)


def test_each_remembered_case_is_in_one_shard_whatever_the_others_forget() -> None:
    cases = curated()

    def shards(of: list[Case], n: int) -> list[list[str]]:
        return [[c.id for c in of if database.in_shard(c, (k, n))] for k in range(1, n + 1)]

    for n in (1, 2, 3, 5):
        parts = shards(cases, n)
        assert sorted(i for part in parts for i in part) == sorted(c.id for c in cases)
        assert all(parts)
        gone = {c.id for c in cases[::4]}  # a quarter fixed and forgotten: the rest stay where they were
        assert shards([c for c in cases if c.id not in gone], n) == [
            [i for i in part if i not in gone] for part in parts
        ]


def test_a_database_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a directory"):
        database.open_directory(tmp_path / "file")
    with pytest.raises(argparse.ArgumentTypeError, match="exists and is not a directory"):
        options.directory(str(tmp_path / "file"))
    with pytest.raises(argparse.ArgumentTypeError, match="does not exist"):
        options.directory(str(tmp_path / "no" / "db"))
    with pytest.raises(TypeError, match="expected a hypothesis example database"):
        conform.Settings(database=str(tmp_path))
