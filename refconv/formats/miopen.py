r"""MIOpenDriver's convolution command lines (AMD's MIOpen; rocMLIR and IREE-turbine take them too).

``MIOpenDriver conv -n 16 -c 3 -H 299 -W 299 -k 32 -y 3 -x 3 -p 0 -q 0 -u 2 -v 2 -l 1 -j 1 -g 1 -F 1``:
the first word is the data type (``conv`` float32, ``convfp16``, ``convbfp16``, ``convint8``
int8 into int32), then flags, each with a value of its own, read as MIOpen's ``InputFlags`` does
(``driver/conv_driver.hpp``): ``-n`` batch (100), ``-c`` input channels (3), ``-H -W -!`` input
height, width, depth (32), ``-k`` output channels (32), ``-y -x -@`` kernel (3), ``-u -v -#``
stride (1), ``-p -q -$`` padding on both sides (0), ``-l -j -^`` dilation, **one-based** as
refconv's (1), ``-g`` groups (1), ``-m conv|trans``, ``-Y -X -%`` the transposed convolution's
output padding, ``-_`` (``--spatial_dim``) 2 or 3, ``-F`` what the test computes (1 forward, 2
backward data, 4 backward weights, a sum of them, 0 all), ``-b`` a bias, ``-I -f -O`` the layouts
(NCHW, NHWC, CHWN, NCDHW, NDHWC; a filter's N is its output channels and C its input ones), and
``-z same|valid``, which MIOpenDriver turns into paddings itself: ``valid`` 0, ``same``
:math:`\lfloor \max(k - (s \text{ or } n \bmod s), 0) / 2 \rfloor` on both sides, in a
convolution whose dilations (or kernel sizes) are all 1. Long names (``--pad_h 1``) are the
same flags. Other flags (``-t``, ``-V``, ``-i``, ``-s``, ...) choose how the driver runs.

MIOpen clamps a computed output size to at least 1, where the definition gives 0 (no window
fits): :attr:`~refconv.formats.Problem.stated` keeps MIOpen's. rocMLIR's lists add
``-perf_priority N`` (a scheduling hint, dropped: MIOpenDriver itself would read it as ``-p N``)
and their own layout names (``N01GC``: a memory order, not the values; refconv's canonical
layout is used, and a note says so).

Examples
--------
>>> from refconv.formats import miopen
>>> p = miopen.problem("conv -m trans -x 10 -y 5 -W 341 -H 79 -c 32 -n 4 -k 8 -u 2 -v 2 -g 4 -F 0")
>>> p.case.spec.y_shape, p.arrays
((4, 8, 161, 690), ('y', 'dx', 'dw'))
"""

from __future__ import annotations

import shlex
from typing import Any

from refconv.cases import case
from refconv.formats.problem import MIXED, Problem, mixed

__all__ = ["DTYPES", "FLAGS", "lines", "problem"]

#: The first word, which names the data type (and, for int8, the accumulation's).
DTYPES = {
    "conv": ("float32", "float32"), "convfp16": ("float16", "float16"), "convbfp16": ("bfloat16", "bfloat16"),
    "convint8": ("int8", "int32"),
}  # fmt: skip
#: Each flag's long name, short letter and default.
FLAGS = {
    "batchsize": ("n", "100"), "in_channels": ("c", "3"), "in_h": ("H", "32"), "in_w": ("W", "32"),
    "in_d": ("!", "32"), "out_channels": ("k", "32"), "fil_h": ("y", "3"), "fil_w": ("x", "3"),
    "fil_d": ("@", "3"), "conv_stride_h": ("u", "1"), "conv_stride_w": ("v", "1"),
    "conv_stride_d": ("#", "1"),
    "pad_h": ("p", "0"), "pad_w": ("q", "0"), "pad_d": ("$", "0"), "dilation_h": ("l", "1"),
    "dilation_w": ("j", "1"), "dilation_d": ("^", "1"), "trans_output_pad_h": ("Y", "0"),
    "trans_output_pad_w": ("X", "0"), "trans_output_pad_d": ("%", "0"), "group_count": ("g", "1"),
    "mode": ("m", "conv"), "pad_mode": ("z", "default"), "spatial_dim": ("_", "2"), "forw": ("F", "0"),
    "in_layout": ("I", ""), "fil_layout": ("f", ""), "out_layout": ("O", ""), "bias": ("b", "0"),
}  # fmt: skip
_SHORT = {letter: name for name, (letter, _) in FLAGS.items()}
_LAYOUTS = ("NCHW", "NHWC", "CHWN", "NCDHW", "NDHWC")


