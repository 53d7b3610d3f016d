r"""The convolutions refconv computes a problem with, as StableHLO: ``stablehlo.convolution`` text.

Every result of refconv is a general convolution (:doc:`/input_vjp`, :doc:`/weight_vjp`): ``y``
is one of ``x`` with the problem's kernel (flipped and swapped for a transposed convolution),
``dx`` one of ``dy`` with that kernel flipped and swapped, ``dw`` one of ``x`` with ``dy`` in
which batch and channels trade roles. :func:`functions` writes each as a StableHLO function of
one ``stablehlo.convolution`` with refconv's parameters (window strides, signed padding, lhs and
rhs dilation, feature and batch group counts): the parameter sets a backward pass produces
(input dilation, negative padding, batch groups) go to a compiler as they are. ``dw``'s swap is
in its ``dim_numbers`` (``[f, b, 0]x[i, o, 0]->[f, b, 0]``), not a copy of the data: the roles
of a tensor's axes are the layout's to say. :func:`module` puts them in one module, and
:func:`arguments` and :func:`results` are the steps around the convolutions (the layout to the
canonical one, the kernel flipped where the convolution needs it, a padding mode's pad and
fold, the bias, the batch groups put back), the same as refconv's own.

A compiler author takes the text for their own tests (``refconv vectors --format stablehlo``
writes it with ``.npy`` inputs and expected outputs for ``iree-run-module``); the ``iree``
backend (:mod:`refconv.backends.iree_backend`) compiles it with IREE and judges every result.

Examples
--------
>>> import refconv
>>> from refconv import stablehlo
>>> dx = stablehlo.functions(refconv.spec((2, 3, 9), (4, 3, 3), stride=2, padding=1))["dx"]
>>> print(dx.splitlines()[0])
func.func @dx(%lhs: tensor<2x4x5xf64>, %rhs: tensor<3x4x3xf64>) -> tensor<2x3x9xf64> {
>>> print(dx.split("dim_numbers = ")[1].split(" {batch")[0])  # the stride became the input dilation
[b, f, 0]x[o, i, 0]->[b, f, 0], window = {stride = [1], pad = [[1, 1]], lhs_dilate = [2], rhs_dilate = [1]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv import _normalize as norm
from refconv import padding_modes
from refconv._convspec import ConvSpec
from refconv._ops import merge_axis_into, split_axis, transpose_kernel
from refconv.conv import kernel_of
from refconv.geometry import (
    ConvParams,
    Shape,
    input_vjp_params,
    output_shape,
    output_spatial_shape,
    padded_shape,
    weight_vjp_params,
)
from refconv.vjp import bias_vjp

__all__ = [
    "CANONICAL",
    "SWAPPED",
    "arguments",
    "convolution",
    "element_type",
    "functions",
    "module",
    "outputs",
    "results",
    "terms",
    "zeros",
]

#: The canonical dimension numbers, ``x`` as (N, C, spatial), kernel (O, I, spatial), ``y`` (N, C, spatial).
CANONICAL = ("b, f", "o, i", "b, f")
#: ``dw``'s: ``x`` with its batch as the features, ``dy`` as the kernel (its batch the input features),
#: and the result (C_out, C_in / groups, spatial), the weight's own layout.
SWAPPED = ("f, b", "i, o", "f, b")
_ELEMENT_TYPES = {
    "float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16", "complex128": "complex<f64>",
    "complex64": "complex<f32>", "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8",
    "uint64": "ui64", "uint32": "ui32", "uint16": "ui16", "uint8": "ui8",
}  # fmt: skip


def element_type(dtype: Any) -> str:
    """StableHLO's name for a NumPy dtype: ``f64``, ``bf16``, ``complex<f32>``, ``ui8``..."""
    name = norm.as_dtype(dtype, "dtype").name
    if name not in _ELEMENT_TYPES:
        raise ValueError(
            f"dtype={name!r} has no StableHLO element type here; expected one of {list(_ELEMENT_TYPES)}"
        )
    return _ELEMENT_TYPES[name]


def _tensor(shape: Shape, dtype: Any) -> str:
    return f"tensor<{''.join(f'{n}x' for n in shape)}{element_type(dtype)}>"


