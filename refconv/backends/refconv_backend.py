"""refconv and :mod:`refconv.naive` as backends, judged like any other: ``refconv check`` runs both.

``refconv`` computes in the case's dtype (its round-off is judged against the float64
reference); ``refconv.naive`` is the independent road, loops from the definition. Each is a
backend of every operator (:data:`FAMILY`: ``refconv-patches``, ``refconv.naive-deform``, ...):
the loops confirm a framework's failure on the family as on the convolution.
"""

from __future__ import annotations

from collections.abc import Callable

from refconv._convspec import ConvSpec
from refconv.backends.base import Backend, Program
from refconv.cases import DTYPES
from refconv.operators import OPERANDS


def _program(module: str) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        del device  # NumPy runs on the CPU
        setup = "import refconv\nfrom refconv import naive\nfrom refconv.testing import results\n"
        run = f"got = results({s.source()}, x, w, b, dy, module={module})"
        return Program(setup, run)

    return program


def _family(module: str, operator: str) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        del device
        setup = "import refconv\nfrom refconv import naive\nfrom refconv.operators import Operator, compute\n"
        given = ", ".join(f"{name}={name}" for name in OPERANDS[operator])
        op = (
            "Operator('deform', mask=mask is not None)" if operator == "deform" else f"Operator({operator!r})"
        )
        run = f"""
operands = {{name: a for name, a in dict({given}).items() if a is not None}}
got = compute({op}, {s.source()}, operands, {module})
"""
        return Program(setup, run)

    return program


REFCONV = Backend("refconv", (), DTYPES, True, _program("None"))
NAIVE = Backend("refconv.naive", (), DTYPES, True, _program("naive"))
#: refconv and refconv.naive as backends of each operator of the family, by operator.
FAMILY: dict[str, tuple[Backend, Backend]] = {
    op: (
        Backend(f"refconv-{op}", (), DTYPES, True, _family("refconv", op), operator=op),
        Backend(f"refconv.naive-{op}", (), DTYPES, True, _family("naive", op), operator=op),
    )
    for op in ("patches", "local", "deform")
}
