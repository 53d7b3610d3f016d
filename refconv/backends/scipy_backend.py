r"""SciPy's N-d correlations: ``scipy.signal.correlate`` and ``convolve``, and ``scipy.ndimage.correlate``.

SciPy correlates one array with one kernel: no batch, no channels, no stride, no dilation. The
programs loop over images, groups and channels and sum ``y[n, o] = sum_c corr(x[n, c], w[o, c]) + b[o]``
(the layout moved to refconv's canonical one first, for ``dimension_numbers``); what SciPy itself
computes is each correlation, and the backends claim only what its API says:

``scipy-correlate``, ``scipy-convolve``
    ``signal.correlate(x, w, mode, method="direct")``, and ``signal.convolve`` with the kernel
    flipped (a convolution is the correlation with the reversed kernel). Their ``mode`` is the
    padding: ``"valid"`` no padding, ``"full"`` ``k - 1`` on each side, ``"same"`` the
    ``n``-long middle of the full output, which for an even kernel puts the extra row *first*,
    :math:`(\lceil (k - 1) / 2 \rceil, \lfloor (k - 1) / 2 \rfloor)`, as refconv's
    ``"same_lower"`` (TensorFlow's ``"SAME"`` puts it last). One mode for every dim; stride 1,
    no dilation, zero padding. ``method="direct"``: an FFT's round-off is not a sum's, and
    refconv's bound is a sum's.
``scipy-ndimage``
    ``ndimage.correlate(x, w, mode, origin)``: an output as long as the input, the window's
    centre at ``k // 2 + origin``, so refconv's padding ``(lo, hi)`` with ``lo + hi = k - 1``
    is ``origin = lo - k // 2``, any ``lo`` from 0 to ``k - 1``, per dim. Its boundary modes are
    refconv's padding modes under other names
    (:data:`refconv.padding_modes.FRAMEWORK_NAMES` ``["ndimage"]``): ``constant`` (with
    ``cval=0``) zeros, ``mirror`` reflect, ``nearest`` replicate, ``grid-wrap`` circular, and its
    ``reflect`` (the default) refconv's ``symmetric``. (Its ``wrap`` is not periodic with period
    ``n`` at every size; ``grid-wrap`` is.)

The correlations conjugate a complex kernel (:math:`\sum x_{i+t} \overline{w_t}`), as a signal
correlation does, and ``convolve`` does not; refconv's convolution does not, so the correlation
programs give SciPy :math:`\overline{w}`. SciPy
has no gradients: the backends judge ``y``.
"""

from __future__ import annotations

from collections.abc import Callable

from refconv import padding_modes
from refconv._spec import ConvSpec
from refconv.backends.base import Backend, Program, Unsupported, cpu_only

__all__ = ["CONVOLVE", "CORRELATE", "NDIMAGE", "signal_mode"]

#: What SciPy computes in: its correlations take these (ndimage no float16, signal float16 not directly).
_DTYPES = ("float64", "float32", "complex128", "complex64")


