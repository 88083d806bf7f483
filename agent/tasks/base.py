"""What every task gives the loop: prompts, the language of its code, and a verification."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from viscodex.model.chat import ChatBackend, ChatMessage
from viscodex.model.images import ImageSource
from viscodex.sandbox import PageFonts, RunResult, Sandbox, UiStack

from ..extract import CodeLanguage
from .pictures import cut_note, model_budget, pictures_for_model

Kind = Literal["ui", "chart", "algorithm", "fix"]
KINDS: tuple[Kind, ...] = ("ui", "chart", "algorithm", "fix")


@dataclass(frozen=True)
class SolveRequest:
    images: tuple[Path, ...]
    kind: Kind | Literal["auto"] = "auto"
    instruction: str = ""
    context_files: tuple[Path, ...] = ()
    repo: Path | None = None
    test_cmd: str | None = None
    stack: UiStack = "html"
    """UI stack: plain HTML/CSS, Tailwind, or React (runtimes baked into the sandbox image)."""
    max_iters: int = 3
    candidates: int = 1
    threshold: float = 0.9
    """Visual tasks: the score at which a render counts as verified."""
    patience: int = 2
    """Stop after this many rounds without a better score."""
    time_budget_s: float = 900.0
    timeout_s: float | None = None
    """Sandbox time limit per run; None: the sandbox policy's."""
    max_image_tokens: int = 1280
    """Pixel budget per image sent to the model; a taller screenshot is cut into strips instead."""
    window_height: int | None = None
    """UI: the height of the browser window the screenshots were taken in, when they are full-page
    screenshots of a shorter window and it is known; None: each picture's own height."""
    page_fonts: PageFonts = "system"
    """UI: the fonts the screenshots' pages were drawn with (``PageFonts``), when known."""


@dataclass
class Verification:
    """How well one candidate did, and what to tell the model about it."""

    score: float
    passed: bool
    components: dict[str, float] = field(default_factory=dict)
    critique: list[str] = field(default_factory=list)
    run: RunResult | None = None
    render: bytes | None = None
    """For visual tasks, the candidate's picture; shown to the model next to the target."""
    more_renders: tuple[bytes, ...] = ()
    """A multi-page UI's renders of its pages after the first, in order."""
    sandbox_s: float = 0.0
    """Wall time spent in sandbox calls (acquire, run, reply): what the loop does not count as its own."""


class Task(Protocol):
    kind: Kind
    language: CodeLanguage
    """The code's language: for extraction, the syntax check and the file's suffix (the language's first
    in ``viscodex.sandbox.LANGUAGE_SPECS``)."""

    async def prepare(self, request: SolveRequest, model: ChatBackend, sandbox: Sandbox) -> None:
        """Work done once per run: read the target (OCR), extract sample tests, collect repo files."""
        ...

    def first_messages(self, request: SolveRequest) -> list[ChatMessage]: ...

    def feedback(self, request: SolveRequest, verification: Verification) -> ChatMessage: ...

    def verify(self, code: str, sandbox: Sandbox) -> Verification:
        """Run and measure one candidate (blocking: the loop calls it in a worker thread)."""
        ...


def model_images(request: SolveRequest, count: int | None = None) -> tuple[tuple[ImageSource, ...], str]:
    """The request's pictures (the first ``count``, default all) as the model should get them, and a
    sentence saying how they were cut.

    A very tall screenshot shrunk into one image's pixel budget would make its text illegible, and one
    beyond 200:1 the model refuses whole; either goes as several overlapping strips in reading order
    instead (see :func:`~viscodex.agent.tasks.pictures.pictures_for_model`). Every model call that shows
    the pictures goes through here, so none of them can hand the model a picture it refuses.
    """
    images, notes = pictures_for_model(request.images[:count], model_budget(request.max_image_tokens))
    return images, cut_note(notes)


def context_text(paths: tuple[Path, ...], limit: int = 20_000) -> str:
    """Files the user gave as context, fenced, within a character budget."""
    parts, used = [], 0
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        if used + len(text) > limit:
            text = text[: max(0, limit - used)] + "\n... (cut)"
        used += len(text)
        parts.append(
            f"\n\nExisting file {path.name} (keep what is there unless the picture asks otherwise):\n```\n{text}\n```"
        )
    return "".join(parts)
