"""The phase split of an input-dilated convolution (phases page): which taps each output uses."""

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from refconv.geometry import ConvParams, input_dilation_phases, output_spatial_shape, padded_size

n, k, s, d, D, lo, hi = 5, 4, 1, 1, 2, 2, 2  # the input VJP of a stride-2 convolution looks like this
p = ConvParams(stride=(s,), padding=((lo, hi),), dilation=(d,), input_dilation=(D,))
(m,) = output_spatial_shape((n,), (k,), p)
phases = input_dilation_phases((n,), (k,), p)
colours = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
phase_of = {j: i for i, ph in enumerate(phases) for j in range(m)[ph.outputs[0]]}

fig, ax = plt.subplots(figsize=(6.4, 3.9))
length = padded_size(n, D, lo, hi)
for col in range(length):
    real = (col - lo) % D == 0 and 0 <= (col - lo) // D < n
    ax.add_patch(Rectangle((col, 0), 1, 1, facecolor="0.25" if real else "0.92", edgecolor="0.4"))
    label = f"x{(col - lo) // D}" if real else "0"
    ax.text(col + 0.5, 0.5, label, ha="center", va="center", fontsize=8, color="white" if real else "0.5")
for j in range(m):
    row = 1.5 + j * 0.8
    colour = colours[phase_of[j]] if j in phase_of else "0.8"
    ax.text(-0.3, row + 0.3, f"y{j}", ha="right", va="center", fontsize=8)
    for t in range(k):
        col = s * j + d * t
        real = (col - lo) % D == 0 and 0 <= (col - lo) // D < n
        ax.add_patch(Rectangle((col + 0.05, row), 0.9, 0.6, facecolor=colour if real else "white",
                               edgecolor=colour, alpha=0.85))  # fmt: skip
        ax.text(col + 0.5, row + 0.3, f"w{t}", ha="center", va="center", fontsize=7,
                color="white" if real else colour)  # fmt: skip
ax.set_xlim(-1.2, length)
ax.set_ylim(1.5 + m * 0.8, 0)
ax.axis("off")
summary = "; ".join(
    f"outputs {ph.outputs[0].start}::{ph.outputs[0].step} use taps {ph.taps[0].start}::{ph.taps[0].step}"
    for ph in phases
)
ax.set_title(f"n={n}, k={k}, input dilation {D}, padding ({lo},{hi}): filled taps read an input. {summary}",
             fontsize=7)  # fmt: skip
