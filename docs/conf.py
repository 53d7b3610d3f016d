"""Sphinx configuration for refconv's documentation.

Built by ``nox -s docs`` with warnings as errors and nitpicky references, so a
broken cross-reference, a failing figure script or a conformance mismatch fails
the build. Math is rendered by a MathJax bundle copied into the site
(``sphinx-mathjax-offline``): the HTML loads no script from the network.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The conformance table runs jax on the CPU: without this, jax looks for a TPU and says so.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the tests the pages cite, imported by the checked-by directive

import refconv  # noqa: E402

project = "refconv"
author = "the refconv authors"
copyright = "2026, the refconv authors"
release = version = refconv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "sphinx-mathjax-offline",  # sets mathjax_path to its bundled copy and copies it into _static/
    "matplotlib.sphinxext.plot_directive",
    "refconv_docs",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_title = f"refconv {release}"
html_static_path = ["_static"]
html_css_files = ["refconv.css"]

nitpicky = True
# Types named in signatures that live in other projects' docs: without intersphinx (no network at
# build time) they cannot be links, and nitpicky mode would report each one.
nitpick_ignore_regex = [
    ("py:class", r"(numpy|np)(\.typing|\.dtype|\.ndarray|\.intp|\.float64|\.integer)?.*"),
    ("py:class", r"(NDArray|ArrayLike|DTypeLike|Any|optional|array_like|ndarray|dtype|callable)"),
    ("py:class", r"(collections\.abc|typing)\..*"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections carry the types and shapes
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_param = False  # types as text: "array_like, shape (N, C_in, *spatial)" is not a class
napoleon_use_rtype = False

# The figures are drawn at build time from refconv's own geometry functions.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"savefig.bbox": "tight", "font.size": 9}

doctest_global_setup = """
import numpy as np
import refconv
np.set_printoptions(precision=4, suppress=True)
"""
