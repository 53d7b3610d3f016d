"""Golden test vectors: ``x, w, b, dy`` and refconv's ``y, dx, dw, db`` over a standard grid.

:func:`write_vectors` writes one ``.npz`` per case and a ``manifest.json``
with each case's parameters, shapes, dtype and seed, refconv's version, and
the largest difference to :mod:`refconv.naive` and to every oracle installed
when the vectors were made. The bytes depend only on the seed and the
installed versions: the ``.npz`` files carry fixed timestamps, and the
manifest is written with sorted keys.

Examples
--------
>>> import json, pathlib, tempfile, numpy as np
>>> from refconv.vectors import write_vectors
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> manifest = write_vectors(out, oracles=[])
>>> case = manifest["cases"][0]
>>> arrays = np.load(out / case["file"])
>>> sorted(arrays.files), case["parameters"]["stride"]
(['b', 'db', 'dw', 'dx', 'dy', 'w', 'x', 'y'], [3])
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv._version import __version__
from refconv.backends.refconv_backend import NAIVE
from refconv.backends.registry import BUILTIN, available
from refconv.cases import Case, case
from refconv.conform.judge import Judge
from refconv.testing.bounds import results

__all__ = ["FORMATS", "VECTORS", "write_stablehlo", "write_vectors"]

#: What ``refconv vectors --format`` writes: ``.npz`` per case, or StableHLO modules with ``.npy`` files.
FORMATS = ("npz", "stablehlo")

#: The grid, each case named by its ``feature``: every parameter, 1- to 3-d, and the edge cases
#: (r > 0, negative padding, depthwise, batch groups, an empty batch, padding modes and words).
VECTORS: list[Case] = [
    case("1d-stride3-r2", (3, 4, 12), (5, 4, 3), stride=(3,), padding=((1, 1),)),
    case("1d-negative-padding", (2, 3, 13), (4, 3, 4), bias=False, stride=(2,), padding=((-2, 3),)),
    case("1d-input-dilation3", (2, 3, 7), (5, 3, 3), stride=(2,), input_dilation=(3,), padding=((1, 2),)),
    case("2d-plain", (2, 3, 7, 6), (4, 3, 3, 2)),
    case("2d-stride2-pad1", (3, 2, 9, 8), (5, 2, 3, 3), stride=(2, 2), padding=((1, 1), (1, 1))),
    case("2d-dilation", (2, 3, 10, 11), (4, 3, 3, 2),
         stride=(2, 1), dilation=(2, 3), padding=((1, 1), (2, 2))),
    case("2d-groups3", (2, 6, 8, 7), (9, 2, 3, 2), bias=False, stride=(2, 2), groups=3),
    case("2d-depthwise", (2, 5, 9, 8), (10, 1, 3, 3), stride=(2, 2), padding=((1, 1), (1, 1)), groups=5),
    case("2d-batch-groups2", (6, 3, 7, 8), (4, 3, 3, 2),
         stride=(2, 2), padding=((1, 1), (1, 1)), batch_groups=2),
    case("2d-every-parameter", (3, 4, 9, 8), (6, 2, 3, 2),
         stride=(2, 3), padding=((2, -1), (0, 3)), dilation=(2, 1), input_dilation=(1, 2), groups=2),
    case("2d-same-stride2", (2, 3, 7, 6), (4, 3, 4, 3), stride=(2, 2), padding="same"),
    case("2d-reflect", (2, 3, 7, 6), (4, 3, 3, 3), padding=((2, 2), (1, 1)), padding_mode="reflect"),
    case("2d-circular", (2, 3, 7, 6), (4, 3, 3, 2), padding=((1, 2), (2, 0)), padding_mode="circular"),
    case("2d-empty-batch", (0, 3, 7, 6), (4, 3, 3, 2), padding=((1, 1), (1, 1))),
    case("3d", (2, 3, 6, 5, 7), (4, 3, 2, 3, 2),
         stride=(2, 1, 3), dilation=(1, 2, 1), padding=((1, 0), (0, 1), (1, 1))),
]  # fmt: skip


def _write_npz(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    """``numpy.savez`` with fixed timestamps and order, so that equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue()
            )


def _max_diffs(vector: Case, judges: Sequence[Judge]) -> dict[str, float | str]:
    """The largest difference of any array from refconv's, for refconv.naive and each oracle."""
    diffs: dict[str, float | str] = {}
    for judge in judges:
        outcome = judge.judge(vector)
        if outcome.verdict == "unsupported":
            diffs[judge.backend.name] = f"not expressible: {outcome.detail}"
        elif outcome.failed:
            diffs[judge.backend.name] = f"FAILED: {outcome.verdict}: {outcome.headline}"
        else:
            diffs[judge.backend.name] = max(c.max_abs_diff for c in outcome.comparisons)
    return diffs


def _parameters(vector: Case) -> dict[str, Any]:
    """The case's keywords as JSON: tuples as lists."""

    def plain(value: Any) -> Any:
        return [plain(v) for v in value] if isinstance(value, tuple) else value

    return {name: plain(value) for name, value in vector.spec.options().items()}


