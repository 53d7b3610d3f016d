"""``refconv.explain(spec)``: a problem's output size, ``r`` per dim and each VJP as the convolution it is.

The arithmetic is printed with the problem's own numbers, so that a reader can follow the
derivation pages (:doc:`/notation`, :doc:`/input_vjp`, :doc:`/weight_vjp`, :doc:`/transpose`)
on their own configuration. ``refconv explain`` prints it.
"""

from __future__ import annotations

from refconv._convspec import ConvSpec
from refconv.geometry import (
    ConvParams,
    Shape,
    dilated_size,
    input_vjp_params,
    output_spatial_shape,
    remainder,
    weight_vjp_params,
)

__all__ = ["explain"]


def explain(s: ConvSpec) -> str:
    """The spec, its output size and ``r`` per dim, and dx, dw, db as the convolutions that compute them.

    For a transposed convolution, first the general convolution that computes it (stride 1,
    input dilation the stride, the kernel flipped with its in/out roles swapped), then that
    convolution's VJPs.

    Examples
    --------
    >>> import refconv
    >>> print(refconv.explain(refconv.spec((1, 1, 9), (1, 1, 3), stride=2, padding=((-1, 2),))))
    ... # doctest: +ELLIPSIS
    conv: x (1, 1, 9), w (1, 1, 3) -> y (1, 1, 4)
    ...
      dim 0: n_hat = 1*(9-1)+1 = 9, k_hat = 1*(3-1)+1 = 3, m = (9 - 1 + 2 - 3) // 2 + 1 = 4, r = 1
    ...
    """
    lines = str(s).splitlines()
    p, w_shape = s.general, s.general_w_shape
    if s.transposed:
        lines += _transposed(s)
    lines += _sizes(s.x_shape, w_shape, p)
    if s.padding_mode != "zeros":
        lines.append(
            f"  padding_mode={s.padding_mode!r}: x is padded by copies first, the convolution has zero"
        )
        lines.append(
            "  padding, and dx folds the padded positions' cotangents back onto the elements they copy"
        )
    return "\n".join(lines + _vjps(s.x_shape, w_shape, p))


def _sum(*terms: int) -> str:
    """``a + b - c``: the terms of a sum with their signs, as a reader writes them."""
    text = str(terms[0])
    for term in terms[1:]:
        text += f" - {-term}" if term < 0 else f" + {term}"
    return text


def _transposed(s: ConvSpec) -> list[str]:
    p, flipped = s.general, s.general_w_shape
    return [
        f"y = conv(x, w_t), w_t = w flipped in every spatial axis, in/out swapped per group: {s.w_shape} -> "
        f"{flipped}",
        f"     stride={p.stride}, input_dilation={p.input_dilation} (the stride), dilation={p.dilation},",
        f"     padding={p.padding} = (k_hat-1-lo, k_hat-1-hi+output_padding), groups={p.groups}",
        "the general convolution above, its sizes and VJPs (dw is w_t's, flipped and swapped back into w's",
        "layout):",
    ]


def _sizes(x_shape: Shape, w_shape: Shape, p: ConvParams) -> list[str]:
    m = output_spatial_shape(x_shape[2:], w_shape[2:], p)
    r = remainder(x_shape[2:], w_shape[2:], p)
    lines = []
    for dim, (n, k) in enumerate(zip(x_shape[2:], w_shape[2:], strict=True)):
        big_d, d, st, (lo, hi) = p.input_dilation[dim], p.dilation[dim], p.stride[dim], p.padding[dim]
        n_hat, k_hat = dilated_size(n, big_d), dilated_size(k, d)
        lines.append(
            f"  dim {dim}: n_hat = {big_d}*({n}-1)+1 = {n_hat}, k_hat = {d}*({k}-1)+1 = {k_hat}, "
            f"m = ({_sum(n_hat, lo, hi, -k_hat)}) // {st} + 1 = {m[dim]}, r = {r[dim]}"
        )
    return lines


def _vjps(x_shape: Shape, w_shape: Shape, p: ConvParams) -> list[str]:
    q = input_vjp_params(x_shape[2:], w_shape[2:], p)
    swapped = (w_shape[1] * q.groups, w_shape[0] // q.groups, *w_shape[2:])
    lines = [
        f"dx = conv(dy, w_t), w_t = w flipped in every spatial axis, in/out swapped per group: {w_shape} -> "
        f"{swapped}",
        f"     stride={q.stride} (the input dilation), input_dilation={q.input_dilation} (the stride),",
        f"     dilation={q.dilation}, padding={q.padding} = (k_hat-1-lo, k_hat-1-hi+r), groups={q.groups}",
    ]
    if p.batch_groups > 1:
        lines.append(f"     then the {p.batch_groups} channel groups move back into the batch, group major")
    r = weight_vjp_params(x_shape[2:], w_shape[2:], p)
    lines += [
        "dw = swap(conv(swap(x), swap(dy))), swap exchanging the batch and channel axes:",
        f"     stride={r.stride} (the dilation), dilation={r.dilation} (the stride), "
        f"input_dilation={r.input_dilation},",
        f"     padding={r.padding} = (lo, hi-r), groups={r.groups}, batch_groups={r.batch_groups} (swapped)",
        f"db = dy summed over axes {(0, *range(2, len(x_shape)))}",
    ]
    return lines
