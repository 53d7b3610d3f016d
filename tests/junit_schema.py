"""The JUnit XML schema CI systems read: Jenkins' junit-10.xsd, the one pytest validates its own
``--junitxml`` against. It is not committed here: ``nox -s tests`` takes it from pytest's source
distribution on PyPI and names it in REFCONV_JUNIT_SCHEMA (noxfile.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def validate(xml: str | Path) -> None:
    """Raise if ``xml`` (a file, or the document's text) is not valid JUnit XML; skip where the schema
    was not given."""
    schema = os.environ.get("REFCONV_JUNIT_SCHEMA")
    if not schema:
        pytest.skip("REFCONV_JUNIT_SCHEMA names no JUnit schema (nox -s tests gives it)")
    import xmlschema

    xmlschema.XMLSchema(schema).validate(str(xml))
