"""Directives that tie refconv's pages to what runs.

``.. checked-by::`` ends a derivation page: it links the functions that
implement it and shows the tests that check them, read from ``tests/`` at
build time (a test that is renamed or removed fails the build).

``.. conformance-table::`` runs a fixed set of configurations through refconv,
:mod:`refconv.naive` and every oracle of :data:`refconv.backends.ORACLES` while the docs
build, and renders the largest difference of each array as a fraction of its
float64 round-off bound. A missing oracle or a difference above the bound is
a build warning, which ``nox -s docs`` (``-W``) turns into a failure.

``.. conform-summary::`` and ``.. conform-results:: BACKEND`` render the
committed results of ``nox -s conform`` (``docs/conformance/<backend>.json``):
the site shows what each framework did without installing it. A missing file
is a build warning.
"""

from __future__ import annotations

import ast
import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import refconv
from refconv.backends import BUILTIN, ORACLES, available
from refconv.cases import Case, case
from refconv.conform import VERDICTS, Confirmation, Judge

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


def _test_source(path: Path, name: str) -> tuple[str, str] | None:
    """The source of test function ``name`` in ``path`` and its docstring's first line, or None."""
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
            lines = source.splitlines()[start : node.end_lineno]
            doc = (ast.get_docstring(node) or "").split("\n")[0]
            return textwrap.dedent("\n".join(lines)), doc
    return None


class CheckedBy(SphinxDirective):
    """``:functions:`` that implement the page (cross-referenced) and the tests (content) that check them."""

    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {"functions": directives.unchanged_required}

    def run(self) -> list[nodes.Node]:
        functions = self.options["functions"].replace(",", " ").split()
        rst = StringList()
        rst.append("**Implemented by** " + ", ".join(f":func:`{f}`" for f in functions) + ".", "checked-by")
        rst.append("", "checked-by")
        rst.append("**Checked by**", "checked-by")
        result: list[nodes.Node] = []
        container = nodes.container(classes=["checked-by"])
        self.state.nested_parse(rst, self.content_offset, container)
        for test_id in self.content:
            file, _, name = test_id.partition("::")
            path = ROOT / file
            found = _test_source(path, name) if path.is_file() else None
            if found is None:
                logger.warning("checked-by: no test %s", test_id, location=self.get_location())
                continue
            self.env.note_dependency(str(path))
            code, doc = found
            para = nodes.paragraph()
            para += nodes.literal(text=test_id)
            if doc:
                para += nodes.Text(f": {doc}")
            block = nodes.literal_block(code, code, language="python")
            container += [para, block]
        result.append(container)
        return result


#: The conformance table's rows: each case's feature is its label.
TABLE: list[Case] = [
    case("3x3, padding 1, bias", (2, 3, 8, 7), (4, 3, 3, 3), padding=1),
    case("1-d, stride 3 (r = 2)", (3, 4, 12), (5, 4, 3), stride=3, padding=1),
    case("signed padding", (2, 3, 9, 8), (4, 3, 3, 2), stride=(2, 3), padding=((2, -1), (0, 3))),
    case("dilation and stride", (2, 3, 10, 11), (4, 3, 3, 2), stride=(2, 1), dilation=(2, 3)),
    case("input dilation 2", (2, 3, 5, 6), (4, 3, 3, 2), stride=(3, 2), input_dilation=2, padding=1),
    case("depthwise, multiplier 2", (2, 5, 9, 8), (10, 1, 3, 3), stride=2, padding=1, groups=5),
    case("batch groups 2", (6, 3, 7, 8), (4, 3, 3, 2), stride=2, padding=1, batch_groups=2),
    case("3-d", (2, 3, 6, 5, 7), (4, 3, 2, 3, 2), stride=(2, 1, 3), dilation=(1, 2, 1), padding=1),
    case("reflect padding 2", (2, 3, 7, 6), (4, 3, 3, 3), padding=2, padding_mode="reflect"),
    case("circular padding", (2, 3, 7, 6), (4, 3, 3, 2), padding=(1, 2), padding_mode="circular"),
    case("transposed, stride 2, output_padding 1", (2, 3, 5, 6), (3, 4, 3, 3),
         stride=2, padding=1, output_padding=1, transposed=True),
    case("transposed, dilation 3, output_padding 2", (2, 3, 5), (3, 2, 3),
         dilation=3, output_padding=2, transposed=True),
]  # fmt: skip


