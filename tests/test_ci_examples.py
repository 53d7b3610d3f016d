"""The CI workflows of the docs (docs/examples/ci/) run as written: four shards in separate processes with
a known-failures file, then the merge, whose exit status and JUnit XML say what a CI dashboard shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from refconv import backends, conform
from refconv.conform import xfails
from tests import junit_schema
from tests.conform_helpers import FAKE

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.process  # the matrix runs these once (pyproject.toml)
CI = ROOT / "docs" / "examples" / "ci"
#: How each CI system spells the shard's number.
SHARD = {"github-actions.yml": "${{ matrix.k }}", "gitlab-ci.yml": "${CI_NODE_INDEX}"}


def _commands(name: str) -> list[str]:
    """The workflow's refconv commands, as the shell runs them (the YAML list marker dropped)."""
    lines = (CI / name).read_text().splitlines()
    return [
        re.sub(r"^\s*-( run:)? ", "", line) for line in lines if re.match(r"^\s*-( run:)? refconv ", line)
    ]


def _run(command: str, cwd: Path, backend: str) -> subprocess.CompletedProcess[str]:
    path = (
        f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # this environment's refconv
    )
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(ROOT), "BACKEND": f"{FAKE}:{backend}",
           "CONFORM_OPTIONS": "--phases curated --dtype float64 --shrink-seconds 5 --in-process"}  # fmt: skip
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_both_workflows_run_the_same_commands() -> None:
    github, gitlab = ([c.replace(SHARD[n], "K") for c in _commands(n)] for n in SHARD)
    assert github == gitlab
    assert len(github) == 2  # the shard's run, then the merge


def test_the_workflow_passes_on_known_failures_and_fails_on_a_new_one(tmp_path: Path) -> None:
    shard, merge = _commands("github-actions.yml")
    backend = backends.get(f"{FAKE}:refuses_groups")
    known = conform.run(backend, ("float64",), phases=("curated",), isolate=False, shrink_seconds=5)
    (tmp_path / "refconv-known.txt").write_text(xfails.text(known.backend, "", known.outcomes))
    sharded = [
        _run(shard.replace(SHARD["github-actions.yml"], str(k)), tmp_path, "refuses_groups")
        for k in range(1, 5)
    ]
    assert [c.returncode for c in sharded] == [0, 0, 0, 0], [c.stdout + c.stderr for c in sharded]
    assert not any("warning:" in c.stdout for c in sharded)  # the other shards' lines: the merge's to check
    merged = _run(merge, tmp_path, "refuses_groups")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "warning:" not in merged.stdout  # every line of the file names a case of the whole run
    junit_schema.validate(tmp_path / "conformance.xml")
    junit = ET.parse(tmp_path / "conformance.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == (str(len(conform.CURATED)), "0")
    assert (tmp_path / "conformance.md").read_text().startswith(f"## {FAKE}:refuses_groups\n")
    # one more bug: the empty batch of curated case i is judged by shard i % 4 + 1, which goes red
    (empty,) = [i for i, c in enumerate(conform.curated()) if c.spec.x_shape[0] == 0 and c.spec.groups == 1]
    number = str(empty % 4 + 1)
    red = _run(
        shard.replace(SHARD["github-actions.yml"], number), tmp_path, "refuses_groups_and_keeps_one_image"
    )
    assert red.returncode == 1, red.stdout + red.stderr
    assert " XFAIL and 1 new; FAILURES" in red.stdout
