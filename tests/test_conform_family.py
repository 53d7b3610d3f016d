"""``refconv conform`` on the convolution's family: the case's operator, the one judge, the run.

A case is a convolution spec and an operator (:mod:`refconv.operators`); the judge calls a
backend of the patches, the local or the deformable convolution on the same windows, and every
phase, the shrinker, the confirmation and the reproducer work on it as on a convolution. The
frameworks' adapters are judged here on the curated suite (each verdict that is not ``agree`` is
named: a framework's limitation, or a bug confirmed by refconv.naive and a second oracle).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest

import refconv
from refconv.backends import BUILTIN, Backend, Program, function_backend, get
from refconv.backends.refconv_backend import FAMILY
from refconv.cases import Case, case
from refconv.conform import Judge, run, xfails
from refconv.conform.judge import as_operator
from refconv.conform.reproduce import confirm
from refconv.conform.suite import CURATED
from refconv.operators import OPERANDS, Operator, compute, operand_shapes, result_names, unsupported

PLAIN = case("basic", (2, 4, 7, 6), (3, 4, 3, 2), stride=(2, 1), padding=((1, 0), (0, 2)))


def test_an_operator_names_its_own_choices_only() -> None:
    with pytest.raises(ValueError, match="operator 'pool'"):
        Operator("pool")
    with pytest.raises(ValueError, match="offset_groups=0"):
        Operator("deform", offset_groups=0)
    with pytest.raises(ValueError, match="deformable convolution's, not patches'"):
        Operator("patches", mask=False)
    assert Operator("deform", 2, False).source() == "Operator('deform', offset_groups=2, mask=False)"


def test_a_family_case_has_its_own_id_and_survives_json() -> None:
    """The operator is part of the problem: its id differs from the convolution's, which stays as
    it was (a file of known failures still names it)."""
    deform = as_operator(PLAIN, "deform")
    assert isinstance(deform, Case)
    assert deform.id != PLAIN.id
    assert deform.id.startswith("basic-float64-")
    assert PLAIN.id == "basic-float64-" + PLAIN.id.rsplit("-", 1)[1]
    assert Case.from_json(deform.to_json()) == deform
    assert "op=Operator('deform', offset_groups=2, mask=True)" in repr(deform)
    assert Case.from_json(PLAIN.to_json()) == PLAIN
    assert "op" not in PLAIN.to_json()


@pytest.mark.parametrize(
    ("conv", "name", "why"),
    [
        (case("t", (2, 3, 5), (3, 2, 3), transposed=True), "patches", "no transposed form"),
        (case("g", (2, 4, 5), (4, 2, 3), groups=2), "local", "groups"),
        (case("b", (4, 3, 5), (4, 3, 3), batch_groups=2), "deform", "batch groups"),
        (case("i", (2, 3, 5), (4, 3, 3), input_dilation=2), "deform", "no input dilation"),
        (case("f", (2, 3, 5), (4, 3, 3), dtype="float32"), "deform", "float64 only"),
        (case("p", (2, 3, 5), (4, 3, 3), preferred_element_type="float64", dtype="float32"), "local",
         "preferred_element_type"),
    ],
)  # fmt: skip
def test_what_an_operator_cannot_be_is_said(conv: Case, name: str, why: str) -> None:
    said = as_operator(conv, name)
    assert isinstance(said, str)
    assert why in said


def test_offset_groups_that_do_not_divide_the_channels_are_named() -> None:
    why = unsupported(Operator("deform", 2), refconv.spec((1, 3, 4), (2, 3, 2)))
    assert why == "offset_groups=2 does not divide in_channels=3"
    assert unsupported(Operator("deform", 3), refconv.spec((1, 3, 4), (2, 3, 2))) is None


@pytest.mark.parametrize("name", ["patches", "local", "deform"])
def test_the_operands_have_the_shapes_the_public_functions_take(name: str) -> None:
    """Each operand's shape is what refconv's function of the operator takes, and ``dy`` that of its
    ``y``; its results are named as the VJPs of the operands."""
    c = as_operator(PLAIN, name)
    assert isinstance(c, Case)
    operands = c.operands()
    assert list(operands) == list(operand_shapes(c.op, c.spec, c.bias)) == list(OPERANDS[name])
    got = compute(c.op, c.spec, operands, refconv)
    assert tuple(got) == result_names(c.op) == c.results
    assert got["y"].shape == operands["dy"].shape  # type: ignore[union-attr]
    for result in got:
        source = result[1:]
        if result != "y" and source in operands and operands[source] is not None:
            assert got[result].shape == operands[source].shape  # type: ignore[union-attr]


def test_a_layout_reaches_the_patches_and_the_local_weight() -> None:
    layouts = case(
        "layouts", (2, 6, 5, 3), (3, 2, 3, 4), dimension_numbers=("NHWC", "HWIO", "NHWC"), stride=(2, 1)
    )
    c = as_operator(layouts, "local")
    assert isinstance(c, Case)
    shapes = operand_shapes(c.op, c.spec, True)
    assert shapes["w"] == (2, 4, 18, 4)  # (out..., C K, O): the kernel's layout, HWIO
    assert shapes["dy"] == (2, 2, 4, 4)  # channels last


@pytest.mark.parametrize("name", ["patches", "local", "deform"])
def test_refconv_and_its_loops_agree_on_every_curated_case_they_can_be(name: str) -> None:
    """refconv and refconv.naive of each operator agree on the curated suite within the bounds; the
    cases an operator cannot be are unsupported with the reason."""
    for backend in FAMILY[name]:
        with Judge(backend, isolate=False) as judge:
            outcomes = [judge.judge(c) for c in CURATED]
        verdicts = {o.verdict for o in outcomes}
        assert verdicts == {"agree", "unsupported"}, [(o.case, o.detail) for o in outcomes if o.failed]
        assert sum(o.verdict == "agree" for o in outcomes) >= 29
        assert all(o.case.op.name == name for o in outcomes if o.verdict == "agree")


@pytest.mark.parametrize("dtype", ["float32", "float16", "complex64", "int32"])
def test_the_patches_and_the_local_convolution_in_other_dtypes_agree(dtype: str) -> None:
    """refconv in ``dtype`` is within the bound of each element: the patches copy (bound 0), the
    fold and the local convolution sum K terms."""
    for name in ("patches", "local"):
        with Judge(FAMILY[name][0], isolate=False) as judge:
            outcomes = [judge.judge(c.in_dtype(dtype)) for c in CURATED[:12]]
        assert {o.verdict for o in outcomes} <= {"agree", "unsupported"}, [
            o.detail for o in outcomes if o.failed
        ]


def _buggy(name: str, operator: str, line: str) -> Backend:
    """refconv.naive of ``operator`` with one ``line`` of bug run after it."""
    naive_backend = FAMILY[operator][1]

    def program(s: Any, device: str = "cpu") -> Program:
        p = naive_backend.program(s, device)
        return Program(p.setup, p.run + "\n" + line)

    return Backend(name, (), ("float64", "float32"), True, program, operator=operator)


#: A bug of each operator: the fold adds a little to each element it reaches, the local bias's VJP
#: is counted twice, the offset's VJP has the wrong sign, and an input is written into.
BUGS = {
    "fold": (_buggy("fold-bug", "patches", "got['dx'] += (got['dx'] != 0) * 1e-6"), "disagree", "dx"),
    "bias": (_buggy("bias-bug", "local", "got['db'] = 2 * got['db']"), "disagree", "db"),
    "doffset": (_buggy("sign-bug", "deform", "got['doffset'] = -got['doffset']"), "disagree", "doffset"),
    "mutated": (_buggy("writes-offset", "deform", "offset += 1.0"), "mutated", ""),
}  # fmt: skip


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_family_bug_is_found_shrunk_confirmed_and_reproduced(bug: str) -> None:
    """The run's curated phase finds the bug; the failure is shrunk as a case of the same operator,
    confirmed by refconv.naive of the operator (and jax where installed), and its reproducer, run,
    prints the array out of bound."""
    backend, verdict, array = BUGS[bug]
    report = run(backend, phases=["curated"], examples=0, isolate=False, shrink_seconds=30)
    failed = [o for o in report.outcomes if o.failed]
    assert failed
    assert {o.verdict for o in failed} == {verdict}
    assert all(o.array == array for o in failed)
    failure = report.failures[0]
    assert failure.outcome.case.op.name == backend.operator
    assert failure.outcome.verdict == verdict
    names = failure.confirmation.verdicts
    assert names[f"refconv.naive-{backend.operator}"][0] == "agree"
    if verdict == "mutated":
        return
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(failure.reproducer, "<reproducer>", "exec"), {})
    ratios = {
        line.split()[0]: float(line.split()[-1])
        for line in printed.getvalue().splitlines()
        if "bound" in line
    }
    assert ratios[array] > 1.0
    assert all(r <= 1.0 for name, r in ratios.items() if name != array)


def test_the_random_draws_reach_the_family_through_the_convolutions_they_draw() -> None:
    report = run(FAMILY["local"][0], phases=["random"], examples=15, isolate=False)
    judged = [o for o in report.outcomes if o.verdict != "unsupported"]
    assert judged
    assert all(o.verdict == "agree" for o in judged)
    assert all(o.case.op.name == "local" for o in judged)


# --- the frameworks' adapters -------------------------------------------------------------------

#: What each adapter does on the curated suite that is not ``agree``, by case index: each a
#: limitation of the framework's API (it raises) or, for the reference evaluator, its bug.
NOT_AGREEING = {
    "jax-patches": {37: "raised"},  # no input channels: feature_group_count must be positive
    "jax-local": {37: "raised"},
    "torch-local": {35: "raised", 36: "raised", 37: "raised"},
    "torch-unfold": {35: "raised", 36: "raised", 37: "raised"},  # unfold wants non-zero sizes
    # the gradient of an empty batch or of no channels raises (UnsortedSegmentSum), as does an empty output
    "tensorflow-patches": {33: "raised", 36: "raised", 37: "raised"},
    "onnxruntime-deform": {
        35: "raised",
        36: "raised",
        37: "raised",
    },  # empty input, empty output, no channels
}


@pytest.mark.parametrize("name", list(NOT_AGREEING))
def test_the_framework_adapters_agree_on_the_curated_suite(name: str) -> None:
    backend = BUILTIN[name]
    if not backend.installed():
        pytest.skip(f"{name} needs {backend.install_hint()}")
    with Judge(backend, isolate=False) as judge:
        outcomes = [judge.judge(c) for c in CURATED]
    odd = {i: o.verdict for i, o in enumerate(outcomes) if o.verdict not in ("agree", "unsupported")}
    assert odd == NOT_AGREEING[name], [(outcomes[i].case, outcomes[i].detail) for i in odd]
    assert sum(o.verdict == "agree" for o in outcomes) >= 9


def test_the_deformable_convolution_in_jax_agrees_with_its_five_vjps() -> None:
    """jax-deform (map_coordinates and jax.vjp) is the family's second oracle for the VJPs."""
    backend = BUILTIN["jax-deform"]
    if not backend.installed():
        pytest.skip("jax is not installed")
    with Judge(backend, isolate=False) as judge:
        for index in (0, 10, 12, 20):
            outcome = judge.judge(CURATED[index])
            assert outcome.verdict == "agree", (outcome.case, outcome.detail)
            assert set(outcome.answered) >= {"dx", "dw", "doffset"}


