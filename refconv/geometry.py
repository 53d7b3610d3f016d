r"""The arithmetic of the general convolution: sizes, remainders, VJP parameters.

Every formula of refconv's fast path lives here, once. Per spatial dimension,
with the names used throughout refconv and its docs (:doc:`/notation`):

==============  ================================================================
``n``, ``k``    input and kernel size
``s``           stride
``d``           kernel dilation (JAX's ``rhs_dilation``)
``D``           input dilation (JAX's ``lhs_dilation``)
``lo``, ``hi``  signed padding before and after (negative crops)
``n_hat``       :math:`\hat n = D(n-1)+1`, the dilated input size
``k_hat``       :math:`\hat k = d(k-1)+1`, the dilated kernel size
``m``           :math:`m = \lfloor(\hat n + lo + hi - \hat k)/s\rfloor + 1`
``r``           :math:`r = (\hat n + lo + hi - \hat k) \bmod s`, the trailing
                rows of the padded input that no window reaches
==============  ================================================================

This module imports nothing from the rest of refconv.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import NamedTuple

Shape = tuple[int, ...]
Padding = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ConvParams:
    """The normalised parameters of one general convolution.

    Every per-dimension field has one entry per spatial dimension. At most one
    of ``groups`` and ``batch_groups`` exceeds 1 (as in XLA).
    """

    stride: Shape
    padding: Padding
    dilation: Shape
    input_dilation: Shape
    groups: int = 1
    batch_groups: int = 1


def one_position(p: ConvParams) -> ConvParams:
    r"""The parameters of a 0-d convolution ``p`` as a 1-d one over a single position with a one-tap kernel.

    A convolution without spatial dims is a grouped matmul, ``y[n, o] =
    \sum_i x[n, i] w[o, i]`` over ``o``'s group; so is the 1-d convolution of
    ``(N, C, 1)`` by ``(O, I, 1)`` with stride 1, no padding and no dilation,
    whose one output position reads the one input position.
    """
    return replace(p, stride=(1,), padding=((0, 0),), dilation=(1,), input_dilation=(1,))


def dilated_size(size: int, dilation: int) -> int:
    r"""Size of an axis of ``size`` elements with ``dilation - 1`` zeros between them.

    :math:`\hat n = D(n-1)+1` for :math:`n \ge 1`, and 0 for an empty axis.
    """
    return 0 if size == 0 else dilation * (size - 1) + 1


def dilated_shape(shape: Shape, dilation: Shape) -> Shape:
    """:func:`dilated_size` of each axis."""
    return tuple(dilated_size(n, d) for n, d in zip(shape, dilation, strict=True))


def padded_size(size: int, dilation: int, lo: int, hi: int) -> int:
    r"""Length of an axis after input dilation and signed padding: :math:`\hat n + lo + hi`."""
    return dilated_size(size, dilation) + lo + hi


def padded_shape(x_spatial: Shape, p: ConvParams) -> Shape:
    r"""Spatial shape of the input after input dilation and padding: :math:`\hat n + lo + hi` per dim."""
    return tuple(
        padded_size(n, dil, lo, hi)
        for n, dil, (lo, hi) in zip(x_spatial, p.input_dilation, p.padding, strict=True)
    )


def placement(size: int, dilation: int, lo: int, hi: int) -> tuple[slice, slice]:
    r"""Which input elements survive dilation and signed padding, and where they land.

    Element :math:`i` lands at :math:`D i + lo` of the padded axis
    (:func:`padded_size` long); negative padding crops the elements that would land
    outside it. Returns ``(source, destination)`` slices, empty when nothing survives.

    Examples
    --------
    >>> from refconv.geometry import placement
    >>> placement(4, 2, -1, 0)  # 0 _ 1 _ 2 _ 3 cropped by one: elements 1..3 land at 1, 3, 5
    (slice(1, 4, None), slice(1, 6, 2))
    """
    padded = padded_size(size, dilation, lo, hi)
    first = max(0, -(lo // dilation))
    stop = min(size, -((lo - padded) // dilation))
    if stop <= first:
        return slice(0, 0), slice(0, 0)
    return slice(first, stop), slice(dilation * first + lo, dilation * (stop - 1) + lo + 1, dilation)


def _reach(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> Shape:
    r""":math:`\hat n + lo + hi - \hat k`: how far the first window can slide."""
    k_hat = dilated_shape(w_spatial, p.dilation)
    return tuple(n - k for n, k in zip(padded_shape(x_spatial, p), k_hat, strict=True))


def output_spatial_shape(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> Shape:
    r"""Output size per spatial dim: :math:`m = \max(\lfloor(\hat n + lo + hi - \hat k)/s\rfloor + 1,\ 0)`.

    Zero where the dilated kernel is longer than the padded input: no window fits.
    """
    return tuple(
        max(reach // s + 1, 0) for reach, s in zip(_reach(x_spatial, w_spatial, p), p.stride, strict=True)
    )


def remainder(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> Shape:
    r"""Rows no window reaches per spatial dim: :math:`r = (\hat n + lo + hi - \hat k) \bmod s`.

    They sit at the high end of the padded input; the gradient there is zero.

    Examples
    --------
    >>> from refconv.geometry import ConvParams, output_spatial_shape, remainder
    >>> p = ConvParams(stride=(2,), padding=((1, 1),), dilation=(1,), input_dilation=(1,))
    >>> output_spatial_shape((8,), (3,), p), remainder((8,), (3,), p)  # padded length 10
    ((4,), (1,))
    """
    return tuple(reach % s for reach, s in zip(_reach(x_spatial, w_spatial, p), p.stride, strict=True))


def tap_reads(tap: Shape, out_spatial: Shape, p: ConvParams) -> tuple[slice, ...]:
    r"""The positions of the padded input that tap :math:`t` reads, one per output: :math:`s j + d t`.

    Per spatial dim, ``slice(d t, d t + s (m - 1) + 1, s)`` for the :math:`m` outputs.
    """
    return tuple(
        slice(d * t, d * t + s * (m - 1) + 1, s)
        for t, m, s, d in zip(tap, out_spatial, p.stride, p.dilation, strict=True)
    )


def window_reads(position: Shape, w_spatial: Shape, p: ConvParams) -> tuple[slice, ...]:
    r"""The positions of the padded input that output :math:`j` reads, one per tap: :math:`s j + d t`.

    Per spatial dim, ``slice(s j, s j + d (k - 1) + 1, d)`` for the :math:`k` taps: the transpose of
    :func:`tap_reads`, which fixes the tap and runs over the outputs.
    """
    return tuple(
        slice(s * j, s * j + d * (k - 1) + 1, d)
        for j, k, s, d in zip(position, w_spatial, p.stride, p.dilation, strict=True)
    )


def same_padding(x_spatial: Shape, w_spatial: Shape, p: ConvParams, lower: bool = False) -> Padding:
    r"""Padding that makes the output :math:`\lceil n/s \rceil` long: ``padding="same"`` / ``"same_lower"``.

    The total :math:`\max((\lceil n/s\rceil - 1)s + \hat k - n,\ 0)` is split evenly; an odd
    pixel goes at the end (``"same"``: TF, JAX ``SAME``, torch at stride 1) or at the start
    (``lower=True``: JAX ``SAME_LOWER``, ONNX ``SAME_LOWER``). Input dilation must be 1.

    Examples
    --------
    >>> from refconv.geometry import ConvParams, same_padding
    >>> p = ConvParams(stride=(2,), padding=((0, 0),), dilation=(1,), input_dilation=(1,))
    >>> same_padding((7,), (4,), p), same_padding((7,), (4,), p, lower=True)  # ceil(7/2) = 4 outputs
    (((1, 2),), ((2, 1),))
    """
    k_hat = dilated_shape(w_spatial, p.dilation)
    pairs = []
    for n, k, s in zip(x_spatial, k_hat, p.stride, strict=True):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        small, large = total // 2, total - total // 2
        pairs.append((large, small) if lower else (small, large))
    return tuple(pairs)


def _transposed_padding(w_spatial: Shape, p: ConvParams, extra: Shape) -> Padding:
    r""":math:`(\hat k - 1 - lo,\; \hat k - 1 - hi + e)`: full padding, less the forward's, plus ``e``."""
    k_hat = dilated_shape(w_spatial, p.dilation)
    return tuple(
        (kh - 1 - lo, kh - 1 - hi + e) for kh, (lo, hi), e in zip(k_hat, p.padding, extra, strict=True)
    )


