"""refconv's checks: plain "nox" runs the test matrix, lint and the docs; "nox -s NAME" runs any other."""

# Every package whose version can change a verdict is pinned here (pyproject.toml keeps ranges for
# users): NumPy, the oracles and their compiled parts, ml_dtypes (its promotion table and its
# bfloat16), hypothesis (which configurations it draws), pytest and pytest-xdist (refconv's suite
# turns warnings into errors), and the lint, docs and benchmark tools. torch is always
# ``torch==2.13.0``, the CPU wheel: any other spelling resolves to a multi-GB CUDA build.

import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "docs"]
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False

PYTHON = "3.11"
TORCH = "torch==2.13.0"
# the two ends of the matrix: NumPy with the ml_dtypes of its era (0.4.0 is the oldest refconv supports,
# 0.7.0 the newest, the first to define bfloat16 with float16 itself; refconv's rule gives the same
# result under both, tests/test_low_precision.py)
OLDEST = ["numpy==1.26.4", "ml_dtypes==0.4.0"]
NEWEST = ["numpy==2.4.6", "ml_dtypes==0.7.0"]
JAX_OLDEST = ["jax==0.4.35", "jaxlib==0.4.35"]
JAX_NEWEST = ["jax==0.10.2", "jaxlib==0.10.2"]
PYTEST = "pytest==9.2.0"
# xmlschema validates refconv's JUnit XML (its verdict on a file is a test's verdict, so it is pinned)
TEST_TOOLS = [PYTEST, "pytest-xdist==3.8.0", "hypothesis==6.170.17", "xmlschema==4.3.2", "elementpath==5.1.4"]
BENCH = ["pytest-benchmark==5.3.1", "matplotlib==3.11.2", "py-spy==0.4.1"]
ONNX = ["onnx==1.23.2", "onnxruntime==1.32.0"]
# The docs build runs with -W: a new Sphinx or theme release can add warnings, so the session pins
# what it was written against (pyproject's docs extra keeps ranges for people building by hand).
SPHINX = "sphinx==9.0.4"
DOCS = [
    SPHINX,
    "furo==2025.12.19",
    "sphinx-mathjax-offline==0.0.2",
    "matplotlib==3.11.2",
    *TEST_TOOLS,  # refconv.testing.conv_configs's example runs as a doctest
]
LINT = ["ruff==0.17.6", "mypy==2.4.1", "types-docutils==0.23.0.20261107"]

# One session per end of the matrix, each with both oracles: every oracle test runs under both NumPy
# versions, and the tests that need no oracle (about 2,200 of 4,060) run once per NumPy version
# instead of once per oracle as well: in two sessions they were the same tests in environments that
# differed only by an oracle they never import. What a machine without an oracle does is tested in
# every session by hiding the oracle (tests/test_cli.py), not by a session that lacks it. The tests
# marked ``process`` (the refconv command's handling of its processes: exit status, hostile
# backends, Ctrl-C, the CI workflows) run in the newest session only: what they test does not
# depend on NumPy, and the verdicts behind them are tested in-process in both.
MATRIX = [
    nox.param(OLDEST, [*JAX_OLDEST, TORCH], ["-m", "not process"], id="numpy1.26-jax0.4-torch2.13"),
    # the newest end also runs ONNX (about 30 MB): the ONNX test data refconv writes, run by ONNX's own
    # runner over onnxruntime, and the ONNX adapters' agreement
    nox.param(NEWEST, [*JAX_NEWEST, TORCH, *ONNX], [], id="numpy2.4-jax0.10-torch2.13"),
]


@nox.session(python=PYTHON)
@nox.parametrize(("numpy", "oracles", "selection"), MATRIX)
def tests(session: nox.Session, numpy: list[str], oracles: list[str], selection: list[str]) -> None:
    """The test suite against jax and torch, refconv.naive, identities and finite differences."""
    session.install(*numpy, *oracles, *TEST_TOOLS, ".[test]")
    required = ",".join(r.split("==")[0] for r in oracles if r.split("==")[0] in ("jax", "torch"))
    chosen = session.posargs or selection  # options given (nox -s tests -- -k ...) choose for themselves
    env = {"REFCONV_REQUIRE_ORACLES": required, "REFCONV_JUNIT_SCHEMA": junit_schema(session)}
    session.run("pytest", "-n", "2", "--durations=15", *chosen, env=env)  # the slowest, in CI's log