def test_onnx_s_reference_evaluator_rounds_the_sample_points_to_float32() -> None:
    """A bug of the evaluator (its DeformConv samples through GridSample in float32 even for float64
    inputs): y is off by about 1e-7 relative, far outside float64's bound, while refconv.naive and
    onnxruntime agree. If this starts to agree, the evaluator was fixed: update the docs."""
    backend = BUILTIN["onnx-reference-deform"]
    if not backend.installed() or not BUILTIN["onnxruntime-deform"].installed():
        pytest.skip("onnx and onnxruntime are not installed")
    with Judge(backend, isolate=False) as judge:
        outcome = judge.judge(CURATED[0])
    assert outcome.verdict == "disagree"
    assert outcome.array == "y"
    worst = outcome.worst
    assert worst is not None
    assert 1e-9 < worst.max_abs_diff < 1e-4
    confirmation = confirm(backend, outcome, lambda b: Judge(b, isolate=False))
    assert confirmation.verdicts["refconv.naive-deform"][0] == "agree"


def test_a_convolution_backend_is_not_asked_a_family_case() -> None:
    family = as_operator(PLAIN, "patches")
    assert isinstance(family, Case)
    with Judge(BUILTIN["refconv"], isolate=False) as judge:
        outcome = judge.judge(family)
    assert outcome.verdict == "unsupported"
    assert "a patches case, not conv's" in outcome.detail


