"""The chart trace the sandbox returns (``run_chart(trace=True)``), as typed models, and its texts as
comparable text blocks.

The trace is read from the drawn matplotlib artists (as ChartMimic does with the code's calls): chart
types and series per axes, and every visible text with its role and box in pixels of the PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from .blocks import TextBlock
from .colors import RGB, parse_hex
from .raster import RgbArray, load_rgb
from .words import blocks_from_words

MAX_ROTATION = 10.0
"""Texts rotated more than this (degrees) are left out: OCR cannot read them on the target either."""


class TraceText(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    drawn: str | None = None
    """The characters it draws, where they differ from ``text``: mathtext's markup turned into its glyphs
    (``$\\mu$`` draws "μ"). What OCR of a picture of it reads, so what it is compared with."""
    role: str = "text"
    """title, suptitle, xlabel, ylabel, xtick, ytick, legend, legend_title or text (annotations)."""
    axes: int | None = None
    box: tuple[float, float, float, float]
    color: str | None = None
    rotation: float = 0.0
    font_size: float = 0.0


class TraceSeries(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    """bar, barh, hist, line, scatter, area, pie or heatmap."""
    label: str = ""
    colors: tuple[str, ...] = ()
    n: int = 0

    @property
    def shown_label(self) -> str:
        """The label as a legend would show it; matplotlib's automatic ``_child0`` labels are hidden."""
        return "" if self.label.startswith("_") else self.label


class TraceAxes(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = 0
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    types: tuple[str, ...] = ()
    series: tuple[TraceSeries, ...] = ()
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xticklabels: tuple[str, ...] = ()
    yticklabels: tuple[str, ...] = ()
    legend: tuple[str, ...] = ()


class ChartTrace(BaseModel):
    """What a candidate chart is made of. ``error`` is set (and the rest empty) if tracing failed."""

    model_config = ConfigDict(frozen=True)

    width: int = 0
    height: int = 0
    axes: tuple[TraceAxes, ...] = ()
    texts: tuple[TraceText, ...] = ()
    error: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> ChartTrace:
        """From ``RunResult.trace``; a missing or malformed trace gives an empty one with ``error``."""
        if data is None:
            return cls(error="no trace")
        try:
            return cls.model_validate(dict(data))
        except ValueError as exc:
            return cls(error=f"malformed trace: {exc}")

    @property
    def types(self) -> tuple[str, ...]:
        """Chart types over all axes, in first-drawn order, without repeats."""
        out: list[str] = []
        for ax in self.axes:
            out.extend(t for t in ax.types if t not in out)
        return tuple(out)

    @property
    def series(self) -> tuple[TraceSeries, ...]:
        return tuple(s for ax in self.axes for s in ax.series)

    @property
    def series_colors(self) -> tuple[RGB, ...]:
        """Distinct colours the data artists are drawn in, in drawing order."""
        seen: list[RGB] = []
        for s in self.series:
            for c in s.colors:
                rgb = parse_hex(c)
                if rgb not in seen:
                    seen.append(rgb)
        return tuple(seen)


def trace_words(trace: ChartTrace, max_rotation: float = MAX_ROTATION) -> list[TextBlock]:
    """The trace's texts as units to measure (upright ones only), with their roles."""
    words: list[TextBlock] = []
    for t in trace.texts:
        if abs(((t.rotation + 180) % 360) - 180) > max_rotation:
            continue
        color = None
        if t.color:
            try:
                color = parse_hex(t.color)
            except ValueError:
                color = None
        text = " ".join((t.drawn if t.drawn is not None else t.text).split())  # multi-line: one unit
        if text:
            words.append(TextBlock(text=text, box=t.box, color=color, role=t.role))
    return words


def trace_blocks(trace: ChartTrace, png: bytes | RgbArray) -> list[TextBlock]:
    """Comparable text lines of a traced chart: its upright texts measured on its PNG and grouped."""
    rgb = load_rgb(png) if isinstance(png, bytes) else png
    return blocks_from_words(trace_words(trace), rgb)
