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

from refconv.geometry import ConvParams, TransposeParams, transpose_output_spatial_shape

__all__ = [
    "ORACLES",
    "TRANSPOSE_ORACLES",
    "Unsupported",
    "available",
    "jax_conv_transpose_vjp",
    "jax_conv_vjp",
    "torch_conv_transpose_vjp",
    "torch_conv_vjp",
]

Arrays = dict[str, NDArray[Any]]


class Unsupported(Exception):
    """The oracle cannot express this configuration; the message says why."""


_JAX_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def jax_conv_vjp(
    x: NDArray[Any],
    w: NDArray[Any],
    b: NDArray[Any] | None,
    dy: NDArray[Any],
    p: ConvParams,
    padding_mode: str = "zeros",
    device: str = "cpu",
) -> Arrays:
    """``jax.vjp`` of ``lax.conv_general_dilated`` (+ bias) at ``Precision.HIGHEST``, on ``device``.

    A padding mode other than zeros is ``jnp.pad`` with the matching mode first.
    ``device`` is ``"cpu"`` or ``"cuda"`` (jax's ``"gpu"`` platform).
    """
    import jax
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    with jax.default_device(_jax_device(jax, device)):
        return _jax_vjp(jax, lax, x, w, b, dy, p, padding_mode)


def _jax_device(jax: Any, device: str) -> Any:
    try:
        return jax.devices("gpu" if device == "cuda" else device)[0]
    except RuntimeError:
        raise Unsupported(f"jax sees no {device} device") from None


