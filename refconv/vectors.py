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
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

import refconv
from refconv import naive
from refconv._spec import ConvSpec
from refconv.backends import ORACLES, Unsupported, available
from refconv.testing import ARRAYS, Results, results

__all__ = ["CASES", "write_vectors"]

#: ``(id, x_shape, w_shape, keywords, bias)``: every parameter, 1- to 3-d, and the edge cases
#: (r > 0, negative padding, depthwise, batch groups, an empty batch, padding modes and words).
CASES: list[tuple[str, tuple[int, ...], tuple[int, ...], dict[str, Any], bool]] = [
    ("1d-stride3-r2", (3, 4, 12), (5, 4, 3), {"stride": [3], "padding": [[1, 1]]}, True),
    ("1d-negative-padding", (2, 3, 13), (4, 3, 4), {"stride": [2], "padding": [[-2, 3]]}, False),
    ("1d-input-dilation3", (2, 3, 7), (5, 3, 3),
     {"stride": [2], "input_dilation": [3], "padding": [[1, 2]]}, True),
    ("2d-plain", (2, 3, 7, 6), (4, 3, 3, 2), {}, True),
    ("2d-stride2-pad1", (3, 2, 9, 8), (5, 2, 3, 3), {"stride": [2, 2], "padding": [[1, 1], [1, 1]]}, True),
    ("2d-dilation", (2, 3, 10, 11), (4, 3, 3, 2),
     {"stride": [2, 1], "dilation": [2, 3], "padding": [[1, 1], [2, 2]]}, True),
    ("2d-groups3", (2, 6, 8, 7), (9, 2, 3, 2), {"stride": [2, 2], "groups": 3}, False),
    ("2d-depthwise", (2, 5, 9, 8), (10, 1, 3, 3),
     {"stride": [2, 2], "padding": [[1, 1], [1, 1]], "groups": 5}, True),
    ("2d-batch-groups2", (6, 3, 7, 8), (4, 3, 3, 2),
     {"stride": [2, 2], "padding": [[1, 1], [1, 1]], "batch_groups": 2}, True),
    ("2d-every-parameter", (3, 4, 9, 8), (6, 2, 3, 2),
     {"stride": [2, 3], "padding": [[2, -1], [0, 3]], "dilation": [2, 1], "input_dilation": [1, 2],
      "groups": 2}, True),
    ("2d-same-stride2", (2, 3, 7, 6), (4, 3, 4, 3), {"stride": [2, 2], "padding": "same"}, True),
    ("2d-reflect", (2, 3, 7, 6), (4, 3, 3, 3),
     {"padding": [[2, 2], [1, 1]], "padding_mode": "reflect"}, True),
    ("2d-circular", (2, 3, 7, 6), (4, 3, 3, 2),
     {"padding": [[1, 2], [2, 0]], "padding_mode": "circular"}, True),
    ("2d-empty-batch", (0, 3, 7, 6), (4, 3, 3, 2), {"padding": [[1, 1], [1, 1]]}, True),
    ("3d", (2, 3, 6, 5, 7), (4, 3, 2, 3, 2),
     {"stride": [2, 1, 3], "dilation": [1, 2, 1], "padding": [[1, 0], [0, 1], [1, 1]]}, True),
]  # fmt: skip


def _keywords(parameters: dict[str, Any]) -> dict[str, Any]:
    """JSON parameters as refconv keywords (lists of pairs become tuples)."""
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        out[name] = value
    return out


def _write_npz(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    """``numpy.savez`` with fixed timestamps and order, so that equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue()
            )


def _max_diffs(s: ConvSpec, arrays: Results, oracles: Sequence[str]) -> dict[str, float | str]:
    """The largest difference of any array from refconv.naive and from each oracle."""
    operands = (arrays["x"], arrays["w"], arrays.get("b"), arrays["dy"])
    others = {"refconv.naive": results(s, *operands, module=naive)}
    diffs: dict[str, float | str] = {}
    for name in oracles:
        try:
            others[name] = ORACLES[name](s, *operands)
        except Unsupported as reason:
            diffs[name] = f"not expressible: {reason}"
    for name, got in others.items():
        diffs[name] = max(float(np.max(np.abs(got[a] - arrays[a]), initial=0.0)) for a in ARRAYS)
    return diffs


def write_vectors(out: Path | str, seed: int = 0, oracles: Sequence[str] | None = None) -> dict[str, Any]:
    """Write ``<id>.npz`` for each of :data:`CASES` and ``manifest.json`` into ``out``; return the manifest.

    Case ``i`` draws standard-normal float64 ``x, w, b, dy`` from
    ``numpy.random.default_rng([seed, i])``. ``oracles`` defaults to every
    installed one (:func:`refconv.backends.available`).
    """
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    chosen = available() if oracles is None else list(oracles)
    cases = []
    for index, (case_id, x_shape, w_shape, parameters, bias) in enumerate(CASES):
        s = refconv.spec(x_shape, w_shape, **_keywords(parameters))
        rng = np.random.default_rng([seed, index])
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        b = rng.standard_normal(w_shape[0]) if bias else None
        dy = rng.standard_normal(s.y_shape)
        arrays = {"x": x, "w": w, "dy": dy, **results(s, x, w, b, dy)}
        if b is not None:
            arrays["b"] = b
        _write_npz(directory / f"{case_id}.npz", arrays)
        cases.append(
            {
                "id": case_id,
                "file": f"{case_id}.npz",
                "parameters": parameters,
                "bias": bias,
                "shapes": {name: list(a.shape) for name, a in sorted(arrays.items())},
                "dtype": "float64",
                "seed": [seed, index],
                "max_abs_diff": _max_diffs(s, arrays, chosen),
            }
        )
    manifest = {
        "refconv_version": refconv.__version__,
        "layout": "x (N, C_in, *spatial), w (C_out, C_in // groups, *kernel), "
        "y and dy (N // batch_groups, C_out, *out)",
        "cases": cases,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
