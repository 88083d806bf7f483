"""Project-made ChartMimic fixtures: one ground-truth script and answers that differ from it in one way
each. The tests score them with our metrics and compare with the official code's numbers on the same
scripts (``official_chartmimic.py`` produced those)."""

from __future__ import annotations

GOLD_ID = "bar_7"

GOLD = """import matplotlib.pyplot as plt
import numpy as np

# ===================
# Part 2: Data Preparation
# ===================
years = ["2019", "2020", "2021", "2022"]
sales = [12, 17, 9, 21]
trend = [10, 14, 13, 19]

# ===================
# Part 3: Plot Configuration and Rendering
# ===================
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
ax1.bar(years, sales, color=["#4C72B0", "#55A868", "#C44E52", "#8172B2"])
ax1.set_title("Sales per year")
ax1.set_ylabel("Units (k)")
ax2.plot(years, trend, color="#DD8452", marker="o", label="Trend")
ax2.axhline(15, color="gray", linestyle="--", label="Target")
ax2.set_title("Trend")
ax2.legend(loc="upper left")

# ===================
# Part 4: Saving Output
# ===================
plt.tight_layout()
plt.savefig("bar_7.pdf", bbox_inches="tight")
"""


def _answer(script: str) -> str:
    """An answer as the official post-processing leaves it: savefig to the generated PDF last."""
    body = script.split("plt.savefig(")[0].rstrip()
    return body + '\nplt.savefig("gen/bar_7.pdf")'


ANSWERS: dict[str, str] = {
    "perfect": _answer(GOLD),
    "text": _answer(GOLD.replace("Sales per year", "Revenue per year").replace('label="Target"', 'label="Goal"')),
    "color": _answer(GOLD.replace('"#DD8452"', '"#1F77B4"').replace('"#4C72B0", "#55A868"', '"#000000", "#FFFFFF"')),
    "type": _answer(
        GOLD.replace(
            'ax2.plot(years, trend, color="#DD8452", marker="o", label="Trend")',
            'ax2.scatter(years, trend, color="#DD8452", marker="o", label="Trend")',
        )
    ),
    "removed_series": _answer(GOLD.replace('ax2.axhline(15, color="gray", linestyle="--", label="Target")\n', "")),
    "layout": _answer(
        GOLD.replace(
            "fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))",
            "fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(9, 4))",
        )
    ),
    "broken": _answer(GOLD.replace('ax2.set_title("Trend")', 'ax2.set_title("Trend")\nraise ValueError("broken")')),
}


MMCODE_STDIO = '{"inputs": ["3\\n1 2 3\\n", "2\\n5 5\\n"], "outputs": ["6\\n", "10\\n"]}'
MMCODE_SUM = "n = int(input())\nprint(sum(map(int, input().split())))\n"

MMCODE_CASES: dict[str, tuple[str, str]] = {
    "right": (MMCODE_SUM, MMCODE_STDIO),
    "wrong": ("n = int(input())\nprint(sum(map(int, input().split())) + 1)\n", MMCODE_STDIO),
    "token_sets": ("print('  3 2 1  ')\n", '{"inputs": ["\\n"], "outputs": ["1 2 3\\n"]}'),
    "float_close": ("print(1/3)\n", '{"inputs": [""], "outputs": ["0.333333"]}'),
    "float_far": ("print(0.34)\n", '{"inputs": [""], "outputs": ["0.333333"]}'),
    "rounded_sets": ("print('0.3331 2')\n", '{"inputs": [""], "outputs": ["2 0.3334"]}'),
    "rounded_words": ("print('0.3331 x')\n", '{"inputs": [""], "outputs": ["x 0.3334"]}'),
    "runtime_error": ("raise RuntimeError('no')\n", MMCODE_STDIO),
    "syntax_error": ("import sys\nsys.stdout.write(str(6)\n", MMCODE_STDIO),
    "solution_class": (
        "class Solution:\n    def add(self, a, b):\n        return [a + b, a]\n",
        '{"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [[[3, 1]], [7, 9]]}',
    ),
    "function": (
        "def twice(x):\n    return (x, x)\n",
        '{"fn_name": "twice", "inputs": [[1], [2]], "outputs": [[1, 1], [2, 3]]}',
    ),
    "guarded_os": ("import os\nos.system('true')\nprint(6)\n", MMCODE_STDIO),
    "lines_vs_blank": ("print('a')\nprint()\nprint('b')\n", '{"inputs": [""], "outputs": ["a\\nb\\n"]}'),
    "sys_stdin": ("import sys\ndata = sys.stdin.read().split()\nprint(sum(map(int, data[1:])))\n", MMCODE_STDIO),
}
"""Programs and tests for MMCode's judge; the official harness's verdicts on them are in the tests."""
