"""Short matplotlib programs of one plotting call each: `data synth --kind chart --level basic`.

Why a second level: the full synthetic charts (``charts``) are what a good model should learn from, 500-700
characters of titles, palettes, legends and number series. A model of a few million parameters trained for
minutes on a CPU (the offline demo model, ``training/demo``) cannot learn to write those whole; it can learn
a small grammar whose structure is set by the picture (the chart type) and whose details (data, title,
colour) it guesses. Each program here is one figure, one plotting call of the chart's type, a title and
axis labels from a small vocabulary, single-digit data, one colour from one palette: about 250 characters.

Same layout, ids and ``meta`` fields as the full level (``meta.level`` is ``"basic"``); the chart types are a
subset of ``charts.CHART_TYPES`` (those with one obvious plotting call), dealt in shuffled blocks like the
full level's, so any ``--n`` is balanced.
"""

from __future__ import annotations

import random

from .base import Meta, Program, Synthesizer, item_rng
from .charts import NAMES, PALETTES, ChartType, _lit, _q, render

BASIC_TYPES: tuple[ChartType, ...] = ("bar", "line", "scatter", "pie", "histogram", "heatmap", "area")
"""The chart types of the basic level: each is one plotting call that ChartMimic's tracer tells apart."""

COLORS: tuple[str, ...] = PALETTES["tableau"]
SIZES: tuple[tuple[int, int], ...] = ((6, 4), (5, 4), (6, 5), (7, 4), (5, 5))
CATEGORIES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G")
TOPICS: tuple[tuple[str, str, str], ...] = (
    ("Sales", "Region", "Units"),
    ("Revenue", "Quarter", "Revenue"),
    ("Visitors", "Day", "Visitors"),
    ("Scores", "Team", "Score"),
    ("Growth", "Year", "Growth"),
    ("Costs", "Month", "Cost"),
    ("Usage", "Week", "Hours"),
    ("Energy", "Source", "Output"),
)
"""(title, x label, y label): titles and labels the model can learn whole."""
CMAPS: tuple[str, ...] = ("viridis", "Blues", "magma")


def basic_type_for(seed: int, index: int) -> ChartType:
    """Types dealt in shuffled blocks: items ``k*T .. k*T+T-1`` hold every one of the T types once."""
    block = index // len(BASIC_TYPES)
    order = list(BASIC_TYPES)
    random.Random(f"viscodex-synth:basic-chart-types:{seed}:{block}").shuffle(order)
    return order[index % len(BASIC_TYPES)]


def _digits(rng: random.Random, count: int) -> list[int]:
    return [rng.randint(1, 9) for _ in range(count)]


def _draw(kind: ChartType, rng: random.Random, color: str) -> list[str]:
    """The plotting call (and, for a heatmap, its colour bar) of one chart of ``kind``."""
    count = rng.randint(3, 6)
    xs = list(range(1, count + 1))
    if kind == "bar":
        return [f"ax.bar({_lit(list(CATEGORIES[:count]))}, {_lit(_digits(rng, count))}, color={_q(color)})"]
    if kind == "line":
        return [f'ax.plot({_lit(xs)}, {_lit(_digits(rng, count))}, color={_q(color)}, marker="o")']
    if kind == "scatter":
        count = rng.randint(5, 8)
        return [f"ax.scatter({_lit(_digits(rng, count))}, {_lit(_digits(rng, count))}, color={_q(color)})"]
    if kind == "pie":
        return [f"ax.pie({_lit(_digits(rng, count))}, labels={_lit(list(CATEGORIES[:count]))})"]
    if kind == "histogram":
        return [f"ax.hist({_lit(sorted(_digits(rng, rng.randint(8, 12))))}, bins=5, color={_q(color)})"]
    if kind == "heatmap":
        rows = [_digits(rng, count) for _ in range(rng.randint(3, 4))]
        grid = "[" + ", ".join(_lit(row) for row in rows) + "]"
        return [f"im = ax.imshow({grid}, cmap={_q(rng.choice(CMAPS))})", "fig.colorbar(im)"]
    if kind == "area":
        return [f"ax.fill_between({_lit(xs)}, {_lit(_digits(rng, count))}, color={_q(color)}, alpha=0.5)"]
    raise ValueError(f"no basic program for chart type {kind!r}")


def basic_program(seed: int, index: int) -> tuple[str, Meta]:
    """The program of item ``index`` and what it draws."""
    kind = basic_type_for(seed, index)
    rng = item_rng(seed, "chart-basic", index)
    width, height = rng.choice(SIZES)
    title, xlabel, ylabel = rng.choice(TOPICS)
    color = rng.choice(COLORS)
    lines = [
        "import matplotlib.pyplot as plt",
        "",
        f"fig, ax = plt.subplots(figsize=({width}, {height}))",
        *_draw(kind, rng, color),
        f"ax.set_title({_q(title)})",
    ]
    if kind != "pie":
        lines += [f"ax.set_xlabel({_q(xlabel)})", f"ax.set_ylabel({_q(ylabel)})"]
    lines += ["plt.tight_layout()", "plt.show()", ""]
    meta: Meta = {"chart_type": kind, "figsize": f"{width}x{height}", "dpi": 100, "palette": "tableau"}
    return "\n".join(lines), {**meta, "style": "default", "level": "basic"}


def generate(seed: int, index: int) -> Program:
    code, meta = basic_program(seed, index)
    instruction = f"Recreate this {NAMES[basic_type_for(seed, index)]} in Python with matplotlib."
    return Program("chart", seed, index, code, "python", "py", instruction, {**meta, "seed": seed, "index": index})


SYNTHESIZER = Synthesizer(kind="chart", roles=("chart",), generate=generate, render=render)
"""Renders as the full level does: the script in the sandbox, the figure at its own size and dpi=100."""
