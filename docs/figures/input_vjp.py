"""The zero-inserted, padded cotangent under the flipped kernel (input-VJP page)."""

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from refconv.geometry import ConvParams, input_vjp_params, output_spatial_shape

n, k, s, lo, hi = 8, 3, 2, 1, 1
p = ConvParams(stride=(s,), padding=((lo, hi),), dilation=(1,), input_dilation=(1,))
(m,) = output_spatial_shape((n,), (k,), p)
q = input_vjp_params((n,), (k,), p)  # stride 1, input dilation s, padding (k-1-lo, k-1-hi+r)
(front, back), zeros_between = q.padding[0], q.input_dilation[0] - 1
u = ["pad"] * front
for j in range(m):
    u += [f"dy{j}"] + (["0"] * zeros_between if j < m - 1 else [])
u += ["pad"] * back
assert len(u) - k + 1 == n  # the VJP convolution gives back n elements

fig, ax = plt.subplots(figsize=(6.4, 4.2))
colour = {"pad": "white", "0": "0.92"}
for col, cell in enumerate(u):
    ax.add_patch(Rectangle((col, 0), 1, 1, facecolor=colour.get(cell, "tab:blue"), edgecolor="0.4"))
    ax.text(col + 0.5, 0.5, "" if cell == "pad" else cell, ha="center", va="center", fontsize=8,
            color="white" if cell.startswith("dy") else "0.3")  # fmt: skip
for i in range(n):
    row = 1.5 + i * 0.85
    ax.text(-0.3, row + 0.35, f"dx{i}", ha="right", va="center", fontsize=8)
    for t in range(k):
        col = i * q.stride[0] + t * q.dilation[0]
        ax.add_patch(Rectangle((col + 0.05, row), 0.9, 0.7, facecolor="tab:orange", alpha=0.8))
        ax.text(col + 0.5, row + 0.35, f"w{k - 1 - t}", ha="center", va="center", fontsize=7)
ax.set_xlim(-1.2, len(u))
ax.set_ylim(1.5 + n * 0.85, 0)
ax.axis("off")
ax.set_title(
    f"n={n}, k={k}, stride {s}, padding ({lo},{hi}): m={m}, r={back - (k - 1 - hi)}. "
    f"dy with {zeros_between} zero(s) inserted, padded ({front},{back}); flipped kernel, stride 1",
    fontsize=8,
)
