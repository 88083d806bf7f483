"""A UI screenshot -> one self-contained HTML file, verified by rendering it in the sandbox at the
screenshot's size and scoring the render against the screenshot (text blocks, positions, colours, look)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from viscodex.model.chat import ChatBackend, ChatMessage
from viscodex.sandbox import RenderError, Sandbox, UiStack, Viewport

from .. import prompts
from ..extract import CodeLanguage
from ..score.critique import critique
from ..score.dom import dom_blocks
from ..score.visual import score_ui
from .base import Kind, SolveRequest, Verification, context_text, model_images
from .visual_common import Target, components_of, load_target, visual_feedback

STACK_NOTES = {
    "html": "",
    "tailwind": (
        " or, preferably, Tailwind CSS utility classes: the Tailwind runtime is loaded for you before your"
        " code (do not add a script or link for it)"
    ),
    "react": (
        '; build the UI with React 18 and JSX inside <script type="text/babel">, rendering into a root'
        " element with ReactDOM.createRoot: React, ReactDOM and Babel are loaded for you as globals (do not"
        " add script tags for them, and do not use import statements)"
    ),
}


@dataclass
class UiTask:
    kind: Kind = "ui"
    language: CodeLanguage = "html"
    suffix: str = ".html"
    target: Target | None = None
    threshold: float = 0.9
    timeout_s: float | None = None
    stack: UiStack = "html"
    notes: list[str] = field(default_factory=list)

    async def prepare(self, request: SolveRequest, model: ChatBackend, sandbox: Sandbox) -> None:
        import asyncio

        self.target = await asyncio.to_thread(load_target, request.images[0])
        self.threshold = request.threshold
        self.timeout_s = request.timeout_s
        self.stack = request.stack

    def first_messages(self, request: SolveRequest) -> list[ChatMessage]:
        images, note = model_images(request)
        assert self.target is not None
        system = prompts.render("ui", "system", stack_note=STACK_NOTES.get(request.stack, ""))
        text = prompts.render(
            "ui",
            "first",
            instruction=request.instruction,
            width=self.target.width,
            height=self.target.height,
            context=context_text(request.context_files),
        )
        return [ChatMessage("system", system), ChatMessage("user", text + note, images)]

    def feedback(self, request: SolveRequest, verification: Verification) -> ChatMessage:
        return visual_feedback("ui", verification)

    def verify(self, code: str, sandbox: Sandbox) -> Verification:
        assert self.target is not None
        viewport = Viewport(width=min(self.target.width, 8192), height=min(self.target.height, 16384))
        started = time.monotonic()
        try:
            render = sandbox.render_html_blocks(code, viewport, timeout_s=self.timeout_s, stack=self.stack)
        except RenderError as exc:
            run = exc.result if hasattr(exc.result, "summary") else None
            return Verification(
                0.0,
                False,
                {"render": 0.0},
                [f"The page did not render: {exc}"],
                run,  # type: ignore[arg-type]
                sandbox_s=time.monotonic() - started,
            )
        sandbox_s = time.monotonic() - started
        score = score_ui(self.target.png, self.target.blocks, render.png, dom_blocks(render))
        components = components_of(score, ("block", "text", "position", "color", "perceptual"))
        return Verification(
            score.overall,
            score.overall >= self.threshold,
            components,
            critique(score),
            None,
            render=render.png,
            sandbox_s=sandbox_s,
        )
