r"""The independent road: the convolution and its VJPs as loops straight from the definition.

Nothing here is shared with the fast path but the front door,
:func:`refconv.spec` (argument normalisation and validation), and the
per-position definition of the padding modes
(:func:`refconv.padding_modes.source`). No output-size formula, no VJP
padding, no flipped kernel: each function walks the output positions and kernel taps,
finds the input element each tap reads by following it back through stride,
kernel dilation, padding and input dilation, and accumulates, as the classic
hand derivations of backprop do:

.. math::
    y[n, o, j] \mathrel{+}= x[n, c, i]\, w[o, c, t], \quad
    dx[n, c, i] \mathrel{+}= w[o, c, t]\, dy[n, o, j], \quad
    dw[o, c, t] \mathrel{+}= x[n, c, i]\, dy[n, o, j], \quad
    db[o] \mathrel{+}= dy[n, o, j]

for every output position ``j`` and tap ``t`` whose window element
``s j + d t`` of the padded, dilated input is the input element ``i``.
Slow (a Python loop over positions, taps and groups); use small shapes.
Every function takes the same arguments, keywords and defaults as its
namesake in :mod:`refconv` and returns the same shapes and dtypes.

Examples
--------
>>> import numpy as np, refconv
>>> from refconv import naive
>>> rng = np.random.default_rng(0)
>>> x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2))
>>> keywords = dict(stride=(2, 3), padding=((2, -1), (0, 3)), dilation=(2, 1), groups=2)
>>> y = naive.conv(x, w, **keywords)
>>> y.shape  # (10 - 5) // 2 + 1 = 3 and (11 - 2) // 3 + 1 = 4 windows
(2, 6, 3, 4)
>>> bool(np.allclose(y, refconv.conv(x, w, **keywords), rtol=0, atol=1e-12))  # 12 products each
True
"""

from __future__ import annotations

from refconv.naive._conv import (
    conv,
    conv_bias_vjp,
    conv_input_vjp,
    conv_output_shape,
    conv_transpose,
    conv_transpose_vjp,
    conv_vjp,
    conv_weight_vjp,
)
from refconv.naive._family import (
    conv_local,
    conv_local_vjp,
    conv_patches,
    deform_conv,
    deform_conv_sums,
    deform_conv_vjp,
    fold,
)

__all__ = [
    "conv",
    "conv_bias_vjp",
    "conv_input_vjp",
    "conv_local",
    "conv_local_vjp",
    "conv_output_shape",
    "conv_patches",
    "conv_transpose",
    "conv_transpose_vjp",
    "conv_vjp",
    "conv_weight_vjp",
    "deform_conv",
    "deform_conv_sums",
    "deform_conv_vjp",
    "fold",
]
