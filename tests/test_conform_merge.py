"""Shards put back together: merging the JSON reports of --shard 1/4 ... 4/4 gives the report one unsharded
run writes for the same cases, and a report read back from its JSON writes the same JSON."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from refconv import backends, conform
from refconv.conform import Report
from refconv.conform.merge import merge
from tests.conform_helpers import FAKE

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("curated", "pairs", "dtypes")


@functools.cache
def _run(shard: tuple[int, int] = (1, 1), phases: tuple[str, ...] = PHASES, seed: int = 0) -> Report:
    backend = backends.get(f"{FAKE}:refuses_groups")
    return conform.run(backend, ("float64", "float32"), phases=phases, shard=shard, seed=seed, isolate=False,
                       shrink_seconds=5, examples=8)  # fmt: skip


def _comparable(report: Report) -> dict[str, Any]:
    data = report.to_json()
    del data["seconds"]  # each run times itself
    return data


def _through_json(report: Report) -> Report:
    return Report.from_json(json.loads(json.dumps(report.to_json())))


def test_a_report_read_back_from_its_json_writes_the_same_json_text_and_junit() -> None:
    report = _run()
    again = _through_json(report)
    assert again.to_json() == report.to_json()
    assert again.to_text() == report.to_text()
    assert again.to_junit() == report.to_junit()


def test_four_shards_merged_are_the_unsharded_run() -> None:
    whole = _run()
    assert not whole.ok  # a failure to shrink, reproduce and confirm in the comparison
    assert whole.failures
    shards = [_through_json(_run((k, 4))) for k in (3, 1, 4, 2)]  # in any order
    assert _comparable(merge(shards)) == _comparable(whole)
    assert merge(shards).to_text().split("\n")[:-1] == whole.to_text().split("\n")[:-1]  # but the time


def test_the_random_draws_of_each_shard_follow_in_shard_order() -> None:
    shards = [_run((k, 2), ("curated", "random")) for k in (1, 2)]
    merged = merge(shards)
    drawn = [o.case for o in merged.outcomes if o.case.feature == "search"]
    assert drawn == [o.case for s in shards for o in s.outcomes if o.case.feature == "search"]
    assert [p.judged for p in merged.phases] == [len(conform.CURATED), len(drawn)]


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ([(1, 4), (2, 4), (4, 4)], "expected the shards 1/4 to 4/4 once each, got 1/4, 2/4, 4/4"),
        ([(1, 2), (1, 2)], "expected the shards 1/2 to 2/2 once each, got 1/2, 1/2"),
        ([], "no reports to merge"),
    ],
)
def test_shards_that_do_not_make_one_run_are_refused(shards: list[tuple[int, int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        merge([_run(s) for s in shards])


def test_shards_of_different_seeds_are_refused() -> None:
    with pytest.raises(ValueError, match="the shards differ in seed: 0, 1"):
        merge([_run((1, 2)), _run((2, 2), seed=1)])


@pytest.mark.process
def test_the_command_merges_shard_files(tmp_path: Path) -> None:
    paths = []
    for k in (1, 2):
        path = tmp_path / f"shard-{k}.json"
        path.write_text(json.dumps(_run((k, 2)).to_json()))
        paths.append(str(path))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    merged = tmp_path / "merged.json"
    result = subprocess.run(
        [sys.executable, "-m", "refconv", "conform", "merge", *paths, "--json", str(merged), "--junit-xml",
         str(tmp_path / "merged.xml")], capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # refuses_groups fails
    assert _comparable(Report.from_json(json.loads(merged.read_text()))) == _comparable(_run())
    assert (tmp_path / "merged.xml").read_text().startswith("<?xml")
    bad = subprocess.run(
        [sys.executable, "-m", "refconv", "conform", "merge", paths[0], str(tmp_path / "merged.xml")],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "merged.xml: not a report refconv conform --json wrote" in bad.stderr
