"""One training example, whatever layout it was read from: the boundary between the data side
(`training/data/`: loaders, checks, synthesis, export) and the trainer (`training/sft/`).

Every loader (the MCD release, ShareGPT / LLaVA JSON, a folder of (image, code, instruction) triples, a hub
dataset) yields `Record`s, so the trainer, `data check` and `data export` never look at a layout. Images stay
paths (decoded only when a batch needs them) so a 598k-record set streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Role = Literal["system", "user", "assistant"]

IMAGE_PLACEHOLDER = "<image>"
"""Marks where an image goes in a user turn, as the MCD release, LLaVA and ShareGPT layouts write it: the
n-th placeholder of a record is its n-th image. A user turn of a record with images but no placeholder gets
them at its start (what LLaMA-Factory does)."""


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Record:
    id: str
    """Unique within its source (a line number or the source's own id)."""
    messages: tuple[Message, ...]
    images: tuple[Path, ...] = ()
    category: str | None = None
    """The MCD category (``html``, ``chart``, ``qa``, ``algorithm``) or a synthesis kind, where known."""
    source: str = ""
    """Where the record was read from (a file, ``folder:DIR``, ``hub:NAME``), for reports."""
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Rejected:
    """A record a loader could not use, with the reason; loaders yield these instead of raising, so one
    bad line never stops a run and `data check` can count them."""

    id: str
    reason: str
    source: str = ""
    kind: str = ""
    """A key of ``viscodex.training.data.REJECT_KINDS`` (``missing_image``, ``broken_json``, ...), so reports
    count rejections by kind; ``""`` where the producer named none."""
