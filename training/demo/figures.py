"""The demo's figures, from `viscodex-train eval --bench chartmimic` runs: of the answers, the share that
parse, that run and draw a figure, and that draw the right chart type.

`eval` writes each item's ChartMimic F1 scores (`text`, `layout`, `type`) and whether the answer's code ran
(`ran`) to `items.jsonl`, and the answer to `answers/<id>.md`; it has no "parses" or "right type" field, so
they are computed here:

- parses: the answer has a ```python block (the official extraction) and Python parses it;
- draws: it ran (both of ChartMimic's tracing programs finished) and its trace logged at least one
  plotting call;
- right type: it ran and the set of plotting calls its trace logged (ChartMimic's type tracer:
  `Axes.bar`, `Axes.plot`, `pie`, ...) equals the ground truth's set. Stricter than a type F1 above 0,
  which a bar chart with one stray `plot` line would pass.

The traces come from the same tracer eval scores with (`eval.chartmimic.trace`), in the `chartmimic`
package set's sandbox.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..eval import chartmimic


@dataclass(frozen=True)
class ItemFigures:
    id: str
    parses: bool
    draws: bool
    right_type: bool
    type_f1: float
    text_f1: float
    layout_f1: float


@dataclass(frozen=True)
class RunFigures:
    """One eval run's shares (0-1) and ChartMimic means (0-100)."""

    label: str
    items: int
    parses: float
    draws: float
    right_type: float
    type: float
    text: float
    layout: float

    def row(self) -> str:
        return (
            f"| {self.label} | {self.items} | {100 * self.parses:.0f}% | {100 * self.draws:.0f}% "
            f"| {100 * self.right_type:.0f}% | {self.type:.1f} | {self.text:.1f} | {self.layout:.1f} |"
        )


TABLE_HEAD = (
    "| answers | items | parse | run and draw | right chart type | type F1 | text F1 | layout F1 |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def parses(code: str) -> bool:
    if not code.strip():
        return False
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


Tracer = Callable[[str, str], chartmimic.Trace]
"""(script, item id) -> its trace."""


def item_figures(row: dict[str, Any], answer: str, gold_types: set[str], trace: Tracer) -> ItemFigures:
    """One item's figures from its eval row, its answer, and the ground truth's traced plotting calls."""
    code = chartmimic.extract_code(answer)
    ok = parses(code)
    drew = right = False
    if ok and row.get("ran"):
        mine = trace(chartmimic.prepare_generated(code, row["id"]), row["id"])
        called = {name for name, count in mine.types.items() if count > 0}
        drew = mine.ok and bool(called)
        right = drew and called == gold_types
    return ItemFigures(
        id=row["id"],
        parses=ok,
        draws=drew,
        right_type=right,
        type_f1=float(row.get("type", 0.0)),
        text_f1=float(row.get("text", 0.0)),
        layout_f1=float(row.get("layout", 0.0)),
    )


def summarize(label: str, items: Iterable[ItemFigures]) -> RunFigures:
    rows = list(items)
    n = max(1, len(rows))
    return RunFigures(
        label=label,
        items=len(rows),
        parses=sum(r.parses for r in rows) / n,
        draws=sum(r.draws for r in rows) / n,
        right_type=sum(r.right_type for r in rows) / n,
        type=sum(r.type_f1 for r in rows) / n,
        text=sum(r.text_f1 for r in rows) / n,
        layout=sum(r.layout_f1 for r in rows) / n,
    )


class CachedTracer:
    """`eval.chartmimic.trace` in one sandbox, each distinct script traced once (the three runs' answers
    repeat, and every run shares the ground truths)."""

    def __init__(self, sandbox: Any, cache: Path) -> None:
        self.sandbox = sandbox
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)

    def __call__(self, script: str, item_id: str) -> chartmimic.Trace:
        key = hashlib.sha256(f"{item_id}\0{script}".encode()).hexdigest()[:24]
        path = self.cache / f"{key}.json"
        if path.is_file():
            return chartmimic.Trace(**json.loads(path.read_text(encoding="utf-8")))
        found = chartmimic.trace(self.sandbox, script, item_id)
        path.write_text(json.dumps(asdict(found)), encoding="utf-8")
        return found


def run_figures(
    label: str, run: Path, data: Path, trace: Tracer, ids: set[str] | None = None
) -> tuple[RunFigures, list[ItemFigures]]:
    """The figures of one eval run folder (its items.jsonl and answers/), against the ground truths in
    `data` (the ori_500 folder eval read); only the items in ``ids`` when given (a folder an earlier, larger
    run also wrote to holds more)."""
    rows = [json.loads(line) for line in (run / "items.jsonl").read_text(encoding="utf-8").splitlines() if line]
    rows = [row for row in rows if ids is None or row["id"] in ids]
    items = []
    for row in rows:
        gold_script = (data / f"{row['id']}.py").read_text(encoding="utf-8")
        gold = trace(gold_script, row["id"])
        gold_types = {name for name, count in gold.types.items() if count > 0}
        answer_path = run / "answers" / f"{row['id']}.md"
        answer = answer_path.read_text(encoding="utf-8") if answer_path.is_file() else ""
        items.append(item_figures(row, answer, gold_types, trace))
    return summarize(label, items), items
