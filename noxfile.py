"""The project's checks; ``nox -l`` lists them, plain ``nox`` runs the default ones.

The ``tests`` matrix pairs each oracle with the oldest and newest NumPy
refconv supports. torch is pinned to ``torch==2.13.0`` everywhere: that CPU
wheel is the one available offline on the project's machines; any other
spelling resolves to a multi-GB CUDA build.
"""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False

PYTHON = "3.11"
TORCH = "torch==2.13.0"
NUMPY_OLDEST, NUMPY_NEWEST = "1.26.4", "2.4.6"

MATRIX = [
    nox.param(NUMPY_OLDEST, "jax==0.4.35", id="numpy1.26-jax0.4"),
    nox.param(NUMPY_NEWEST, "jax==0.10.2", id="numpy2.4-jax0.10"),
    nox.param(NUMPY_OLDEST, TORCH, id="numpy1.26-torch2.13"),
    nox.param(NUMPY_NEWEST, TORCH, id="numpy2.4-torch2.13"),
]


@nox.session(python=PYTHON)
@nox.parametrize(("numpy", "oracle"), MATRIX)
def tests(session: nox.Session, numpy: str, oracle: str) -> None:
    """refconv against one oracle (jax or torch), refconv.naive, adjoints and finite differences."""
    session.install(f"numpy=={numpy}", oracle, ".[test]")
    required = oracle.split("==")[0]
    session.run("pytest", "-n", "2", *session.posargs, env={"REFCONV_REQUIRE_ORACLES": required})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) on everything, mypy --strict on refconv/."""
    session.install(f"numpy=={NUMPY_NEWEST}", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=PYTHON)
def check(session: nox.Session) -> None:
    """`refconv check` against jax and torch; pass options after --, e.g. nox -s check -- --stride 2."""
    session.install(f"numpy=={NUMPY_NEWEST}", "jax==0.10.2", TORCH, ".")
    session.run("refconv", "check", *session.posargs)
