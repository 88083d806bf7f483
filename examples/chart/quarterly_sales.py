"""A grouped bar chart: the kind of picture `viscodex-agent solve --kind chart` turns back into code."""

import matplotlib.pyplot as plt
import numpy as np

quarters = ["Q1", "Q2", "Q3", "Q4"]
north = [120, 135, 150, 170]
south = [90, 110, 105, 140]
x = np.arange(len(quarters))

fig, ax = plt.subplots(figsize=(6.4, 4.0))
ax.bar(x - 0.2, north, width=0.4, label="North", color="#2b6cb0")
ax.bar(x + 0.2, south, width=0.4, label="South", color="#dd6b20")
ax.set_xticks(x, quarters)
ax.set_ylabel("Sales (k$)")
ax.set_title("Quarterly sales by region")
ax.legend()
fig.tight_layout()
