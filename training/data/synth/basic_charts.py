"""Short matplotlib programs of one plotting call each: `data synth --kind chart --level basic`.

Why a second level: the full synthetic charts (``charts``) are what a good model should learn from, 500-700
characters of titles, palettes, legends and number series. A model of a few million parameters trained for
minutes on a CPU (the offline demo model, ``training/demo``) cannot learn to write those whole; it can learn
a small grammar whose structure is set by the picture (the chart type) and whose details (data, title,
colour) it guesses. Each program here is one figure, one plotting call of the chart's type, a title and
axis labels from a small vocabulary, single-digit data, one named colour: about 250 characters.
Whatever a call takes comes from one literal (see ``_draw``), so a guessed data length still runs.
The first line is a comment naming the chart type (``# bar chart``): the one choice the picture decides
is then a word written before any code, as a person would note what they are drawing. (It was meant to
let the demo model's plotting call follow a word; at the demo's training budget it did not yet: see
bench/RESULTS.md, "Demo model".)

Same layout, ids and ``meta`` fields as the full level (``meta.level`` is ``"basic"``); the chart types are a
subset of ``charts.CHART_TYPES`` (those with one obvious plotting call), dealt in shuffled blocks like the
full level's, so any ``--n`` is balanced.
"""

from __future__ import annotations

import random

from .base import Meta, Program, Synthesizer, item_rng
from .charts import NAMES, ChartType, _lit, _q, deal_type, render

BASIC_TYPES: tuple[ChartType, ...] = ("bar", "line", "scatter", "pie", "histogram", "heatmap", "area")
"""The chart types of the basic level: each is one plotting call that ChartMimic's tracer tells apart."""

COLORS: tuple[str, ...] = (
    "steelblue",
    "darkorange",
    "seagreen",
    "crimson",
    "mediumpurple",
    "sienna",
    "orchid",
    "gray",
    "olive",
    "teal",
)
"""Named colours (matplotlib's CSS names), not hex codes: a model that guesses a colour writes a name it
has seen whole. With hex codes the demo model wrote strings such as '#edc9da7' (pieces of two codes),
which matplotlib rejects: most of its scripts that did not run failed so."""
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
    return deal_type(BASIC_TYPES, "basic-chart-types", seed, index)


def _digits(rng: random.Random, count: int) -> list[int]:
    return [rng.randint(1, 9) for _ in range(count)]


def _pairs(keys: list[str], values: list[int]) -> str:
    return "{" + ", ".join(f"{_q(k)}: {v}" for k, v in zip(keys, values, strict=True)) + "}"


def _draw(kind: ChartType, rng: random.Random, color: str) -> list[str]:
    """The data and the plotting call (and, for a heatmap, its colour bar) of one chart of ``kind``.

    Every list a call takes comes from one literal: x from the length of y, labels and values as the pairs
    of one dict, points as (x, y) pairs. A small model cannot count, and two lists of different lengths
    are a crash (the first demo model's answers half failed so), while a dict or a pair list cannot
    disagree with itself.

    Each type also looks like itself at the demo model's 64 vision tokens (a picture of about 250x200 px):
    thick lines without markers, clouds of big scatter dots (three times as many points as a line has),
    bars with wide gaps, histograms of adjacent bins. With matplotlib's defaults (thin lines with dots,
    narrow gaps) and a few points a small vision tower trained for minutes did not tell lines from scatter
    plots or bars from histograms.
    """
    count = rng.randint(3, 6)
    if kind == "bar":
        data = _pairs(list(CATEGORIES[:count]), _digits(rng, count))
        return [f"data = {data}", f"ax.bar(list(data), list(data.values()), width=0.5, color={_q(color)})"]
    if kind == "line":
        return [f"ax.plot({_lit(_digits(rng, count))}, color={_q(color)}, linewidth=4)"]
    if kind == "scatter":
        points = ", ".join(f"({x}, {y})" for x, y in zip(_digits(rng, 3 * count), _digits(rng, 3 * count), strict=True))
        return [f"points = [{points}]", f"ax.scatter(*zip(*points), s=200, color={_q(color)})"]
    if kind == "pie":
        data = _pairs(list(CATEGORIES[:count]), _digits(rng, count))
        return [f"data = {data}", "ax.pie(list(data.values()), labels=list(data))"]
    if kind == "histogram":
        return [f"ax.hist({_lit(sorted(_digits(rng, rng.randint(8, 12))))}, bins=8, color={_q(color)})"]
    if kind == "heatmap":
        # Always 3 rows of 4: a shape the model never has to count.
        grid = "[" + ", ".join(_lit(_digits(rng, 4)) for _ in range(3)) + "]"
        return [f"im = ax.imshow({grid}, cmap={_q(rng.choice(CMAPS))})", "fig.colorbar(im)"]
    if kind == "area":
        values = _lit(_digits(rng, count))
        return [f"values = {values}", f"ax.fill_between(range(len(values)), values, color={_q(color)}, alpha=0.5)"]
    raise ValueError(f"no basic program for chart type {kind!r}")


def basic_program(seed: int, index: int) -> tuple[str, Meta]:
    """The program of item ``index`` and what it draws."""
    kind = basic_type_for(seed, index)
    rng = item_rng(seed, "chart-basic", index)
    width, height = rng.choice(SIZES)
    title, xlabel, ylabel = rng.choice(TOPICS)
    color = rng.choice(COLORS)
    lines = [
        f"# {NAMES[kind]}",
        "import matplotlib.pyplot as plt",
        "",
        f"fig, ax = plt.subplots(figsize=({width}, {height}))",
        *_draw(kind, rng, color),
        f"ax.set_title({_q(title)})",
    ]
    if kind != "pie":
        lines += [f"ax.set_xlabel({_q(xlabel)})", f"ax.set_ylabel({_q(ylabel)})"]
    lines += ["plt.tight_layout()", "plt.show()", ""]
    meta: Meta = {"chart_type": kind, "figsize": f"{width}x{height}", "dpi": 100, "palette": "named"}
    return "\n".join(lines), {**meta, "style": "default", "level": "basic"}


def generate(seed: int, index: int) -> Program:
    code, meta = basic_program(seed, index)
    instruction = f"Recreate this {NAMES[basic_type_for(seed, index)]} in Python with matplotlib."
    return Program("chart", seed, index, code, "python", "py", instruction, {**meta, "seed": seed, "index": index})


SYNTHESIZER = Synthesizer(kind="chart", roles=("chart",), generate=generate, render=render)
"""Renders as the full level does: the script in the sandbox, the figure at its own size and dpi=100."""
