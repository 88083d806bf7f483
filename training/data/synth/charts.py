"""Random but plausible matplotlib programs, written the way a good model should write them.

Each item draws one chart type of ``CHART_TYPES`` (the one registry: the runner, the tests and the
records' ``meta.chart_type`` derive from it). Types are dealt in shuffled blocks of ``len(CHART_TYPES)``
consecutive items, so every block holds each type once and any ``--n`` is balanced. Data is written into
the program as literals (small series) or drawn from a seeded ``np.random.default_rng`` in the program
(distributions), so the program alone reproduces its picture. Figures are ``figsize`` x ``dpi=100``: 5 to
8 inches wide, pictures 400 to 800 px, small enough for the tiny demo model.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from viscodex.sandbox import Sandbox, SandboxError

from .base import Meta, Program, Rendered, Synthesizer, SynthFailure, check_picture, item_rng

ChartType = Literal[
    "bar",
    "grouped_bar",
    "stacked_bar",
    "line",
    "scatter",
    "pie",
    "histogram",
    "heatmap",
    "box",
    "violin",
    "area",
    "errorbar",
    "radar",
    "subplots",
]
CHART_TYPES: tuple[ChartType, ...] = get_args(ChartType)

DPI = 100
PALETTES: dict[str, tuple[str, ...]] = {
    "tableau": ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"),
    "deep": ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"),
    "pastel": ("#a1c9f4", "#ffb482", "#8de5a1", "#ff9f9b", "#d0bbff", "#debb9b", "#fab0e4", "#cfcfcf"),
    "muted": ("#4878d0", "#ee854a", "#6acc64", "#d65f5f", "#956cb4", "#8c613c", "#dc7ec0", "#797979"),
    "ocean": ("#03045e", "#0077b6", "#00b4d8", "#48cae4", "#023e8a", "#0096c7", "#90e0ef", "#caf0f8"),
    "sunset": ("#f94144", "#f3722c", "#f8961e", "#f9c74f", "#90be6d", "#43aa8b", "#577590", "#277da1"),
    "earth": ("#606c38", "#dda15e", "#bc6c25", "#283618", "#a3b18a", "#588157", "#8a5a44", "#3a5a40"),
}
COLORMAPS = ("viridis", "plasma", "magma", "cividis", "coolwarm", "YlGnBu", "Blues", "RdYlGn", "PuBu", "Oranges")
SEQUENTIAL_COLORMAPS = ("YlGnBu", "Blues", "PuBu", "Oranges")
LIGHT_COLORMAPS = (*SEQUENTIAL_COLORMAPS, "coolwarm", "RdYlGn")
"""Colormaps whose cells can carry legible annotations: black text, white on the dark end of the
sequential ones (only these heatmaps are annotated)."""
STYLES = ("ggplot", "bmh", "seaborn-v0_8-whitegrid", "seaborn-v0_8-darkgrid", "Solarize_Light2")
INSTRUCTIONS = (
    "Write matplotlib code that reproduces this chart.",
    "Generate the Python code (matplotlib) that draws this figure.",
    "Here is a chart. Write the Python code that produces it with matplotlib.",
    "Recreate this {name} in Python with matplotlib.",
    "Reproduce the {name} in the picture: give me the matplotlib code.",
)
NAMES: dict[ChartType, str] = {
    "bar": "bar chart",
    "grouped_bar": "grouped bar chart",
    "stacked_bar": "stacked bar chart",
    "line": "line chart",
    "scatter": "scatter plot",
    "pie": "pie chart",
    "histogram": "histogram",
    "heatmap": "heatmap",
    "box": "box plot",
    "violin": "violin plot",
    "area": "area chart",
    "errorbar": "error bar chart",
    "radar": "radar chart",
    "subplots": "figure with several subplots",
}

# --- vocabularies: (title, x label, y label, categories, value range, series names) --------------------


@dataclass(frozen=True)
class Theme:
    title: str
    xlabel: str
    ylabel: str
    categories: tuple[str, ...]
    low: float
    high: float
    series: tuple[str, ...]


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CATEGORICAL = (
    Theme("Monthly Sales", "Month", "Units sold", MONTHS, 20, 120, ("Online", "Retail", "Wholesale", "Export")),
    Theme("Quarterly Revenue", "Quarter", "Revenue (M$)", ("Q1", "Q2", "Q3", "Q4"), 5, 60, ("2021", "2022", "2023")),
    Theme(
        "Model Accuracy by Dataset",
        "Dataset",
        "Accuracy (%)",
        ("MNIST", "CIFAR-10", "SVHN", "STL-10", "ImageNet", "Fashion"),
        55,
        99,
        ("ResNet", "ViT", "MLP", "ConvNeXt"),
    ),
    Theme(
        "Energy Use by Sector",
        "Sector",
        "Consumption (TWh)",
        ("Industry", "Transport", "Homes", "Services", "Farming"),
        10,
        90,
        ("2010", "2015", "2020", "2025"),
    ),
    Theme(
        "Average Temperature",
        "City",
        "Temperature (°C)",
        ("Oslo", "Madrid", "Cairo", "Tokyo", "Lima", "Sydney", "Denver"),
        2,
        32,
        ("Winter", "Spring", "Summer"),
    ),
    Theme(
        "Language Popularity",
        "Language",
        "Share of developers (%)",
        ("Python", "JavaScript", "Java", "C++", "Go", "Rust", "Kotlin"),
        3,
        45,
        ("2022", "2023", "2024"),
    ),
    Theme(
        "Hospital Admissions",
        "Department",
        "Patients",
        ("Cardiology", "Oncology", "Pediatrics", "Neurology", "Surgery"),
        30,
        200,
        ("Week 1", "Week 2", "Week 3"),
    ),
    Theme(
        "Fruit Production",
        "Fruit",
        "Tonnes (thousands)",
        ("Apples", "Bananas", "Cherries", "Grapes", "Mangoes", "Pears"),
        8,
        70,
        ("North", "South", "East", "West"),
    ),
    Theme(
        "Customer Satisfaction",
        "Store",
        "Score (0-10)",
        ("Downtown", "Airport", "Mall", "Harbor", "Campus"),
        4,
        9.8,
        ("Service", "Price", "Quality"),
    ),
    Theme(
        "Website Traffic by Channel",
        "Channel",
        "Visits (k)",
        ("Search", "Social", "Email", "Direct", "Referral", "Ads"),
        5,
        80,
        ("Desktop", "Mobile", "Tablet"),
    ),
)


@dataclass(frozen=True)
class Trend:
    title: str
    xlabel: str
    ylabel: str
    x: str
    """``years``, ``months`` or ``epochs``: what the x axis counts."""
    start: float
    slope: float
    noise: float
    series: tuple[str, ...]


TRENDS = (
    Trend("Training Loss", "Epoch", "Loss", "epochs", 2.4, -0.12, 0.04, ("Train", "Validation", "Test")),
    Trend("Stock Price", "Month", "Price ($)", "months", 120, 2.5, 6, ("ACME", "Globex", "Initech", "Umbrella")),
    Trend("Website Visitors", "Month", "Visitors (k)", "months", 40, 3.0, 4, ("Blog", "Shop", "Docs")),
    Trend("CO2 Emissions", "Year", "Emissions (Mt)", "years", 520, -6, 9, ("Power", "Transport", "Industry")),
    Trend("Population Growth", "Year", "Population (millions)", "years", 12, 0.35, 0.2, ("Urban", "Rural")),
    Trend("Solar Capacity", "Year", "Installed (GW)", "years", 4, 3.2, 1.5, ("Germany", "Spain", "Italy", "France")),
    Trend("Average Rainfall", "Month", "Rainfall (mm)", "months", 60, 1.0, 18, ("Seattle", "Miami", "Boston")),
    Trend("Monthly Active Users", "Month", "Users (k)", "months", 15, 4.0, 3, ("iOS", "Android", "Web")),
)

SCATTERS = (
    ("Height vs Weight", "Height (cm)", "Weight (kg)", (150, 195), 0.9, -85, 6),
    ("Advertising vs Sales", "Ad spend (k$)", "Sales (k$)", (5, 60), 2.8, 20, 15),
    ("Study Hours vs Exam Score", "Hours studied", "Score", (0, 12), 4.5, 42, 7),
    ("Engine Size vs Fuel Use", "Engine size (L)", "Fuel use (L/100 km)", (1, 5), 2.1, 3, 1.2),
    ("House Size vs Price", "Floor area (m²)", "Price (k$)", (40, 220), 2.6, 60, 45),
    ("Temperature vs Ice Cream Sales", "Temperature (°C)", "Sales (units)", (12, 35), 14, -90, 40),
)
DISTRIBUTIONS = (
    ("Exam Scores", "Score", 68, 11, ("Class A", "Class B")),
    ("Response Times", "Latency (ms)", 220, 45, ("Server 1", "Server 2")),
    ("Adult Heights", "Height (cm)", 171, 8, ("Men", "Women")),
    ("Delivery Times", "Days", 4.5, 1.2, ("Standard", "Express")),
    ("Sensor Readings", "Voltage (mV)", 3.3, 0.4, ("Probe A", "Probe B")),
    ("Reaction Times", "Time (ms)", 310, 60, ("Before", "After")),
)
GROUPS = (
    ("Response Time by Server", "Server", "Latency (ms)", ("Alpha", "Beta", "Gamma", "Delta", "Epsilon"), 120, 35),
    ("Test Scores by School", "School", "Score", ("North", "South", "East", "West", "Central"), 70, 10),
    ("Salaries by Department", "Department", "Salary (k$)", ("Sales", "R&D", "HR", "Finance", "Legal"), 65, 12),
    ("Plant Growth by Fertilizer", "Fertilizer", "Height (cm)", ("None", "Organic", "Nitrogen", "Mixed"), 24, 5),
    ("Battery Life by Model", "Phone model", "Hours", ("X1", "X2", "Pro", "Lite", "Max"), 14, 3),
)
HEATMAPS = (
    ("Weekly Activity", ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), ("6h", "9h", "12h", "15h", "18h", "21h")),
    ("Accuracy per Model and Dataset", ("ResNet", "ViT", "MLP", "CNN"), ("MNIST", "CIFAR", "SVHN", "STL", "Tiny")),
    ("Monthly Rainfall by City", ("Paris", "Rome", "Berlin", "Vienna", "Prague"), MONTHS[:8]),
    ("Sales by Region and Quarter", ("North", "South", "East", "West"), ("Q1", "Q2", "Q3", "Q4")),
    ("Server Load", ("web-1", "web-2", "db-1", "db-2", "cache"), ("00", "04", "08", "12", "16", "20")),
)
RADARS = (
    ("Player Skills", ("Speed", "Power", "Defense", "Stamina", "Passing", "Vision"), ("Player A", "Player B")),
    ("Model Comparison", ("Accuracy", "Speed", "Memory", "Robustness", "Cost"), ("Model X", "Model Y", "Model Z")),
    ("Laptop Review", ("Battery", "Display", "Keyboard", "Weight", "Price", "Ports"), ("Air", "Pro")),
    ("Team Assessment", ("Quality", "Delivery", "Communication", "Innovation", "Ownership"), ("Team 1", "Team 2")),
)
SHARES = (
    ("Market Share", ("Alpha", "Beta", "Gamma", "Delta", "Other")),
    ("Household Budget", ("Housing", "Food", "Transport", "Leisure", "Savings", "Other")),
    ("Energy Mix", ("Solar", "Wind", "Hydro", "Gas", "Coal", "Nuclear")),
    ("Browser Usage", ("Chrome", "Safari", "Firefox", "Edge", "Other")),
    ("Time Spent per Day", ("Sleep", "Work", "Commute", "Meals", "Leisure")),
)


# --- writing code -----------------------------------------------------------------------------------


def _lit(values: Sequence[float | str | int]) -> str:
    """A Python list literal, numbers rounded for readability."""
    return "[" + ", ".join(_q(v) if isinstance(v, str) else _num(v) for v in values) + "]"


def _q(text: str) -> str:
    """A string literal in double quotes, as ruff format writes them."""
    return json.dumps(text, ensure_ascii=False)


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def _series_dict(names: Sequence[str], rows: Sequence[Sequence[float]], var: str = "series") -> list[str]:
    lines = [f"{var} = {{"]
    lines += [f"    {_q(name)}: {_lit(row)}," for name, row in zip(names, rows, strict=True)]
    return [*lines, "}"]


@dataclass
class Panel:
    """One axes' worth of code: data first, then the drawing; ``numpy`` if the code uses ``np``."""

    data: list[str] = field(default_factory=list)
    draw: list[str] = field(default_factory=list)
    numpy: bool = False
    polar: bool = False
    square: bool = False


