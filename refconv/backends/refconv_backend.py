"""refconv and :mod:`refconv.naive` as backends, judged like any other: ``refconv check`` runs both.

``refconv`` computes in the case's dtype (its round-off is judged against the float64
reference); ``refconv.naive`` is the independent road, loops from the definition.
"""

from __future__ import annotations

from collections.abc import Callable

from refconv._convspec import ConvSpec
from refconv.backends.base import Backend, Program
from refconv.cases import DTYPES


def _program(module: str) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        del device  # NumPy runs on the CPU
        setup = "import refconv\nfrom refconv import naive\nfrom refconv.testing import results\n"
        run = f"got = results({s.source()}, x, w, b, dy, module={module})"
        return Program(setup, run)

    return program


REFCONV = Backend("refconv", (), DTYPES, True, _program("None"))
NAIVE = Backend("refconv.naive", (), DTYPES, True, _program("naive"))
