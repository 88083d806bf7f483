"""``data export``: records in the files LLaMA-Factory and ms-swift train from, to train at scale there.

LLaMA-Factory (``--format llamafactory``), its documented ShareGPT format (``data/README.md``):
``OUT/NAME.jsonl`` with one object a line, ``conversations`` of ``from``/``value`` (``human``/``gpt``),
the system prompt in a ``system`` column and ``images`` as a list; ``OUT/dataset_info.json`` registers it
with ``formatting: sharegpt``, the ``columns`` (messages, system, images) and the ``tags`` (role_tag,
content_tag, user_tag, assistant_tag). Train with ``--dataset_dir OUT --dataset NAME``. Copied images
are named relative to OUT, which LLaMA-Factory resolves against ``media_dir`` (by default the dataset_dir).

ms-swift (``--format swift``), its standard format (``docs/source_en/Customization/Custom-dataset.md``):
``OUT/NAME.jsonl`` with ``messages`` of ``role``/``content`` (system inside) and ``images``; train with
``--dataset OUT/NAME.jsonl``. Image paths are absolute: ms-swift resolves relative ones against the
working directory, not the file (modelscope/ms-swift#7887).

Both keep every ``<image>`` placeholder (the loaders make them explicit) and add ``id`` and
``category`` columns, which both tools drop (only their standard columns are kept) and our loaders read
back. Both tools need turns that alternate user/assistant after an optional system prompt and end with
the assistant; other records are skipped with the reason ``turn_order``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, get_args

from .loaders import REJECT_KINDS
from .records import Record, Rejected

__all__ = ["EXPORT_FORMATS", "EXPORT_SKIPS", "ExportFormat", "ExportReport", "ImageMode", "export_records"]

ExportFormat = Literal["llamafactory", "swift"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = get_args(ExportFormat)
ImageMode = Literal["copy", "reference"]
"""``copy``: images go to OUT/images/ under their content hash (the folder travels); ``reference``: the
files stay where they are and are named by absolute path."""

EXPORT_SKIPS: Final[dict[str, str]] = {
    **REJECT_KINDS,
    "turn_order": "turns that are not user/assistant in turn after a system prompt, ending with the assistant",
    "unreadable_image": "an image that could not be copied",
}
"""Why a record was not exported: the loaders' reasons and the export's own. One vocabulary."""

_GPT_TAGS: Final[dict[str, str]] = {"user": "human", "assistant": "gpt"}


@dataclass
class ExportReport:
    format: ExportFormat
    data: Path
    """The file written (OUT/NAME.jsonl)."""
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    images_copied: int = 0
    dataset_info: Path | None = None

    def lines(self) -> list[str]:
        out = [f"wrote {self.written} records to {self.data}"]
        if self.dataset_info is not None:
            out.append(f"registered in {self.dataset_info} (LLaMA-Factory: --dataset_dir {self.data.parent})")
        if self.images_copied:
            out.append(f"copied {self.images_copied} images to {self.data.parent / 'images'}")
        out.extend(f"skipped {n} ({kind}: {EXPORT_SKIPS.get(kind, kind)})" for kind, n in sorted(self.skipped.items()))
        return out


def turn_order_ok(record: Record) -> bool:
    """System first (optional), then user, assistant, user, assistant, ..., ending with the assistant."""
    roles = [m.role for m in record.messages]
    if roles and roles[0] == "system":
        roles = roles[1:]
    if not roles or len(roles) % 2:
        return False
    return all(role == ("user" if i % 2 == 0 else "assistant") for i, role in enumerate(roles))


def llamafactory_row(record: Record, images: list[str]) -> dict[str, Any]:
    """A record as a row of LLaMA-Factory's ShareGPT format (``turn_order_ok`` records only)."""
    messages = list(record.messages)
    row: dict[str, Any] = {}
    if messages and messages[0].role == "system":
        row["system"] = messages.pop(0).content
    row["conversations"] = [{"from": _GPT_TAGS[m.role], "value": m.content} for m in messages]
    if images:
        row["images"] = images
    return {**row, "id": record.id, **({"category": record.category} if record.category else {})}


def swift_row(record: Record, images: list[str]) -> dict[str, Any]:
    """A record as a row of ms-swift's standard format."""
    row: dict[str, Any] = {"messages": [{"role": m.role, "content": m.content} for m in record.messages]}
    if images:
        row["images"] = images
    return {**row, "id": record.id, **({"category": record.category} if record.category else {})}


def llamafactory_entry(file_name: str) -> dict[str, Any]:
    """The dataset_info.json entry for a file of ``llamafactory_row``s."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "images": "images"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
    }


class _Images:
    """Copies images into OUT/images/ once each, named by content hash."""

    def __init__(self, out: Path, mode: ImageMode, relative: bool) -> None:
        self.out = out
        self.mode = mode
        self.relative = relative
        self.copied = 0
        self.done: dict[Path, str] = {}

    def name(self, path: Path) -> str:
        if self.mode == "reference":
            return str(path.resolve())
        known = self.done.get(path)
        if known is not None:
            return known
        data = path.read_bytes()
        target = self.out / "images" / f"{hashlib.sha256(data).hexdigest()[:32]}{path.suffix.lower()}"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            self.copied += 1
        name = target.relative_to(self.out).as_posix() if self.relative else str(target.resolve())
        if len(self.done) < 100_000:  # a bounded memo: repeated images in a row are the common case
            self.done[path] = name
        return name


def export_records(
    items: Iterable[Record | Rejected],
    out: Path,
    *,
    format: ExportFormat,
    images: ImageMode = "copy",
    name: str = "viscodex",
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write ``items`` to ``out`` for ``format``; rejected and unusable records are counted, not written.
    The data file appears whole or not at all (written aside, renamed at the end); an existing
    ``dataset_info.json`` keeps its other entries."""
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {format!r}; known: {', '.join(EXPORT_FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"{name}.jsonl"
    report = ExportReport(format=format, data=data)
    skipped: Counter[str] = Counter()
    copier = _Images(out, images, relative=format == "llamafactory")
    make_row = llamafactory_row if format == "llamafactory" else swift_row
    tmp = data.with_name(f".{data.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for done, item in enumerate(items, 1):
                if progress is not None:
                    progress(done)
                if isinstance(item, Rejected):
                    skipped[item.kind or "bad_field"] += 1
                    continue
                if not turn_order_ok(item):
                    skipped["turn_order"] += 1
                    continue
                try:
                    names = [copier.name(p) for p in item.images]
                except OSError:
                    skipped["unreadable_image"] += 1
                    continue
                f.write(json.dumps(make_row(item, names), ensure_ascii=False) + "\n")
                report.written += 1
        os.replace(tmp, data)
    finally:
        tmp.unlink(missing_ok=True)
    if format == "llamafactory":
        report.dataset_info = _register(out, name, data.name)
    report.skipped = dict(skipped)
    report.images_copied = copier.copied
    return report


def _register(out: Path, name: str, file_name: str) -> Path:
    info_path = out / "dataset_info.json"
    info: dict[str, Any] = {}
    if info_path.is_file():
        try:
            loaded = json.loads(info_path.read_text(encoding="utf-8"))
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            info = loaded
        else:
            shutil.copy2(info_path, info_path.with_suffix(".json.bak"))
    info[name] = llamafactory_entry(file_name)
    tmp = info_path.with_name(".dataset_info.json.tmp")
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, info_path)
    return info_path
