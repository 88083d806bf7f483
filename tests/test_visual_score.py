"""The visual score and critique on real renders: a target picture from the sandbox, read by OCR once
per module, against candidates with controlled damage. Each kind of damage must lower its own
component, monotonically in the size of the damage, and be named in the critique."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image

from viscodex.agent.score import (
    ChartScore,
    TextBlock,
    VisualScore,
    critique,
    dom_blocks,
    ocr_blocks,
    render_critique,
    score_chart,
    score_ui,
)
from viscodex.sandbox import HtmlRender, RunResult, Sandbox, Viewport

pytestmark = pytest.mark.docker

VIEWPORT = Viewport(width=640, height=400)

# Absolutely placed blocks, so that damaging one leaves the others where they were.
BLOCKS: dict[str, dict[str, Any]] = {
    "title": {"x": 40, "y": 24, "size": 28, "weight": 700, "color": "#0f172a", "text": "Pricing that scales"},
    "plan": {"x": 40, "y": 92, "size": 22, "weight": 400, "color": "#1e293b", "text": "Pro plan"},
    "price": {"x": 40, "y": 130, "size": 32, "weight": 700, "color": "#2563eb", "text": "$19 per month"},
    "f1": {"x": 40, "y": 196, "size": 16, "weight": 400, "color": "#334155", "text": "Unlimited projects"},
    "f2": {"x": 40, "y": 226, "size": 16, "weight": 400, "color": "#334155", "text": "Local model, no cloud"},
    "f3": {"x": 40, "y": 256, "size": 16, "weight": 400, "color": "#334155", "text": "Verified code, every time"},
    "note": {"x": 330, "y": 318, "size": 14, "weight": 400, "color": "#64748b", "text": "Cancel anytime"},
}


FONT = 'font-family:"Liberation Sans",Arial,sans-serif'


def content(drop: tuple[str, ...] = (), **changes: dict[str, Any]) -> str:
    parts = []
    for key, block in BLOCKS.items():
        if key in drop:
            continue
        b = {**block, **changes.get(key, {})}
        parts.append(
            f"<div style='position:absolute;left:{b['x']}px;top:{b['y']}px;font-size:{b['size']}px;"
            f"font-weight:{b['weight']};color:{b['color']}'>{b['text']}</div>"
        )
    parts.append(
        "<div style='position:absolute;left:40px;top:306px;padding:10px 22px;border-radius:8px;"
        "background:#2563eb;color:#fff;font-size:16px'>Start free trial</div>"
    )
    return "".join(parts)


def page(drop: tuple[str, ...] = (), **changes: dict[str, Any]) -> str:
    return f"<body style='margin:0;background:#f8fafc;{FONT}'>{content(drop, **changes)}</body>"


UI_VARIANTS = {
    "move10": content(plan={"x": 50}),
    "move40": content(plan={"x": 80}),
    "move120": content(plan={"x": 160}),
    "colour_slight": content(price={"color": "#1d4ed8"}),
    "colour_strong": content(price={"color": "#dc2626"}),
    "drop1": content(drop=("note",)),
    "drop2": content(drop=("note", "f3")),
    "drop3": content(drop=("note", "f3", "f2")),
}


def contact_sheet(frames: list[str]) -> str:
    """All candidates in one page, one viewport-sized frame each, stacked: one render instead of
    many (each render starts a fresh browser container, seconds apiece)."""
    size = f"width:{VIEWPORT.width}px;height:{VIEWPORT.height}px"
    cells = "".join(
        f"<div style='position:relative;overflow:hidden;{size};background:#f8fafc'>{frame}</div>" for frame in frames
    )
    return f"<body style='margin:0;{FONT}'>{cells}</body>"


def cut(sheet: HtmlRender, index: int) -> HtmlRender:
    """Frame ``index`` of a contact sheet as if it had been rendered on its own."""
    top, height = index * VIEWPORT.height, VIEWPORT.height
    image = Image.open(io.BytesIO(sheet.png)).crop((0, top, VIEWPORT.width, top + height))
    out = io.BytesIO()
    image.save(out, format="PNG")

    def shift(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return (box[0], box[1] - top, box[2], box[3] - top)

    blocks = tuple(
        b.model_copy(
            update={
                "box": shift(b.box),
                "words": tuple(w.model_copy(update={"box": shift(w.box)}) for w in b.words),
            }
        )
        for b in sheet.blocks
        if top <= b.box[1] < top + height
    )
    return HtmlRender(png=out.getvalue(), blocks=blocks)


@pytest.fixture(scope="module")
def ui(sandbox: Sandbox) -> dict[str, HtmlRender]:
    target = sandbox.render_html_blocks(page(), VIEWPORT, full_page=False)
    sheet = sandbox.render_html_blocks(contact_sheet(list(UI_VARIANTS.values())), VIEWPORT)
    frames = {name: cut(sheet, i) for i, name in enumerate(UI_VARIANTS)}
    return {"target": target, "same": target, **frames}


Target = tuple[bytes, tuple[TextBlock, ...]]


@pytest.fixture(scope="module")
def ui_target(ui: dict[str, HtmlRender]) -> Target:
    png = ui["target"].png
    return png, ocr_blocks(png)  # once per module


def score_of(ui: dict[str, HtmlRender], target: Target, name: str) -> VisualScore:
    render = ui[name]
    return score_ui(target[0], target[1], render.png, dom_blocks(render))


def test_ocr_reads_the_target(ui_target: Target) -> None:
    texts = [b.text for b in ui_target[1]]
    for block in BLOCKS.values():
        assert block["text"] in texts
    assert "Start free trial" in texts  # light text on a dark button


def test_identical_scores_one(ui: dict[str, HtmlRender], ui_target: Target) -> None:
    png, blocks = ui_target
    exact = score_ui(png, blocks, png, blocks)
    assert exact.overall == 1.0 and all(v == 1.0 for v in exact.components().values())
    # The same page as a candidate: its DOM blocks against the target's OCR.
    same = score_of(ui, ui_target, "same")
    assert all(v >= 0.99 for v in same.components().values()), same.components()
    assert same.missing == () and same.extra == ()
    assert critique(same) == [], render_critique(same)


def test_moved_block_lowers_position(ui: dict[str, HtmlRender], ui_target: Target) -> None:
    base = score_of(ui, ui_target, "same")
    scores = [score_of(ui, ui_target, f"move{d}") for d in (10, 40, 120)]
    positions = [base.position] + [s.position for s in scores]
    assert positions == sorted(positions, reverse=True) and len(set(positions)) == 4, positions
    for distance, score in zip((10, 40, 120), scores, strict=True):
        assert score.block == base.block and score.text == base.text
        lines = critique(score)
        if distance < 20:  # under a line's height: the noise of a page rendered with other fonts
            assert not any("'Pro plan' is" in line for line in lines), lines
        else:
            assert lines[0].startswith(f"Text 'Pro plan' is {distance} px too far right"), lines


def test_changed_colour_lowers_colour(ui: dict[str, HtmlRender], ui_target: Target) -> None:
    base = score_of(ui, ui_target, "same")
    slight = score_of(ui, ui_target, "colour_slight")
    strong = score_of(ui, ui_target, "colour_strong")
    assert base.color > slight.color > strong.color
    assert slight.position == base.position and strong.block == base.block
    # A slight shift of blue (ΔE00 about 7) is under a page's colour noise floor (15); red is not.
    assert not any("$19 per month" in line for line in critique(slight))
    assert critique(strong)[0] == "Colour of '$19 per month' is #dc2626, target #2563eb"


def test_missing_texts_lower_block_match(ui: dict[str, HtmlRender], ui_target: Target) -> None:
    base = score_of(ui, ui_target, "same")
    scores = [score_of(ui, ui_target, f"drop{n}") for n in (1, 2, 3)]
    blocks = [base.block] + [s.block for s in scores]
    assert blocks == sorted(blocks, reverse=True) and len(set(blocks)) == 4, blocks
    assert [s.overall for s in scores] == sorted((s.overall for s in scores), reverse=True)
    dropped = [BLOCKS[k]["text"] for k in ("note", "f3", "f2")]
    for n, score in enumerate(scores, start=1):
        lines = critique(score)
        for text in dropped[:n]:
            assert any(line.startswith(f"Missing text: '{text}' (target at x=") for line in lines), lines
        for text in dropped[n:]:
            assert not any(f"Missing text: '{text}'" in line for line in lines)


# --- charts ----------------------------------------------------------------------------------------


def chart(
    kind: str = "bar",
    colors: tuple[str, str] = ("#2b6cb0", "#dd6b20"),
    title: str | None = "Quarterly sales by region",
    series: int = 2,
) -> str:
    if kind == "bar":
        draw = [
            "ax.bar(x - 0.2, north, width=0.4, label='North', color=C[0])",
            "ax.bar(x + 0.2, south, width=0.4, label='South', color=C[1])",
        ]
    else:
        draw = ["ax.plot(x, north, label='North', color=C[0])", "ax.plot(x, south, label='South', color=C[1])"]
    lines = [
        "import matplotlib.pyplot as plt",
        "import numpy as np",
        f"C = {list(colors)!r}",
        "north = [120, 135, 150, 170]",
        "south = [90, 110, 105, 140]",
        "x = np.arange(4)",
        "fig, ax = plt.subplots(figsize=(6.4, 4.0))",
        *draw[:series],
        "ax.set_xticks(x, ['Q1', 'Q2', 'Q3', 'Q4'])",
        "ax.set_ylabel('Sales (k$)')",
        f"ax.set_title({title!r})" if title else "",
        "ax.legend()",
        "fig.tight_layout()",
    ]
    return "\n".join(lines)


CHART_VARIANTS = {
    "line": chart("line"),
    "colour_slight": chart(colors=("#1f77b4", "#ff7f0e")),
    "colour_strong": chart(colors=("#16a34a", "#9333ea")),
    "no_title": chart(title=None),
    "one_series": chart(series=1),
}


@pytest.fixture(scope="module")
def charts(sandbox: Sandbox) -> dict[str, RunResult]:
    codes = {"target": chart(), **CHART_VARIANTS}
    with ThreadPoolExecutor(max_workers=2) as pool:  # the next container starts while one runs
        futures = {name: pool.submit(sandbox.run_chart, code, trace=True) for name, code in codes.items()}
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        assert result.ok and result.png is not None and result.trace is not None, (name, result.stderr)
    return {"same": results["target"], **results}


@pytest.fixture(scope="module")
def chart_target(charts: dict[str, RunResult]) -> Target:
    png = charts["target"].png
    assert png is not None
    return png, ocr_blocks(png)


def chart_score(charts: dict[str, RunResult], target: Target, name: str, hint: str | None = "bar") -> ChartScore:
    result = charts[name]
    assert result.png is not None
    return score_chart(target[0], target[1], result.png, result.trace, target_hint=hint)


def test_chart_same_scores_near_one(charts: dict[str, RunResult], chart_target: Target) -> None:
    assert "Quarterly sales by region" in [b.text for b in chart_target[1]]
    same = chart_score(charts, chart_target, "same")
    assert same.chart_type == 1.0 and same.color == 1.0 and same.series == 1.0 and same.position >= 0.99
    assert same.text >= 0.95 and same.overall >= 0.98, same.components()
    assert critique(same) == [], render_critique(same)
    unhinted = chart_score(charts, chart_target, "same", hint=None)
    # Without a hint the picture says how each series is drawn (filled bars on both): type is scored.
    assert unhinted.chart_type == 1.0 and unhinted.overall >= 0.98


def test_line_instead_of_bar(charts: dict[str, RunResult], chart_target: Target) -> None:
    same = chart_score(charts, chart_target, "same")
    line = chart_score(charts, chart_target, "line")
    assert line.chart_type == 0.0 and line.overall < same.overall - 0.2
    assert critique(line)[0].startswith("Chart type: candidate draws line in #")


def test_chart_colours(charts: dict[str, RunResult], chart_target: Target) -> None:
    same = chart_score(charts, chart_target, "same")
    slight = chart_score(charts, chart_target, "colour_slight")
    strong = chart_score(charts, chart_target, "colour_strong")
    assert same.color > slight.color > strong.color
    assert strong.chart_type == 1.0 and strong.text == same.text
    lines = critique(strong)
    assert "Series 'North' is #16a34a, target #2b6cb0 (legend)" in lines
    assert "Series 'South' is #9333ea, target #dd6b20 (legend)" in lines


def test_chart_missing_title(charts: dict[str, RunResult], chart_target: Target) -> None:
    same = chart_score(charts, chart_target, "same")
    no_title = chart_score(charts, chart_target, "no_title")
    assert no_title.text < same.text - 0.1
    assert critique(no_title)[0].startswith("Missing text: 'Quarterly sales by region' (target at x=")


def test_chart_series_count(charts: dict[str, RunResult], chart_target: Target) -> None:
    one = chart_score(charts, chart_target, "one_series")
    assert one.series == 0.5 and one.color < 1.0
    # The series-count line sums up the colour lines and sits under the chart noise floor; the colour
    # the candidate lacks is named.
    lines = critique(one)
    assert lines and "which the candidate lacks" in lines[0], lines


SCATTER = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.{call}
ax.set_title("Visitors")
fig.tight_layout()
"""
DOTS = 'scatter([1, 1, 2, 4, 6, 7, 9], [4, 5, 1, 4, 1, 6, 3], s=200, color="{colour}")'