@dataclass
class Look:
    """The item's visual choices, shared by its panels."""

    palette: str
    colors: tuple[str, ...]
    cmap: str
    grid: bool
    despine: bool
    title_size: int
    bold: bool
    legend_loc: str
    panel: bool = False
    """Inside a subplot grid: smaller titles, no figure-level artists."""


def _pick(rng: random.Random, items: Sequence[str], low: int, high: int) -> list[str]:
    """A random run of ``low``..``high`` items kept in their natural order (months stay in order)."""
    count = rng.randint(low, min(high, len(items)))
    chosen = set(rng.sample(range(len(items)), count))
    return [item for i, item in enumerate(items) if i in chosen]


def _values(rng: random.Random, count: int, low: float, high: float) -> list[float]:
    digits = 0 if high - low >= 60 else 1
    return [round(rng.uniform(low, high), digits) for _ in range(count)]


def _title(rng: random.Random, base: str) -> str:
    suffix = rng.choice(("", "", "", " (2024)", " Overview", " Comparison", " in 2023"))
    return base + suffix


def _months_axis(look: Look, ax: str, xname: str) -> list[str]:
    """Month names crowd a small panel: tilt them there."""
    return [f'{ax}.tick_params(axis="x", rotation=45)'] if look.panel and xname == "months" else []


