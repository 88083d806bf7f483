"""What the two visual tasks share: the target picture as PNG bytes, its size, its OCR'd text blocks."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from viscodex.model.chat import ChatMessage
from viscodex.model.images import ImageInputError, ImageSource, load_image
from viscodex.sandbox import RunResult

from .. import prompts
from ..score.blocks import TextBlock
from ..score.critique import critique
from ..score.ocr import ocr_blocks
from ..score.visual import ChartScore, VisualScore
from .base import SolveRequest, Verification, context_text
from .pictures import cut_note, model_budget, pictures_for_model, target_size


@dataclass(frozen=True)
class Target:
    png: bytes
    width: int
    height: int
    blocks: tuple[TextBlock, ...]


def load_target(path: Path, kind: str = "ui") -> Target:
    """A target picture, upright RGB, at its :func:`~.pictures.target_size`, re-encoded as PNG; OCR'd
    once per run. A picture too elongated to render raises ImageInputError (exit 2 in the CLI).

    A picture under 16 px a side is scaled up (nearest neighbour, so its pixels stay crisp blocks), one
    over 8192 px scaled down, so the candidate renders at the very size it is scored against.
    """
    image: Image.Image = load_image(path)
    try:
        size = target_size(image.width, image.height, kind)
    except ImageInputError as exc:
        raise ImageInputError(f"{path}: {exc}") from None
    if size != image.size:
        upscale = size[0] > image.width or size[1] > image.height
        resample = Image.Resampling.NEAREST if upscale else Image.Resampling.BICUBIC
        image = image.resize(size, resample, reducing_gap=None if upscale else 2.0)
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


def renders_for_model(request: SolveRequest, verification: Verification) -> tuple[tuple[ImageSource, ...], str]:
    """A candidate's render(s) as the model can take them, and a note if one had to be cut.

    A render has the target's size, but a page taller than its viewport is captured whole, so a thin
    target's render can still be beyond the model's aspect ratio; it is cut like a picture would be.
    """
    renders = ((verification.render,) if verification.render else ()) + verification.more_renders
    budget = model_budget(request.max_image_tokens)
    images: list[ImageSource] = []
    notes: list[str] = []
    for number, render in enumerate(renders, 1):
        name = "your render" if len(renders) == 1 else f"your render of page {number}"
        try:
            shown, cut = pictures_for_model([render], budget, [name])
        except ImageInputError as exc:  # a page many screens tall: say so rather than stop the run
            notes.append(f"{name} is not shown ({exc})")
            continue
        images.extend(shown)
        notes.extend(cut)
    return tuple(images), cut_note(notes)


def visual_feedback(task: str, request: SolveRequest, verification: Verification) -> ChatMessage:
    """The feedback turn of a visual task: the score, the critique, and the render as an image."""
    text = prompts.render(
        task,
        "feedback",
        score=f"{verification.score:.3f}",
        critique="\n".join(f"- {line}" for line in verification.critique) or "- (nothing specific)",
    )
    images, note = renders_for_model(request, verification)
    return ChatMessage("user", text + note, images)