def write_vectors(out: Path | str, seed: int = 0, oracles: Sequence[str] | None = None) -> dict[str, Any]:
    """Write ``<id>.npz`` for each of :data:`VECTORS` and ``manifest.json`` into ``out``; return the manifest.

    Case ``i`` draws standard-normal float64 ``x, w, b, dy`` from
    ``numpy.random.default_rng([seed, i])`` (:meth:`refconv.cases.Case.arrays`). ``oracles`` defaults to every
    installed one (:func:`refconv.backends.available`).
    """
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    chosen = available() if oracles is None else list(oracles)
    judges = [Judge(NAIVE), *(Judge(BUILTIN[name]) for name in chosen)]
    cases = []
    try:
        for index, vector in enumerate(VECTORS):
            vector = replace(vector, seed=(seed, index))
            s, arrays = vector.spec, vector.arrays()
            computed = {"x": arrays.x, "w": arrays.w, "dy": arrays.dy, **results(s, *arrays)}
            if arrays.b is not None:
                computed["b"] = arrays.b
            _write_npz(directory / f"{vector.feature}.npz", computed)
            cases.append(
                {
                    "id": vector.feature,
                    "file": f"{vector.feature}.npz",
                    "parameters": _parameters(vector),
                    "bias": vector.bias,
                    "shapes": {name: list(a.shape) for name, a in sorted(computed.items())},
                    "dtype": "float64",
                    "seed": [seed, index],
                    "max_abs_diff": _max_diffs(vector, judges),
                }
            )
    finally:
        for judge in judges:
            judge.close()
    manifest = {
        "refconv_version": __version__,
        "layout": "x (N, C_in, *spatial), w (C_out, C_in // groups, *kernel), "
        "y and dy (N // batch_groups, C_out, *out)",
        "cases": cases,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def write_stablehlo(out: Path | str, seed: int = 0) -> dict[str, Any]:
    """Write, for each of :data:`VECTORS`, ``<id>/module.mlir`` (:func:`refconv.stablehlo.module`: the
    convolutions of ``y``, ``dx`` and ``dw``), each function's inputs ``<fn>.in<k>.npy`` and expected
    output ``<fn>.expected.npy``, and ``manifest.json`` with the ``iree-compile`` and
    ``iree-run-module`` commands that check them; return the manifest.

    The expected outputs are refconv's (:func:`refconv.stablehlo.outputs`); each command's
    ``--expected_f64_threshold`` is the largest round-off bound of its output's elements
    (:func:`refconv.testing.rounding_bound` of the sums of absolute products, :math:`K` products
    each), and its relative tolerance 0.
    """
    from refconv import stablehlo
    from refconv.testing.bounds import rounding_bound

    directory = Path(out)
    cases = []
    for index, vector in enumerate(VECTORS):
        vector = replace(vector, seed=(seed, index))
        s, (x, w, b, dy) = vector.spec, vector.arrays()
        folder = directory / vector.feature
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "module.mlir").write_text(stablehlo.module(s, bias=b is not None))
        given = stablehlo.arguments(s, x, w, b, dy)
        expected = stablehlo.outputs(s, given)
        absolute = stablehlo.outputs(
            s, {name: tuple(np.abs(a) for a in arrays) for name, arrays in given.items()}
        )
        counts = stablehlo.terms(s)
        functions = {}
        for name, arrays in given.items():
            for k, array in enumerate(arrays):
                np.save(folder / f"{name}.in{k}.npy", np.ascontiguousarray(array))
            np.save(folder / f"{name}.expected.npy", np.ascontiguousarray(expected[name]))
            bound = rounding_bound(absolute[name], counts[name] + (name == "y" and b is not None), s.dtype)
            atol = float(np.max(bound, initial=0.0))
            files = [f"{name}.in{k}.npy" for k in range(len(arrays))]
            run = [
                "iree-run-module --device=local-sync --module=module.vmfb", f"--function={name}",
                *(f"--input=@{f}" for f in files), f"--expected_output=@{name}.expected.npy",
                f"--expected_f64_threshold={atol!r} --expected_rtol=0",
            ]  # fmt: skip
            functions[name] = {"inputs": files, "expected": f"{name}.expected.npy", "atol": atol,
                               "terms": counts[name], "run": " ".join(run)}  # fmt: skip
        cases.append({"id": vector.feature, "folder": vector.feature, "parameters": _parameters(vector),
                      "bias": vector.bias, "functions": functions})  # fmt: skip
    manifest = {
        "refconv_version": __version__,
        "compile": "iree-compile module.mlir --iree-input-type=stablehlo --iree-hal-target-backends=llvm-cpu "
        "--iree-input-demote-f64-to-f32=false -o module.vmfb",
        "layout": "canonical, x (N, C_in, *spatial): the functions take and return what module.mlir says",
        "cases": cases,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
