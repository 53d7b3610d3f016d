"""The frameworks refconv is checked against: ``jax.vjp`` and torch autograd, in float64 on the CPU.

Each oracle takes NumPy arrays and normalised :class:`~refconv.geometry.ConvParams`
and returns ``{"y", "dx", "dw", "db"}`` as NumPy arrays, or raises
:class:`Unsupported` for a configuration the framework cannot express. jax and
torch are imported on first use only. The jax oracle turns on
``jax_enable_x64`` (a process-wide jax setting) so that float64 stays float64.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refconv.geometry import ConvParams

__all__ = ["ORACLES", "Unsupported", "available", "jax_conv_vjp", "torch_conv_vjp"]

Arrays = dict[str, NDArray[Any]]


class Unsupported(Exception):
    """The oracle cannot express this configuration; the message says why."""


def jax_conv_vjp(
    x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any], p: ConvParams
) -> Arrays:
    """``jax.vjp`` of ``lax.conv_general_dilated`` (+ bias) at ``Precision.HIGHEST``."""
    import jax
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    ndim = x.ndim - 2
    bias = np.zeros(w.shape[0], x.dtype) if b is None else b

    def forward(x: Any, w: Any, bias: Any) -> Any:
        y = lax.conv_general_dilated(
            x,
            w,
            window_strides=p.stride,
            padding=p.padding,
            lhs_dilation=p.input_dilation,
            rhs_dilation=p.dilation,
            feature_group_count=p.groups,
            batch_group_count=p.batch_groups,
            precision=lax.Precision.HIGHEST,
        )
        return y + bias.reshape((1, -1) + (1,) * ndim)

    y, pullback = jax.vjp(forward, x, w, bias)
    dx, dw, db = pullback(jax.numpy.asarray(dy))
    return {"y": np.asarray(y), "dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def torch_conv_vjp(
    x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any], p: ConvParams
) -> Arrays:
    """torch autograd of ``F.conv{1,2,3}d`` after ``F.pad`` (signed padding), with bias."""
    ndim = x.ndim - 2
    if ndim > 3:
        raise Unsupported(f"torch has no {ndim}-d convolution")
    if any(dil != 1 for dil in p.input_dilation):
        raise Unsupported(f"torch has no input dilation (input_dilation={p.input_dilation})")
    if p.batch_groups != 1:
        raise Unsupported(f"torch has no batch groups (batch_groups={p.batch_groups})")
    import torch
    import torch.nn.functional as F

    xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, w))
    bt = torch.zeros(w.shape[0], dtype=wt.dtype) if b is None else torch.tensor(b)
    bt.requires_grad_(True)
    # F.pad lists (lo, hi) from the last dim backwards. Pad first, then crop (negative entries), so
    # that a crop larger than the input itself (legal when the other side is padded) works as in XLA
    pads = [v for lo, hi in reversed(p.padding) for v in (lo, hi)]
    padded = F.pad(F.pad(xt, [max(v, 0) for v in pads]), [min(v, 0) for v in pads])
    convolve = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[ndim]
    y = convolve(padded, wt, bt, stride=p.stride, dilation=p.dilation, groups=p.groups)
    y.backward(torch.tensor(dy))
    grads = {"dx": xt.grad, "dw": wt.grad, "db": bt.grad}
    out = {"y": y.detach().numpy()}
    for name, grad in grads.items():
        shape = {"dx": x.shape, "dw": w.shape, "db": (w.shape[0],)}[name]
        out[name] = np.zeros(shape, x.dtype) if grad is None else grad.numpy()
    return out


ORACLES: dict[str, Callable[..., Arrays]] = {"jax": jax_conv_vjp, "torch": torch_conv_vjp}


def available() -> list[str]:
    """Names of the oracles whose framework is installed."""
    return [name for name in ORACLES if importlib.util.find_spec(name) is not None]
