"""A convolution of your own, as a refconv backend: ``refconv conform numpy_conv:numpy_conv``."""

import numpy as np

from refconv.backends import Unsupported


def numpy_conv(spec, x, w, b, dy):
    """A plain NumPy loop: 2-d, stride, dilation and padding >= 0; the forward pass only."""
    s = spec
    plain = s.groups == s.batch_groups == 1 and s.padding_mode == "zeros" and max(s.input_dilation) == 1
    if s.transposed or s.ndim != 2 or not plain or s.dimension_numbers or min(map(min, s.padding)) < 0:
        raise Unsupported("a plain 2-d convolution only")
    xp = np.pad(x, ((0, 0), (0, 0), *s.padding))
    (sh, sw), (dh, dw), (kh, kw) = s.stride, s.dilation, w.shape[2:]
    y = np.zeros(s.y_shape, x.dtype)
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            window = xp[:, :, i * sh :: dh][:, :, :kh, j * sw :: dw][:, :, :, :kw]
            y[:, :, i, j] = np.einsum("nchw,ochw->no", window, w)
    return {"y": y if b is None else y + b[:, None, None]}


numpy_conv.dtypes = ("float64", "float32")
