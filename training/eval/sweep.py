"""The paper's lam ablation: one merge per lam, each scored on a benchmark, in one table, the best kept.

``viscodex-train merge-sweep --lams ... --eval BENCH --data DIR`` merges into ``OUT/lam-<lam>/``, scores
each merge through the embedded backend into ``OUT/eval/lam-<lam>/`` (an ordinary, resumable evaluation
run), then writes ``OUT/sweep.md`` and ``OUT/sweep.json`` and points ``OUT/best`` at the best merge. A
merge that is already there is not redone (a merge is written atomically, so a folder is a whole one).

The best lam is the one with the highest headline number: for ChartMimic the mean of its four low-level
scores (its own "Average" column), for MMCode pass@1, for Design2Code its final visual score. Ties go to
the smaller lam (listed first).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADLINE: dict[str, tuple[str, ...]] = {
    "chartmimic": ("text", "layout", "type", "color"),
    "mmcode": ("pass@1",),
    "design2code": ("final",),
}
"""The metrics whose mean ranks a merge, per benchmark."""


@dataclass(frozen=True)
class SweepPoint:
    lam: float
    merge: Path
    summary: Mapping[str, Any]
    """The evaluation run's ``summary.json``."""


def merge_folder(out: Path, lam: float) -> Path:
    return out / f"lam-{lam:.2f}"


def eval_folder(out: Path, lam: float) -> Path:
    return out / "eval" / f"lam-{lam:.2f}"


def headline(bench: str, metrics: Mapping[str, float | None]) -> float | None:
    """The mean of the benchmark's headline metrics; None if one of them was not scored."""
    values = [metrics.get(name) for name in HEADLINE.get(bench, ())]
    if not values or any(v is None for v in values):
        return None
    return sum(float(v) for v in values if v is not None) / len(values)


def best_point(bench: str, points: Sequence[SweepPoint]) -> SweepPoint | None:
    scored = [(headline(bench, p.summary.get("metrics", {})), p) for p in points]
    ranked = [(score, p) for score, p in scored if score is not None]
    if not ranked:
        return None
    top = max(score for score, _ in ranked)
    return next(p for score, p in ranked if score == top)


def write_sweep(out: Path, bench: str, points: Sequence[SweepPoint], *, prune: bool = False) -> dict[str, Any]:
    """``sweep.json`` / ``sweep.md`` (lam, each metric, the headline), ``best`` -> the best merge; with
    ``prune`` the other merges' folders are deleted (an 8B merge is ~16 GB)."""
    best = best_point(bench, points)
    names = list(points[0].summary.get("metrics", {})) if points else []
    table: dict[str, Any] = {
        "bench": bench,
        "headline": f"mean of {', '.join(HEADLINE.get(bench, ()))}",
        "points": [
            {
                "lam": p.lam,
                "merge": str(p.merge),
                "items": p.summary.get("items"),
                "metrics": dict(p.summary.get("metrics", {})),
                "headline": headline(bench, p.summary.get("metrics", {})),
            }
            for p in points
        ],
        "best": None if best is None else {"lam": best.lam, "merge": str(best.merge)},
    }
    lines = [
        f"# merge sweep on {bench}: {len(points)} values of lam",
        "",
        "| lam | " + " | ".join(names) + " | headline |",
        "| ---: |" + " ---: |" * (len(names) + 1),
    ]
    for row in table["points"]:
        cells = ["-" if row["metrics"].get(n) is None else f"{row['metrics'][n]:.2f}" for n in names]
        mark = " (best)" if best is not None and row["lam"] == best.lam else ""
        score = "-" if row["headline"] is None else f"{row['headline']:.2f}"
        lines.append(f"| {row['lam']:.2f}{mark} | " + " | ".join(cells) + f" | {score} |")
    lines += ["", f"Headline: {table['headline']}. Each lam's run is in eval/lam-<lam>/."]
    out.mkdir(parents=True, exist_ok=True)
    link = out / "best"
    if link.is_symlink() or link.exists():
        link.unlink()
    if best is not None:
        os.symlink(os.path.relpath(best.merge, out), link)
        lines.append(f"best -> {best.merge.name}")
        if prune:
            for point in points:
                if point is not best and point.merge.is_dir():
                    shutil.rmtree(point.merge)
            table["pruned"] = [str(p.merge) for p in points if p is not best]
    (out / "sweep.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    text = "\n".join(lines) + "\n"
    (out / "sweep.md").write_text(text, encoding="utf-8")
    return table