def junit_schema(session: nox.Session) -> str:
    """Jenkins' JUnit schema (junit-10.xsd), the one CI systems read and pytest validates its own XML
    against, from pytest's source distribution on PyPI (it is pytest's to publish, not ours to
    commit): the tests validate every JUnit file refconv and its pytest plugin write against it."""
    tmp = Path(session.create_tmp()).resolve()  # absolute: tests read it from directories of their own
    session.run("python", "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", PYTEST,
                "--dest", str(tmp))  # fmt: skip
    name = PYTEST.replace("==", "-")
    with tarfile.open(tmp / f"{name}.tar.gz") as archive:
        schema = archive.extractfile(f"{name}/testing/example_scripts/junit-10.xsd")
        assert schema is not None, f"{name}'s source distribution has no junit-10.xsd"
        (tmp / "junit-10.xsd").write_bytes(schema.read())
    return str(tmp / "junit-10.xsd")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint and format checks (ruff) and type checks (mypy --strict) of every Python file.

    The test dependencies and Sphinx are installed for their types; jax, torch and matplotlib are
    not, and mypy treats them as untyped whether they are installed or not (pyproject.toml).
    """
    session.install(*NEWEST, *LINT, *TEST_TOOLS, ".[lint,test]", SPHINX)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=PYTHON, reuse_venv=True)
def check(session: nox.Session) -> None:
    """Compare one convolution with jax and torch: nox -s check -- --stride 2 (options after --)."""
    if not Path(session.bin, "refconv").exists():  # the environment is kept: install once, then reuse
        session.install(*NEWEST, *JAX_NEWEST, TORCH, *TEST_TOOLS)
    session.install("--no-deps", "--force-reinstall", "--quiet", ".")  # this checkout's refconv
    session.run("refconv", "check", *session.posargs)


# What `refconv conform` needs for each framework, at the versions its adapter was checked against
# (pyproject.toml's extras keep ranges), and the backends it runs. Not default sessions: TensorFlow
# alone is a 270 MB wheel. Each writes docs/conformance/<backend>.json, which the docs render.
FRAMEWORKS = {
    "jax": (JAX_NEWEST, ["jax"]),
    "torch": ([TORCH], ["torch"]),
    "tensorflow": (["tensorflow-cpu==2.21.0"], ["tensorflow", "tensorflow-graph", "tensorflow-xla"]),
    "keras": (["keras==3.15.1", "tensorflow-cpu==2.21.0"], ["keras"]),
    "onnx": (ONNX, ["onnxruntime", "onnx-reference"]),
    "tinygrad": (["tinygrad==0.14.0"], ["tinygrad"]),
    "mlx": (["mlx[cpu]==0.32.4"], ["mlx"]),
    "scipy": (["scipy==1.17.1"], ["scipy-correlate", "scipy-convolve", "scipy-ndimage"]),
    # torch's other kernels: channels_last memory, torch's own instead of oneDNN's, and TorchInductor's
    # (which compiles C++ with gcc: seconds a case, so its session takes the curated suite, below)
    "torch-variants": ([TORCH], ["torch-channels-last", "torch-no-mkldnn"]),
    "torch-compile": ([TORCH], ["torch-compile"]),
    # refconv's convolutions as StableHLO, compiled for the CPU (refconv.stablehlo); about 0.5 s a case
    "iree": (["iree-base-compiler==3.13.0", "iree-base-runtime==3.13.0"], ["iree"]),
    "tvm": (["apache-tvm==0.27.0.post1", "scipy==1.17.1"], ["tvm"]),  # TOPI's testing module imports SciPy
    "paddle": (["paddlepaddle==3.3.1"], ["paddle"]),
    # as users run it (the CPU plugin's precision hint, bfloat16 on a CPU that has it) and in float32
    "openvino": (["onnx==1.23.2", "openvino==2026.4.1"], ["openvino", "openvino-f32"]),
    # the convolution's family (refconv.backends.family_backends): jax's patches and local convolution,
    # torch's unfold, TF's extract_patches, the deformable convolution in jax, onnxruntime and ONNX's
    # reference evaluator
    "family": (
        [*JAX_NEWEST, TORCH, *ONNX, "tensorflow-cpu==2.21.0"],
        [
            "jax-patches",
            "torch-unfold",
            "tensorflow-patches",
            "jax-local",
            "torch-local",
            "jax-deform",
            "onnxruntime-deform",
            "onnx-reference-deform",
        ],
    ),
    # jax's own transposed convolution, three ways (refconv.backends.jax_transpose_backend)
    "jax-conv-transpose": (
        JAX_NEWEST,
        ["jax-conv-transpose", "jax-conv-transpose-kernel", "jax-conv-transpose-consistent"],
    ),
}


#: Seconds of judging each backend gets in a conform session (shrinking comes on top): enough for
#: every phase on a fast backend. tinygrad's PYTHON device interprets every kernel (0.4 s for an
#: enumeration case, about 2 s for a curated one): with 1,500 s it finishes every phase but the
#: random draws (measured: 1,636 cases, then 11 draws, on 2 cores shared with other work). The
#: family's six backends get 180 s each: most of the conformance phases' cases are convolutions
#: the family cannot be (transposed, grouped), unsupported at once; jax-deform, a loop of
#: map_coordinates per channel, takes about 3 s a case.
CONFORM_BUDGET = dict.fromkeys(FRAMEWORKS, 600) | {"tinygrad": 1500, "family": 180}
#: Options a framework's session adds. MLX's CPU build computes float64 in float32 (docs/frameworks.rst),
#: so its first dtype, the one the enumeration runs in, is float32: in float64 every enumerated case
#: would show that one known bug and hide the geometric ones. Every dtype is still judged.
CONFORM_OPTIONS = {
    "mlx": ["--dtype", "float32,float64,float16,bfloat16"],
    # torch.compile compiles every case anew (5 to 30 s): the curated suite in every dtype; the search
    # is there for the asking (nox -s conform-torch-compile -- --suite all --budget 3600)
    "torch-compile": ["--suite", "curated"],
}


def conform(session: nox.Session, framework: str) -> None:
    """`refconv conform` on the framework's backends, e.g. ``nox -s conform-mlx -- --examples 50``.

    A backend's failures are its framework's (or conventions the docs explain) and are recorded,
    not fatal (exit 1); the session fails if the command cannot run (exit 2, or a crash before the
    report is written: the run writes beside the committed JSON, which it replaces once written).
    jax and torch are installed in every session: each failure is confirmed against them
    (refconv.conform.confirm).
    Each backend gets ``--budget 600`` (tinygrad 1,500: CONFORM_BUDGET) unless the options give
    one: a fast backend finishes every phase (about 1,700 cases) well within it, a slow one judges
    the curated suite, the arrays and the enumeration first.
    """
    requirements, names = FRAMEWORKS[framework]
    oracles = [r for r in (*JAX_NEWEST, TORCH) if r not in requirements]
    session.install(*NEWEST, *requirements, *oracles, *TEST_TOOLS, ".[conform]")
    for name in names:
        report = Path("docs/conformance", f"{name}.json")
        written = report.with_suffix(".new.json")  # the committed report stays until a run replaces it
        written.unlink(missing_ok=True)
        ran = session.run(
            "refconv",
            "conform",
            name,
            "--quiet",
            "--json",
            str(written),
            *([] if "--budget" in session.posargs else ["--budget", str(CONFORM_BUDGET[framework])]),
            *_unless_given(CONFORM_OPTIONS.get(framework, []), session.posargs),
            *session.posargs,
            success_codes=[0, 1],
        )
        if ran is None:  # nox --install-only: nothing ran
            continue
        if not written.is_file():
            session.error(f"refconv conform {name} wrote no report")
        written.replace(report)


def _unless_given(options: list[str], given: list[str]) -> list[str]:
    """The ``--flag value`` pairs of ``options`` whose flag the session's options (``given``) do not
    hold (``--phases`` given replaces ``--suite``)."""
    kept = []
    for flag, value in zip(options[::2], options[1::2], strict=True):
        if flag not in given and not (flag == "--suite" and "--phases" in given):
            kept += [flag, value]
    return kept


def _conform_session(framework: str) -> Callable[[nox.Session], None]:
    def session(session: nox.Session) -> None:
        conform(session, framework)

    session.__doc__ = (
        f"Judge {', '.join(FRAMEWORKS[framework][1])} with refconv conform (options after --); not default."
    )
    return session


for _framework in FRAMEWORKS:  # nox -s conform-tensorflow, conform-mlx, ...
    nox.session(name=f"conform-{_framework}", python=PYTHON, default=False)(_conform_session(_framework))


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation into docs/_build/html, run its examples, check it reads offline.

    jax and torch are installed because the verification page's conformance
    table runs every oracle while the site builds.
    """
    session.install(*NEWEST, *JAX_NEWEST, TORCH, *DOCS, ".")
    build = ["sphinx-build", "-W", "--keep-going", "-n", "-q"]
    session.run(*build, "-b", "html", "docs", "docs/_build/html", *session.posargs)
    session.run(*build, "-b", "doctest", "docs", "docs/_build/doctest")
    session.run("pytest", "docs/test_built_html.py", "-p", "no:cacheprovider")