class ConformanceTable(SphinxDirective):
    """The conformance table, computed while the docs build."""

    def run(self) -> list[nodes.Node]:
        installed = available()
        for missing in sorted(set(ORACLES) - set(installed)):
            logger.warning("conformance-table: %s is not installed", missing, location=self.get_location())
        names = ["refconv.naive", *installed]
        header = ["configuration", "x, w shapes", *names]
        rows = []
        judges = [Judge(BUILTIN[name]) for name in names]
        try:
            for index, row_case in enumerate(TABLE):
                c = replace(row_case, seed=index)
                row = [c.feature, f"{c.spec.given_shape('x')}, {c.spec.given_shape('w')}"]
                row += [self._cell(judge, c) for judge in judges]
                rows.append(row)
        finally:
            for judge in judges:
                judge.close()
        return self._table(header, rows)

    def _cell(self, judge: Judge, c: Case) -> str:
        outcome = judge.judge(c)
        if outcome.verdict == "unsupported":
            return f"not expressible: {outcome.detail}"
        if outcome.verdict != "agree":
            logger.warning("conformance-table: %s: %s on %s", judge.backend.name, outcome.verdict, c.feature,
                           location=self.get_location())  # fmt: skip
            return outcome.verdict
        return f"{max(x.ratio for x in outcome.comparisons):.1e}"

    def _table(self, header: list[str], rows: list[list[str]]) -> list[nodes.Node]:
        rst = StringList()
        rst.append(".. list-table::", "conformance")
        rst.append("   :header-rows: 1", "conformance")
        rst.append("", "conformance")
        for row in [header, *rows]:
            for i, cell in enumerate(row):
                rst.append(f"   {'* ' if i == 0 else '  '}- {cell}", "conformance")
        container = nodes.container(classes=["conformance"])
        self.state.nested_parse(rst, self.content_offset, container)
        return [container]


class _CommittedResults(SphinxDirective):
    """A directive that renders a committed results file (the argument, from the repo root) as rST lines."""

    required_arguments = 1

    def load(self) -> Any:
        """The file's JSON; the page is rebuilt when the file changes."""
        path = ROOT / self.arguments[0]
        self.env.note_dependency(str(path))
        return json.loads(path.read_text())

    def parsed(self, lines: list[str], name: str) -> list[nodes.Node]:
        """``lines`` parsed as rST into a container of class ``name``."""
        container = nodes.container(classes=[name])
        self.state.nested_parse(StringList(lines, name), self.content_offset, container)
        return [container]


