"""What scoring a candidate adds to rendering it (tracker issue 9: <= 10% of a warm sandbox render).

    .venv/bin/python bench/score.py [--runs 15] [--data DIR --items 5]

For a chart and a page, in one run: the median time of a warm sandbox render (``run_chart(...,
trace=True)`` / ``render_html_blocks``, pool already warm) and the median time of everything the task's
verification does after it (DOM or trace blocks, the score, the critique), the target's OCR being done
once per run before (as ``prepare`` does; the target picture's decoding and palette are cached by the
scorer on the first candidate of a run, which the median leaves out). Each scoring gets its candidate's
PNG as new bytes, so it is decoded as a new candidate's would be. Prints both and their ratio. Without ``--data`` the
candidates are the project's own small chart and page; with ``--data`` (``verifier_data.py``'s folder)
also the first ``--items`` held-out ChartMimic scripts and Design2Code pages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from viscodex.agent.score.critique import critique
from viscodex.agent.score.dom import dom_blocks
from viscodex.agent.score.visual import score_chart, score_ui
from viscodex.agent.tasks.ui import DESIGN2CODE_FONTS, DESIGN2CODE_WINDOW_HEIGHT, window
from viscodex.agent.tasks.visual_common import Target, load_target
from viscodex.sandbox import PageFonts, Sandbox, SandboxPolicy, Viewport

CHART = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4))
ax.bar(["North", "South", "East", "West"], [120, 90, 150, 60], color="#2b6cb0", label="2025")
ax.plot([0, 1, 2, 3], [100, 95, 130, 80], color="#dd6b21", marker="o", label="2024")
ax.set_title("Quarterly sales by region")
ax.set_ylabel("Units")
ax.legend()
"""
PAGE = """<!doctype html><html><body style="margin:0;font-family:sans-serif;background:#f8fafc">
<header style="background:#1e293b;color:white;padding:16px 32px"><h1 style="margin:0">Pricing</h1></header>
<main style="padding:32px"><h2>Pro plan</h2><p>Everything in Starter, plus unlimited projects and
priority support.</p><button style="background:#dc2626;color:white;border:0;padding:8px 16px">Buy now</button>
<p style="color:#64748b">Cancel anytime.</p></main></body></html>"""


CPU_S: list[float] = []
"""The median CPU seconds (this process and its children: tesseract) of each ``median_s`` call, in order:
on a shared machine the scoring's wall time is mostly waiting for a core (it runs in this process, at
this process's niceness; the render runs in the sandbox's containers)."""


def median_s(fn: Callable[[], object], runs: int, settle: Callable[[], object] | None = None) -> float:
    """The median wall time of ``fn`` over ``runs`` calls, each after ``settle`` (untimed) returned."""
    times, cpu = [], []
    for _ in range(runs):
        if settle is not None:
            settle()
        before = os.times()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
        after = os.times()
        cpu.append(sum(after[:4]) - sum(before[:4]))
    CPU_S.append(statistics.median(cpu))
    return statistics.median(times)


def target_of(png: bytes, kind: str) -> Target:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "target.png"
        path.write_bytes(png)
        return load_target(path, kind)


def bench_chart(sandbox: Sandbox, code: str, target: Target, runs: int) -> tuple[float, float]:
    # As ``ChartTask.verify`` runs it: at the dpi that brings the figure to the target's scale.
    scale_to = (target.width, target.height)
    result = sandbox.run_chart(code, trace=True, scale_to=scale_to)
    assert result.png is not None, result.stderr
    settle = settled(sandbox, "chart")
    render = median_s(lambda: sandbox.run_chart(code, trace=True, scale_to=scale_to), runs, settle)

    def score() -> None:
        png = bytes(bytearray(result.png or b""))  # a new candidate's bytes each time: decoded once per run
        critique(score_chart(target.png, target.blocks, png, result.trace))

    return render, median_s(score, runs, settle)


def bench_page(
    sandbox: Sandbox,
    html: str,
    target: Target,
    runs: int,
    window_height: int | None = None,
    fonts: PageFonts = "system",
) -> tuple[float, float]:
    # As ``UiTask.verify`` renders it: in the picture's window, with its fonts (Design2Code's for its pages).
    viewport = window(target.width, target.height, window_height)
    page = sandbox.render_html_blocks(html, viewport, fonts=fonts)
    settle = settled(sandbox, "html")
    render = median_s(lambda: sandbox.render_html_blocks(html, viewport, fonts=fonts), runs, settle)

    def score() -> None:
        fresh = page.model_copy(update={"png": bytes(bytearray(page.png))})  # decoded once per run, as a new one
        critique(score_ui(target.png, target.blocks, fresh.png, dom_blocks(fresh)))

    return render, median_s(score, runs, settle)


def settled(sandbox: Sandbox, role: Literal["chart", "html"]) -> Callable[[], object]:
    """Wait until the role's pool is full and idle: after a render the pool resets its container (a chart)
    or starts a new browser (a page) in the background, and that work would otherwise be timed as part of
    whichever call came next, the next render or the scoring."""
    return lambda: sandbox.warm_up((role,), wait=True)


def row(name: str, render: float, score: float) -> str:
    return f"| {name} | {render * 1000:.0f} | {score * 1000:.0f} | {CPU_S[-1] * 1000:.0f} | {score / render:.3f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--items", type=int, default=5)
    args = parser.parse_args()
    rows: list[str] = []
    ratios: list[float] = []
    with Sandbox(pool={"chart": 1, "html": 1}) as sandbox:
        sandbox.warm_up(("chart", "html"), wait=True)
        png = sandbox.render_chart(CHART)
        render, score = bench_chart(sandbox, CHART, target_of(png, "chart"), args.runs)
        rows.append(row("chart (project's own)", render, score))
        ratios.append(score / render)
        shot = sandbox.render_html(PAGE, Viewport(width=800, height=400))
        render, score = bench_page(sandbox, PAGE, target_of(shot, "ui"), args.runs)
        rows.append(row("page (project's own)", render, score))
        ratios.append(score / render)
        if args.data is not None:
            root = args.data / "design2code"
            manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
            items = [i for i in manifest["items"] if i["split"] == "heldout"]
            random.Random(manifest["seed"]).shuffle(items)
            for item in items[: args.items]:
                target = load_target(root / item["target"], "ui")
                html = (root / item["answer"]).read_text(encoding="utf-8")
                render, score = bench_page(
                    sandbox, html, target, max(3, args.runs // 3), DESIGN2CODE_WINDOW_HEIGHT, DESIGN2CODE_FONTS
                )
                rows.append(row(f"Design2Code {item['id']}", render, score))
                ratios.append(score / render)
    if args.data is not None:
        root = args.data / "chartmimic"
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        items = [i for i in manifest["items"] if i["split"] == "heldout"]
        random.Random(manifest["seed"]).shuffle(items)
        with Sandbox(policy=SandboxPolicy(package_set="chartmimic"), pool={"chart": 1}) as sandbox:
            sandbox.warm_up(("chart",), wait=True)
            for item in items[: args.items]:
                target = load_target(root / item["target"], "chart")
                code = (root / item["answer"]).read_text(encoding="utf-8")
                render, score = bench_chart(sandbox, code, target, max(3, args.runs // 3))
                rows.append(row(f"ChartMimic {item['id']}", render, score))
                ratios.append(score / render)
    print("| candidate | warm render (ms) | scoring (ms) | scoring CPU (ms) | scoring / render |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nmedian ratio {statistics.median(ratios):.3f}, worst {max(ratios):.3f} (target <= 0.10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