def test_a_known_failure_of_the_family_is_skipped_by_its_own_id() -> None:
    """``--write-xfails`` names a family failure by its operator's case; ``--xfail-mode skip`` finds
    it by that name before the case is judged."""
    backend, _, _ = BUGS["doffset"]
    first = run(backend, phases=["curated"], examples=0, isolate=False, shrink_seconds=1)
    failing = [o for o in first.outcomes if o.failed]
    lines = tuple(xfails.parse("\n".join(f"{o.case.id} disagree" for o in failing)))
    second = run(backend, phases=["curated"], examples=0, isolate=False, xfails=lines, xfail_mode="skip")
    assert len(second.skipped) == len(failing)
    assert not [o for o in second.outcomes if o.failed]


def test_a_user_s_own_family_kernel_is_a_function_with_an_operator() -> None:
    """``module:function`` with ``operator`` set is judged as that operator in a worker process,
    its program calling the function with the operands by name; a correct im2col agrees, a
    deformable kernel with the wrong offset VJP sign is caught, shrunk and confirmed."""
    patches = get("tests.fake_backends:my_patches")
    assert patches.operator == "patches"
    assert "my_patches(refconv.spec(" in patches.program(PLAIN.spec).run
    report = run(patches, phases=["curated"], examples=0)
    assert {o.verdict for o in report.outcomes} == {"agree", "unsupported"}
    deform = get("tests.fake_backends:my_deform_offset_sign")
    report = run(deform, phases=["curated"], examples=0, shrink_seconds=20)
    assert {o.array for o in report.outcomes if o.failed} == {"doffset"}
    failure = report.failures[0]
    assert failure.outcome.case.op.name == "deform"
    assert failure.confirmation.verdicts["refconv.naive-deform"][0] == "agree"


def test_a_function_with_an_unknown_operator_is_named() -> None:
    def pool(spec: Any, x: Any, dy: Any) -> dict[str, Any]:
        return {}

    pool.operator = "pool"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="operator='pool'; expected one of conv, patches, local, deform"):
        function_backend(pool, "my-pool")