def _decorate(
    rng: random.Random,
    look: Look,
    ax: str,
    title: str,
    xlabel: str | None,
    ylabel: str | None,
    legend: bool,
    grid_axis: str = "y",
) -> list[str]:
    size = look.title_size - (2 if look.panel else 0)
    weight = ', fontweight="bold"' if look.bold else ""
    lines = [f"{ax}.set_title({_q(title)}, fontsize={size}{weight})"]
    if xlabel:
        lines.append(f"{ax}.set_xlabel({_q(xlabel)})")
    if ylabel:
        lines.append(f"{ax}.set_ylabel({_q(ylabel)})")
    if look.grid:
        lines.append(f'{ax}.grid(axis="{grid_axis}", linestyle="--", alpha=0.5)')
    if look.despine:
        lines.append(f'{ax}.spines[["top", "right"]].set_visible(False)')
    if legend:
        frame = rng.choice(("", ", frameon=False"))
        lines.append(f"{ax}.legend(loc={_q(look.legend_loc)}{frame})")
    return lines


# --- one builder per chart type -----------------------------------------------------------------------


def _bar(rng: random.Random, look: Look, ax: str) -> Panel:
    theme = rng.choice(CATEGORICAL)
    cats = _pick(rng, theme.categories, 3, 7)
    values = _values(rng, len(cats), theme.low, theme.high)
    horizontal = rng.random() < 0.3
    p = Panel(data=[f"categories = {_lit(cats)}", f"values = {_lit(values)}"])
    if rng.random() < 0.5:
        color = f'color="{look.colors[0]}"'
    else:
        p.data.append(f"colors = {_lit(list(look.colors[: len(cats)]))}")
        color = "color=colors"
    edge = rng.choice(("", ', edgecolor="black"', ', edgecolor="white"'))
    if horizontal:
        p.draw.append(f"bars = {ax}.barh(categories, values, {color}{edge})")
        p.draw.append(f"{ax}.invert_yaxis()")
    else:
        width = rng.choice((0.5, 0.6, 0.7, 0.8))
        p.draw.append(f"bars = {ax}.bar(categories, values, width={width}, {color}{edge})")
    if rng.random() < 0.5:
        p.draw.append(f'{ax}.bar_label(bars, fmt="%g", padding=3)')
        p.draw.append(f"{ax}.margins({'x' if horizontal else 'y'}=0.12)")  # room for the labels
    xlabel, ylabel = (theme.ylabel, None) if horizontal else (theme.xlabel, theme.ylabel)
    if not horizontal and (len(cats) > 5 or look.panel) and max(len(c) for c in cats) > 5:
        p.draw.append(f'{ax}.tick_params(axis="x", rotation=30)')
    grid_axis = "x" if horizontal else "y"
    p.draw += _decorate(rng, look, ax, _title(rng, theme.title), xlabel, ylabel, legend=False, grid_axis=grid_axis)
    return p


def _grouped_bar(rng: random.Random, look: Look, ax: str) -> Panel:
    theme = rng.choice(CATEGORICAL)
    cats = _pick(rng, theme.categories, 3, 6)
    names = _pick(rng, theme.series, 2, 4)
    rows = [_values(rng, len(cats), theme.low, theme.high) for _ in names]
    width = {2: 0.35, 3: 0.25, 4: 0.2}[len(names)]
    p = Panel(numpy=True)
    p.data = [f"categories = {_lit(cats)}", *_series_dict(names, rows), f"colors = {_lit(list(look.colors[:4]))}"]
    p.draw = [
        "x = np.arange(len(categories))",
        f"width = {width}",
        "for i, ((name, values), color) in enumerate(zip(series.items(), colors)):",
        "    offset = (i - (len(series) - 1) / 2) * width",
        f"    {ax}.bar(x + offset, values, width, label=name, color=color)",
        f"{ax}.set_xticks(x, categories)",
    ]
    p.draw += _decorate(rng, look, ax, _title(rng, theme.title), theme.xlabel, theme.ylabel, legend=True)
    return p


def _stacked_bar(rng: random.Random, look: Look, ax: str) -> Panel:
    theme = rng.choice(CATEGORICAL)
    cats = _pick(rng, theme.categories, 3, 7)
    names = _pick(rng, theme.series, 2, 4)
    scale = (theme.high - theme.low) / len(names)
    rows = [_values(rng, len(cats), theme.low / len(names), theme.low / len(names) + scale) for _ in names]
    p = Panel(numpy=True)
    p.data = [f"categories = {_lit(cats)}", *_series_dict(names, rows), f"colors = {_lit(list(look.colors[:4]))}"]
    p.draw = [
        "bottom = np.zeros(len(categories))",
        "for (name, values), color in zip(series.items(), colors):",
        f"    {ax}.bar(categories, values, bottom=bottom, label=name, color=color)",
        "    bottom += np.array(values)",
    ]
    p.draw += _decorate(rng, look, ax, _title(rng, theme.title), theme.xlabel, theme.ylabel, legend=True)
    return p


def _trend_x(rng: random.Random, trend: Trend) -> tuple[str, list[int] | list[str]]:
    if trend.x == "years":
        start = rng.randint(2005, 2016)
        return "years", list(range(start, start + rng.randint(6, 10)))
    if trend.x == "months":
        return "months", list(MONTHS[: rng.randint(6, 12)])
    return "epochs", list(range(1, rng.randint(8, 16) + 1))


def _trend_rows(rng: random.Random, trend: Trend, names: Sequence[str], count: int) -> list[list[float]]:
    """One noisy series per name: a straight trend, or for epochs a decaying loss curve."""
    digits = 2 if abs(trend.start) < 10 else 1
    rows = []
    for _ in names:
        level = trend.start * rng.uniform(0.7, 1.3)
        slope = trend.slope * rng.uniform(0.5, 1.5)
        decay = rng.uniform(0.72, 0.9)
        row = []
        for step in range(count):
            if trend.x == "epochs":
                value = level * decay**step + 0.1 + abs(rng.gauss(0, trend.noise))
            else:
                value = level + slope * step + rng.gauss(0, trend.noise)
            row.append(round(max(value, 0.0), digits))
        rows.append(row)
    return rows


def _line(rng: random.Random, look: Look, ax: str) -> Panel:
    trend = rng.choice(TRENDS)
    xname, xs = _trend_x(rng, trend)
    names = _pick(rng, trend.series, 1, 3)
    rows = _trend_rows(rng, trend, names, len(xs))
    marker = rng.choice(("o", "s", "^", "D", None))
    style = rng.choice(("-", "-", "--"))
    marker_arg = f', marker="{marker}"' if marker else ""
    p = Panel(data=[f"{xname} = {_lit(xs)}", *_series_dict(names, rows), f"colors = {_lit(list(look.colors[:3]))}"])
    p.draw = [
        "for (name, values), color in zip(series.items(), colors):",
        f'    {ax}.plot({xname}, values, linestyle="{style}"{marker_arg}, linewidth=2, color=color, label=name)',
    ]
    p.draw += _months_axis(look, ax, xname)
    p.draw += _decorate(rng, look, ax, _title(rng, trend.title), trend.xlabel, trend.ylabel, legend=len(names) > 1)
    return p