def convolution(
    lhs_shape: Shape, rhs_shape: Shape, p: ConvParams, dtype: Any, out_shape: Shape,
    dims: tuple[str, str, str] = CANONICAL, name: str = "main", bias: bool = False,
) -> str:  # fmt: skip
    """One StableHLO function ``@name(%lhs, %rhs)`` of one ``stablehlo.convolution`` with the general
    convolution ``p``'s parameters: ``dims`` are the non-spatial letters of the three operands'
    ``dim_numbers``, the spatial axes following them in order (all refconv's arrays here are
    ``(batch-like, feature-like, spatial...)``). With ``bias``, a third argument ``%bias``
    (one per output feature) is broadcast and added to the result."""
    spatial = ", ".join(str(i) for i in range(len(p.stride)))
    numbers = "x".join(f"[{d}, {spatial}]" for d in dims[:2]) + f"->[{dims[2]}, {spatial}]"
    window = (f"stride = {list(p.stride)}, pad = {[list(pair) for pair in p.padding]}, "
              f"lhs_dilate = {list(p.input_dilation)}, rhs_dilate = {list(p.dilation)}")  # fmt: skip
    precision = "precision_config = [#stablehlo<precision HIGHEST>, #stablehlo<precision HIGHEST>]"
    attributes = (
        f"batch_group_count = {p.batch_groups} : i64, feature_group_count = {p.groups} : i64, {precision}"
    )
    lhs, rhs, out = _tensor(lhs_shape, dtype), _tensor(rhs_shape, dtype), _tensor(out_shape, dtype)
    body = (f"stablehlo.convolution(%lhs, %rhs) dim_numbers = {numbers}, window = {{{window}}} "
            f"{{{attributes}}} : ({lhs}, {rhs}) -> {out}")  # fmt: skip
    return _function(name, lhs, rhs, out, out_shape, dtype, body, bias)


def zeros(
    lhs_shape: Shape, rhs_shape: Shape, dtype: Any, out_shape: Shape, name: str = "main", bias: bool = False
) -> str:
    """A function with :func:`convolution`'s signature that returns zeros (and the bias): what refconv
    computes for a problem without products."""
    lhs, rhs, out = _tensor(lhs_shape, dtype), _tensor(rhs_shape, dtype), _tensor(out_shape, dtype)
    zero = {"c": "(0.0, 0.0)", "f": "0.0"}.get(norm.kind(norm.as_dtype(dtype, "dtype")), "0")
    return _function(name, lhs, rhs, out, out_shape, dtype, f"stablehlo.constant dense<{zero}> : {out}", bias)


def _function(
    name: str, lhs: str, rhs: str, out: str, out_shape: Shape, dtype: Any, body: str, bias: bool
) -> str:  # fmt: skip
    feature = _tensor(out_shape[1:2], dtype)
    lines = [
        f"func.func @{name}(%lhs: {lhs}, %rhs: {rhs}{f', %bias: {feature}' if bias else ''}) -> {out} {{",
        f"  %0 = {body}",
    ]
    if bias:
        lines += [f"  %1 = stablehlo.broadcast_in_dim %bias, dims = [1] : ({feature}) -> {out}",
                  f"  %2 = stablehlo.add %0, %1 : {out}"]  # fmt: skip
    return "\n".join([*lines, f"  return %{2 if bias else 0} : {out}", "}"]) + "\n"


