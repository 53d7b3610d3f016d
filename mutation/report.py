"""Summarise a ``mutmut run`` (``nox -s mutation``) into ``docs/mutation/results.json``.

``python -m mutation.report`` reads mutmut's per-file results (``mutants/*.meta``),
the diff of every mutant that survived, and ``mutation/equivalent.toml``: the
survivors no test can kill because they do not change a result (a cost-model
threshold that only changes speed, say), each with a one-line reason, either
by name (``[mutants]``) or by a rule for a one-line change that is equivalent
wherever it appears (``[rules]``: a regex for the removed line, one for the
added line, and the reason). It writes the score per module, counting killed
and timed-out mutants as caught, equivalent ones as neither, and every other
survivor (and mutant no test reached) as missed:

    score = caught / (total - equivalent)

The docs' verification page renders the JSON. Exit status 1 if a survivor has
neither a killing test nor a recorded equivalence (an entry for a mutant that was
run and caught is reported too: the record must follow the code; entries for
mutants outside the run are kept for the next full one).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"
RESULTS = ROOT / "docs" / "mutation" / "results.json"
CAUGHT = {"killed", "timeout"}
#: The mutants a run covered, in words, for the docs: all of them unless a pattern was given.
SAMPLES = {"*__mutmut_*[37]": "the mutants whose number ends in 3 or 7 (a fifth of each function's)"}


def status(exit_code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    result: str = status_by_exit_code[exit_code]
    return result


def module_of(mutant: str) -> str:
    """``refconv.geometry.x_same_padding__mutmut_3`` -> ``refconv.geometry``."""
    return mutant.rsplit(".", 1)[0]


def diff(mutant: str) -> str:
    out = subprocess.run(["mutmut", "show", mutant], capture_output=True, text=True, cwd=ROOT, check=True)
    return "\n".join(line for line in out.stdout.splitlines()[1:] if not line.startswith(("---", "+++")))


def collect() -> dict[str, str]:
    """Every mutant's status, by name, from mutmut's meta files."""
    statuses: dict[str, str] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        statuses.update({name: status(code) for name, code in data["exit_code_by_key"].items()})
    return statuses


def changed_lines(text: str) -> tuple[list[str], list[str]]:
    """The removed and the added lines of a diff, without their markers."""
    lines = text.splitlines()
    removed = [line[1:] for line in lines if line.startswith("-")]
    return removed, [line[1:] for line in lines if line.startswith("+")]


def reason_for(name: str, text: str, equivalent: dict[str, Any]) -> str | None:
    """The recorded reason ``name`` is equivalent: by name, or by the first rule its change fits.

    A rule sees the removed lines joined into one, and the added ones: mutmut changes one
    expression, which spans two lines where the formatter wrapped a call.
    """
    if name in equivalent.get("mutants", {}):
        reason: str = equivalent["mutants"][name]
        return reason
    removed, added = (" ".join(line.strip() for line in lines) for lines in changed_lines(text))
    if not removed or not added:
        return None
    for rule_name, rule in equivalent.get("rules", {}).items():
        if re.search(rule["removed"], removed) and re.search(rule["added"], added):
            return f"{rule['reason']} (rule {rule_name})"
    return None


def summarise(statuses: dict[str, str], equivalent: dict[str, Any]) -> dict[str, Any]:
    modules: dict[str, Counter[str]] = {}
    survivors: list[dict[str, str | None]] = []
    for name, state in sorted(statuses.items()):
        if state == "not checked":
            continue  # outside the sample
        counts = modules.setdefault(module_of(name), Counter())
        counts["total"] += 1
        if state in CAUGHT:
            counts["caught"] += 1
            continue
        text = diff(name)
        reason = reason_for(name, text, equivalent)
        counts["equivalent" if reason else "missed"] += 1
        survivors.append({"name": name, "status": state, "equivalent": reason, "diff": text})
    table = {
        module: {
            **{key: counts[key] for key in ("total", "caught", "equivalent", "missed")},
            "score": counts["caught"] / max(counts["total"] - counts["equivalent"], 1),
        }
        for module, counts in sorted(modules.items())
    }
    total = sum((Counter(row) for row in modules.values()), Counter())
    return {
        "date": time.strftime("%Y-%m-%d"),
        "tool": f"mutmut {version('mutmut')}",
        "commit": _commit(),
        "modules": table,
        "total": {
            **{key: total[key] for key in ("total", "caught", "equivalent", "missed")},
            "score": total["caught"] / max(total["total"] - total["equivalent"], 1),
        },
        "survivors": survivors,
        "sample": _sample(os.environ.get("REFCONV_MUTANTS", "")),
        "stale_equivalences": sorted(
            name for name in equivalent.get("mutants", {}) if statuses.get(name, "not checked") in CAUGHT
        ),
    }


def _sample(patterns: str) -> str:
    """The mutants a run covered, in words: every one unless ``mutmut run`` was given patterns."""
    if patterns in ("", "*"):
        return "every mutant"
    return SAMPLES.get(patterns, f"the mutants matching {patterns}")


def _commit() -> str:
    """The commit the run measured; ``-dirty`` if a tracked file other than this report's output differs."""
    others = f":!{RESULTS.relative_to(ROOT)}"
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".", others)
    return _git("describe", "--always") + ("-dirty" if changed else "")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()


def main() -> None:
    equivalent: dict[str, Any] = tomllib.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    statuses = collect()
    if not statuses:
        sys.exit("no mutmut results in mutants/: run `nox -s mutation` first")
    results = summarise(statuses, equivalent)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    for module, row in results["modules"].items():
        print(f"{module:28s} {row['caught']:5d} / {row['total'] - row['equivalent']:5d}  {row['score']:.1%}")
    missed = [s["name"] for s in results["survivors"] if s["equivalent"] is None]
    print(f"total: {results['total']['score']:.1%}; {len(missed)} survivors without a test or a reason")
    for name in results["stale_equivalences"]:
        print(f"stale: {name} is recorded as equivalent but did not survive")
    sys.exit(1 if missed or results["stale_equivalences"] else 0)


if __name__ == "__main__":
    main()