def _scatter(rng: random.Random, look: Look, ax: str) -> Panel:
    title, xlabel, ylabel, (low, high), slope, intercept, noise = rng.choice(SCATTERS)
    count = rng.choice((40, 60, 80, 100, 150))
    variant = rng.choice(("plain", "plain", "fit", "colored", "groups"))
    p = Panel(numpy=True, data=[f"rng = np.random.default_rng({rng.randint(0, 999)})"])
    if variant == "groups":
        names = rng.sample(("Group A", "Group B", "Group C", "Control", "Treatment"), 2)
        p.data += [
            f"groups = {_lit(names)}",
            f"colors = {_lit(list(look.colors[:2]))}",
        ]
        p.draw = [
            "for shift, (name, color) in enumerate(zip(groups, colors)):",
            f"    x = rng.uniform({_num(low)}, {_num(high)}, {count // 2})",
            f"    y = {_num(slope)} * x + {_num(intercept)} + shift * {_num(noise * 2)}"
            f" + rng.normal(0, {_num(noise)}, x.size)",
            f'    {ax}.scatter(x, y, s=35, alpha=0.75, color=color, edgecolors="white", label=name)',
        ]
    else:
        p.data += [
            f"x = rng.uniform({_num(low)}, {_num(high)}, {count})",
            f"y = {_num(slope)} * x + {_num(intercept)} + rng.normal(0, {_num(noise)}, x.size)",
        ]
        if variant == "colored":
            p.draw = [
                f'points = {ax}.scatter(x, y, c=y, cmap="{look.cmap}", s=40, alpha=0.8)',
                f"fig.colorbar(points, ax={ax}, label={_q(ylabel)})",
            ]
        else:
            p.draw = [f'{ax}.scatter(x, y, s=40, alpha=0.7, color="{look.colors[0]}", edgecolors="white")']
        if variant == "fit":
            p.draw += [
                "slope, intercept = np.polyfit(x, y, 1)",
                "xs = np.linspace(x.min(), x.max(), 100)",
                f'{ax}.plot(xs, slope * xs + intercept, "--", color="{look.colors[1]}", label="Linear fit")',
            ]
    legend = variant in ("groups", "fit")
    p.draw += _decorate(rng, look, ax, _title(rng, title), xlabel, ylabel, legend=legend)
    return p


def _pie(rng: random.Random, look: Look, ax: str) -> Panel:
    title, all_labels = rng.choice(SHARES)
    labels = _pick(rng, all_labels, 3, 6)
    sizes = [rng.randint(5, 40) for _ in labels]
    p = Panel(square=True, data=[f"labels = {_lit(labels)}", f"sizes = {_lit(sizes)}"])
    p.data.append(f"colors = {_lit(list(look.colors[: len(labels)]))}")
    extra = ""
    if rng.random() < 0.4:
        extra += ', wedgeprops={"width": 0.45, "edgecolor": "white"}'
    elif rng.random() < 0.5:
        explode = [0.08 if i == 0 else 0 for i in range(len(labels))]
        p.data.append(f"explode = {_lit(explode)}")
        extra += ", explode=explode, shadow=False"
    start = rng.choice((90, 140, 0))
    p.draw = [
        f'{ax}.pie(sizes, labels=labels, colors=colors, autopct="%1.1f%%", startangle={start}{extra})',
        f'{ax}.axis("equal")',
        f"{ax}.set_title({_q(_title(rng, title))}, fontsize={look.title_size - (2 if look.panel else 0)})",
    ]
    return p


def _histogram(rng: random.Random, look: Look, ax: str) -> Panel:
    title, xlabel, mean, sd, names = rng.choice(DISTRIBUTIONS)
    count = rng.choice((200, 300, 500, 1000))
    bins = rng.choice((15, 20, 25, 30, 40))
    two = rng.random() < 0.4
    p = Panel(numpy=True, data=[f"rng = np.random.default_rng({rng.randint(0, 999)})"])
    if two:
        p.data += [
            f"first = rng.normal({_num(mean)}, {_num(sd)}, {count})",
            f"second = rng.normal({_num(mean + sd * rng.uniform(0.5, 1.5))}, {_num(sd * 0.8)}, {count})",
        ]
        p.draw = [
            f'{ax}.hist(first, bins={bins}, alpha=0.6, color="{look.colors[0]}", label={_q(names[0])})',
            f'{ax}.hist(second, bins={bins}, alpha=0.6, color="{look.colors[1]}", label={_q(names[1])})',
        ]
    else:
        p.data.append(f"data = rng.normal({_num(mean)}, {_num(sd)}, {count})")
        p.draw = [f'{ax}.hist(data, bins={bins}, color="{look.colors[0]}", edgecolor="white")']
        if rng.random() < 0.5:
            p.draw.append(f'{ax}.axvline(data.mean(), color="black", linestyle="--", linewidth=1.5, label="Mean")')
            two = True
    p.draw += _decorate(rng, look, ax, _title(rng, title), xlabel, "Frequency", legend=two)
    return p


