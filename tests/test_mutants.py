"""A test of the tests: hand-picked wrong formulas that the fast tests must each catch.

Each mutant is one plausible mistake in a central formula, the kind frameworks
have shipped (a VJP with stride and dilation swapped, a kernel not flipped, a
remainder forgotten, a phase or a padding split off by one). The guard copies
``refconv/``, ``tests/`` and ``pyproject.toml`` into a temporary directory,
applies one mutant to the copy, and runs a fixed selection of fast tests that
need no framework (geometry by brute force, the grid against refconv.naive,
the adjoint identity and finite differences, the padding words' documented
split) in a subprocess. Every mutant must make that run fail with exit code 1
(tests failed, not an import or collection error), and the unmutated copy
must pass it: otherwise a broken copy would "catch" every mutant.

The full measurement, every mutant of every formula module, is ``nox -s
mutation`` (the verification page of the docs shows its score and survivors).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELECTION = [
    "tests/test_geometry.py",
    "tests/test_padding_words.py::test_an_odd_total_puts_the_extra_pixel_at_the_end_for_same",
    "tests/test_oracles.py::test_conv_and_vjps_match_naive",
    "tests/test_identities.py",
]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str


MUTANTS = [
    Mutant(
        "input-VJP padding: k_hat - lo instead of k_hat - 1 - lo",
        "refconv/geometry.py",
        "(kh - 1 - lo, kh - 1 - hi + e)",
        "(kh - lo, kh - 1 - hi + e)",
    ),
    Mutant(
        "weight-VJP stride and dilation not swapped",
        "refconv/geometry.py",
        "        stride=p.dilation,\n        padding=weight_vjp_padding(x_spatial, w_spatial, p),\n"
        "        dilation=p.stride,",
        "        stride=p.stride,\n        padding=weight_vjp_padding(x_spatial, w_spatial, p),\n"
        "        dilation=p.dilation,",
    ),
    Mutant(
        "kernel not flipped for the input VJP",
        "refconv/_ops.py",
        "flipped = np.flip(w, axis=tuple(range(2, w.ndim)))",
        "flipped = w",
    ),
    Mutant(
        "input-VJP remainder r forgotten",
        "refconv/geometry.py",
        "return _transposed_padding(w_spatial, p, remainder(x_spatial, w_spatial, p))",
        "return _transposed_padding(w_spatial, p, (0,) * len(x_spatial))",
    ),
    Mutant(
        "weight-VJP remainder r forgotten",
        "refconv/geometry.py",
        "return tuple((lo, hi - ri) for (lo, hi), ri in zip(p.padding, r, strict=True))",
        "return tuple((lo, hi) for (lo, hi), ri in zip(p.padding, r, strict=True))",
    ),
    Mutant(
        "phase split: first input one too late",
        "refconv/geometry.py",
        "pad_lo = -((s * j0 + d * t0 - lo) // dil)",
        "pad_lo = -((s * j0 + d * t0 - lo) // dil) + 1",
    ),
    Mutant(
        "same padding: odd pixel on the wrong side",
        "refconv/geometry.py",
        "pairs.append((large, small) if lower else (small, large))",
        "pairs.append((small, large) if lower else (large, small))",
    ),
]


def _copy_with(tmp_path: Path, mutant: Mutant | None) -> Path:
    """refconv/, tests/ and pyproject.toml in ``tmp_path``, with ``mutant`` applied (exactly once)."""
    for name in ("refconv", "tests"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if mutant is not None:
        target = tmp_path / mutant.path
        source = target.read_text()
        assert source.count(mutant.old) == 1, f"{mutant.name}: the text to mutate must occur exactly once"
        target.write_text(source.replace(mutant.old, mutant.new))
    return tmp_path


def _run_selection(copy: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REFCONV_REQUIRE_ORACLES")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    check = "import refconv, sys; sys.exit(0 if refconv.__file__.startswith(sys.argv[1]) else 3)"
    where = subprocess.run([sys.executable, "-c", check, str(copy)], cwd=copy, env=env, check=False)
    assert where.returncode == 0, "the subprocess must import the copy of refconv, not the installed one"
    options = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command = [sys.executable, "-m", "pytest", *SELECTION, *options]
    return subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, check=False)


def test_the_unmutated_copy_passes_the_selection(tmp_path: Path) -> None:
    result = _run_selection(_copy_with(tmp_path, None))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_the_fast_tests_catch_the_mutant(tmp_path: Path, mutant: Mutant) -> None:
    result = _run_selection(_copy_with(tmp_path, mutant))
    assert result.returncode == 1, f"{mutant.name}: exit {result.returncode}\n{result.stdout[-3000:]}"


# The record of equivalent mutants (mutation/equivalent.toml) is read by mutation/report.py; these
# check the reading, and that the record still names code that exists.


def _equivalent() -> dict[str, Any]:
    return tomllib.loads((ROOT / "mutation" / "equivalent.toml").read_text())


def test_a_rule_explains_its_change_even_when_wrapped_over_two_lines_and_nothing_else() -> None:
    from mutation.report import reason_for

    wrapped = (
        "-            x_shape[2:], w_shape[2:], t.padding, out, strict=True\n"
        "-        )\n"
        "+            x_shape[2:], w_shape[2:], t.padding, out, )"
    )
    assert "rule zip-strict" in (reason_for("m", wrapped, _equivalent()) or "")
    not_empty = "-        return slice(0, 0), slice(0, 0)\n+        return slice(0, 1), slice(0, 0)"
    assert reason_for("m", not_empty, _equivalent()) is None  # selects one element: a real change
    empty = "-        return slice(0, 0), slice(0, 0)\n+        return slice(1, 0), slice(0, 0)"
    assert "rule empty-slices" in (reason_for("m", empty, _equivalent()) or "")


def test_every_recorded_mutant_names_a_function_that_exists() -> None:
    """mutmut names a mutant module.x_function__mutmut_N, a method's x\u01c1Class\u01c1method__mutmut_N."""
    import importlib

    for name in _equivalent()["mutants"]:
        module, _, mutant = name.rpartition(".")
        function = mutant.split("__mutmut_")[0].removeprefix("x_").removeprefix("x")
        owner, *method = [part for part in function.split("\u01c1") if part]
        target = getattr(importlib.import_module(module), owner, None)
        for attribute in method:
            target = getattr(target, attribute, None)
        assert callable(target), name
