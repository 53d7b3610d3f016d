"""Stride/dilation duality: the forward windows and the weight VJP's windows are the same products."""

import matplotlib.pyplot as plt

from refconv.geometry import ConvParams, output_spatial_shape, padded_shape, remainder, weight_vjp_params

n, k, s, d, pad = (10,), (3,), 3, 2, (1, 1)
p = ConvParams(stride=(s,), padding=(pad,), dilation=(d,), input_dilation=(1,))
((m,), (length,), (r,)) = output_spatial_shape(n, k, p), padded_shape(n, p), remainder(n, k, p)
q = weight_vjp_params(n, k, p)  # stride d, dilation s, padding (lo, hi - r)
assert (q.stride[0], q.dilation[0], q.padding[0][1]) == (d, s, pad[1] - r)

fig, axes = plt.subplots(1, 2, figsize=(8.4, 2.9), sharey=True)
colours = plt.get_cmap("tab10")
panels = [
    (axes[0], m, "y", lambda j, t: j, f"forward: y[j] reads k={k[0]} taps, dilation d={d}, stride s={s}"),
    (
        axes[1],
        k[0],
        "dw",
        lambda j, t: t,
        f"weight VJP: dw[t] reads m={m} taps, dilation s={s}, stride d={d}",
    ),
]
for ax, count, name, group, title in panels:
    for q_ in range(length):
        read = q_ < length - r
        ax.add_patch(
            plt.Rectangle((q_ - 0.4, -0.3), 0.8, 0.6, facecolor="0.9" if read else "white", edgecolor="0.5",
                          hatch=None if read else "///")
        )  # fmt: skip
        ax.text(q_, 0, f"p{q_}", ha="center", va="center", fontsize=7)
    top = [(length - 1) * (i + 0.5) / count for i in range(count)]
    for i, xpos in enumerate(top):
        ax.text(xpos, 2.2, f"{name}[{i}]", ha="center", va="center", fontsize=8, color=colours(i))
    for j in range(m):
        for t in range(k[0]):
            g = group(j, t)
            ax.plot([top[g], s * j + d * t], [2.0, 0.3], color=colours(g), linewidth=1.2)
    ax.set_title(title, fontsize=8)
    ax.set_xlim(-0.8, length - 0.2)
    ax.set_ylim(-0.6, 2.6)
    ax.axis("off")
