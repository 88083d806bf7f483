"""``OUT/items.jsonl`` (one JSON object per finished item) and the run's summary.

Each line is ``{"id": ..., <one numeric field per metric component>, ...}``, appended and flushed as soon as
the item is scored, so a crash or Ctrl-C loses at most the items in flight. A later run with the same
``--out`` reads the file back and skips the ids already there; a half-written last line (the process died
mid-write) is ignored and its item done again.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ITEMS = "items.jsonl"


class ItemStore:
    """The finished items of one run folder; ``add`` is thread-safe."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out / ITEMS
        self.rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        out.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        good: list[str] = []
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line a killed run was writing
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                self.rows[row["id"]] = row
                good.append(line)
        if len(good) != len(text.splitlines()) or (text and not text.endswith("\n")):
            # Rewrite without the broken line, so the next append starts on a line of its own.
            self.path.write_text("".join(f"{line}\n" for line in good), encoding="utf-8")

    def done(self, item_id: str) -> bool:
        return item_id in self.rows

    def add(self, row: Mapping[str, Any]) -> None:
        if not isinstance(row.get("id"), str):
            raise ValueError("an item row needs a string id")
        line = json.dumps(dict(row), ensure_ascii=False, sort_keys=False)
        with self._lock:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
            self.rows[str(row["id"])] = dict(row)


def mean_of(rows: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, float | None]:
    """Each field's mean over the rows that have it as a number (None if none has)."""
    out: dict[str, float | None] = {}
    rows = list(rows)
    for name in fields:
        values = [float(r[name]) for r in rows if _number(r.get(name))]
        out[name] = sum(values) / len(values) if values else None
    return out


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write_summary(
    out: Path,
    *,
    bench: str,
    fields: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    paper: Mapping[str, float] | None,
    paper_note: str,
    notes: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``summary.json`` and ``summary.md``: our means per metric beside the paper's published numbers."""
    ours = mean_of(rows, fields)
    summary: dict[str, Any] = {
        "bench": bench,
        "items": len(rows),
        "metrics": ours,
        "paper": dict(paper) if paper else None,
        "paper_note": paper_note,
        "notes": list(notes),
        "config": dict(config or {}),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    lines = [f"# {bench}: {len(rows)} items", "", "| metric | ours | paper (VisCodex-8B) |", "| --- | ---: | ---: |"]
    for name in fields:
        value = ours[name]
        published = (paper or {}).get(name)
        lines.append(f"| {name} | {_cell(value, 2)} | {_cell(published, 1)} |")
    lines += ["", paper_note]
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary
