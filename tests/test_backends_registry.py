"""Backends by name: built-ins, module:function, and what a name that is neither says."""

from __future__ import annotations

from typing import Any

import pytest

import refconv
from refconv import backends
from refconv.backends import function_backend, get
from tests.fake_backends import correct


def test_a_function_by_its_import_path_is_imported_by_its_program() -> None:
    backend = get("tests.fake_backends:correct")
    assert (backend.dtypes, backend.gradients) == (("float64", "float32"), True)
    program = backend.program(refconv.spec((1, 1, 2), (1, 1, 1)))
    assert "from tests.fake_backends import correct" in program.setup
    assert not program.bindings  # a worker process imports it itself


def test_a_function_given_as_an_object_travels_with_its_program() -> None:
    def local(spec: Any, x: Any, w: Any, b: Any, dy: Any) -> dict[str, Any]:
        return correct(spec, x, w, b, dy)

    backend = function_backend(local, "my-local-function", dtypes=("float32",))
    program = backend.program(refconv.spec((1, 1, 2), (1, 1, 1)))
    assert program.bindings == {"function": local}
    assert (backend.dtypes, backend.gradients) == (("float32",), None)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "nonesuch",
            "unknown backend 'nonesuch'; choose from iree, jax, jax-conv-transpose, jax-conv-transpose-",
        ),
        ("tests.fake_backends:nonesuch", "cannot import 'nonesuch' from 'tests.fake_backends'"),
        ("tests.fake_backends:FAKE_CONSTANT", "is int, neither a Backend nor a function"),
    ],
)
def test_a_name_that_is_no_backend_says_what_exists(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        get(name)


def test_the_oracles_are_jax_and_torch_and_available_lists_the_installed() -> None:
    assert list(backends.ORACLES) == ["jax", "torch"]
    assert set(backends.available()) <= {"jax", "torch"}
    assert backends.available(["refconv.naive"]) == ["refconv.naive"]
