"""The frameworks refconv is checked against: ``jax.vjp`` and torch autograd.

Each oracle takes a :class:`~refconv.ConvSpec` and the arrays ``x, w, b, dy``
in the spec's layout, computes the forward pass and its VJPs with the
framework, and returns ``{"y", "dx", "dw", "db"}``
(:data:`refconv.testing.ARRAYS`) as NumPy arrays in the same layout, or raises
:class:`Unsupported` for a configuration the framework cannot express. jax and
torch are imported on first use only. The jax oracle turns on
``jax_enable_x64`` (a process-wide jax setting) so that float64 stays float64.

:func:`jax_function` and :func:`torch_function` give the forward pass alone
as a function of the framework's arrays, for the tests of forward mode and
second order.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv import padding_modes
from refconv._spec import ConvSpec

__all__ = [
    "ORACLES",
    "Unsupported",
    "available",
    "jax_function",
    "jax_vjp",
    "torch_function",
    "torch_vjp",
]

Arrays = dict[str, NDArray[Any]]


class Unsupported(Exception):
    """The framework cannot express this configuration; the message says why."""


def jax_function(s: ConvSpec) -> Callable[[Any, Any, Any], Any]:
    """``(x, w, b) -> y`` of ``s`` with ``jax.lax``, in the spec's layout, at ``Precision.HIGHEST``.

    A convolution is ``lax.conv_general_dilated`` (a padding mode is ``jnp.pad``
    first); a transposed convolution is what it is, ``jax.vjp`` of the forward
    convolution with respect to its input, which needs ``output_padding <
    stride`` (beyond it the forward convolution of the output's size has more
    outputs than ``x``).
    """
    import jax
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    lhs, rhs, out = s.dimension_numbers or _canonical_specs(s.ndim, "IO" if s.transposed else "OI")
    channel = out.index("C")

    def with_bias(y: Any, b: Any) -> Any:
        return y + b.reshape([-1 if axis == channel else 1 for axis in range(y.ndim)])

    if s.transposed:
        if any(o >= st for o, st in zip(s.output_padding, s.stride, strict=True)):
            raise Unsupported(
                f"output_padding={s.output_padding} >= stride={s.stride}: not a jax.vjp of a conv"
            )
        forward_specs = (out, rhs.translate(str.maketrans("IO", "OI")), lhs)  # the convolution transposed

        def transposed(x: Any, w: Any, b: Any) -> Any:
            def forward(z: Any) -> Any:
                return lax.conv_general_dilated(
                    z, w, s.stride, s.padding, rhs_dilation=s.dilation, dimension_numbers=forward_specs,
                    feature_group_count=s.groups, precision=lax.Precision.HIGHEST,
                )  # fmt: skip

            z = jax.numpy.zeros(s.given_shape("y"), x.dtype)
            return with_bias(jax.vjp(forward, z)[1](x)[0], b)

        return transposed

    def convolution(x: Any, w: Any, b: Any) -> Any:
        padding = s.padding
        if s.padding_mode != "zeros":
            widths = [(0, 0)] * x.ndim
            for dim, pair in enumerate(s.padding):
                widths[lhs.index(rhs[_spatial_axes(rhs)[dim]])] = pair
            x = jax.numpy.pad(x, widths, mode=padding_modes.FRAMEWORK_NAMES["numpy"][s.padding_mode])
            padding = ((0, 0),) * s.ndim
        y = lax.conv_general_dilated(
            x, w, s.stride, padding, lhs_dilation=s.input_dilation, rhs_dilation=s.dilation,
            dimension_numbers=(lhs, rhs, out), feature_group_count=s.groups,
            batch_group_count=s.batch_groups, precision=lax.Precision.HIGHEST,
        )  # fmt: skip
        return with_bias(y, b)

    return convolution


def _canonical_specs(ndim: int, kernel_pair: str) -> tuple[str, str, str]:
    spatial = "".join(chr(ord("0") + i) for i in range(ndim))
    return f"NC{spatial}", f"{kernel_pair}{spatial}", f"NC{spatial}"


def _spatial_axes(spec: str) -> list[int]:
    return [i for i, c in enumerate(spec) if c not in "NCIO"]


def jax_vjp(
    s: ConvSpec,
    x: NDArray[Any],
    w: NDArray[Any],
    b: NDArray[Any] | None,
    dy: NDArray[Any],
    device: str = "cpu",
) -> Arrays:
    """``jax.vjp`` of :func:`jax_function` on ``device`` (``"cpu"`` or ``"cuda"``, jax's ``"gpu"``)."""
    import jax

    function = jax_function(s)
    bias = np.zeros(s.y_shape[1], x.dtype) if b is None else b
    with jax.default_device(_jax_device(jax, device)):
        y, pullback = jax.vjp(function, x, w, bias)
        dx, dw, db = pullback(jax.numpy.asarray(dy))
    return {"y": np.asarray(y), "dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def _jax_device(jax: Any, device: str) -> Any:
    try:
        return jax.devices("gpu" if device == "cuda" else device)[0]
    except RuntimeError:
        raise Unsupported(f"jax sees no {device} device") from None


def torch_function(s: ConvSpec) -> Callable[[Any, Any, Any], Any]:
    """``(x, w, b) -> y`` of ``s`` with torch, for tensors in refconv's canonical layout.

    ``F.conv{1,2,3}d`` after ``F.pad`` (signed padding: pad, then crop; or a
    padding mode, as ``nn.ConvNd(padding_mode=...)`` does), or
    ``F.conv_transpose{1,2,3}d`` at padding 0 with the ``(lo, hi)`` rows cropped
    (or padded) afterwards, the bias added last.
    """
    if s.ndim > 3:
        raise Unsupported(f"torch has no {s.ndim}-d convolution")
    if any(dil != 1 for dil in s.input_dilation):
        raise Unsupported(f"torch has no input dilation (input_dilation={s.input_dilation})")
    if s.batch_groups != 1:
        raise Unsupported(f"torch has no batch groups (batch_groups={s.batch_groups})")
    import torch.nn.functional as F

    pads = [v for lo, hi in reversed(s.padding) for v in (lo, hi)]  # F.pad: last dim first
    bias_shape = (1, -1) + (1,) * s.ndim
    if s.transposed:
        transpose = getattr(F, f"conv_transpose{s.ndim}d")

        def transposed(x: Any, w: Any, b: Any) -> Any:
            full = transpose(
                x, w, None, stride=s.stride, output_padding=s.output_padding, groups=s.groups,
                dilation=s.dilation,
            )  # fmt: skip
            return F.pad(full, [-v for v in pads]) + b.reshape(bias_shape)

        return transposed
    convolve = getattr(F, f"conv{s.ndim}d")

    def convolution(x: Any, w: Any, b: Any) -> Any:
        if s.padding_mode != "zeros":
            padded = F.pad(x, pads, mode=padding_modes.FRAMEWORK_NAMES["torch"][s.padding_mode])
        else:  # pad first, then crop, so that a crop larger than the input (legal when the other side
            # is padded) works as in XLA
            padded = F.pad(F.pad(x, [max(v, 0) for v in pads]), [min(v, 0) for v in pads])
        return convolve(padded, w, b, stride=s.stride, dilation=s.dilation, groups=s.groups)

    return convolution


def torch_vjp(
    s: ConvSpec,
    x: NDArray[Any],
    w: NDArray[Any],
    b: NDArray[Any] | None,
    dy: NDArray[Any],
    device: str = "cpu",
) -> Arrays:
    """torch autograd of :func:`torch_function` on ``device`` (``"cpu"`` or ``"cuda"``).

    Arrays move to the canonical layout and back (torch has no other).
    """
    function = torch_function(s)
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise Unsupported("torch sees no cuda device")

    def leaf(array: NDArray[Any], role: str) -> Any:
        canonical = np.ascontiguousarray(s.layout.to_canonical(array, role, role))
        return torch.tensor(canonical, device=device, requires_grad=True)

    xt, wt = leaf(x, "lhs"), leaf(w, "rhs")
    bt = (
        torch.zeros(s.y_shape[1], dtype=wt.dtype, device=device)
        if b is None
        else torch.tensor(b, device=device)
    )
    bt.requires_grad_(True)
    y = function(xt, wt, bt)
    y.backward(torch.tensor(np.ascontiguousarray(s.layout.to_canonical(dy, "out", "dy")), device=device))

    def back(tensor: Any, like: NDArray[Any], role: str | None) -> NDArray[Any]:
        """A result (or a leaf's ``.grad``) in the caller's layout; zeros for a leaf no path reached."""
        if tensor is None:
            return np.zeros_like(like)
        array = tensor.detach().cpu().numpy()
        return array if role is None else s.layout.from_canonical(array, role)

    bias = np.zeros(s.y_shape[1], x.dtype)
    return {
        "y": back(y, bias, "out"),
        "dx": back(xt.grad, x, "lhs"),
        "dw": back(wt.grad, w, "rhs"),
        "db": back(bt.grad, bias, None),
    }


ORACLES: dict[str, Callable[..., Arrays]] = {"jax": jax_vjp, "torch": torch_vjp}


def available() -> list[str]:
    """Names of the oracles whose framework is installed."""
    return [name for name in ORACLES if importlib.util.find_spec(name) is not None]
