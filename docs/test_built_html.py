"""Checks of the built site, run by ``nox -s docs`` after the HTML build.

The site must work with the network off: no page may load a script,
stylesheet, image or font from another host, and every page with math must
load a MathJax copy that lies inside the site. Every derivation page must end
by linking the functions that implement it and naming the tests that check it.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

HTML = Path(os.environ.get("REFCONV_DOCS_HTML", Path(__file__).parent / "_build" / "html"))
DERIVATIONS = [
    "notation", "forward", "input_vjp", "weight_vjp", "transpose", "beyond", "patches", "local", "deform",
    "verification",
]  # fmt: skip
REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")


class _Resources(HTMLParser):
    """Every address a page makes the browser load (not the ones it links to), and its math."""

    LOADS: ClassVar[dict[str, str]] = {
        "script": "src",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "embed": "src",
        "link": "href",
    }

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.has_math = False
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        attribute = self.LOADS.get(tag)
        is_navigation = tag == "link" and values.get("rel") in {
            "index",
            "search",
            "next",
            "prev",
            "canonical",
        }
        if attribute and values.get(attribute) and not is_navigation:
            self.loaded.append(str(values[attribute]))
        if "math" in (values.get("class") or "").split():
            self.has_math = True
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.loaded.extend(CSS_URL.findall(data))


def _pages() -> list[Path]:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built site at {HTML}: run `nox -s docs` (or sphinx-build) first")
    return sorted(HTML.rglob("*.html"))


def _parse(page: Path) -> _Resources:
    parser = _Resources()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_no_page_loads_anything_from_the_network() -> None:
    remote = {
        f"{page.relative_to(HTML)}: {address}"
        for page in _pages()
        for address in _parse(page).loaded
        if REMOTE.match(address)
    }
    assert not remote, "pages load remote resources:\n" + "\n".join(sorted(remote))


def test_no_stylesheet_loads_anything_from_the_network() -> None:
    remote = [
        f"{css.relative_to(HTML)}: {address}"
        for css in HTML.rglob("*.css")
        for address in CSS_URL.findall(css.read_text(encoding="utf-8"))
        if REMOTE.match(address.strip())
    ]
    assert not remote, "stylesheets load remote resources:\n" + "\n".join(remote)


def test_math_is_rendered_by_a_mathjax_copy_inside_the_site() -> None:
    math_pages = [page for page in _pages() if _parse(page).has_math]
    assert {f"{name}.html" for name in DERIVATIONS} <= {page.name for page in math_pages}
    for page in math_pages:
        scripts = [a.split("?")[0] for a in _parse(page).loaded if "mathjax" in a.lower()]
        assert scripts, f"{page.name} has math but loads no MathJax"
        for script in scripts:
            local = (page.parent / script).resolve()
            assert local.is_file(), f"{page.name}: {script} does not exist"
            assert HTML.resolve() in local.parents, f"{page.name}: {script} is outside the site"
    fonts = list((HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert fonts, "the MathJax copy has no fonts: math would render in fallback glyphs"


@pytest.mark.parametrize("name", DERIVATIONS)
def test_derivation_page_links_its_functions_and_names_its_tests(name: str) -> None:
    text = (HTML / f"{name}.html").read_text(encoding="utf-8")
    block = text[text.index('class="checked-by') :]
    assert re.search(r'href="api\.html#refconv\.[\w.]+"', block), f"{name}: no link to a function"
    assert re.search(r"tests/test_\w+\.py::test_\w+", block), f"{name}: no test named"


def test_figures_are_built_into_the_pages() -> None:
    images = {Path(a).name for page in _pages() for a in _parse(page).loaded if a.endswith(".png")}
    assert {"windows.png", "input_vjp.png", "duality.png", "deform.png"} <= images
