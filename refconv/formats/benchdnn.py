r"""oneDNN's benchdnn convolution descriptors (``--conv`` and ``--deconv``) and their batch files.

A descriptor such as ``g1mb2ic16ih7oc16oh7kh3ph1n"x"`` names, in any order, ``g mb ic id ih iw oc
od oh ow kd kh kw sd sh sw pd ph pw dd dh dw`` with a whole number each, ``_`` between them
ignored, and ``n`` starts the name, which is the rest of the string. The rules are
``tests/benchdnn/conv/conv_aux.cpp`` (``str2desc``) and ``common.cpp`` (``sanitize_desc``) of
oneDNN, followed here:

* defaults: ``mb`` 2, ``g`` 1, strides 1, **dilation 0** (benchdnn's dilation is zero-based: the
  kernel spans :math:`(k - 1)(d + 1) + 1`; refconv's is :math:`d + 1`), padding 0;
* a spatial dim is used if any of its ``i k o d`` is given, its stride is not 1 or its padding is
  at least 1; the problem has as many spatial dims as outputs are known, ``d`` alone is copied to
  ``h`` and ``w`` (cubic), ``h`` alone to ``w`` (square), ``w`` alone is 1-d;
* a missing output is :math:`(i - ext + 2p) / s + 1` and a given one with no padding derives the
  left padding :math:`((o - 1) s - i + ext) / 2`, both in C's division, which truncates toward
  zero (not Python's ``//``);
* the right padding is always derived, :math:`(o - 1) s - i + ext - p`, and may be negative
  (rows no window reads): refconv's signed padding says it as it is.

A ``--deconv`` descriptor is the transposed convolution of its ``i`` (the small input) to its
``o``: :math:`o = (i - 1) s + (k - 1)(d + 1) - 2p + 1`, the same formulas with ``i`` and ``o``
swapped. ``--dir`` says what the engine's test computes (``FWD_B`` y with a bias, ``FWD_D``,
``FWD_I`` y, ``BWD_D`` dx, ``BWD_W`` dw, ``BWD_WB`` dw and db, ``BWD_DW`` dx and dw); ``--dt`` the
data types (one, or ``src:wei:dst``: refconv needs ``src`` = ``wei``; a ``dst`` of its own is the
dtype the problem computes in, its operands holding ``src`` values: a case whose ``drawn_in`` is ``src``);
``--mb`` replaces the batch. Options that choose an implementation or
a memory format (``--alg``, ``--stag``, ``--impl``, ...) do not change the values and are ignored;
post-ops (``--attr-post-ops``) do, and a problem under them is refused.

Examples
--------
>>> from refconv.formats import benchdnn
>>> p = benchdnn.problem('g1mb50ic3ih224iw224oc64oh112ow112kh7kw7sh2sw2ph3pw3n"resnet_50:conv1"')
>>> p.case.spec.padding, p.case.spec.y_shape
(((3, 2), (3, 2)), (50, 64, 112, 112))
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from refconv.cases import case
from refconv.formats.problem import DIRECTIONS, MIXED, Problem, mixed

__all__ = ["KEYS", "Options", "batch", "descriptor", "problem"]

#: Every key of a descriptor, in the order benchdnn's parser tries them.
KEYS = ("g", "mb", "ic", "id", "ih", "iw", "oc", "od", "oh", "ow", "kd", "kh", "kw",
        "sd", "sh", "sw", "pd", "ph", "pw", "dd", "dh", "dw")  # fmt: skip
_KEY = re.compile("|".join(KEYS))
#: ``--dir`` values and what each test computes.
DIRECTIONS_BY_NAME = {
    "FWD_B": "forward", "FWD_D": "forward", "FWD_I": "forward", "BWD_D": "backward_data",
    "BWD_W": "backward_weights", "BWD_WB": "backward_weights_bias", "BWD_DW": "backward",
}  # fmt: skip
#: benchdnn's data type names that refconv computes in.
DTYPES = {
    "f64": "float64", "f32": "float32", "f16": "float16", "bf16": "bfloat16", "s8": "int8", "u8": "uint8",
    "s32": "int32",
}  # fmt: skip


def _c_division(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def descriptor(text: str, deconv: bool = False) -> dict[str, int | str]:
    """The fields of a descriptor after benchdnn's defaults, square/cubic rule and derived sizes:
    every key of :data:`KEYS`, ``pd_r ph_r pw_r`` (the right paddings), ``ndims`` and ``name``.
    A ValueError names what benchdnn would refuse."""
    unset: dict[str, int | str] = {"g": -1, "mb": 2, "sd": 1, "sh": 1, "sw": 1, "pd": -1, "ph": -1, "pw": -1}
    d: dict[str, int | str] = {**dict.fromkeys(KEYS, 0), **unset, "name": ""}
    position = 0
    while position < len(text):
        match = _KEY.match(text, position)
        if match is None:
            if text[position] == "n":
                d["name"] = text[position + 1 :]
                break
            if text[position] == "_" and text[position - 1].isdigit():  # after a key's value only
                position += 1
                continue
            raise ValueError(f"benchdnn descriptor {text!r}: unrecognized {text[position:]!r}")
        number = re.match(r"[+-]?\d+", text[match.end() :])
        if number is None:
            raise ValueError(f"benchdnn descriptor {text!r}: no value for {match.group()!r}")
        if int(number.group()) < 0:
            raise ValueError(f"benchdnn descriptor {text!r}: {match.group()} must be >= 0")
        d[match.group()] = int(number.group())
        position = match.end() + number.end()
    return _sizes(d, text, deconv)


def _sizes(d: dict[str, int | str], text: str, deconv: bool) -> dict[str, int | str]:
    v = {k: int(x) for k, x in d.items() if k != "name"}  # the numbers, typed
    if v["g"] == 0:
        raise ValueError(f"benchdnn descriptor {text!r}: g must be > 0")
    v["g"] = max(v["g"], 1)
    for key in ("ic", "oc", "sd", "sh", "sw"):
        if v[key] <= 0:
            raise ValueError(f"benchdnn descriptor {text!r}: {key} must be > 0 (got {v[key]})")
    for x in "dhw":
        i, k, o, s, p, dil = (v[c + x] for c in "ikospd")
        if (i | k | o | dil) == 0 and s == 1 and p < 1:
            continue  # a dim not used
        if i <= 0 or k <= 0:
            raise ValueError(f"benchdnn descriptor {text!r}: i{x} and k{x} are needed for the {x} dim")
        ext = (k - 1) * (dil + 1) + 1
        if not o:
            v["p" + x] = p = max(p, 0)
            o = (i - 1) * s + ext - 2 * p if deconv else _c_division(i - ext + 2 * p, s) + 1
            if o <= 0:
                raise ValueError(f"benchdnn descriptor {text!r}: the {x} output would be {o}")
            v["o" + x] = o
        elif p < 0:
            v["p" + x] = _c_division(((i - 1) * s - o + ext) if deconv else ((o - 1) * s - i + ext), 2)
    _fill(v, text)
    for x in "dhw":
        i, k, o, s, p, dil = (v[c + x] for c in "ikospd")
        ext = (k - 1) * (dil + 1) + 1
        v[f"p{x}_r"] = ((i - 1) * s - o + ext - p) if deconv else ((o - 1) * s - i + ext - p)
    return {**v, "name": d["name"]}


def _fill(v: dict[str, int], text: str) -> None:
    """benchdnn's ``sanitize_desc``: the number of spatial dims from the outputs known, ``d`` copied to
    ``h`` and ``w`` (cubic), ``h`` to ``w`` (square), and the unused leading dims set to size 1."""
    family = {x: [c + x for c in "oiksp"] + ["d" + x] for x in "dhw"}  # d: dd, dh, dw
    missing = {x: v["o" + x] == 0 for x in "dhw"}
    ndims = (
        5 - missing["d"] - (missing["d"] and missing["h"]) - (missing["d"] and missing["h"] and missing["w"])
    )
    if ndims <= 2:
        raise ValueError(f"benchdnn descriptor {text!r}: no spatial dim")
    if ndims == 5 and missing["h"] and missing["w"]:
        for a, b, c in zip(family["d"], family["h"], family["w"], strict=True):
            v[b] = v[c] = v[a]
    elif ndims == 5 and (missing["h"] or missing["w"]):
        raise ValueError(f"benchdnn descriptor {text!r}: a 3-d problem needs both h and w, or neither")
    elif ndims == 4 and missing["w"]:
        for b, c in zip(family["h"], family["w"], strict=True):
            v[c] = v[b]
    for number, x in enumerate("dh"):
        if ndims < 5 - number:
            for key, default in zip(family[x], (1, 1, 1, 1, 0, 0), strict=True):
                v[key] = default
    v["ndims"] = ndims


@dataclass(frozen=True)
class Options:
    """The options in force for a descriptor: the driver, ``--dir``, ``--dt``, ``--mb``, post-ops."""

    deconv: bool = False
    direction: str = "FWD_B"
    dt: str = "f32"
    mb: int = 0
    post_ops: str = ""
    ignored: tuple[str, ...] = field(default=())


def problem(text: str, options: Options | None = None) -> Problem:
    """The :class:`~refconv.formats.Problem` of one descriptor under ``options`` (benchdnn's defaults:
    ``--conv --dir=FWD_B --dt=f32``); a ValueError names what refconv cannot take."""
    o = options or Options()
    if o.post_ops:
        raise ValueError(f"{text}: --attr-post-ops={o.post_ops} adds operations after the convolution")
    if o.direction not in DIRECTIONS_BY_NAME:
        raise ValueError(f"--dir={o.direction}: expected one of {', '.join(DIRECTIONS_BY_NAME)}")
    fields = descriptor(text, o.deconv)
    name = str(fields.pop("name"))
    v = {k: int(x) for k, x in fields.items()}
    dims = "dhw"[5 - v["ndims"] :]
    spatial = {c: tuple(v[c + x] for x in dims) for c in ("i", "o", "k", "s", "p", "d")}
    padding = tuple((v["p" + x], v[f"p{x}_r"]) for x in dims)
    operands, result = _dtypes(o.dt)
    g, mb = v["g"], o.mb or v["mb"]
    keywords: dict[str, Any] = dict(
        stride=spatial["s"], dilation=tuple(x + 1 for x in spatial["d"]), groups=g, padding=padding,
    )  # fmt: skip
    w_shape = (v["ic"], v["oc"] // g, *spatial["k"]) if o.deconv else (v["oc"], v["ic"] // g, *spatial["k"])
    if v["ic"] % g or v["oc"] % g:
        raise ValueError(f"{text}: g{g} does not divide ic{v['ic']} and oc{v['oc']}")
    bias = o.direction in ("FWD_B", "BWD_WB")
    made = mixed(case("problem", (mb, v["ic"], *spatial["i"]), w_shape, transposed=o.deconv, bias=bias,
                      dtype=result, **keywords), operands)  # fmt: skip
    notes = tuple(f"{option} chooses how the engine runs, not the values: ignored" for option in o.ignored)
    if operands != result:
        notes += (MIXED.format(operands=operands, result=result),)
    return Problem(
        made, text, "benchdnn", DIRECTIONS[DIRECTIONS_BY_NAME[o.direction]], name, spatial["o"], notes
    )


def _dtypes(dt: str) -> tuple[str, str]:
    """The operands' dtype and the result's for ``--dt``."""
    names = dt.split(":")
    if len(names) not in (1, 3) or any(n not in DTYPES for n in names):
        raise ValueError(f"--dt={dt}: expected one of {', '.join(DTYPES)}, or src:wei:dst of them")
    src, wei, dst = names * 3 if len(names) == 1 else names
    if src != wei:
        raise ValueError(f"--dt={dt}: refconv computes x and w in one dtype (src {src}, wei {wei})")
    return DTYPES[src], DTYPES[dst]


def batch(text: str, where: str | Path = "<batch>", refused: list[str] | None = None) -> list[Problem]:
    """Every descriptor of a batch file (or a command line's arguments), under the options before it.

    Tokens are split on whitespace; a token starting with ``#`` ends its line; options hold until
    ``--reset`` (a nested file shares them, as in benchdnn); ``--batch=FILE`` reads another file
    (relative to this one's directory); a list (``--dir=FWD_B,BWD_D``) gives each descriptor once
    per value, as benchdnn runs it. A descriptor refconv cannot take (post-ops, mixed src and wei
    types) is a ValueError naming the file and line, or, given a ``refused`` list, a line
    appended to it.
    """
    problems = []
    for descriptor_text, options, line in _tokens(text, Path(where), [Options()]):
        for direction in options.direction.split(","):  # benchdnn runs each descriptor in every
            for dt in options.dt.split(","):  # combination of the listed values
                try:
                    problems.append(problem(descriptor_text, replace(options, direction=direction, dt=dt)))
                except ValueError as error:
                    if refused is None:
                        raise ValueError(f"{where}:{line}: {error}") from None
                    refused.append(f"{where}:{line}: {error}")
    return problems


def _tokens(text: str, where: Path, state: list[Options]) -> Iterator[tuple[str, Options, int]]:
    """Each descriptor with the options in force (``state[0]``, shared with nested files) and its line."""
    for number, raw in enumerate(text.splitlines(), 1):
        for token in raw.split():
            if token.startswith("#"):
                break
            if not token.startswith("--"):
                yield token, state[0], number
                continue
            name, _, value = token.partition("=")
            if name == "--batch":
                path = where.parent / value
                yield from _tokens(path.read_text(encoding="utf-8"), path, state)
            else:
                state[0] = _option(state[0], name, value)


def _option(options: Options, name: str, value: str) -> Options:
    """``options`` after the option ``name=value``."""
    if name == "--reset":
        return replace(Options(), deconv=options.deconv)
    if name in ("--conv", "--deconv"):
        return replace(options, deconv=name == "--deconv")
    if name == "--dir":
        return replace(options, direction=value.upper())
    if name == "--dt":
        return replace(options, dt=value)
    if name == "--attr-post-ops":
        return replace(options, post_ops=value)
    if name == "--mb":
        return replace(options, mb=int(value))
    if name in options.ignored:
        return options
    return replace(options, ignored=(*options.ignored, name))