MUTMUT = "mutmut==3.8.1"


@nox.session(python=PYTHON)
def mutation(session: nox.Session) -> None:
    """Mutation testing of refconv's formulas with mutmut (about two and a half hours); not default.

    Every mutant by default (5,737: about 2.5 hours on 2 cores); a pattern picks fewer:
    ``nox -s mutation -- '*__mutmut_*[37]'`` a deterministic fifth (those whose number ends in 3 or 7,
    about 30 minutes), ``-- 'refconv.geometry*'`` one module. Then it writes docs/mutation/results.json:
    the score per module, each survivor's diff, and the reason for each equivalent one
    (mutation/equivalent.toml). The package itself is not installed: mutmut imports the mutated
    copy it makes in mutants/. jax is not installed either: no mutant needs its oracle to die
    (each has a framework-free test), and compiling per shape would double the run.
    """
    session.install(*NEWEST, TORCH, MUTMUT, *TEST_TOOLS)
    shutil.rmtree("mutants", ignore_errors=True)
    env = {"REFCONV_HYPOTHESIS_EXAMPLES": "10", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    session.run("mutmut", "run", "--max-children", "2", *session.posargs, env=env)
    session.run("python", "-m", "mutation.report", env={**env, "REFCONV_MUTANTS": " ".join(session.posargs)})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Time refconv against torch, jax, onnxruntime and ONNX's reference, and profile it; not default.

    Not a default session. Results go to benchmarks/results/latest.{json,md,png} (times, ratios,
    targets) and benchmarks/results/profile.{json,md} (where refconv's time goes, sampled by py-spy).
    ``nox -s bench -- -k dw3x3`` passes pytest options (and skips the profile).
    """
    session.install(*NEWEST, *JAX_NEWEST, TORCH, *ONNX, *BENCH, *TEST_TOOLS, ".[test]")
    threads = {name: "2" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    results = "benchmarks/results/latest"
    session.run(
        "pytest", "benchmarks", "-p", "no:xdist", "-p", "no:cacheprovider",
        "--benchmark-columns=median,iqr,rounds", f"--benchmark-json={results}.json", *session.posargs,
        env=threads,
    )  # fmt: skip
    session.run(
        "python",
        "-m",
        "benchmarks.report",
        f"{results}.json",
        "--plot",
        f"{results}.png",
        f"--out={results}.md",
    )
    if not session.posargs:
        session.run("python", "-m", "benchmarks.profile", env=threads)
