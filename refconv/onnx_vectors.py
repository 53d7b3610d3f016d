"""Golden vectors as ONNX backend test data: what ONNX runtimes already run, with refconv's values.

:func:`write_onnx` writes the forward of every golden case (:data:`refconv.vectors.VECTORS`) and
curated case (:data:`refconv.conform.CURATED`) that one ONNX ``Conv`` or ``ConvTranspose`` node
can say (:func:`refconv.backends.onnx_backend.attributes`; the rest are listed in the manifest with
the reason), in the layout of ONNX's own backend tests::

    <out>/refconv/test_<id>/model.onnx
    <out>/refconv/test_<id>/test_data_set_0/input_0.pb, input_1.pb [, input_2.pb], output_0.pb
    <out>/refconv/test_<id>/data.json      {"atol": ..., "rtol": 0}

so that ``onnx.backend.test.loader.load_model_tests(out, kind="refconv")`` loads them and
``onnx.backend.test.runner.Runner`` runs them over any ONNX backend. In float32, the dtype every
ONNX runtime has a Conv kernel for. The tolerance is refconv's: ``atol`` is the largest
round-off bound of the case's elements in float32 (:func:`refconv.testing.bounds.reference_and_bounds`:
:math:`\\gamma_K` of the sums of absolute products, :math:`K` products each, and the rounding of the
result, plus the half ulp by which the expected float32 value may differ from the exact one),
``rtol`` 0, so a runner's ``|out - expected| <= atol`` holds for every element within its bound.
The expected outputs are refconv's float64 values rounded to float32.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from refconv._version import __version__
from refconv.backends.base import Unsupported
from refconv.backends.onnx_backend import OPSET, attributes
from refconv.cases import Case
from refconv.testing.bounds import reference_and_bounds

__all__ = ["KIND", "model", "write_onnx"]

#: The folder under ``out`` that ``load_model_tests(out, kind=KIND)`` reads.
KIND = "refconv"


def model(case: Case) -> Any:
    """The ONNX model of ``case``'s forward: one node, inputs ``x``, ``w`` (and ``b``), output ``y``."""
    from onnx import helper

    s = case.spec
    operator = "ConvTranspose" if s.transposed else "Conv"
    element = helper.np_dtype_to_tensor_dtype(s.dtype)
    shapes = {"x": s.x_shape, "w": s.w_shape, **({"b": (s.y_shape[1],)} if case.bias else {})}
    node = helper.make_node(operator, list(shapes), ["y"], **attributes(s))
    graph = helper.make_graph(
        [node], f"refconv_{operator.lower()}",
        [helper.make_tensor_value_info(name, element, shape) for name, shape in shapes.items()],
        [helper.make_tensor_value_info("y", element, s.y_shape)],
    )  # fmt: skip
    opsets = [helper.make_opsetid("", OPSET)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def write_onnx(out: Path | str, seed: int = 0) -> dict[str, Any]:
    """Write the ONNX backend test data of the golden and curated cases ONNX can say, in float32, and
    ``manifest.json`` (each case's id, its tolerance, and the cases left out with the reason);
    return the manifest."""
    import onnx
    from onnx import numpy_helper

    from refconv.conform.suite import curated
    from refconv.vectors import VECTORS

    root = Path(out) / KIND
    cases = [replace(c, seed=(seed, i)).in_dtype("float32") for i, c in enumerate(VECTORS)]
    cases += [c.in_dtype("float32") for c in curated(("float64",), seed)]
    written, left_out = [], {}
    for made in cases:
        name = f"test_{made.feature}" if made.feature in {v.feature for v in VECTORS} else f"test_{made.id}"
        try:
            if made.spec.dimension_numbers is not None:
                raise Unsupported("ONNX's Conv is NC... only: in its layout this is another case's problem")
            proto = model(made)
        except Unsupported as reason:
            left_out[name] = str(reason)
            continue
        s = made.spec
        x, w, b, dy = made.arrays()
        (reference, bound) = reference_and_bounds(s, x, w, b, dy, s.dtype, which=("y",))["y"]
        folder = root / name / "test_data_set_0"
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(proto, root / name / "model.onnx")
        for index, array in enumerate(a for a in (x, w, b) if a is not None):
            (folder / f"input_{index}.pb").write_bytes(numpy_helper.from_array(array).SerializeToString())
        expected = np.asarray(reference, np.float32)
        (folder / "output_0.pb").write_bytes(numpy_helper.from_array(expected).SerializeToString())
        # each element within its bound of the exact value, which the expected float32 is within half
        # a float32 ulp of: the runner's |out - expected| <= atol holds for every element in bound
        atol = float(np.max(bound + np.finfo(np.float32).eps / 2 * np.abs(reference), initial=0.0))
        (root / name / "data.json").write_text(json.dumps({"atol": atol, "rtol": 0.0}) + "\n")
        written.append({"name": name, "spec": s.source(), "bias": made.bias, "atol": atol})
    manifest = {"refconv_version": __version__, "kind": KIND, "opset": OPSET, "dtype": "float32",
                "cases": written, "left_out": left_out}  # fmt: skip
    (Path(out) / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
