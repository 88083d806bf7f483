"""What the two visual tasks share: the target picture as PNG bytes, its size, its OCR'd text blocks."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from viscodex.model.chat import ChatMessage
from viscodex.model.images import load_image
from viscodex.sandbox import RunResult

from .. import prompts
from ..score.blocks import TextBlock
from ..score.critique import critique
from ..score.ocr import ocr_blocks
from ..score.visual import ChartScore, VisualScore
from .base import SolveRequest, Verification, context_text

MAX_SIDE = 8192


@dataclass(frozen=True)
class Target:
    png: bytes
    width: int
    height: int
    blocks: tuple[TextBlock, ...]


def load_target(path: Path) -> Target:
    """A target picture, upright RGB, re-encoded as PNG; OCR'd once per run."""
    image: Image.Image = load_image(path)
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    png = buf.getvalue()
    return Target(png, image.width, image.height, tuple(ocr_blocks(png)))


def scored(
    score: VisualScore | ChartScore,
    threshold: float,
    render: bytes,
    sandbox_s: float,
    run: RunResult | None = None,
) -> Verification:
    """A visual candidate's verification: its score, verdict, components (unscored ones left out),
    critique and render."""
    components = {"overall": score.overall}
    components.update((name, value) for name, value in score.components().items() if value is not None)
    return Verification(
        score.overall,
        score.overall >= threshold,
        components,
        critique(score),
        run,
        render=render,
        sandbox_s=sandbox_s,
    )


def first_text(task: str, request: SolveRequest, target: Target) -> str:
    """The first user turn of a visual task: the instruction, the render size, the user's files."""
    return prompts.render(
        task,
        "first",
        instruction=request.instruction,
        width=target.width,
        height=target.height,
        context=context_text(request.context_files),
    )


def visual_feedback(task: str, verification: Verification) -> ChatMessage:
    """The feedback turn of a visual task: the score, the critique, and the render as an image."""
    text = prompts.render(
        task,
        "feedback",
        score=f"{verification.score:.3f}",
        critique="\n".join(f"- {line}" for line in verification.critique) or "- (nothing specific)",
    )
    images = ((verification.render,) if verification.render else ()) + verification.more_renders
    return ChatMessage("user", text, images)
