"""From `Record`s to model inputs: Qwen2.5-VL's chat template through the model's processor, images through
its image processor (``pixel_values``, ``image_grid_thw``), and labels that train only the assistant's answers.

Why the answer mask is computed here rather than by ``apply_chat_template(..., return_assistant_tokens_mask=True)``
(what TRL's ``assistant_only_loss`` uses): that needs ``{% generation %}`` tags, which Qwen2.5-VL's template
lacks; TRL swaps in its own copy of the template, found by an exact match of the template text, so any edited
or newer template fails, and its tags also train the newline after ``<|im_end|>``. The template is ChatML, so
the answers are found from its structure instead: every ``<|im_start|>assistant\\n`` opens an answer, which runs
up to and including the next ``<|im_end|>`` (the model must learn to stop). Everything else is ``-100``: the
system prompt, the user's turns, the image tokens, the turn headers and the padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from viscodex.model.images import load_image
from viscodex.model.pixel_budget import AspectRatioError, PixelBudget, smart_resize

from ..data.records import IMAGE_PLACEHOLDER, Record

IGNORE_INDEX = -100


@dataclass(frozen=True)
class ChatMarkers:
    """The ids that delimit an answer in ChatML, looked up in the tokenizer (never hard-coded)."""

    im_start: int
    im_end: int
    assistant_header: tuple[int, ...]
    """The ids of ``assistant\\n`` right after ``<|im_start|>``."""

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> ChatMarkers:
        im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
        im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        if not isinstance(im_start, int) or not isinstance(im_end, int) or im_start == tokenizer.unk_token_id:
            raise ValueError("the tokenizer has no <|im_start|> / <|im_end|> tokens: not a ChatML (Qwen) model")
        header = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
        if not header or header[0] != im_start:
            raise ValueError("the tokenizer does not encode <|im_start|> as one token")
        return cls(im_start=im_start, im_end=im_end, assistant_header=tuple(header[1:]))


def answer_mask(input_ids: Sequence[int], markers: ChatMarkers) -> list[bool]:
    """True at the tokens of every assistant answer (its ``<|im_end|>`` included), False elsewhere."""
    ids = list(input_ids)
    mask = [False] * len(ids)
    header = list(markers.assistant_header)
    i = 0
    while i < len(ids):
        if ids[i] == markers.im_start and ids[i + 1 : i + 1 + len(header)] == header:
            j = i + 1 + len(header)
            while j < len(ids) and ids[j] != markers.im_end:
                mask[j] = True
                j += 1
            if j < len(ids):
                mask[j] = True  # the <|im_end|> that ends the answer
            i = j + 1
        else:
            i += 1
    return mask


def placeholder_problem(record: Record) -> str | None:
    """The reject kind (as the loaders name them) when the record's turns and images do not fit together."""
    marks = sum(m.content.count(IMAGE_PLACEHOLDER) for m in record.messages if m.role == "user")
    stray = sum(m.content.count(IMAGE_PLACEHOLDER) for m in record.messages if m.role != "user")
    if stray or (marks and marks != len(record.images)):
        return "image_count"
    if record.images and not any(m.role == "user" for m in record.messages):
        return "image_count"
    if not any(m.role == "assistant" and m.content.strip() for m in record.messages):
        return "no_assistant"
    return None


def chat_messages(messages: Sequence[dict[str, str]], images: Sequence[Image.Image | None]) -> list[dict[str, Any]]:
    """Messages in the processor's structured form: the n-th ``<image>`` of the user turns becomes the n-th
    image part; with no placeholder at all, the images open the first user turn (as LLaMA-Factory does).
    ``None`` images give bare ``{"type": "image"}`` parts (for counting tokens without pixels)."""
    has_marks = any(IMAGE_PLACEHOLDER in m["content"] for m in messages if m["role"] == "user")
    queue = list(images)
    out: list[dict[str, Any]] = []
    first_user = True
    for message in messages:
        role, text = message["role"], message["content"]
        parts: list[dict[str, Any]] = []
        if role == "user" and has_marks:
            pieces = text.split(IMAGE_PLACEHOLDER)
            for k, piece in enumerate(pieces):
                if k:
                    parts.append(_image_part(queue.pop(0)))
                if piece:
                    parts.append({"type": "text", "text": piece})
        else:
            if role == "user" and first_user:
                parts.extend(_image_part(image) for image in queue)
                queue.clear()
            parts.append({"type": "text", "text": text})
        if role == "user":
            first_user = False
        out.append({"role": role, "content": parts})
    return out


def _image_part(image: Image.Image | None) -> dict[str, Any]:
    return {"type": "image"} if image is None else {"type": "image", "image": image}


def image_tokens(path: Path, budget: PixelBudget) -> int:
    """Visual tokens an image costs, from its header only (no decoding): one per 28x28 after smart_resize."""
    with Image.open(path) as image:
        width, height = image.size
    try:
        h, w = smart_resize(height, width, budget)
    except AspectRatioError as exc:
        raise ValueError(str(exc)) from None
    return budget.tokens(h, w)


def processor_budget(processor: Any, max_pixels: int | None = None) -> PixelBudget:
    """The processor's own pixel bounds (what it will resize to), optionally capped by the recipe."""
    image_processor = processor.image_processor
    size = getattr(image_processor, "size", None) or {}
    low = size.get("shortest_edge") or getattr(image_processor, "min_pixels", None) or 56 * 56
    high = size.get("longest_edge") or getattr(image_processor, "max_pixels", None) or 28 * 28 * 16384
    factor = image_processor.patch_size * image_processor.merge_size
    if max_pixels is not None:
        high = min(high, max_pixels)
    return PixelBudget(min_pixels=low, max_pixels=max(high, low), factor=factor)


@dataclass
class VisionSFTCollator:
    """Turns dataset rows (``messages``, ``images`` as paths) into a padded batch with answer-only labels.

    Images are decoded here, per batch, with the same decoding as inference (`viscodex.model.images`: EXIF
    upright, alpha composited on white as vLLM does), so a 598k-record set never holds its pictures in memory.
    """

    processor: Any
    markers: ChatMarkers
    max_pixels: int | None = None

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        conversations = []
        for row in rows:
            images = [load_image(path) for path in row["images"]]
            conversations.append(chat_messages(row["messages"], images))
        kwargs: dict[str, Any] = {"padding": True, "padding_side": "right"}
        if self.max_pixels is not None:
            kwargs["images_kwargs"] = {"max_pixels": self.max_pixels}
        batch = self.processor.apply_chat_template(
            conversations,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            add_generation_prompt=False,
            processor_kwargs=kwargs,
        )
        input_ids = batch["input_ids"]
        labels = torch.full_like(input_ids, IGNORE_INDEX)
        for k in range(input_ids.shape[0]):
            keep = torch.tensor(answer_mask(input_ids[k].tolist(), self.markers), dtype=torch.bool)
            keep &= batch["attention_mask"][k].bool()
            labels[k][keep] = input_ids[k][keep]
        batch["labels"] = labels
        return dict(batch)