def _shapes(s: ConvSpec) -> dict[str, tuple[Shape, Shape, ConvParams, Shape]]:
    """Each convolution's operand shapes, parameters and result shape (canonical layouts)."""
    p = s.general if s.padding_mode == "zeros" else padding_modes.without_padding(s.general)
    x_shape = _padded_x_shape(s)
    kernel = s.general_w_shape
    dx_params = input_vjp_params(x_shape[2:], kernel[2:], p)
    c_out, c_group, *taps = kernel
    flipped = (c_group * dx_params.groups, c_out // dx_params.groups, *taps)  # transpose_kernel's shape
    dw_params = weight_vjp_params(x_shape[2:], kernel[2:], p)
    dw_spatial = output_spatial_shape(x_shape[2:], s.y_shape[2:], dw_params)
    dw_out = (s.y_shape[1], x_shape[1] // dw_params.batch_groups, *dw_spatial)
    return {
        "y": (x_shape, kernel, p, output_shape(x_shape, kernel, p)),
        "dx": (s.y_shape, flipped, dx_params, output_shape(s.y_shape, flipped, dx_params)),
        "dw": (x_shape, s.y_shape, dw_params, dw_out),
    }


def functions(s: ConvSpec, bias: bool = False) -> dict[str, str]:
    """The StableHLO functions ``@y``, ``@dx``, ``@dw`` of the convolutions that compute ``s``'s
    ``y`` (with the ``bias`` added, if it has one), ``dx`` and ``dw`` (on the arrays of
    :func:`arguments`, in ``s``'s dtype).

    A problem without products (:attr:`refconv.ConvSpec.empty`) is zeros in refconv, which computes
    no convolution; its function is the convolution wherever StableHLO can state it with the
    result's shape, and :func:`zeros` where it cannot (a window of size 0, as ``dw``'s when ``y``
    is empty; the transposed convolution of an empty input, whose convolution of the dilated
    input is longer than the definition's output).
    """
    written = {}
    returned = _returned(s)
    for name, (lhs, rhs, p, out) in _shapes(s).items():
        with_bias = bias and name == "y"
        if s.empty and (out != returned[name] or 0 in rhs[2:]):
            written[name] = zeros(lhs, rhs, s.dtype, returned[name], name, with_bias)
        else:
            dims = SWAPPED if name == "dw" else CANONICAL
            written[name] = convolution(lhs, rhs, p, s.dtype, out, dims, name, with_bias)
    return written


def _returned(s: ConvSpec) -> dict[str, Shape]:
    """The shapes each function returns, canonical: ``dx`` with its batch groups as channel groups."""
    n, c, *spatial = _padded_x_shape(s)
    return {
        "y": s.y_shape,
        "dx": (n // s.batch_groups, c * s.batch_groups, *spatial),
        "dw": s.general_w_shape,
    }


def _padded_x_shape(s: ConvSpec) -> Shape:
    """``x``'s canonical shape, after a padding mode's pad."""
    if s.padding_mode == "zeros":
        return s.x_shape
    return (*s.x_shape[:2], *padded_shape(s.x_shape[2:], s.general))


def module(s: ConvSpec, bias: bool = False) -> str:
    """:func:`functions` as one module's text."""
    return "\n".join(functions(s, bias).values())


def arguments(
    s: ConvSpec, x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any]
) -> dict[str, tuple[NDArray[Any], ...]]:
    """The operands of each function of :func:`functions`, from the problem's arrays (in its layout):
    canonical, in ``s``'s dtype, ``x`` padded by a padding mode, the kernel flipped and swapped
    where the convolution takes it so, and the bias if there is one."""
    x_c = s.operand(x, "x", "x").astype(s.dtype)
    dy_c = s.operand(dy, "y", "dy").astype(s.dtype)
    kernel = kernel_of(s, s.operand(w, "w", "w")).astype(s.dtype)
    x_c, p = padding_modes.apply(x_c, s.general, s.padding_mode)
    groups = input_vjp_params(x_c.shape[2:], kernel.shape[2:], p).groups
    bias = () if b is None else (np.asarray(b, s.dtype),)
    return {"y": (x_c, kernel, *bias), "dx": (dy_c, transpose_kernel(kernel, groups)), "dw": (x_c, dy_c)}


def results(s: ConvSpec, outputs: Mapping[str, NDArray[Any]], dy: NDArray[Any]) -> dict[str, NDArray[Any]]:
    """``y, dx, dw, db`` in the problem's layout, from the functions' ``outputs``: the batch groups of
    ``dx`` put back into its batch and a padding mode's copies folded back, ``dw`` flipped and
    swapped back for a transposed convolution, ``db`` summed from ``dy`` as refconv sums it."""
    y = np.asarray(outputs["y"])
    dx = np.asarray(outputs["dx"])
    if s.batch_groups > 1:
        dx = merge_axis_into(split_axis(dx, 1, s.batch_groups), 1, 0)
    if s.padding_mode != "zeros":
        dx = padding_modes.fold(dx, s.x_shape, s.general.padding, s.padding_mode)
    dw = kernel_of(s, np.asarray(outputs["dw"]))
    db = bias_vjp(s.operand(dy, "y", "dy"))
    return {"y": s.result(y, "y"), "dx": s.result(dx, "x"), "dw": s.result(dw, "w"), "db": s.result(db, "b")}


def outputs(s: ConvSpec, given: Mapping[str, tuple[NDArray[Any], ...]]) -> dict[str, NDArray[Any]]:
    """What each function of :func:`functions` returns on its :func:`arguments` ``given``, as refconv
    computes it: the same convolutions through :func:`refconv.conv`, ``dw``'s roles in its layout."""
    from refconv.conv import conv

    letters = "DHW"[3 - s.ndim :] if s.ndim <= 3 else "".join(chr(ord("a") + i) for i in range(s.ndim))
    layouts = {"y": None, "dx": None, "dw": (f"CN{letters}", f"IO{letters}", f"CN{letters}")}
    returned = _returned(s)
    computed = {}
    for name, (_, rhs, p, _) in _shapes(s).items():
        lhs_array, rhs_array, *bias = given[name]
        if s.empty and (returned[name] != _shapes(s)[name][3] or 0 in rhs[2:]):
            computed[name] = np.zeros(returned[name], s.dtype) + (
                bias[0].reshape(1, -1, *[1] * s.ndim) if bias else 0
            )
            continue
        computed[name] = conv(
            lhs_array, rhs_array, bias[0] if bias else None, stride=p.stride, padding=p.padding,
            dilation=p.dilation, input_dilation=p.input_dilation, groups=p.groups,
            batch_groups=p.batch_groups, dimension_numbers=layouts[name],
        )  # fmt: skip
    return computed


def terms(s: ConvSpec) -> dict[str, int]:
    """How many products each function's output element sums (its bound's :math:`K`)."""
    counted = {}
    for name, (_, rhs, _, _) in _shapes(s).items():
        features = rhs[0] if name == "dw" else rhs[1]  # the kernel's input features (dw's: its axis 0)
        counted[name] = features * int(np.prod(rhs[2:], dtype=np.int64))
    return counted
