"""The sampled value and its derivative along one coordinate, borders and kinks marked (deform page)."""

import matplotlib.pyplot as plt
import numpy as np

from refconv.sampling import sample, sample_vjp

x = np.array([[[2.0, -1.0, 3.0, 1.0]]])  # one row of an input, n = 4
q = np.linspace(-2.0, 5.0, 701)
value = sample(x, q.reshape(1, -1, 1))[0, 0]
integers = np.arange(-2, 6, dtype=float)
_, slope = sample_vjp(x, integers.reshape(1, -1, 1), np.ones((1, 1, integers.size)))
_, slope_fine = sample_vjp(x, q.reshape(1, -1, 1), np.ones((1, 1, q.size)))

fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.2, 4.4), sharex=True)
top.plot(q, value, color="tab:blue")
top.plot(np.arange(4), x[0, 0], "o", color="tab:blue", label="x[i]")
top.axvspan(-2, -1, color="0.92")
top.axvspan(4, 5, color="0.92")
top.set_ylabel("V(q)")
top.legend(loc="upper right", frameon=False)
top.set_title("zeros outside: V = 0 for q <= -1 and q >= n (grey); a kink at every integer")
bottom.plot(q, slope_fine[0, :, 0], color="tab:orange", linewidth=1)
bottom.plot(
    integers, slope[0, :, 0], "o", color="tab:orange", label="refconv at an integer: the right derivative"
)
bottom.plot([-1], [0], "x", color="black", markersize=8, label="from the left at q = -1: 0 (not taken)")
bottom.set_xlabel("sample coordinate q")
bottom.set_ylabel("dV/dq")
bottom.legend(loc="lower left", frameon=False, fontsize=7)