BARS = 'bar(["A", "B", "C", "D", "E"], [3, 5, 2, 6, 4], width=0.5, color="{colour}")'
HIST = 'hist([1, 2, 2, 4, 3, 6, 6, 7, 8, 8, 9], bins=8, color="{colour}")'


def test_mark_shapes_in_another_colour_overrule_a_wrong_type_hint(sandbox: Sandbox) -> None:
    """The target's type is named wrongly (as a small model reads big dots as a line and separate bars as
    a histogram), and the candidate draws in another colour, so no series can be compared colour by
    colour: the shape of its marks against the target's decides. Dots against dots are right whatever the
    hint says; a line against dots, or a histogram's touching bars against separate ones, is told what
    the target's marks look like, though the hint agrees with it. A grey histogram against a target
    whose only grey is its text is not compared with that text. A pie against bars is told they are
    bars."""
    calls = {
        "scatter": DOTS.format(colour="mediumpurple"),
        "dots": DOTS.format(colour="darkorange"),
        "line": 'plot([1, 2, 4, 6, 9], [4, 1, 4, 1, 3], linewidth=4, color="darkorange")',
        "bars": BARS.format(colour="teal"),
        "hist": HIST.format(colour="steelblue"),
        "olive hist": HIST.format(colour="olive"),
        "grey hist": HIST.format(colour="grey"),
        "pie": "pie([3, 5, 2, 6, 4])",
    }
    runs = {name: sandbox.run_chart(SCATTER.format(call=call), trace=True) for name, call in calls.items()}
    for name, run in runs.items():
        assert run.ok and run.png is not None, (name, run.stderr)

    def score(target: str, candidate: str, hint: str) -> ChartScore:
        png = runs[target].png or b""
        return score_chart(png, ocr_blocks(png), runs[candidate].png or b"", runs[candidate].trace, target_hint=hint)

    dots = score("scatter", "dots", "line")
    assert dots.chart_type == 1.0 and not [line for line in critique(dots) if line.startswith("Chart type")]
    line = score("scatter", "line", "line")
    assert line.chart_type == 0.0
    assert critique(line)[0] == "Chart type: candidate draws line, target looks like scatter", critique(line)
    hist = score("bars", "hist", "hist")
    assert hist.chart_type == 0.5
    assert "Chart type: candidate draws hist, target looks like bar" in critique(hist), critique(hist)
    pie = score("bars", "pie", "hist")  # wedges, each in its own colour: the trace says so
    assert pie.chart_type == 0.0
    assert "Chart type: candidate draws pie, target looks like bar" in critique(pie), critique(pie)
    grey = score("olive hist", "grey hist", "hist")
    assert grey.chart_type == 1.0 and not [line for line in critique(grey) if line.startswith("Chart type")]