def input_vjp_padding(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> Padding:
    r"""Padding of the convolution that computes the input VJP.

    :math:`(\hat k - 1 - lo,\; \hat k - 1 - hi + r)`: a full correlation
    (:math:`\hat k - 1` on both sides) minus the forward padding, plus the
    ``r`` unreached rows that the cotangent never saw.
    """
    return _transposed_padding(w_spatial, p, remainder(x_spatial, w_spatial, p))


def weight_vjp_padding(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> Padding:
    r"""Padding of the convolution that computes the weight VJP: :math:`(lo,\; hi - r)`.

    The forward padding, cropped by the ``r`` rows no window reached.
    """
    r = remainder(x_spatial, w_spatial, p)
    return tuple((lo, hi - ri) for (lo, hi), ri in zip(p.padding, r, strict=True))


def input_vjp_params(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> ConvParams:
    r"""Parameters of the convolution of ``dy`` with the flipped kernel that gives ``dx``.

    Stride and input dilation trade places (:math:`s \leftrightarrow D`): the
    cotangent is zero-inserted by the forward stride, and the result is read
    at the forward input dilation. Kernel dilation stays. Both group kinds
    become feature groups (the kernel's roles are swapped per group).

    Examples
    --------
    >>> from refconv.geometry import ConvParams, input_vjp_params
    >>> p = ConvParams(stride=(2,), padding=((1, 1),), dilation=(1,), input_dilation=(1,))
    >>> q = input_vjp_params((8,), (3,), p)
    >>> q.stride, q.input_dilation, q.padding  # k_hat - 1 - lo = 1, k_hat - 1 - hi + r = 2
    ((1,), (2,), ((1, 2),))
    """
    return ConvParams(
        stride=p.input_dilation,
        padding=input_vjp_padding(x_spatial, w_spatial, p),
        dilation=p.dilation,
        input_dilation=p.stride,
        groups=p.groups * p.batch_groups,
        batch_groups=1,
    )


def weight_vjp_params(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> ConvParams:
    r"""Parameters of the convolution of ``x`` with ``dy`` (batch and channels swapped) that gives ``dw``.

    Stride and kernel dilation trade places (:math:`s \leftrightarrow d`):
    ``dy`` is the kernel now, its taps ``s`` apart, and the result's taps are
    ``d`` apart. Input dilation stays. Feature and batch group counts swap.

    Examples
    --------
    >>> from refconv.geometry import ConvParams, weight_vjp_params
    >>> p = ConvParams(stride=(3,), padding=((1, 1),), dilation=(2,), input_dilation=(1,), groups=4)
    >>> q = weight_vjp_params((10,), (3,), p)  # m = 3, r = 1
    >>> q.stride, q.dilation, q.padding, q.groups, q.batch_groups
    ((2,), (3,), ((1, 0),), 1, 4)
    """
    return replace(
        p,
        stride=p.dilation,
        padding=weight_vjp_padding(x_spatial, w_spatial, p),
        dilation=p.stride,
        groups=p.batch_groups,
        batch_groups=p.groups,
    )


def output_shape(x_shape: Shape, w_shape: Shape, p: ConvParams) -> Shape:
    """Full output shape ``(N // batch_groups, C_out, *m)``."""
    return (
        x_shape[0] // p.batch_groups,
        w_shape[0],
        *output_spatial_shape(x_shape[2:], w_shape[2:], p),
    )


@dataclass(frozen=True)
class TransposeParams:
    """The normalised parameters of one transposed convolution (PyTorch's semantics).

    ``stride``, ``padding``, ``dilation`` and ``groups`` are those of the
    convolution whose input VJP this is; ``output_padding`` adds rows at the
    high end of each spatial dim, ``0 <= output_padding < max(stride, dilation)``.
    """

    stride: Shape
    padding: Padding
    output_padding: Shape
    dilation: Shape
    groups: int = 1

    @property
    def forward(self) -> ConvParams:
        """The convolution that this one transposes (its input VJP is this)."""
        ones = (1,) * len(self.stride)
        return ConvParams(self.stride, self.padding, self.dilation, ones, self.groups, 1)


def transpose_output_spatial_shape(x_spatial: Shape, w_spatial: Shape, t: TransposeParams) -> Shape:
    r"""Output size of the transposed convolution: :math:`(n-1)s - lo - hi + \hat k + o`.

    (PyTorch's ``(n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.)

    Examples
    --------
    >>> from refconv.geometry import TransposeParams, transpose_output_spatial_shape
    >>> t = TransposeParams(stride=(2,), padding=((1, 1),), output_padding=(1,), dilation=(1,))
    >>> transpose_output_spatial_shape((5,), (3,), t)
    (10,)
    """
    k_hat = dilated_shape(w_spatial, t.dilation)
    return tuple(
        (n - 1) * s - lo - hi + k + o
        for n, s, (lo, hi), k, o in zip(x_spatial, t.stride, t.padding, k_hat, t.output_padding, strict=True)
    )


def transpose_same_padding(
    w_spatial: Shape, stride: Shape, dilation: Shape, output_padding: Shape, lower: bool = False
) -> Padding:
    r"""The padding of a transposed convolution ``n * stride`` long: ``padding="same"`` or ``"same_lower"``.

    ONNX's ``auto_pad`` for ConvTranspose: the total
    :math:`\hat k + o - s` (that is :math:`s(n-1) + o + \hat k - n s`) is split as
    for the convolution's words, an odd pixel at the end (``"same"``, ONNX's
    ``SAME_UPPER``, TensorFlow's ``SAME``) or at the start (``lower=True``,
    ``SAME_LOWER``). A negative total (a kernel shorter than the stride) adds
    its :math:`s - \hat k - o` zero rows at the end for both words: they are the
    rows of the :math:`n s` input that the convolution being transposed never
    reads. With :math:`o = 0` the result is the input VJP of the ``"same"``
    (or ``"same_lower"``) convolution of an :math:`n s` input.

    Examples
    --------
    >>> from refconv.geometry import transpose_same_padding
    >>> transpose_same_padding((3,), (2,), (1,), (0,)), transpose_same_padding((1,), (3,), (1,), (0,))
    (((0, 1),), ((0, -2),))
    """
    pairs = []
    for k, s, d, o in zip(w_spatial, stride, dilation, output_padding, strict=True):
        total = dilated_size(k, d) + o - s
        small, large = total // 2, total - total // 2
        pairs.append((0, total) if total < 0 else (large, small) if lower else (small, large))
    return tuple(pairs)


def transpose_conv_params(w_spatial: Shape, t: TransposeParams) -> ConvParams:
    r"""The general convolution that *is* the transposed convolution, with the flipped, role-swapped kernel.

    As :func:`input_vjp_params` with the forward convolution :attr:`TransposeParams.forward`,
    ``output_padding`` in the place of ``r``: stride 1, input dilation :math:`s`, padding
    :math:`(\hat k - 1 - lo,\; \hat k - 1 - hi + o)`. Unlike ``r``, ``o`` may reach
    ``dilation - 1`` when the dilation exceeds the stride (as PyTorch allows).

    Examples
    --------
    >>> from refconv.geometry import TransposeParams, transpose_conv_params
    >>> t = TransposeParams(stride=(2,), padding=((1, 1),), output_padding=(1,), dilation=(1,))
    >>> q = transpose_conv_params((3,), t)
    >>> q.stride, q.input_dilation, q.padding  # (k_hat - 1 - lo, k_hat - 1 - hi + o)
    ((1,), (2,), ((1, 2),))
    """
    forward = t.forward
    return ConvParams(
        stride=forward.input_dilation,
        padding=_transposed_padding(w_spatial, forward, t.output_padding),
        dilation=t.dilation,
        input_dilation=t.stride,
        groups=t.groups,
    )


@dataclass(frozen=True)
class Phase:
    """One phase of an input-dilated convolution: which outputs and taps, and the convolution it is."""

    outputs: tuple[slice, ...]
    taps: tuple[slice, ...]
    params: ConvParams


class PhaseDim(NamedTuple):
    """One phase of one spatial dim: its outputs and taps, and the undilated convolution they form."""

    outputs: slice
    taps: slice
    stride: int
    padding: tuple[int, int]
    dilation: int


def _phases_1d(n: int, k: int, s: int, lo: int, d: int, dil: int, m: int) -> list[PhaseDim]:
    r"""The phases of one spatial dim that read any input (see :func:`input_dilation_phases`)."""
    period, tap_step = dil // math.gcd(s, dil), dil // math.gcd(d, dil)
    stride, dilation = s * period // dil, d * tap_step // dil
    phases: list[PhaseDim] = []
    for j0 in range(min(period, m)):
        t0 = next((t for t in range(min(tap_step, k)) if (s * j0 + d * t - lo) % dil == 0), None)
        if t0 is None:
            continue  # every tap of these outputs lands on an inserted zero
        outputs, k_sub = len(range(j0, m, period)), len(range(t0, k, tap_step))
        pad_lo = -((s * j0 + d * t0 - lo) // dil)
        pad_hi = stride * (outputs - 1) + dilation * (k_sub - 1) + 1 - n - pad_lo
        phases.append(
            PhaseDim(slice(j0, None, period), slice(t0, None, tap_step), stride, (pad_lo, pad_hi), dilation)
        )
    return phases


def input_dilation_phases(x_spatial: Shape, w_spatial: Shape, p: ConvParams) -> list[Phase]:
    r"""The convolution with input dilation :math:`D`, split into convolutions without it.

    A window's taps that land on the :math:`D - 1` inserted zeros contribute
    nothing, so a convolution with input dilation wastes all but about
    :math:`1/D` of its products per dim (the input VJP of a strided
    convolution and the transposed convolution are such convolutions). Output
    :math:`j` reads real inputs with the taps :math:`t` for which
    :math:`s j + d t - lo \equiv 0 \pmod D`; that set depends on :math:`j` only
    modulo :math:`P = D / \gcd(s, D)`, and it is every :math:`T`-th tap,
    :math:`T = D / \gcd(d, D)`. So the outputs :math:`j_0 + P j'` form a
    convolution of the undilated input with the taps :math:`t_0 + T u`, stride
    :math:`\operatorname{lcm}(s, D) / D`, dilation :math:`\operatorname{lcm}(d, D)/D`
    and padding chosen to start at the input element the first output reads
    and give exactly its number of outputs. Phases whose outputs read only
    inserted zeros are left out: those outputs are zero.

    Examples
    --------
    >>> from refconv.geometry import ConvParams, input_dilation_phases
    >>> p = ConvParams(stride=(1,), padding=((1, 2),), dilation=(1,), input_dilation=(2,))
    >>> for phase in input_dilation_phases((4,), (3,), p):  # even outputs read tap 1, odd ones taps 0, 2
    ...     print(phase.outputs, phase.taps, phase.params.padding)
    (slice(0, None, 2),) (slice(1, None, 2),) ((0, 0),)
    (slice(1, None, 2),) (slice(0, None, 2),) ((0, 1),)
    """
    out = output_spatial_shape(x_spatial, w_spatial, p)
    per_dim = [
        _phases_1d(n, k, s, lo, d, dil, m)
        for n, k, s, (lo, _), d, dil, m in zip(
            x_spatial, w_spatial, p.stride, p.padding, p.dilation, p.input_dilation, out, strict=True
        )
    ]
    phases = []
    for dims in itertools.product(*per_dim):
        params = ConvParams(
            stride=tuple(dim.stride for dim in dims),
            padding=tuple(dim.padding for dim in dims),
            dilation=tuple(dim.dilation for dim in dims),
            input_dilation=(1,) * len(dims),
            groups=p.groups,
            batch_groups=p.batch_groups,
        )
        phases.append(Phase(tuple(dim.outputs for dim in dims), tuple(dim.taps for dim in dims), params))
    return phases