def _heatmap(rng: random.Random, look: Look, ax: str) -> Panel:
    title, all_rows, all_cols = rng.choice(HEATMAPS)
    rows = list(all_rows[: rng.randint(3, len(all_rows))])
    cols = list(all_cols[: rng.randint(4, len(all_cols))])
    high = rng.choice((1.0, 10.0, 100.0))
    matrix = [[round(rng.uniform(0, high), 2 if high == 1 else 1) for _ in cols] for _ in rows]
    p = Panel(numpy=True)
    p.data = [f"rows = {_lit(rows)}", f"columns = {_lit(cols)}", "data = np.array(["]
    p.data += [f"    {_lit(row)}," for row in matrix]
    p.data.append("])")
    p.draw = [
        f'image = {ax}.imshow(data, cmap="{look.cmap}", aspect="auto")',
        f"fig.colorbar(image, ax={ax})",
        f"{ax}.set_xticks(range(len(columns)), columns)",
        f"{ax}.set_yticks(range(len(rows)), rows)",
    ]
    if len(rows) * len(cols) <= 48 and look.cmap in LIGHT_COLORMAPS and rng.random() < 0.8:
        fmt = ".2f" if high == 1 else ".0f" if high == 100 else ".1f"
        if look.cmap in SEQUENTIAL_COLORMAPS:  # light to dark: white text on the dark cells
            colour = ['        color = "white" if data[i, j] > 0.6 * data.max() else "black"']
        else:
            colour = ['        color = "black"']
        p.draw += [
            "for i in range(len(rows)):",
            "    for j in range(len(columns)):",
            *colour,
            f'        {ax}.text(j, i, f"{{data[i, j]:{fmt}}}", ha="center", va="center", color=color, fontsize=8)',
        ]
    p.draw.append(f"{ax}.set_title({_q(_title(rng, title))}, fontsize={look.title_size - (2 if look.panel else 0)})")
    return p


def _groups(rng: random.Random) -> tuple[str, str, str, list[str], list[tuple[float, float]], int]:
    title, xlabel, ylabel, all_names, center, spread = rng.choice(GROUPS)
    names = _pick(rng, all_names, 3, 5)
    params = [(round(center * rng.uniform(0.75, 1.25), 1), round(spread * rng.uniform(0.6, 1.4), 1)) for _ in names]
    return title, xlabel, ylabel, names, params, rng.choice((50, 100, 200))


def _box(rng: random.Random, look: Look, ax: str) -> Panel:
    title, xlabel, ylabel, names, params, count = _groups(rng)
    p = Panel(numpy=True, data=[f"rng = np.random.default_rng({rng.randint(0, 999)})", f"labels = {_lit(names)}"])
    p.data.append("data = [rng.normal(mean, sd, " + str(count) + ") for mean, sd in " + _pairs(params) + "]")
    p.data.append(f"colors = {_lit(list(look.colors[: len(names)]))}")
    p.draw = [
        f"boxes = {ax}.boxplot(data, patch_artist=True, widths=0.6)",
        'for patch, color in zip(boxes["boxes"], colors):',
        "    patch.set_facecolor(color)",
        f"{ax}.set_xticks(range(1, len(labels) + 1), labels)",
    ]
    if look.panel:
        p.draw.append(f'{ax}.tick_params(axis="x", rotation=45)')
    p.draw += _decorate(rng, look, ax, _title(rng, title), xlabel, ylabel, legend=False)
    return p


