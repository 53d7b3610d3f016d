"""jax: ``lax.conv_general_dilated`` and ``jax.vjp``, in float64 with ``jax_enable_x64``.

jax expresses every parameter of the general convolution, layouts included
(the spec's ``dimension_numbers`` go to jax unchanged), and the padding words
as its own ``"SAME"``, ``"SAME_LOWER"`` and ``"VALID"`` (for a transposed
convolution without output_padding, on the convolution it transposes); a
padding mode is ``jnp.pad`` first. A transposed convolution is checked as what it is,
``jax.vjp`` of the convolution it transposes with respect to that
convolution's input; beyond ``output_padding < stride`` no convolution of the
output's size has ``x``'s shape, so that is unsupported (``lax.conv_transpose``
has another padding convention and no output_padding).
"""

from __future__ import annotations

from refconv import padding_modes
from refconv._spec import ConvSpec
from refconv.backends.base import FLOATS, Backend, Program, Unsupported

JAX_WORDS = {"same": "SAME", "same_lower": "SAME_LOWER", "valid": "VALID"}


def specs(s: ConvSpec) -> tuple[str, str, str]:
    """The spec's ``dimension_numbers``, or the canonical ones spelled out (spatial dims ``0``, ``1``...)."""
    if s.dimension_numbers is not None:
        return s.dimension_numbers
    spatial = "".join(str(i) for i in range(s.ndim))
    return f"NC{spatial}", f"{'IO' if s.transposed else 'OI'}{spatial}", f"NC{spatial}"


def window_padding(s: ConvSpec) -> tuple[str, str]:
    """A convolution's padding in jax: the ``jnp.pad`` line a padding mode needs first (or none),
    and the ``padding`` argument (the pairs, or jax's word for a padding word)."""
    lhs, rhs, _ = specs(s)
    if s.padding_mode != "zeros":
        widths = [(0, 0)] * (s.ndim + 2)
        spatial_rhs = [c for c in rhs if c not in "OI"]
        for dim, pair in enumerate(s.padding):
            widths[lhs.index(spatial_rhs[dim])] = pair
        mode = padding_modes.FRAMEWORK_NAMES["numpy"][s.padding_mode]
        return f"    x = jnp.pad(x, {widths}, mode={mode!r})\n", repr(((0, 0),) * s.ndim)
    if s.padding_word is not None:
        return "", repr(JAX_WORDS[s.padding_word])
    return "", repr(s.padding)


def _forward(s: ConvSpec) -> str:
    lhs, rhs, out = specs(s)
    bias = [-1 if i == out.index("C") else 1 for i in range(s.ndim + 2)]
    if s.transposed:
        if any(o >= st for o, st in zip(s.output_padding, s.stride, strict=True)):
            raise Unsupported(
                f"output_padding={s.output_padding} >= stride={s.stride}: not a jax.vjp of a conv"
            )
        transposed_rhs = rhs.translate(str.maketrans("IO", "OI"))
        # without output_padding, a padding word is jax's own word on the convolution transposed
        # (whose input is n * stride long): jax, not refconv, then decides the word's padding
        word = s.padding_word is not None and not any(s.output_padding)
        padding = repr(JAX_WORDS[s.padding_word]) if word and s.padding_word else repr(s.padding)
        return f"""
def forward(x, w, b):
    def convolution(z):  # the convolution this one transposes
        return lax.conv_general_dilated(
            z, w, {s.stride}, {padding}, rhs_dilation={s.dilation},
            dimension_numbers={(out, transposed_rhs, lhs)}, feature_group_count={s.groups},
            precision=lax.Precision.HIGHEST)
    z = jnp.zeros({s.given_shape("y")}, x.dtype)
    return jax.vjp(convolution, z)[1](x)[0] + b.reshape({bias})
"""
    pad, padding = window_padding(s)
    return f"""
def forward(x, w, b):
{pad}    y = lax.conv_general_dilated(
        x, w, {s.stride}, {padding}, lhs_dilation={s.input_dilation}, rhs_dilation={s.dilation},
        dimension_numbers={(lhs, rhs, out)}, feature_group_count={s.groups},
        batch_group_count={s.batch_groups}, precision=lax.Precision.HIGHEST)
    return y + b.reshape({bias})
"""


def program(s: ConvSpec, device: str = "cpu") -> Program:
    """``jax.vjp`` of the convolution (or the transposed one) on ``device`` (``"cpu"`` or ``"cuda"``)."""
    setup = f"""
import jax
import jax.numpy as jnp
from jax import lax

jax.config.update("jax_enable_x64", True)
{_forward(s).strip()}
"""
    platform = "gpu" if device == "cuda" else device
    if device != "cpu":
        import jax

        try:
            jax.devices(platform)
        except RuntimeError:
            raise Unsupported(f"jax sees no {device} device") from None
    run = f"""
b = np.zeros({s.y_shape[1]}, x.dtype) if b is None else b
with jax.default_device(jax.devices({platform!r})[0]):
    y, pullback = jax.vjp(forward, x, w, b)
    dx, dw, db = pullback(jnp.asarray(dy))
got = {{name: np.asarray(t) for name, t in zip(("y", "dx", "dw", "db"), (y, dx, dw, db))}}
"""
    return Program(setup, run)


BACKEND = Backend("jax", ("jax",), (*FLOATS, "complex128", "complex64"), True, program, extra="jax")
