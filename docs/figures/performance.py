"""refconv's time relative to torch's on each benchmark layer (performance page)."""

import matplotlib.pyplot as plt

from benchmarks import report

fig, ax = plt.subplots(figsize=(7.5, 3.4))
report.plot(report.load(), ax)
