"""The pytest plugin as a framework's repository uses it: the documented conftest.py, run by pytest with
-k, --lf, -n 2 and --junitxml; known failures written, then XFAIL; one more bug red; a fixed one XPASS."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from refconv.cases import Case
from refconv.conform import xfails
from refconv.conform.judge import as_operator
from refconv.conform.pytest_suite import needs
from refconv.conform.suite import curated
from refconv.testing.strategies import FEATURES
from tests import junit_schema

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.process  # pytest in processes of its own: the matrix runs these once

#: A framework with bugs to choose (MYPACKAGE_BUGS): refconv.naive, except that with ``stride`` it
#: drops the last output column of a stride-3 (or more) convolution's y to 0, and with ``groups``
#: it gives each group the next group's kernels.
MYPACKAGE = """
import os
import re

import numpy as np

from refconv import naive

BUGS = set(os.environ.get("MYPACKAGE_BUGS", "").split(","))


def conv2d(x, w, b, *, stride, padding, dilation, groups):
    if "groups" in BUGS and groups > 1:
        w = np.roll(w, w.shape[0] // groups, axis=0)
    y = naive.conv(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if "stride" in BUGS and max(stride) > 2:
        y[..., -1] = 0
    return y
"""
#: Only the float64 curated suite and searches of a few features, to keep each run to seconds.
OPTIONS = ["--refconv-dtype", "float64", "--refconv-examples", "10"]


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A framework's repository: its package, its pytest configuration, and the conftest.py of
    docs/examples/pytest, as written. The pytest.ini makes it pytest's rootdir, as a framework's own
    configuration does, wherever the temporary directory is (under nox, inside refconv's checkout)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    shutil.copy(ROOT / "docs" / "examples" / "pytest" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "mypackage.py").write_text(MYPACKAGE)
    return tmp_path


def _pytest(cwd: Path, *args: str, bugs: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPACKAGE_BUGS": bugs, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--refconv-backend", "conftest:conv", *OPTIONS, "-rfEXx", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _junit(path: Path) -> dict[str, str]:
    """Each test case's name and what became of it: passed, failure, skipped (xfail included)."""
    junit_schema.validate(path)
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name", "")] = kinds[0] if kinds else "passed"
    return outcomes


def _expressed(case: Case) -> bool:
    """Whether the documented conftest's conv2d can say ``case``."""
    s = case.spec
    plain = s.batch_groups == 1 and s.padding_mode == "zeros" and max(s.input_dilation) == 1
    return plain and s.ndim == 2 and not s.transposed and s.dimension_numbers is None


def _ids(prefix: str, outcomes: dict[str, str], kind: str) -> set[str]:
    return {
        name.partition("[")[2].rstrip("]") for name, got in outcomes.items() if got == kind and prefix in name
    }


def test_the_documented_conftest_runs_a_test_per_case_and_a_search_per_feature(repository: Path) -> None:
    result = _pytest(repository, "-n", "2", "--junitxml=report.xml", "--co", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if line.startswith("refconv::")]
    cases = [c.id for c in curated(("float64",))]
    searches = [f"search-{f}" for f in FEATURES if set(needs(f)) <= set(FEATURES)]
    assert collected == [f"refconv::test_case[{i}]" for i in cases] + [
        f"refconv::test_search[{s}]" for s in searches
    ]


def test_a_bug_fails_its_cases_with_the_reproducer_and_shrinks_in_its_search(repository: Path) -> None:
    result = _pytest(repository, "-n", "2", "--junitxml=report.xml", "-k", "stride or padding", bugs="stride")
    assert result.returncode == 1, result.stdout + result.stderr
    outcomes = _junit(repository / "report.xml")
    chosen = [c for c in curated(("float64",)) if "stride" in c.id or "padding" in c.id]
    assert _ids("test_case", outcomes, "failure") == {
        c.id for c in chosen if _expressed(c) and max(c.spec.stride) > 2
    }
    assert _ids("test_case", outcomes, "skipped") == {c.id for c in chosen if not _expressed(c)}
    assert _ids("test_search", outcomes, "failure") == {"search-stride"}
    assert "DisagreeFailure: disagree: y: " in result.stdout
    assert "from conftest import conv" in result.stdout  # the reproducer runs the backend's own code
    # hypothesis shrank the search's failure to the smallest convolution with stride 3
    smallest = (
        r"Case\(refconv\.spec\(\(1, 1, 1, 1\), \(1, 1, 1, 1\), stride=\((1, 3|3, 1)\), dtype='float64'\)"
    )
    assert re.search(smallest, result.stdout), result.stdout


def test_known_failures_are_xfail_a_new_bug_is_red_and_a_fixed_one_xpass(repository: Path) -> None:
    first = _pytest(repository, "-n", "2", "--refconv-write-xfails", "known.txt", bugs="stride")
    assert first.returncode == 1, first.stdout + first.stderr
    known = xfails.read(repository / "known.txt")
    assert known
    assert all(x.verdict == "disagree" for x in known)
    assert {x.pattern for x in known} >= {"search-stride"}

    listed = _pytest(repository, "-n", "2", "--refconv-xfails", "known.txt", "--junitxml=listed.xml",
                     bugs="stride")  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    outcomes = _junit(repository / "listed.xml")
    assert "failure" not in outcomes.values()
    assert f"{len(known)} xfailed" in listed.stdout.splitlines()[-1]

    more = _pytest(repository, "-n", "2", "--refconv-xfails", "known.txt", "--junitxml=more.xml",
                   bugs="stride,groups")  # fmt: skip
    assert more.returncode == 1, more.stdout + more.stderr
    outcomes = _junit(repository / "more.xml")
    grouped = {c.id for c in curated(("float64",)) if c.spec.groups > 1}
    new = _ids("test_case", outcomes, "failure")
    assert new
    assert new <= grouped  # only the cases the new bug is in, none of the listed ones
    assert _ids("test_search", outcomes, "failure") == {"search-groups", "search-depthwise"}

    fixed = _pytest(repository, "-n", "2", "--refconv-xfails", "known.txt")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"{len(known)} xpassed" in fixed.stdout.splitlines()[-1]
    strict = _pytest(repository, "--refconv-xfails", "known.txt", "-o", "xfail_strict=true", "-k", "stride")
    assert strict.returncode == 1
    assert "[XPASS(strict)]" in strict.stdout


def test_last_failed_reruns_only_the_failures(repository: Path) -> None:
    first = _pytest(repository, "-k", "stride or basic", bugs="stride")
    assert first.returncode == 1
    again = _pytest(repository, "--lf", bugs="stride")
    assert again.returncode == 1
    counts = [
        {k: int(n) for n, k in re.findall(r"(\d+) (\w+)", r.stdout.splitlines()[-1])} for r in (first, again)
    ]
    assert counts[0]["failed"] > 0
    assert counts[0]["passed"] > 0
    assert counts[1]["failed"] == counts[0]["failed"]
    assert "passed" not in counts[1], counts


def test_a_line_that_names_no_test_is_a_warning_and_skip_mode_runs_nothing_listed(repository: Path) -> None:
    (repository / "known.txt").write_text("stride  disagree\nno-such-case  # fixed long ago\n")
    result = _pytest(repository, "-k", "stride", "--refconv-xfails", "known.txt", "--refconv-xfail-mode",
                     "skip", bugs="stride")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "known.txt:2: RefconvXfailWarning: 'no-such-case' names no test of the suite" in result.stdout
    assert "[NOTRUN]" in result.stdout


def test_the_configured_file_is_read_from_the_configurations_directory_the_option_from_pytests(
    repository: Path,
) -> None:
    (repository / "pytest.ini").write_text("[pytest]\nrefconv_xfails = known.txt\n")
    (repository / "known.txt").write_text("stride  disagree\n")
    (repository / "tests").mkdir()
    (repository / "tests" / "known.txt").write_text("padding  disagree\n")
    skip = ["-k", "stride", "--refconv-xfail-mode", "skip"]
    configured = _pytest(repository / "tests", *skip, bugs="stride")  # the repository's known.txt
    assert configured.returncode == 0, configured.stdout + configured.stderr
    assert "[NOTRUN]" in configured.stdout
    given = _pytest(repository / "tests", *skip, "--refconv-xfails", "known.txt", bugs="stride")  # tests/'s
    assert given.returncode == 1, given.stdout + given.stderr  # 4 (usage error) if it were not found
    assert re.search(r"^FAILED \S*refconv::test_case\[stride-", given.stdout, re.MULTILINE), given.stdout


def test_without_a_backend_the_plugin_adds_nothing_and_a_bad_option_is_named(tmp_path: Path) -> None:
    (tmp_path / "test_own.py").write_text("def test_own():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "_refconv_pytestplugin"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert plain.stdout.splitlines()[-1].startswith("1 passed")
    for args, message in [
        (["--refconv-backend", "no_such_module:conv"], "--refconv-backend: backend 'no_such_module:conv'"),
        (
            ["--refconv-backend", "torch", "--refconv-dtype", "int8"],
            "--refconv-dtype int8: torch claims only",
        ),
        (["--refconv-backend", "torch", "--refconv-xfails", "missing.txt"], "cannot read the known-failures"),
        (["--refconv-backend", "torch", "--refconv-phases", "curated,nope"], "'nope' is not a phase"),
    ]:
        bad = subprocess.run([sys.executable, "-m", "pytest", "-q", *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, check=False)  # fmt: skip
        assert bad.returncode == 4, bad.stdout + bad.stderr  # pytest's usage error
        assert message in bad.stderr, bad.stderr


def test_a_family_backend_has_a_test_per_case_as_its_operator_s_problem(repository: Path) -> None:
    """The tests of ``--refconv-backend refconv-deform`` are named by the deformable convolution's
    cases (the ids ``--refconv-write-xfails`` writes), and every one passes or says why it is
    unsupported."""
    result = _pytest(
        repository, "--refconv-backend", "refconv-deform", "-k", "test_case", "--junitxml=family.xml"
    )
    assert result.returncode == 0, result.stdout[-2000:]
    problems = [as_operator(c, "deform") for c in curated(("float64",))]
    expected = {p.id for p in problems if isinstance(p, Case)}
    outcomes = _junit(repository / "family.xml")
    assert _ids("test_case", outcomes, "passed") == expected
    assert len(expected) >= 29