class BenchmarkTable(_CommittedResults):
    """``benchmarks/report.py``'s table of a committed results JSON.

    ``:table:`` picks the table: ``vjp`` (forward + VJP against torch and jax,
    the default) or ``forward`` (against onnxruntime and ONNX's reference).
    """

    option_spec: ClassVar[dict[str, Any]] = {"table": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        from benchmarks import report

        data = self.load()
        which = self.options.get("table", "vjp")
        if which not in report.TABLES:
            raise self.error(f":table: {which!r}: expected one of {', '.join(report.TABLES)}")
        lines = [f"Measured on: {report.machine(data)}.", "", *report.list_table(data, which)]
        return self.parsed(lines, "benchmark-table")


class BenchmarkProfile(_CommittedResults):
    """``benchmarks/profile.py``'s table of a committed profile JSON."""

    def run(self) -> list[nodes.Node]:
        from benchmarks import profile

        data = self.load()
        head = f"Sampled on {data['date']} with {data['threads']} BLAS threads, py-spy {data['py_spy']}."
        table = _list_table([profile.COLUMNS, *profile.table(data["profiles"])], "benchmark-profile")
        return self.parsed([head, "", *table], "benchmark-profile")


class MutationResults(_CommittedResults):
    """``mutation/report.py``'s results JSON: the score per module and every survivor."""

    def run(self) -> list[nodes.Node]:
        data = self.load()
        total = data["total"]
        head = (
            f"Run on {data['date']} with {data['tool']} at commit {data['commit']}, on {data['sample']}: "
            f"{total['total']} mutants, {total['caught']} caught, {total['equivalent']} equivalent, "
            f"{total['missed']} missed; score {total['score']:.1%}."
        )
        rows = [["module", "mutants", "caught", "equivalent", "missed", "score"]]
        for module, row in data["modules"].items():
            counts = [str(row[key]) for key in ("total", "caught", "equivalent", "missed")]
            rows.append([f"``{module}``", *counts, f"{row['score']:.1%}"])
        lines = [head, "", *_list_table(rows, "mutation-results"), ""]
        lines += [
            "The survivors, grouped by the reason each is equivalent (a survivor without one, listed",
            "first, fails the session); each mutant's name, then the lines it changed:",
            "",
        ]
        groups: dict[str, list[dict[str, str]]] = {}
        for survivor in sorted(data["survivors"], key=lambda s: s["equivalent"] is not None):
            reason = survivor["equivalent"] or "**no killing test and no recorded reason**"
            groups.setdefault(reason, []).append(survivor)
        for reason, survivors in groups.items():
            lines += [f"* {reason} ({len(survivors)})", "", "  .. code-block:: diff", ""]
            for survivor in survivors:
                changed = [line for line in survivor["diff"].splitlines() if line.startswith(("-", "+"))]
                lines.append(f"     {survivor['name']} ({survivor['status']})")
                lines += [f"     {line}" for line in changed]
            lines.append("")
        return self.parsed(lines, "mutation-results")


CONFORMANCE = ROOT / "docs" / "conformance"


def _list_table(rows: list[list[str]], source: str) -> StringList:
    rst = StringList()
    for line in [".. list-table::", "   :header-rows: 1", ""]:
        rst.append(line, source)
    for row in rows:
        for i, cell in enumerate(row):
            rst.append(f"   {'* ' if i == 0 else '  '}- {cell}", source)
    return rst


class _ConformDirective(SphinxDirective):
    def load(self, name: str) -> dict[str, Any] | None:
        path = CONFORMANCE / f"{name}.json"
        if not path.is_file():
            logger.warning(
                "no conformance results %s (nox -s conform-<framework>)", path, location=self.get_location()
            )
            return None
        self.env.note_dependency(str(path))
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def parsed(self, rst: StringList, classes: list[str]) -> list[nodes.Node]:
        container = nodes.container(classes=classes)
        self.state.nested_parse(rst, self.content_offset, container)
        return [container]


class ConformSummary(_ConformDirective):
    """One row per backend named in the content: its version, dtypes and verdict counts."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        loaded = {name: self.load(name) for name in (line.strip() for line in self.content if line.strip())}
        found = {name: data for name, data in loaded.items() if data is not None}
        totals = {name: _totals(data["table"]) for name, data in found.items()}
        columns = _occurring(totals.values())
        rows = [["backend", "version", "dtypes", *columns, "seconds", "phases"]]
        for name, data in found.items():
            rows.append([f":ref:`{name} <conform-{name}>`", data["version"], ", ".join(data["dtypes"]),
                         *(str(totals[name][v]) for v in columns), f"{data['seconds']:.0f}",
                         _phases(data.get("phases", []))])  # fmt: skip
        return self.parsed(_list_table(rows, "conform-summary"), ["conform-summary"])


def _phases(phases: list[dict[str, Any]]) -> str:
    """``all finished``, or each finished phase and the first unfinished one's judged/planned cases."""
    if phases and all(p["finished"] for p in phases):
        return "all finished"
    done = [p["name"] for p in phases if p["finished"]]
    cut = next((p for p in phases if not p["finished"]), None)
    rest = [] if cut is None else [f"{cut['name']} {cut['judged']:,}/{cut['planned']:,}"]
    return ", ".join(done + rest) or "not recorded"


def _totals(table: dict[str, dict[str, int]]) -> dict[str, int]:
    """A verdict table's count of each verdict (committed runs predate some verdicts: 0)."""
    return {v: sum(row.get(v, 0) for row in table.values()) for v in VERDICTS}


def _occurring(totals: Any) -> list[str]:
    """The verdicts that occur in any of ``totals``, and ``agree``: the columns worth a table's width."""
    counts = list(totals)
    return [v for v in VERDICTS if v == "agree" or any(t[v] for t in counts)]


class ConformResults(_ConformDirective):
    """A backend's verdicts by feature, then each shrunk failure: what, who confirmed it, its reproducer.

    The failures' texts come from frameworks (exception messages with backticks and asterisks):
    they become literal nodes, never reStructuredText.
    """

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        data = self.load(name)
        if data is None:
            return []
        columns = _occurring([_totals(data["table"])])
        table = [["feature", *columns]]
        table += [[feature, *(str(row.get(v, 0)) for v in columns)] for feature, row in data["table"].items()]
        rst = StringList()
        dtypes = ", ".join(data["dtypes"])
        rst.append(f"``refconv conform {name}`` with {data['version']}, in {dtypes}:", name)
        rst.append("", name)
        rst.extend(_list_table(table, name))
        result = self.parsed(rst, ["conform-results"])
        for failure in data["failures"]:
            head = nodes.paragraph()
            head += nodes.strong(text=f"{failure['feature']}: {failure['verdict']}: ")
            head += nodes.literal(text=failure["detail"].splitlines()[0])
            where = nodes.paragraph()
            where += nodes.literal(text=failure["spec"])
            if "op" in failure:  # a case of the convolution's family, on that spec's windows
                where += nodes.Text(" as ")
                where += nodes.literal(text=failure["op"])
            where += nodes.Text(f", bias {failure['bias']}.")
            confirmed = nodes.container()
            self.state.nested_parse(StringList([_confirmation(failure["confirmed"])], name), 0, confirmed)
            code = failure["reproducer"]
            result += [head, where, *confirmed.children, nodes.literal_block(code, code, language="python")]
        return result


def _confirmation(confirmed: dict[str, Any]) -> str:
    line = Confirmation.from_json(confirmed).line().replace("refconv.naive", ":mod:`refconv.naive`", 1)
    return line[0].upper() + line[1:] + "."


class FeatureModel(SphinxDirective):
    """The search's feature model (refconv.conform.model.FACTORS), and what each generated phase covers."""

    def run(self) -> list[nodes.Node]:
        from refconv.conform import model

        rows = [["factor", "values (the plain one first)"]]
        rows += [
            [f"``{name}``", ", ".join(f"``{v}``" for v in values)] for name, values in model.FACTORS.items()
        ]
        rst = _list_table(rows, "feature-model")
        rst.append("", "feature-model")
        pairs, triples, enumerated = model.array(2), model.array(3), sum(1 for _ in model.enumeration())
        for case_count, strength, what in ((len(pairs), 2, "pairs"), (len(triples), 3, "triples")):
            cases = pairs if strength == 2 else triples
            covered, coverable = model.coverage(cases, strength)
            line = f"The {what} array (float64): {case_count} cases cover {covered:,} of the {coverable:,} "
            rst.append(line + f"coverable {what} of values.", "feature-model")
            rst.append("", "feature-model")
        rst.append(f"The enumeration: {enumerated:,} cases.", "feature-model")
        container = nodes.container(classes=["feature-model"])
        self.state.nested_parse(rst, self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("checked-by", CheckedBy)
    app.add_directive("conform-summary", ConformSummary)
    app.add_directive("conform-results", ConformResults)
    app.add_directive("conformance-table", ConformanceTable)
    app.add_directive("benchmark-table", BenchmarkTable)
    app.add_directive("benchmark-profile", BenchmarkProfile)
    app.add_directive("mutation-results", MutationResults)
    app.add_directive("feature-model", FeatureModel)
    return {"version": refconv.__version__, "parallel_read_safe": True}