def signal_mode(s: ConvSpec) -> str:
    """``scipy.signal``'s ``mode`` whose padding is the spec's in every dim; Unsupported otherwise."""
    kernel = s.w_shape[2:]
    modes = {
        "valid": tuple((0, 0) for _ in kernel),
        "full": tuple((k - 1, k - 1) for k in kernel),
        "same": tuple((k // 2, (k - 1) // 2) for k in kernel),  # (ceil((k-1)/2), floor((k-1)/2))
    }
    for mode, padding in modes.items():
        if s.padding == padding:
            return mode
    raise Unsupported(f"scipy.signal pads only as 'valid', 'full' or 'same' (padding={s.padding})")


def _plain(s: ConvSpec, api: str) -> None:
    """What neither SciPy API has: a stride, kernel or input dilation, a transposed convolution."""
    if s.transposed:
        raise Unsupported(f"{api} has no transposed convolution")
    for name in ("stride", "dilation", "input_dilation"):
        if any(v != 1 for v in getattr(s, name)):
            raise Unsupported(f"{api} has no {name.replace('_', ' ')} ({name}={getattr(s, name)})")
    if s.preferred_element_type is not None:
        raise Unsupported(f"{api} computes in the operands' dtype (no preferred_element_type)")


def _loops(s: ConvSpec, call: str, conjugates: bool) -> str:
    """``got["y"]``: ``call`` (of ``image`` and ``kernel``, both spatial) summed over the input channels
    of each output channel's group, per image and output channel, in refconv's canonical layout,
    stacked as SciPy shaped them (a shape of SciPy's own shows); the kernel conjugated first where
    the API ``conjugates`` it. Where there is no image, output channel or input channel, SciPy has
    nothing to compute and ``y`` is the bias alone."""
    lhs, rhs, out = _layouts(s)
    conjugate = "w = np.conj(w)  # SciPy's correlation conjugates the kernel; refconv's does not\n"
    co = s.w_shape[0] // (s.groups * s.batch_groups)  # output channels per group
    return f"""
x, w = np.moveaxis(x, {lhs}, range(x.ndim)), np.moveaxis(w, {rhs}, range(w.ndim))  # canonical N C ...
{conjugate if conjugates else ""}

def channel(i, o):  # output channel o of image i: its group's input channels, summed
    a, grp = divmod(o // {co}, {s.groups})  # batch group, feature group
    images = (x[a * {s.y_shape[0]} + i, grp * {s.w_shape[1]} + c] for c in range({s.w_shape[1]}))
    return sum({call} for image, kernel in zip(images, w[o]))


if {s.y_shape[0] * s.y_shape[1] * s.w_shape[1]} == 0:
    y = np.zeros({s.y_shape}, x.dtype)
else:
    y = np.array([[channel(i, o) for o in range({s.y_shape[1]})] for i in range({s.y_shape[0]})])
if b is not None:
    y = y + b.reshape(-1, *[1] * {s.ndim})
got = {{"y": np.moveaxis(y, range(y.ndim), {out})}}
"""


def _layouts(s: ConvSpec) -> tuple[list[int], list[int], list[int]]:
    """The axes of x, w, y that hold refconv's canonical ``N C spatial...`` (``O I spatial...``)."""
    if s.dimension_numbers is None:
        axes = list(range(s.ndim + 2))
        return axes, axes, axes
    lhs, rhs, out = s.dimension_numbers
    spatial = [c for c in rhs if c not in "IO"]
    return (
        [lhs.index("N"), lhs.index("C"), *(lhs.index(c) for c in spatial)],
        [rhs.index("O"), rhs.index("I"), *(rhs.index(c) for c in spatial)],
        [out.index("N"), out.index("C"), *(out.index(c) for c in spatial)],
    )


def _signal(function: str) -> Callable[[ConvSpec, str], Program]:
    def program(s: ConvSpec, device: str = "cpu") -> Program:
        cpu_only(device, "SciPy runs on the CPU")
        _plain(s, f"scipy.signal.{function}")
        if s.padding_mode != "zeros":
            raise Unsupported(
                f"scipy.signal.{function} pads with zeros only (padding_mode={s.padding_mode!r})"
            )
        mode = signal_mode(s)
        kernel = "kernel" if function == "correlate" else "np.flip(kernel)"  # convolve reverses it back
        call = f"signal.{function}(image, {kernel}, mode={mode!r}, method='direct')"
        return Program("from scipy import signal", _loops(s, call, function == "correlate"))

    return program


def _ndimage(s: ConvSpec, device: str = "cpu") -> Program:
    cpu_only(device, "SciPy runs on the CPU")
    _plain(s, "scipy.ndimage.correlate")
    kernel = s.w_shape[2:]
    if any(lo + hi != k - 1 or not 0 <= lo <= k - 1 for k, (lo, hi) in zip(kernel, s.padding, strict=True)):
        why = "scipy.ndimage.correlate's output is the input's size: padding lo + hi = k - 1"
        raise Unsupported(f"{why} (padding={s.padding})")
    origin = tuple(lo - k // 2 for k, (lo, _) in zip(kernel, s.padding, strict=True))
    mode = padding_modes.FRAMEWORK_NAMES["ndimage"][s.padding_mode]
    call = f"ndimage.correlate(image, kernel, mode={mode!r}, cval=0.0, origin={list(origin)})"
    return Program("from scipy import ndimage", _loops(s, call, True))


CORRELATE = Backend("scipy-correlate", ("scipy",), _DTYPES, False, _signal("correlate"), extra="scipy")
CONVOLVE = Backend("scipy-convolve", ("scipy",), _DTYPES, False, _signal("convolve"), extra="scipy")
NDIMAGE = Backend("scipy-ndimage", ("scipy",), _DTYPES, False, _ndimage, extra="scipy")