def _jax_vjp(
    jax: Any, lax: Any, x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any],
    p: ConvParams, padding_mode: str,
) -> Arrays:  # fmt: skip
    ndim = x.ndim - 2
    bias = np.zeros(w.shape[0], x.dtype) if b is None else b

    def forward(x: Any, w: Any, bias: Any) -> Any:
        padding = p.padding
        if padding_mode != "zeros":
            x = jax.numpy.pad(x, ((0, 0), (0, 0), *p.padding), mode=_JAX_MODES[padding_mode])
            padding = ((0, 0),) * ndim
        y = lax.conv_general_dilated(
            x,
            w,
            window_strides=p.stride,
            padding=padding,
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


def _torch_results(y: Any, *leaves: Any) -> Arrays:
    """``y`` and the ``.grad`` of each leaf (x, w, b) as NumPy arrays; a leaf no path reached gets zeros."""
    grads = [
        np.zeros_like(leaf.detach().cpu().numpy()) if leaf.grad is None else leaf.grad.cpu().numpy()
        for leaf in leaves
    ]
    return dict(zip(("y", "dx", "dw", "db"), (y.detach().cpu().numpy(), *grads), strict=True))


def torch_conv_vjp(
    x: NDArray[Any],
    w: NDArray[Any],
    b: NDArray[Any] | None,
    dy: NDArray[Any],
    p: ConvParams,
    padding_mode: str = "zeros",
    device: str = "cpu",
) -> Arrays:
    """torch autograd of ``F.conv{1,2,3}d`` after ``F.pad`` (signed padding, or a padding mode), with bias.

    ``device`` is ``"cpu"`` or ``"cuda"``; results come back as NumPy arrays.
    """
    ndim = x.ndim - 2
    if ndim > 3:
        raise Unsupported(f"torch has no {ndim}-d convolution")
    if any(dil != 1 for dil in p.input_dilation):
        raise Unsupported(f"torch has no input dilation (input_dilation={p.input_dilation})")
    if p.batch_groups != 1:
        raise Unsupported(f"torch has no batch groups (batch_groups={p.batch_groups})")
    import torch
    import torch.nn.functional as F

    if device == "cuda" and not torch.cuda.is_available():
        raise Unsupported("torch sees no cuda device")
    xt, wt = (torch.tensor(a, device=device, requires_grad=True) for a in (x, w))
    bt = (
        torch.zeros(w.shape[0], dtype=wt.dtype, device=device)
        if b is None
        else torch.tensor(b, device=device)
    )
    bt.requires_grad_(True)
    # F.pad lists (lo, hi) from the last dim backwards. Pad first, then crop (negative entries), so
    # that a crop larger than the input itself (legal when the other side is padded) works as in XLA
    pads = [v for lo, hi in reversed(p.padding) for v in (lo, hi)]
    if padding_mode != "zeros":
        padded = F.pad(xt, pads, mode=padding_mode)  # as nn.ConvNd(padding_mode=...) does
    else:
        padded = F.pad(F.pad(xt, [max(v, 0) for v in pads]), [min(v, 0) for v in pads])
    convolve = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[ndim]
    y = convolve(padded, wt, bt, stride=p.stride, dilation=p.dilation, groups=p.groups)
    y.backward(torch.tensor(dy, device=device))
    return _torch_results(y, xt, wt, bt)


def jax_conv_transpose_vjp(
    x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any], t: TransposeParams
) -> Arrays:
    """The transposed convolution as what it is, ``jax.vjp`` of the forward convolution w.r.t. its input.

    Nested in a second ``jax.vjp`` for ``dx``, ``dw``, ``db``. Needs ``output_padding < stride``:
    beyond it the forward convolution of the output's size has more outputs than ``x``.
    """
    import jax
    from jax import lax

    if any(o >= s for o, s in zip(t.output_padding, t.stride, strict=True)):
        raise Unsupported(f"output_padding={t.output_padding} >= stride={t.stride}: not a jax.vjp of a conv")
    jax.config.update("jax_enable_x64", True)
    out = (x.shape[0], w.shape[1] * t.groups, *transpose_output_spatial_shape(x.shape[2:], w.shape[2:], t))
    bias = np.zeros(out[1], x.dtype) if b is None else b

    def transposed(x: Any, w: Any, bias: Any) -> Any:
        def forward(z: Any) -> Any:
            return lax.conv_general_dilated(
                z, w, t.stride, t.padding, rhs_dilation=t.dilation, feature_group_count=t.groups,
                precision=lax.Precision.HIGHEST,
            )  # fmt: skip

        (z_bar,) = jax.vjp(forward, jax.numpy.zeros(out, x.dtype))[1](x)
        return z_bar + bias.reshape((1, -1) + (1,) * (x.ndim - 2))

    y, pullback = jax.vjp(transposed, x, w, bias)
    dx, dw, db = pullback(jax.numpy.asarray(dy))
    return {"y": np.asarray(y), "dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def torch_conv_transpose_vjp(
    x: NDArray[Any], w: NDArray[Any], b: NDArray[Any] | None, dy: NDArray[Any], t: TransposeParams
) -> Arrays:
    """torch autograd of ``F.conv_transpose{1,2,3}d`` at padding 0, then (lo, hi) rows cropped (or padded)."""
    ndim = x.ndim - 2
    if ndim > 3:
        raise Unsupported(f"torch has no {ndim}-d transposed convolution")
    import torch
    import torch.nn.functional as F

    xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, w))
    bt = torch.zeros(w.shape[1] * t.groups, dtype=wt.dtype) if b is None else torch.tensor(b)
    bt.requires_grad_(True)
    transpose = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[ndim]
    full = transpose(
        xt, wt, None, stride=t.stride, output_padding=t.output_padding, groups=t.groups, dilation=t.dilation
    )
    # the padding of a transposed convolution removes rows from the full output (negative: adds zero
    # rows); the bias goes on afterwards, onto every output position
    y = F.pad(full, [-v for lo, hi in reversed(t.padding) for v in (lo, hi)])
    y = y + bt.reshape((1, -1) + (1,) * ndim)
    y.backward(torch.tensor(dy))
    return _torch_results(y, xt, wt, bt)


ORACLES: dict[str, Callable[..., Arrays]] = {"jax": jax_conv_vjp, "torch": torch_conv_vjp}
TRANSPOSE_ORACLES: dict[str, Callable[..., Arrays]] = {
    "jax": jax_conv_transpose_vjp,
    "torch": torch_conv_transpose_vjp,
}


def available() -> list[str]:
    """Names of the oracles whose framework is installed."""
    return [name for name in ORACLES if importlib.util.find_spec(name) is not None]
