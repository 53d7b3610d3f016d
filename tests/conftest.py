"""Oracle requirements, the JUnit schema and hypothesis settings.

A nox session sets REFCONV_REQUIRE_ORACLES to the oracle it installed; the
run then fails at start if that oracle cannot be imported, so a broken
install cannot turn the oracle's tests into silent skips. It sets
REFCONV_JUNIT_SCHEMA to the schema it downloaded, which must be there.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("REFCONV_HYPOTHESIS_EXAMPLES", "60"))
settings.register_profile(
    "refconv",
    deadline=None,
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("refconv")


def pytest_configure(config: pytest.Config) -> None:
    for name in filter(None, os.environ.get("REFCONV_REQUIRE_ORACLES", "").split(",")):
        if importlib.util.find_spec(name) is None:
            raise pytest.UsageError(f"REFCONV_REQUIRE_ORACLES names {name!r}, which is not installed")
    schema = os.environ.get("REFCONV_JUNIT_SCHEMA")
    if schema and not os.path.isfile(schema):  # given, and missing: a broken session, not a skip
        raise pytest.UsageError(f"REFCONV_JUNIT_SCHEMA names {schema!r}, which is not a file")