def _flags(words: list[str], text: str) -> tuple[dict[str, str], list[str]]:
    """Each flag's value by long name (the defaults filled in), and the notes of what was dropped."""
    values = {name: default for name, (_, default) in FLAGS.items()}
    notes = []
    index = 0
    while index < len(words):
        word = words[index]
        value = words[index + 1] if index + 1 < len(words) else ""
        index += 2
        if word == "-perf_priority":
            notes.append(f"rocMLIR's -perf_priority {value} is a scheduling hint: dropped")
            continue
        if word.startswith("--"):
            name = word[2:]
        elif word.startswith("-") and len(word) >= 2:
            name = _SHORT.get(word[1], "")  # MIOpenDriver reads the one letter after the dash
        else:
            raise ValueError(f"{text!r}: {word!r} is not a flag")
        if name in FLAGS:
            values[name] = value
        elif not word.startswith("--") and word[1] not in "tVsiwSPodeaDrZLGCUTR":
            raise ValueError(f"{text!r}: unknown flag {word!r}")
    return values, notes


def problem(text: str) -> Problem:
    """The :class:`~refconv.formats.Problem` of one command line; a ValueError names what is wrong."""
    words = shlex.split(text)
    if words and words[0].rsplit("/", 1)[-1] == "MIOpenDriver":
        words = words[1:]
    if not words or words[0] not in DTYPES:
        base = words[0] if words else ""
        if base.startswith("conv"):
            raise ValueError(f"{text!r}: {base} is a data type refconv does not compute (fp8)")
        words = ["conv", *words]  # rocMLIR's lists leave it out: float32, as the driver's conv
    operands, result = DTYPES[words[0]]
    v, notes = _flags(words[1:], text)
    number = {name: int(v[name]) if v[name].lstrip("-").isdigit() else 0 for name in FLAGS if name not in
              ("mode", "pad_mode", "in_layout", "fil_layout", "out_layout")}  # fmt: skip
    if v["spatial_dim"] not in ("2", "3"):
        raise ValueError(f"{text!r}: --spatial_dim {v['spatial_dim']}: MIOpen has 2 or 3")
    if v["mode"] not in ("conv", "trans"):
        raise ValueError(f"{text!r}: -m {v['mode']}: expected conv or trans")
    dims = "dhw" if v["spatial_dim"] == "3" else "hw"
    spatial = {key: tuple(number[f"{key}_{x}"] for x in dims) for key in
               ("in", "fil", "conv_stride", "pad", "dilation", "trans_output_pad")}  # fmt: skip
    transposed = v["mode"] == "trans"
    pads = _pad_mode(v["pad_mode"], spatial, transposed)
    n, c, k, g = number["batchsize"], number["in_channels"], number["out_channels"], number["group_count"]
    w_shape = (c, k // g, *spatial["fil"]) if transposed else (k, c // g, *spatial["fil"])
    keywords: dict[str, Any] = dict(
        stride=spatial["conv_stride"], padding=tuple((p, p) for p in pads), dilation=spatial["dilation"],
        groups=g,
    )  # fmt: skip
    if transposed:
        keywords["output_padding"] = spatial["trans_output_pad"]
    layouts, laid = _layouts(v, transposed, len(dims))
    notes += laid
    if layouts is not None:
        keywords["dimension_numbers"] = layouts
        x_shape = _laid((n, c, *spatial["in"]), layouts[0], len(dims))
        w_shape = _laid(w_shape, layouts[1], len(dims), kernel="IO" if transposed else "OI")
    else:
        x_shape = (n, c, *spatial["in"])
    made = mixed(case("problem", x_shape, w_shape, transposed=transposed, bias=number["bias"] != 0,
                      dtype=result, **keywords), operands)  # fmt: skip
    if operands != result:
        notes.append(MIXED.format(operands=operands, result=result))
    arrays = _arrays(number["forw"], text)
    arrays += ("db",) if "dw" in arrays and made.bias else ()  # the bias's gradient beside the weights'
    return Problem(made, text, "miopen", arrays, "", _stated(spatial, pads, transposed), tuple(notes))


def _pad_mode(mode: str, spatial: dict[str, tuple[int, ...]], transposed: bool) -> tuple[int, ...]:
    """MIOpenDriver's rewrite of the paddings for ``-z same`` and ``-z valid`` (conv_driver.hpp)."""
    pads = spatial["pad"]
    if mode not in ("default", "same", "valid"):
        raise ValueError(f"-z {mode}: expected default, same or valid")
    dense = all(d == 1 for d in spatial["dilation"]) or all(k == 1 for k in spatial["fil"])
    if transposed or mode == "default" or not dense:
        return pads
    if mode == "valid":
        return tuple(0 for _ in pads)
    return tuple(
        max(k - (s if n % s == 0 else n % s), 0) // 2
        for n, k, s in zip(spatial["in"], spatial["fil"], spatial["conv_stride"], strict=True)
    )


def _stated(spatial: dict[str, tuple[int, ...]], pads: tuple[int, ...], transposed: bool) -> tuple[int, ...]:
    """The output spatial sizes MIOpen computes (``convolution.cpp``), clamped to at least 1."""
    sizes = []
    per_dim = zip(spatial["in"], spatial["fil"], spatial["conv_stride"], spatial["dilation"],
                  spatial["trans_output_pad"], strict=True)  # fmt: skip
    for i, (n, k, s, d, op) in enumerate(per_dim):
        ext = 1 + d * (k - 1)
        size = s * (n - 1) + ext - 2 * pads[i] + op if transposed else (n - ext + 2 * pads[i]) // s + 1
        sizes.append(max(1, size))
    return tuple(sizes)


def _arrays(forw: int, text: str) -> tuple[str, ...]:
    """What ``-F`` asks for: 1 forward, 2 backward data, 4 backward weights, their sum, 0 all."""
    if not 0 <= forw <= 7:
        raise ValueError(f"{text!r}: -F {forw}: expected a sum of 1, 2 and 4, or 0")
    chosen = forw or 7
    return tuple(a for bit, a in ((1, "y"), (2, "dx"), (4, "dw")) if chosen & bit)


def _layouts(v: dict[str, str], transposed: bool, ndim: int) -> tuple[tuple[str, str, str] | None, list[str]]:
    """The spec's dimension_numbers for ``-I -f -O`` (None: the canonical NCHW), and notes."""
    given = [v["in_layout"].upper(), v["fil_layout"].upper(), v["out_layout"].upper()]
    if not any(given):
        return None, []
    if any(g and g not in _LAYOUTS for g in given):
        return None, [
            f"layouts {'/'.join(g for g in given if g)} are not MIOpenDriver's: refconv's NCHW is used"
        ]
    canonical = "NCDHW" if ndim == 3 else "NCHW"
    lhs, rhs, out = (g or canonical for g in given)
    if len({len(lhs), len(rhs), len(out), ndim + 2}) != 1:
        raise ValueError(f"layouts {lhs}, {rhs}, {out} do not have {ndim} spatial dims")
    kernel = rhs.translate(str.maketrans("NC", "IO" if transposed else "OI"))  # a filter's N: its first dim
    return (lhs, kernel, out), []


def _laid(shape: tuple[int, ...], layout: str, ndim: int, kernel: str = "") -> tuple[int, ...]:
    """``shape`` (canonical: N C spatial..., or O I spatial...) in ``layout``'s order."""
    letters = (kernel or "NC") + "DHW"[3 - ndim :]
    return tuple(shape[letters.index(letter)] for letter in layout)


def lines(text: str, where: str = "<command line>", refused: list[str] | None = None) -> list[Problem]:
    """The problems of MIOpenDriver command lines, one per line (``#`` comments and blank lines
    skipped); a ValueError names the line of one refconv cannot take, or, given a ``refused``
    list, a line is appended to it."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0].strip()
        if body:
            try:
                found.append(problem(body))
            except ValueError as error:
                if refused is None:
                    raise ValueError(f"{where}:{number}: {error}") from None
                refused.append(f"{where}:{number}: {error}")
    return found
