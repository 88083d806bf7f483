"""A chart picture -> a matplotlib script, verified by running it in the sandbox, capturing its figure
at the picture's size, tracing what it drew, and scoring both against the picture."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from viscodex.model.chat import ChatBackend, ChatMessage, ChatRequest, complete
from viscodex.sandbox import Sandbox

from .. import prompts
from ..extract import CodeLanguage
from ..score.charttype import normalize_types
from ..score.visual import score_chart
from .base import Kind, SolveRequest, Verification, model_images
from .visual_common import Target, first_text, load_target, scored, visual_feedback


@dataclass
class ChartTask:
    kind: Kind = "chart"
    language: CodeLanguage = "python"
    target: Target | None = None
    threshold: float = 0.9
    timeout_s: float | None = None
    notes: list[str] = field(default_factory=list)
    chart_types: tuple[str, ...] = ()

    async def prepare(self, request: SolveRequest, model: ChatBackend, sandbox: Sandbox) -> None:
        self.target = await asyncio.to_thread(load_target, request.images[0], "chart")
        self.threshold = request.threshold
        self.timeout_s = request.timeout_s
        # The picture alone does not say bars from histogram reliably; the model's reading of it is the
        # hint the chart-type component is scored against (none if its answer names no type).
        images, note = model_images(request, 1)
        ask = ChatRequest.single(prompts.render("chart", "type") + note, images, max_tokens=16)
        self.chart_types = normalize_types((await complete(model, ask)).text)
        if not self.chart_types:
            self.notes.append("the model named no chart type; chart type is not scored")

    def first_messages(self, request: SolveRequest) -> list[ChatMessage]:
        images, note = model_images(request)
        assert self.target is not None
        text = first_text("chart", request, self.target)
        return [ChatMessage("system", prompts.render("chart", "system")), ChatMessage("user", text + note, images)]

    def feedback(self, request: SolveRequest, verification: Verification) -> ChatMessage:
        return visual_feedback("chart", request, verification)

    def verify(self, code: str, sandbox: Sandbox) -> Verification:
        assert self.target is not None
        started = time.monotonic()
        # At the figure's own size, at the dpi that brings it to the picture's scale: resizing the figure
        # to the picture's pixels would keep its fonts at their point size and so change the layout,
        # and resampling a render from another dpi changes its glyphs' sizes by more than a font step.
        # The score still puts the render's content on the picture's (``score/align.py``), whatever
        # margins the picture was saved with.
        result = sandbox.run_chart(
            code, trace=True, timeout_s=self.timeout_s, scale_to=(self.target.width, self.target.height)
        )
        sandbox_s = time.monotonic() - started
        if result.png is None:
            tail = "\n".join(result.stderr.strip().splitlines()[-30:])
            problem = f"The script did not produce a figure ({result.summary()})."
            return Verification(0.0, False, {"ran": 0.0}, [problem, tail], result, sandbox_s=sandbox_s)
        score = score_chart(
            self.target.png, self.target.blocks, result.png, result.trace, target_hint=self.chart_types or None
        )
        verification = scored(score, self.threshold, result.png, sandbox_s, result)
        # A right answer has nothing worth fixing: the critique only names differences above the noise
        # of rendering the same script elsewhere, so any line left means the chart differs.
        verification.passed = verification.passed and not verification.critique
        return verification
