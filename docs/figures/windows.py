"""Which cells of the padded input each output cell reads (forward page)."""

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

import refconv
from refconv.geometry import ConvParams, output_spatial_shape, padded_shape, remainder

n, k, pad, s, d = (8, 8), (3, 3), 1, (2, 2), (2, 2)
p = ConvParams(stride=s, padding=((pad, pad),) * 2, dilation=d, input_dilation=(1, 1))
size, m, r = padded_shape(n, p), output_spatial_shape(n, k, p), remainder(n, k, p)
assert refconv.conv_output_shape((1, 1, *n), (1, 1, *k), stride=s, padding=pad, dilation=d)[2:] == m

fig, ax = plt.subplots(figsize=(4.6, 4.6))
for row in range(size[0]):
    for col in range(size[1]):
        inside = pad <= row < pad + n[0] and pad <= col < pad + n[1]
        unread = row >= size[0] - r[0] or col >= size[1] - r[1]
        ax.add_patch(
            Rectangle(
                (col, row), 1, 1, facecolor="0.9" if inside else "white", edgecolor="0.6",
                hatch="///" if unread else None, linewidth=0.6,
            )
        )  # fmt: skip
outputs = [(0, 0), (1, 2), (m[0] - 1, m[1] - 1)]
colours = ["tab:blue", "tab:orange", "tab:green"]
corners = [(0.08, 0.08), (0.54, 0.08), (0.31, 0.54)]  # windows overlap: each output has its own corner
for (j0, j1), colour, (dx, dy) in zip(outputs, colours, corners, strict=True):
    for t0 in range(k[0]):
        for t1 in range(k[1]):
            row, col = s[0] * j0 + d[0] * t0, s[1] * j1 + d[1] * t1
            ax.add_patch(Rectangle((col + dx, row + dy), 0.38, 0.38, facecolor=colour))
    ax.plot([], [], "s", color=colour, label=f"y[{j0}, {j1}]")
ax.set_xlim(0, size[1])
ax.set_ylim(size[0], 0)
ax.set_aspect("equal")
ax.set_xticks([c + 0.5 for c in range(size[1])], [str(c) for c in range(size[1])])
ax.set_yticks([c + 0.5 for c in range(size[0])], [str(c) for c in range(size[0])])
ax.tick_params(labelsize=7)
ax.set_title(f"padded input {size[0]}x{size[1]}: grey = x, white = padding; output {m[0]}x{m[1]}, r = {r}")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
