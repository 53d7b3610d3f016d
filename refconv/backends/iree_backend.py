"""IREE: the convolutions refconv computes a problem with, as StableHLO, compiled for the CPU and run.

The program is :func:`refconv.stablehlo.module` (a function each for ``y`` with its bias, ``dx``
and ``dw``, each one ``stablehlo.convolution`` with refconv's parameters), compiled by
``iree-base-compiler`` for ``llvm-cpu`` and run by ``iree-base-runtime``'s ``local-sync``
driver, on :func:`refconv.stablehlo.arguments`; :func:`refconv.stablehlo.results` puts the
results in the problem's layout (``db`` is refconv's sum of ``dy``, not IREE's). So IREE sees
every parameter set a convolution and its backward pass produce: input dilation, signed padding,
batch groups, the swapped roles of ``dw``. Two compiler flags: ``--iree-llvmcpu-target-cpu=host``,
and ``--iree-input-demote-f64-to-f32=false``, without which IREE turns a float64 module into a
float32 one (its default: the docs' frameworks page says so). Nothing else is worked around: a
compile that fails or crashes, or a result out of its bound, is IREE's verdict.
"""

from __future__ import annotations

from refconv._convspec import ConvSpec
from refconv.backends.base import FLOATS, Backend, Program, cpu_only

__all__ = ["BACKEND", "FLAGS"]

#: The compiler flags the program passes (beside the target and the input type).
FLAGS = ("--iree-llvmcpu-target-cpu=host", "--iree-input-demote-f64-to-f32=false")


def program(s: ConvSpec, device: str = "cpu") -> Program:
    """Compile the StableHLO of ``s``'s convolutions with IREE, for the CPU, and run them."""
    cpu_only(device, "the iree backend compiles for llvm-cpu")
    setup = f'''
import iree.compiler
import iree.runtime

import refconv
from refconv import stablehlo


def compiled(text):
    """The module of this StableHLO text, compiled for the CPU and loaded; a failed compile raises
    with iree-compile's first error (its whole output is the exception's cause)."""
    try:
        binary = iree.compiler.compile_str(
            text, target_backends=["llvm-cpu"], input_type="stablehlo", extra_args={list(FLAGS)!r})
    except iree.compiler.CompilerToolError as error:
        said = str(error)
        errors = [line.split("error: ", 1)[1] for line in said.splitlines() if "error: " in line]
        code = next((line for line in said.splitlines() if line.startswith("Error code:")), "")
        raise RuntimeError("iree-compile: " + (errors[0] if errors else code or said[:200])) from error
    return iree.runtime.load_vm_flatbuffer(binary, driver="local-sync")
'''
    run = f"""
s = {s.source()}
text = stablehlo.module(s, bias=b is not None)  # print(text) shows what IREE compiles
module = compiled(text)
outputs = {{name: getattr(module, name)(*arrays).to_host()
           for name, arrays in stablehlo.arguments(s, x, w, b, dy).items()}}
got = stablehlo.results(s, outputs, dy)
"""
    return Program(setup, run)


BACKEND = Backend(
    "iree",
    ("iree.compiler", "iree.runtime"),
    (*FLOATS, "complex128", "complex64"),
    True,
    program,
    extra="iree",
)
