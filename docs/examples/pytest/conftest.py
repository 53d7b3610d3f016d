"""refconv judges mypackage.conv2d: pytest --refconv-backend conftest:conv (docs/ci.rst)."""

import mypackage
import numpy as np

from refconv.backends import Unsupported, require


def conv(spec, x, w, b, dy):  # NumPy arrays in spec's layout and dtype; b may be None
    require(spec, "mypackage", max_ndim=2)  # no input dilation, batch groups or padding modes
    if spec.ndim != 2 or spec.transposed or spec.dimension_numbers is not None:
        raise Unsupported("mypackage.conv2d is a 2-d convolution in NCHW")
    y = mypackage.conv2d(x, w, b, stride=spec.stride, padding=spec.padding, dilation=spec.dilation,
                         groups=spec.groups)  # fmt: skip
    return {"y": np.asarray(y)}


conv.dtypes = ("float64", "float32")
