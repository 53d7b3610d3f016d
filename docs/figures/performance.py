"""refconv's time relative to each peer's on each benchmark layer (performance page)."""

import matplotlib.pyplot as plt

from benchmarks import report

fig, axes = plt.subplots(2, 2, figsize=(9, 6.2))
report.plot(report.load(), axes.ravel())
fig.tight_layout()
