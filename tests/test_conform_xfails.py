"""Known failures and stable ids: a run that lists its backend's known failures passes, goes red on a new
one (naming only it), reports a fixed one as XPASS, warns of a line that names nothing; JUnit XML."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from refconv import backends, conform
from refconv.cases import Case, case
from refconv.conform import Report, xfails
from tests import junit_schema
from tests.conform_helpers import FAKE

ROOT = Path(__file__).resolve().parent.parent
#: The curated cases with groups > 1, on which refuses_groups raises.
GROUPED = [c.id for c in conform.curated() if c.spec.groups > 1]


@functools.cache
def _run(name: str, known: str = "", mode: str = "run", strict: bool = False) -> Report:
    """The curated suite in float64 through ``tests.fake_backends:<name>``, in this process."""
    backend = backends.get(f"{FAKE}:{name}")
    listed = xfails.parse(known, "known.txt")
    return conform.run(backend, ("float64",), phases=("curated",), isolate=False, shrink_seconds=5,
                       xfails=listed, xfail_mode=mode, xfail_strict=strict)  # fmt: skip


def _known() -> str:
    """The known-failures file of refuses_groups, as --write-xfails writes it."""
    report = _run("refuses_groups")
    return xfails.text(report.backend, report.version, report.outcomes)


def test_a_case_id_names_the_problem_and_not_the_seed_or_the_process() -> None:
    a = case("stride", (3, 4, 11), (5, 4, 3), stride=3)
    assert a.id.startswith("stride-float64-")
    assert len(a.id.rsplit("-", 1)[1]) == 8
    assert Case(a.spec, seed=7, feature="stride").id == a.id  # --seed draws other values
    others = [
        case("stride", (3, 4, 11), (5, 4, 3), stride=2),
        case("stride", (3, 4, 11), (5, 4, 3), stride=3, bias=False),
        case("stride", (3, 4, 11), (5, 4, 3), stride=3, dtype="float32"),
        case("dilation", (3, 4, 11), (5, 4, 3), stride=3),
    ]
    assert len({a.id, *(o.id for o in others)}) == 5
    ids = [c.id for c in conform.curated(("float64", "float32", "float16"))]
    assert len(set(ids)) == len(ids) == 3 * len(conform.CURATED)
    # not Python's salted hash: another process (another PYTHONHASHSEED) gives the same ids
    code = "from refconv.conform import curated; print(' '.join(c.id for c in curated()))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert other.stdout.split() == ids[: len(conform.CURATED)]


def test_the_written_known_failures_make_the_same_backend_pass_without_shrinking() -> None:
    first = _run("refuses_groups")
    assert not first.ok
    assert first.failures  # shrunk and reproduced, as without xfails
    assert [o.case.id for o in first.new()] == GROUPED
    assert {o.verdict for o in first.new()} == {"raised"}
    known = _known()
    assert len(xfails.parse(known)) == len(first.new())
    again = _run("refuses_groups", known)
    assert again.ok
    assert [o.case.id for o in again.expected()] == [o.case.id for o in first.new()]
    assert not again.new()
    assert not again.failures
    assert not again.xpassed()
    assert not again.unmatched()
    assert f"of the failures {len(GROUPED)} XFAIL and 0 new" in again.summary()


def test_one_more_bug_fails_the_run_and_names_only_the_new_cases() -> None:
    report = _run("refuses_groups_and_keeps_one_image", _known())
    assert not report.ok
    new = report.new()
    # keeps_one_image's empty batch (the grouped one raises first: a known failure)
    assert [(o.case.feature, o.case.spec.x_shape[0], o.verdict) for o in new] == [("edges", 0, "shape")]
    assert [o.case.id for o in report.expected()] == GROUPED
    assert [f.found for f in report.failures] == new  # only the new failure is shrunk
    text = report.to_text()
    assert all(o.case.id in text for o in new)
    assert not any(o.case.id in text for o in report.expected())  # known: counted, not repeated


def test_a_fixed_known_failure_is_an_xpass_and_fails_only_when_strict() -> None:
    known = _known()
    fixed = _run("correct", known)
    assert fixed.ok
    assert [o.case.id for o in fixed.xpassed()] == GROUPED
    assert all(f"XPASS {o.case.id}" in fixed.to_text() for o in fixed.xpassed())
    strict = _run("correct", known, strict=True)
    assert not strict.ok
    assert not strict.new()
    assert "XPASS (strict: a failure)" in strict.summary()


def test_a_listed_verdict_must_be_the_one_the_case_gets() -> None:
    """``groups- raised`` expects a raise: the same cases listed with another verdict are new failures."""
    assert _run("refuses_groups", "-float64- raised").ok
    listed = "groups- disagree\ndepthwise-\ntransposed-\nedges-\nno_spatial_dims-  # any verdict"
    report = _run("refuses_groups", listed)
    assert [o.case.id for o in report.new()] == [i for i in GROUPED if i.startswith("groups-")]
    assert [o.case.id for o in report.expected()] == [i for i in GROUPED if not i.startswith("groups-")]


def test_skip_mode_judges_no_listed_case_and_a_line_that_names_nothing_is_a_warning() -> None:
    known = _known() + "no_such_feature-  # fixed long ago\n"
    report = _run("refuses_groups", known, mode="skip")
    assert report.ok
    assert [c.id for c in report.skipped] == GROUPED
    assert not any(o.case.spec.groups > 1 for o in report.outcomes)
    assert report.phases[0].skipped == len(GROUPED)
    assert report.phases[0].judged == len(conform.CURATED) - len(GROUPED)
    line = len(known.splitlines())
    assert [x.where for x in report.unmatched()] == [f"known.txt:{line}"]
    assert f"warning: known.txt:{line}: 'no_such_feature-' matches no case of this run" in report.to_text()
    assert report.to_json()["xfails"]["skipped"] == [c.id for c in report.skipped]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "groups sometimes",
            "known.txt:1: 'groups sometimes': expected an id, then optionally a failing verdict",
        ),
        ("a b c", "known.txt:1: 'a b c'"),
        ("\n# ok\ngroups agree", "known.txt:3: 'groups agree'"),  # agree is not a failure
    ],
)
def test_a_bad_line_is_named_by_its_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        xfails.parse(text, "known.txt")


def test_junit_has_a_testcase_per_case_with_its_verdict() -> None:
    report = _run("refuses_groups_and_keeps_one_image", _known())
    junit_schema.validate(report.to_junit())
    root = ET.fromstring(report.to_junit())
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(report.outcomes) == int(suite.get("tests", ""))
    assert [c.get("name") for c in cases] == [o.case.id for o in report.outcomes]
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == [o.case.id for o in report.new()]
    assert int(suite.get("failures", "")) == int(root.get("failures", "")) == len(failed)
    xfailed = [c.get("name") for c in cases if c.find("skipped[@type='xfail']") is not None]
    assert xfailed == [o.case.id for o in report.expected()]
    first = failed[0].find("failure")
    assert first is not None
    assert first.get("type") == "shape"
    assert "import refconv" in (first.text or "")  # the reproducer of its kind
    assert suite.findall("testcase")[0].get("classname") == f"refconv.conform.{report.backend}.basic"


@pytest.mark.process
def test_the_command_writes_known_failures_then_passes_with_them_and_writes_junit(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def command(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "refconv", "conform", f"{FAKE}:{name}", "--phases", "curated",
             "--dtype", "float64", "--quiet", "--shrink-seconds", "5", *args],
            capture_output=True, text=True, check=False, cwd=tmp_path, env=env,
        )  # fmt: skip

    known, junit = tmp_path / "known.txt", tmp_path / "junit.xml"
    first = command("refuses_groups", "--write-xfails", str(known))
    assert first.returncode == 1, first.stdout + first.stderr
    assert known.read_text().startswith("# Known failures of ")
    listed = command("refuses_groups", "--xfails", str(known), "--junit-xml", str(junit))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert ET.parse(junit).getroot().get("failures") == "0"
    # one more bug and a fixed one (without --xfail-strict) are the in-process tests above
    strict = command("correct", "--xfails", str(known), "--xfail-strict")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "XPASS (strict: a failure)" in strict.stdout
    bad = command("correct", "--xfails", str(tmp_path / "missing.txt"))
    assert bad.returncode == 2
    assert "cannot read the known-failures file" in bad.stderr