def _pairs(params: Sequence[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"({_num(m)}, {_num(s)})" for m, s in params) + "]"


def _violin(rng: random.Random, look: Look, ax: str) -> Panel:
    title, xlabel, ylabel, names, params, count = _groups(rng)
    p = Panel(numpy=True, data=[f"rng = np.random.default_rng({rng.randint(0, 999)})", f"labels = {_lit(names)}"])
    p.data.append("data = [rng.normal(mean, sd, " + str(count) + ") for mean, sd in " + _pairs(params) + "]")
    p.data.append(f"colors = {_lit(list(look.colors[: len(names)]))}")
    shown = rng.choice(("showmeans=True", "showmedians=True", "showextrema=False"))
    p.draw = [
        f"parts = {ax}.violinplot(data, {shown})",
        'for body, color in zip(parts["bodies"], colors):',
        "    body.set_facecolor(color)",
        "    body.set_alpha(0.7)",
        f"{ax}.set_xticks(range(1, len(labels) + 1), labels)",
    ]
    p.draw += _decorate(rng, look, ax, _title(rng, title), xlabel, ylabel, legend=False)
    return p


def _area(rng: random.Random, look: Look, ax: str) -> Panel:
    trend = rng.choice([t for t in TRENDS if t.x != "epochs"])
    xname, xs = _trend_x(rng, trend)
    stacked = rng.random() < 0.6
    names = _pick(rng, trend.series, 2 if stacked else 1, 4 if stacked else 1)
    rows = _trend_rows(rng, trend, names, len(xs))
    p = Panel(data=[f"{xname} = {_lit(xs)}", *_series_dict(names, rows)])
    if stacked:
        p.data.append(f"colors = {_lit(list(look.colors[: len(names)]))}")
        alpha = rng.choice((0.7, 0.85, 1.0))
        p.draw = [f"{ax}.stackplot({xname}, series.values(), labels=series.keys(), colors=colors, alpha={alpha})"]
    else:
        color = look.colors[0]
        p.draw = [
            "values = next(iter(series.values()))",
            f'{ax}.fill_between({xname}, values, color="{color}", alpha=0.3)',
            f'{ax}.plot({xname}, values, color="{color}", linewidth=2)',
        ]
    p.draw += _months_axis(look, ax, xname)
    p.draw += _decorate(rng, look, ax, _title(rng, trend.title), trend.xlabel, trend.ylabel, legend=stacked)
    return p


def _errorbar(rng: random.Random, look: Look, ax: str) -> Panel:
    if rng.random() < 0.35:
        title, xlabel, ylabel, names, params, _ = _groups(rng)
        errors = [round(sd / rng.uniform(2, 4), 1) for _, sd in params]
        p = Panel(
            data=[f"labels = {_lit(names)}", f"means = {_lit([m for m, _ in params])}", f"errors = {_lit(errors)}"]
        )
        p.draw = [f'{ax}.bar(labels, means, yerr=errors, capsize=5, color="{look.colors[0]}", alpha=0.85)']
        p.draw += _decorate(rng, look, ax, _title(rng, title), xlabel, ylabel, legend=False)
        return p
    subject = rng.choice(
        (
            ("Dose Response", "Dose (mg)", "Response (%)", [0, 5, 10, 20, 40, 80], 10.0, 80.0),
            ("Reaction Rate", "Temperature (°C)", "Rate (mol/s)", [20, 30, 40, 50, 60], 0.2, 2.5),
            ("Crop Yield", "Fertilizer (kg/ha)", "Yield (t/ha)", [0, 50, 100, 150, 200], 2.0, 7.5),
            ("Benchmark Runtime", "Threads", "Runtime (s)", [1, 2, 4, 8, 16], 60.0, 8.0),
        )
    )
    title, xlabel, ylabel, xs, first, last = subject
    names = rng.sample(("Control", "Treatment", "Variant A", "Variant B"), rng.randint(1, 3))
    rows, errs = [], []
    for _ in names:
        scale = rng.uniform(0.8, 1.2)
        row = [first + (last - first) * (i / (len(xs) - 1)) ** rng.uniform(0.6, 1.4) for i in range(len(xs))]
        rows.append([round(v * scale, 2) for v in row])
        errs.append([round(abs(v) * rng.uniform(0.04, 0.12) + 0.01, 2) for v in row])
    p = Panel(data=[f"x = {_lit(xs)}", *_series_dict(names, rows, "means"), *_series_dict(names, errs, "errors")])
    p.data.append(f"colors = {_lit(list(look.colors[:3]))}")
    fmt = rng.choice(("-o", "-s", "--o", "o"))
    p.draw = [
        "for name, color in zip(means, colors):",
        f'    {ax}.errorbar(x, means[name], yerr=errors[name], fmt="{fmt}", capsize=4, color=color, label=name)',
    ]
    p.draw += _decorate(rng, look, ax, _title(rng, title), xlabel, ylabel, legend=len(names) > 1)
    return p


def _radar(rng: random.Random, look: Look, ax: str) -> Panel:
    title, axes, all_names = rng.choice(RADARS)
    names = _pick(rng, all_names, 2, 3)
    rows = [[rng.randint(35, 100) for _ in axes] for _ in names]
    p = Panel(numpy=True, polar=True, square=True)
    p.data = [
        f"categories = {_lit(list(axes))}",
        *_series_dict(names, rows, "scores"),
        f"colors = {_lit(list(look.colors[: len(names)]))}",
        "angles = np.linspace(0, 2 * np.pi, len(categories), endpoint=False).tolist()",
        "angles += angles[:1]",
    ]
    p.draw = [
        "for (name, values), color in zip(scores.items(), colors):",
        "    values = values + values[:1]",
        f"    {ax}.plot(angles, values, color=color, linewidth=2, label=name)",
        f"    {ax}.fill(angles, values, color=color, alpha=0.25)",
        f"{ax}.set_xticks(angles[:-1])",
        f"{ax}.set_xticklabels(categories)",
        f"{ax}.set_ylim(0, 100)",
        f"{ax}.set_title({_q(_title(rng, title))}, fontsize={look.title_size}, pad=20)",
        f'{ax}.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1))',
    ]
    return p


Builder = Callable[[random.Random, Look, str], Panel]
BUILDERS: dict[ChartType, Builder] = {
    "bar": _bar,
    "grouped_bar": _grouped_bar,
    "stacked_bar": _stacked_bar,
    "line": _line,
    "scatter": _scatter,
    "pie": _pie,
    "histogram": _histogram,
    "heatmap": _heatmap,
    "box": _box,
    "violin": _violin,
    "area": _area,
    "errorbar": _errorbar,
    "radar": _radar,
}
PANEL_TYPES: tuple[ChartType, ...] = ("bar", "line", "scatter", "histogram", "pie", "area", "box", "errorbar")
"""What a subplot grid's panels are drawn from (cartesian or pie axes: no polar panels)."""
GRID_TITLES = ("Quarterly Dashboard", "Experiment Summary", "Key Metrics", "Annual Report", "Data Overview")
assert set(BUILDERS) | {"subplots"} == set(CHART_TYPES), "every chart type needs a builder"


def deal_type(types: Sequence[ChartType], deck: str, seed: int, index: int) -> ChartType:
    """Types dealt in shuffled blocks: items ``k*T .. k*T+T-1`` hold every one of the T types once, in an
    order set by ``deck`` (a name per level), the seed and the block."""
    block = index // len(types)
    order = list(types)
    random.Random(f"viscodex-synth:{deck}:{seed}:{block}").shuffle(order)
    return order[index % len(types)]


def chart_type_for(seed: int, index: int) -> ChartType:
    return deal_type(CHART_TYPES, "chart-types", seed, index)


def _look(rng: random.Random) -> Look:
    palette = rng.choice(sorted(PALETTES))
    return Look(
        palette=palette,
        colors=PALETTES[palette],
        cmap=rng.choice(COLORMAPS),
        grid=rng.random() < 0.45,
        despine=rng.random() < 0.4,
        title_size=rng.choice((12, 13, 14, 15, 16)),
        bold=rng.random() < 0.4,
        legend_loc=rng.choice(("best", "upper left", "upper right", "lower right")),
    )


def _figsize(rng: random.Random, square: bool, grid: tuple[int, int] | None = None) -> tuple[float, float]:
    if square:
        side = rng.choice((5.0, 5.5, 6.0, 6.5))
        return side, side
    if grid is not None:
        rows, cols = grid
        width = rng.choice((7.0, 7.5, 8.0))
        return width, min(7.0, max(3.5, round(width * rows / cols * 0.75 * 2) / 2))
    width = rng.choice((5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0))
    return width, round(width * rng.uniform(0.55, 0.8) * 2) / 2


def chart_program(seed: int, index: int) -> tuple[str, Meta]:
    """The matplotlib program of item ``index`` and what it draws (chart type, figure size, palette)."""
    kind = chart_type_for(seed, index)
    rng = item_rng(seed, "chart", index)
    look = _look(rng)
    style = rng.choice(STYLES) if rng.random() < 0.25 else None
    header = ["import matplotlib.pyplot as plt"]
    body: list[str] = []
    numpy = False
    if kind == "subplots":
        grid = rng.choice(((1, 2), (2, 1), (2, 2)))
        look.panel = True
        width, height = _figsize(rng, False, grid)
        body.append(
            f"fig, axes = plt.subplots({grid[0]}, {grid[1]}, figsize=({_num(width)}, {_num(height)}), dpi={DPI})"
        )
        panels = []
        for number in range(grid[0] * grid[1]):
            panel_kind = rng.choice(PANEL_TYPES)
            panels.append(panel_kind)
            where = f"axes[{number // grid[1]}, {number % grid[1]}]" if min(grid) > 1 else f"axes[{number}]"
            panel = BUILDERS[panel_kind](rng, look, "ax")
            numpy = numpy or panel.numpy
            body += ["", f"# Panel {number + 1}: {NAMES[panel_kind]}", f"ax = {where}", *panel.data, *panel.draw]
        body += ["", f'fig.suptitle({_q(rng.choice(GRID_TITLES))}, fontsize={look.title_size + 2}, fontweight="bold")']
        extra: Meta = {"panels": ",".join(panels), "grid": f"{grid[0]}x{grid[1]}"}
    else:
        panel = BUILDERS[kind](rng, look, "ax")
        numpy = panel.numpy
        width, height = _figsize(rng, panel.square)
        polar = ', subplot_kw={"projection": "polar"}' if panel.polar else ""
        body += [*panel.data, ""]
        body.append(f"fig, ax = plt.subplots(figsize=({_num(width)}, {_num(height)}), dpi={DPI}{polar})")
        body += panel.draw
        extra = {}
    if numpy:
        header.append("import numpy as np")
    if style:
        header += ["", f'plt.style.use("{style}")']
    code = "\n".join([*header, "", *body, "", "plt.tight_layout()", "plt.show()", ""])
    meta: Meta = {
        "chart_type": kind,
        "figsize": f"{_num(width)}x{_num(height)}",
        "dpi": DPI,
        "palette": look.palette,
        "style": style or "default",
        **extra,
    }
    return code, meta


def chartmimic_script(code: str, item_id: str) -> str:
    """The program as a ChartMimic ground truth: ``plt.show()`` becomes ``plt.savefig("<id>.pdf")``, as
    every ``ori_500`` script ends. The official text metric logs what is drawn while that PDF is saved,
    so a ground truth that never saves scores every answer 0 on text. No ``bbox_inches``: the picture is
    the whole figure, as the one rendered from ``code``."""
    if not code.rstrip().endswith("plt.show()"):
        raise ValueError("a synthetic chart program ends with plt.show()")
    return code.rstrip()[: -len("plt.show()")] + f'plt.savefig("{item_id}.pdf")\n'


def generate(seed: int, index: int) -> Program:
    code, meta = chart_program(seed, index)
    rng = item_rng(seed, "chart-instruction", index)
    instruction = rng.choice(INSTRUCTIONS).format(name=NAMES[chart_type_for(seed, index)])
    return Program("chart", seed, index, code, "python", "py", instruction, {**meta, "seed": seed, "index": index})


def render(program: Program, sandbox: Sandbox, cancel: threading.Event | None = None) -> Rendered:
    """Run the script in the sandbox; the picture is the figure it drew, at its own size and dpi."""
    try:
        result = sandbox.run_chart(program.code, cancel=cancel)
    except SandboxError as exc:
        raise SynthFailure("sandbox error", str(exc)) from None
    if not result.ok:
        raise SynthFailure("run failed", result.summary())
    if result.png is None:
        raise SynthFailure("no figure", result.summary())
    width, height = check_picture(result.png)
    return Rendered(result.png, {"width": width, "height": height})


SYNTHESIZER = Synthesizer(kind="chart", roles=("chart",), generate=generate, render=render)
