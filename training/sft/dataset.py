"""Records to a training set on disk: one streaming pass that checks each record, measures it in tokens (for
length grouping and the length limit), hashes it (the data digest of the model card) and appends it to an Arrow
file that `datasets` memory-maps, so a 598k-record set never sits in memory.

Bad records are skipped and counted by kind (the loaders' ``Rejected.kind``, else its reason; ours:
``missing_image``, ``unreadable_image``, ``image_shape``, ``image_count``, ``no_assistant``, ``too_long``);
only an empty result is an error. Too long records are skipped rather than truncated: a cut inside an image's
tokens breaks the image, and a cut answer teaches half an answer.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from viscodex.model.pixel_budget import PixelBudget

from ..data.records import Record, Rejected
from .collate import chat_messages, image_tokens, placeholder_problem


class DataError(ValueError):
    """The data cannot be trained on at all (nothing left, nothing readable): one line for the user."""


@dataclass
class DataSummary:
    """What the pass kept and skipped, and the digest of what was kept (in order)."""

    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    digest: str = ""
    tokens: int = 0
    longest: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataSummary:
        return cls(
            kept=int(data["kept"]),
            skipped=Counter({str(k): int(v) for k, v in data["skipped"].items()}),
            digest=str(data["digest"]),
            tokens=int(data["tokens"]),
            longest=int(data["longest"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "skipped": dict(self.skipped.most_common()),
            "digest": self.digest,
            "tokens": self.tokens,
            "longest": self.longest,
        }


def record_length(record: Record, processor: Any, budget: PixelBudget) -> int:
    """Tokens of the record as the model sees it: the rendered template plus each image's visual tokens."""
    messages = [{"role": m.role, "content": m.content} for m in record.messages]
    text = processor.apply_chat_template(chat_messages(messages, [None] * len(record.images)), tokenize=False)
    text_tokens = len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])
    # each image is one <|image_pad|> in the rendered text; the processor expands it to its visual tokens
    return text_tokens + sum(image_tokens(path, budget) - 1 for path in record.images)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_images(record: Record) -> str | None:
    """Why an image of the record cannot be used, or None. Verifies the file, not just its header."""
    for path in record.images:
        if not path.is_file():
            return "missing_image"
        try:
            with Image.open(path) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return "unreadable_image"
    return None


def write_dataset(
    items: Iterable[Record | Rejected],
    path: Path,
    processor: Any,
    budget: PixelBudget,
    max_length: int,
    progress: Callable[[DataSummary], None] | None = None,
) -> DataSummary:
    """Check, measure and hash each record and append the good ones to the Arrow file ``path``."""
    from datasets import Features  # type: ignore[import-untyped]
    from datasets.arrow_writer import ArrowWriter  # type: ignore[import-untyped]

    features = Features.from_dict(
        {
            "id": {"dtype": "string", "_type": "Value"},
            "messages": {
                "feature": {
                    "role": {"dtype": "string", "_type": "Value"},
                    "content": {"dtype": "string", "_type": "Value"},
                },
                "_type": "List",
            },
            "images": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
            "length": {"dtype": "int64", "_type": "Value"},
        }
    )
    summary = DataSummary()
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with ArrowWriter(features=features, path=str(path)) as writer:
        for item in items:
            reason = _reason(item)
            length = 0
            if reason is None:
                assert isinstance(item, Record)
                try:
                    length = record_length(item, processor, budget)
                except ValueError:
                    reason = "image_shape"  # beyond Qwen2.5-VL's aspect ratio limit
                else:
                    if length > max_length:
                        reason = "too_long"
            if reason is not None:
                summary.skipped[reason] += 1
            else:
                assert isinstance(item, Record)
                row = {
                    "id": item.id,
                    "messages": [{"role": m.role, "content": m.content} for m in item.messages],
                    "images": [str(p) for p in item.images],
                    "length": length,
                }
                canonical = {**row, "images": [file_digest(p) for p in item.images]}
                del canonical["length"]
                digest.update(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode())
                digest.update(b"\n")
                writer.write(row)
                summary.kept += 1
                summary.tokens += length
                summary.longest = max(summary.longest, length)
            if progress is not None:
                progress(summary)
        writer.finalize()
    summary.digest = digest.hexdigest()
    return summary


def _reason(item: Record | Rejected) -> str | None:
    if isinstance(item, Rejected):
        return item.kind or item.reason
    return placeholder_problem(item) or check_images(item)


def open_splits(path: Path, eval_split: float, seed: int, eval_max: int = 2000) -> tuple[Any, Any | None]:
    """The Arrow file as (train, eval) `datasets.Dataset`s, memory-mapped; eval is None with no split or
    a single record. The split is `train_test_split`'s, seeded, so a resumed run holds out the same records;
    ``eval_split`` of the records (at least one), at most ``eval_max``."""
    from datasets import Dataset

    data = Dataset.from_file(str(path))
    if eval_split <= 0 or len(data) < 2:
        return data, None
    cache = path.parent
    held_out = min(math.ceil(eval_split * len(data)), eval_max, len(data) - 1)
    parts = data.train_test_split(
        test_size=held_out,
        seed=seed,
        train_indices_cache_file_name=str(cache / "train-indices.arrow"),
        test_indices_cache_file_name=str(cache / "eval-indices.arrow"),
    )
    return parts["train"], parts["test"]
