r"""The general N-d convolution: its definition, then the forward pass every other function calls.

.. math::

    y[n, o, j] = b[o] + \sum_{i, t} x_p[\,\cdot\,, i, s j + d t]\; w[o, i, t]

where :math:`x_p` is ``x`` with input dilation and signed padding applied, and
the batch, input-channel and output-channel indices are tied by the feature
groups (``groups``) or the batch groups (``batch_groups``), as in
``jax.lax.conv_general_dilated``. :func:`conv_definition` is that formula in
NumPy, the spec kernel the fast path (:mod:`refconv.fast`) is tested against.
Derived in :doc:`/forward`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from refconv import _normalize as norm
from refconv import padding_modes
from refconv._nonfinite import IEEE
from refconv._ops import dilate_and_pad, split_axis, transpose_kernel, window_view
from refconv._spec import ConvOptions, ConvSpec, conv_spec
from refconv.fast import conv_general
from refconv.geometry import ConvParams

__all__ = ["conv", "conv_definition", "conv_output_shape"]


def conv_definition(x: NDArray[Any], w: NDArray[Any], p: ConvParams) -> NDArray[Any]:
    """The general convolution as its definition: dilate and pad, view the windows, sum the real products.

    ``x`` is ``(N, C, *spatial)`` with ``N = B N'`` and ``C = G I``; ``w`` is
    ``(O, I, *kernel)`` with ``O = B G O''``; the result is ``(N', O, *out)``.
    A window element that is padding or an inserted zero forms no product (it
    is not an element of ``x``: ``refconv._nonfinite``), which matters only
    for NaN and infinity. No chunking, no strategy: slow and memory-hungry, and
    the definition the fast path (:func:`refconv.fast.conv_general`) is checked against.
    """
    bg, g, nd = p.batch_groups, p.groups, x.ndim - 2
    xp = dilate_and_pad(x, p.input_dilation, p.padding)  # (N, C, *padded)
    real = dilate_and_pad(np.ones(x.shape, bool), p.input_dilation, p.padding)  # where xp is an element of x
    windows, reads = (
        split_axis(split_axis(window_view(a, w.shape[2:], p.stride, p.dilation), 1, g), 0, bg)[:, :, :, None]
        for a in (xp, real)
    )  # (B, N', G, 1, I, *out, *kernel), views
    kernel = split_axis(split_axis(w, 0, bg), 1, g)[(slice(None), None, *(slice(None),) * 3, *(None,) * nd)]
    # kernel: (B, 1, G, O'', I, 1, ..., 1, *K), broadcast against the windows
    with np.errstate(**IEEE):  # inf * 0 of real elements is NaN, silently
        products = np.where(reads, windows * kernel, 0)  # (B, N', G, O'', I, *out, *kernel)
    y: NDArray[Any] = products.sum(axis=(4, *range(5 + nd, 5 + 2 * nd)), dtype=products.dtype)
    return np.moveaxis(y, 0, 1).reshape(y.shape[1], w.shape[0], *y.shape[4:])


def kernel_of(s: ConvSpec, w: NDArray[Any]) -> NDArray[Any]:
    """The weight of the general convolution that computes ``s``: ``w`` itself, or flipped and swapped.

    A transposed convolution's ``(C_in, C_out // G, *K)`` weight becomes the
    ``(C_out, C_in // G, *K)`` kernel of :attr:`refconv.ConvSpec.general`
    (:func:`refconv._ops.transpose_kernel`). The map is its own inverse, so it
    also takes that kernel's cotangent back to the weight's.
    """
    return transpose_kernel(w, s.groups) if s.transposed else w


def forward(s: ConvSpec, x: NDArray[Any], w: NDArray[Any]) -> NDArray[Any]:
    """``y`` without the bias, for canonical arrays in the accumulation dtype: one general convolution.

    A padding mode pads ``x`` first and leaves the convolution zero padding
    (:mod:`refconv.padding_modes`). Zeros for a problem without products
    (:attr:`refconv.ConvSpec.empty`).
    """
    if s.empty:
        return np.zeros(s.y_shape, np.result_type(x, w))
    x, p = padding_modes.apply(x, s.general, s.padding_mode)
    return conv_general(x, kernel_of(s, w), p)


def with_bias(y: NDArray[Any], b: NDArray[Any] | None) -> NDArray[Any]:
    """``y + b``, the bias broadcast over the batch and every position (``y`` is updated in place)."""
    if b is not None:
        with np.errstate(**IEEE):
            y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
    return y


def conv(
    x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, **options: Unpack[ConvOptions]
) -> NDArray[Any]:
    r"""General N-d convolution (cross-correlation), PyTorch layout, JAX generality.

    Parameters
    ----------
    x : array_like, shape (N, C_in, \*spatial)
        Input. Any number of spatial dims >= 0 (0: a grouped matmul, JAX's 0-d convolution).
    w : array_like, shape (C_out, C_in // groups, \*kernel)
        Weight.
    b : array_like, shape (C_out,), optional
        Bias, added to every output position.

    Other Parameters
    ----------------
    stride : int or sequence of int
        Step between windows, per spatial dim, >= 1.
    padding : int, sequence of int, sequence of (lo, hi) pairs, or str
        Zero padding before and after each spatial dim. Pairs may be negative
        (cropping), as in ``jax.lax.conv_general_dilated``. Or a word (any
        case): ``"valid"`` (none), ``"same"`` (output ``ceil(n / s)``, an odd
        pixel at the end, as TF/JAX ``SAME``) or ``"same_lower"`` (the odd
        pixel at the start, as JAX/ONNX ``SAME_LOWER``), at any stride and
        dilation (:func:`refconv.geometry.same_padding`); not with input dilation.
    dilation : int or sequence of int
        Kernel dilation: spacing between kernel taps (JAX's ``rhs_dilation``).
    input_dilation : int or sequence of int
        Input dilation: ``D - 1`` zeros inserted between input elements (JAX's
        ``lhs_dilation``).
    groups : int
        Feature groups (JAX's ``feature_group_count``): input and output
        channels split into ``groups`` blocks, block ``g`` of the output reads
        block ``g`` of the input.
    batch_groups : int
        Batch groups (JAX's ``batch_group_count``): the batch splits into
        ``batch_groups`` blocks (block index major); output-channel block ``g``
        reads batch block ``g``. At most one of ``groups`` and ``batch_groups``
        may exceed 1.
    padding_mode : {"zeros", "reflect", "replicate", "circular", "symmetric"}
        What the padding holds, as PyTorch's ``nn.Conv`` modules: zeros, a
        mirror image without the edge, copies of the edge, or the other end;
        or a mirror image with the edge (NumPy's ``"symmetric"``, which PyTorch
        lacks). Non-zero modes need padding >= 0 (``< n`` for reflect, ``<= n``
        for circular and symmetric) and no input dilation
        (:mod:`refconv.padding_modes`).
    dimension_numbers : (str, str, str), optional
        Layouts of input, kernel and output in JAX's string form, e.g.
        ``("NHWC", "HWIO", "NHWC")``, any spatial rank; per-dim parameters
        follow the kernel's spatial order. Default: ``NC...``, ``OI...``, ``NC...``.
    preferred_element_type : dtype, optional
        Output dtype (JAX's name), instead of the inputs' result type; sums
        accumulate in at least float32 (floats) or int64 (integers) either way
        (:func:`refconv._normalize.dtypes`).

    Returns
    -------
    y : ndarray, shape (N // batch_groups, C_out, \*out)
        A new array of the inputs' result dtype; ``out`` from
        :func:`conv_output_shape`.

    Raises
    ------
    ValueError, TypeError
        On any inconsistent shape or parameter, naming it.

    Notes
    -----
    With :math:`\hat n = D(n-1)+1` and :math:`\hat k = d(k-1)+1`, each output
    size is :math:`m = \lfloor(\hat n + lo + hi - \hat k)/s\rfloor + 1`
    (:func:`refconv.geometry.output_spatial_shape`), and

    .. math::
        y[n, o, j] = b[o] + \sum_{i}\sum_{t} x_p[n, i, s j + d t]\, w[o, i, t]

    over the input channels :math:`i` of ``o``'s group, :math:`x_p` the
    dilated, padded input (:func:`refconv.conv.conv_definition`, computed by one of the
    strategies of :mod:`refconv.fast`). Derivation: :doc:`/forward`.

    Examples
    --------
    >>> import numpy as np, refconv
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> y = refconv.conv(x, np.ones((1, 1, 2, 2)), stride=2, padding=3)
    >>> y.shape, float(y.sum())
    ((1, 1, 5, 5), 300.0)
    """
    x, w = norm.as_array(x, "x"), norm.as_array(w, "w")
    s = conv_spec("conv", x.shape, w.shape, norm.dtypes_of(x=x, w=w, b=b), options)
    y = forward(s, s.operand(x, "x", "x"), s.operand(w, "w", "w"))
    return s.result(with_bias(y, s.bias(b)), "y")


def conv_output_shape(
    x_shape: Sequence[int], w_shape: Sequence[int], **options: Unpack[ConvOptions]
) -> tuple[int, ...]:
    r"""Shape of :func:`conv`'s output, ``(N // batch_groups, C_out, *m)``, validating the arguments.

    Takes the keywords of :func:`conv`, validated all the same (``padding_mode``
    does not change the shape); shapes in the layout of ``dimension_numbers``.

    Notes
    -----
    :math:`m = \lfloor(\hat n + lo + hi - \hat k)/s\rfloor + 1` per spatial
    dim (:func:`refconv.geometry.output_spatial_shape`).

    Examples
    --------
    >>> import refconv
    >>> refconv.conv_output_shape((8, 3, 32, 32), (16, 3, 5, 5), stride=2, padding=(2, 1))
    (8, 16, 16, 15)
    """
    return conv_spec("conv_output_shape", x_shape, w_shape, [], options).given_shape("y")
