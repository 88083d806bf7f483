"""A UI screenshot -> one self-contained HTML file, verified by rendering it in the sandbox at the
screenshot's size and scoring the render against the screenshot (text blocks, positions, colours, look).

The render is a full-page screenshot, as the picture's is taken to be. Where the picture's rendering
conditions are known, the render repeats them (``window_height``, ``fonts``): a page's layout depends on
its window (``100vh``, ``position: fixed``) and on the fonts it finds, and a right answer rendered under
other conditions differs from its own picture (Design2Code's pictures: ``DESIGN2CODE_WINDOW_HEIGHT`` and
``DESIGN2CODE_FONTS``).

Several screenshots are several pages of one UI: the file holds them all, each page's content in an
element with ``data-page="k"``, and page k is verified on its own (the other pages hidden, rendered at
picture k's size, scored against picture k). The file verifies when every page does.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from viscodex.model.chat import ChatBackend, ChatMessage
from viscodex.sandbox import PageFonts, RenderError, Sandbox, UiStack, Viewport

from .. import prompts
from ..extract import CodeLanguage
from ..score.dom import dom_blocks
from ..score.visual import score_ui
from .base import Kind, SolveRequest, Verification, model_images
from .visual_common import Target, first_text, load_target, renders_for_model, scored, visual_feedback

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


DESIGN2CODE_WINDOW_HEIGHT = 720
"""Design2Code's screenshots are Playwright's full-page screenshots in its default 1280 x 720 window
(``data_utils/screenshot.py``), so a picture 2000 px tall was laid out in a window 720 px tall."""
DESIGN2CODE_FONTS: PageFonts = "dejavu"
"""Design2Code's pictures draw pages that name Arial, Helvetica or no font at all in DejaVu Sans: the
machine that took them had no other fonts the pages asked for (``PageFonts``)."""
FALLBACK_FONT_MARGIN = 0.05
"""How much lower a page's pass mark is when its render lacks fonts the page loads (a commercial or
Typekit face): on Design2Code's calibration half the right answers drawn in fallback fonts whose critique
held nothing but typesetting scored 0.876-0.894 (the others 0.90 and above)."""


def window(target_width: int, target_height: int, window_height: int | None) -> Viewport:
    """The browser window a picture of this size is rendered in: its own size, or the window it was taken
    in when that is known (a full-page screenshot is taller than its window, never shorter)."""
    height = target_height if window_height is None else min(target_height, window_height)
    return Viewport(width=target_width, height=height)


_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


def page_view(code: str, page: int) -> str:
    """The file as the verifier renders page ``page``: every element of another page hidden.

    The style goes at the end of the head (or of the file): before the doctype it would switch the
    browser to quirks mode, and a late ``<style>`` still applies to the whole document.
    """
    style = f'<style>[data-page]:not([data-page="{page}"]){{display:none!important}}</style>'
    match = _HEAD_END.search(code)
    return code[: match.start()] + style + code[match.start() :] if match else code + "\n" + style


def has_page(code: str, page: int) -> bool:
    """Whether the code marks page ``page`` (``data-page="2"``, ``'2'``, ``2`` or JSX ``{2}``)."""
    return re.search(rf"data-page\s*=\s*(?:[\"'{{]\s*)?{page}(?![0-9])", code) is not None


@dataclass
class PageResult:
    page: int
    verification: Verification


@dataclass
class UiTask:
    kind: Kind = "ui"
    language: CodeLanguage = "html"
    targets: tuple[Target, ...] = ()
    threshold: float = 0.9
    timeout_s: float | None = None
    stack: UiStack = "html"
    window_height: int | None = None
    """The height of the browser window the pictures were taken in (full-page screenshots of a shorter
    window), if known; None: each picture's own height."""
    fonts: PageFonts = "system"
    """The fonts the pictures' pages were rendered with (``PageFonts``)."""
    notes: list[str] = field(default_factory=list)

    @property
    def target(self) -> Target | None:
        return self.targets[0] if self.targets else None

    async def prepare(self, request: SolveRequest, model: ChatBackend, sandbox: Sandbox) -> None:
        import asyncio

        slots = asyncio.Semaphore(2)  # two pictures at a time: each OCR already runs two tesseracts

        async def load(path: Path) -> Target:
            async with slots:
                return await asyncio.to_thread(load_target, path, "ui")

        self.targets = tuple(await asyncio.gather(*(load(path) for path in request.images)))
        self.threshold = request.threshold
        self.timeout_s = request.timeout_s
        self.stack = request.stack
        self.window_height = request.window_height
        self.fonts = request.page_fonts

    def first_messages(self, request: SolveRequest) -> list[ChatMessage]:
        images, note = model_images(request)
        assert self.target is not None
        system = prompts.render("ui", "system", stack_note=STACK_NOTES.get(request.stack, ""))
        text = first_text("ui", request, self.target)
        if len(self.targets) > 1:
            text += "\n\n" + prompts.render("ui", "pages", count=len(self.targets))
        return [ChatMessage("system", system), ChatMessage("user", text + note, images)]

    def feedback(self, request: SolveRequest, verification: Verification) -> ChatMessage:
        if len(self.targets) == 1:
            return visual_feedback("ui", request, verification)
        text = prompts.render(
            "ui",
            "feedback_pages",
            count=len(self.targets),
            score=f"{verification.score:.3f}",
            critique="\n".join(f"- {line}" for line in verification.critique) or "- (nothing specific)",
        )
        images, note = renders_for_model(request, verification)
        return ChatMessage("user", text + note, images)

    def verify(self, code: str, sandbox: Sandbox) -> Verification:
        if len(self.targets) == 1:
            return self._verify_page(code, self.targets[0], sandbox)
        pages = range(1, len(self.targets) + 1)
        with ThreadPoolExecutor(max_workers=min(4, len(self.targets))) as pool:
            results = list(
                pool.map(lambda p: self._verify_page(page_view(code, p), self.targets[p - 1], sandbox), pages)
            )
        return combine_pages(
            [PageResult(page, result) for page, result in zip(pages, results, strict=True)],
            missing=[page for page in pages if not has_page(code, page)],
        )

    def _verify_page(self, code: str, target: Target, sandbox: Sandbox) -> Verification:
        viewport = window(target.width, target.height, self.window_height)  # load_target keeps it within bounds
        started = time.monotonic()
        try:
            render = sandbox.render_html_blocks(
                code, viewport, timeout_s=self.timeout_s, stack=self.stack, fonts=self.fonts
            )
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
        score = score_ui(target.png, target.blocks, render.png, dom_blocks(render), missing_fonts=render.missing_fonts)
        # Set in fallback fonts, a right page scores lower on positions and look (``TYPESETTING_KINDS``).
        threshold = self.threshold - FALLBACK_FONT_MARGIN if render.missing_fonts else self.threshold
        verification = scored(score, threshold, render.png, sandbox_s)
        # As for charts: the critique holds only differences above the noise of rendering elsewhere, so a
        # page with any line left in it differs from the picture.
        verification.passed = verification.passed and not verification.critique
        return verification


def combine_pages(pages: list[PageResult], missing: list[int]) -> Verification:
    """One verdict for a multi-page file: the mean score, passed only if every page passed; the
    critique goes worst page first, each line saying which page it is about and whether it passed by
    its own verdict (a page drawn in fallback fonts passes at a lower mark than the task's)."""
    count = len(pages)
    score = sum(p.verification.score for p in pages) / count
    names = sorted({name for p in pages for name in p.verification.components})
    components = {name: sum(p.verification.components.get(name, 0.0) for p in pages) / count for name in names if name}
    components["overall"] = score
    components.update({f"page {p.page}": p.verification.score for p in pages})
    lines = [
        f'No element has data-page="{page}": wrap page {page}\'s content in one, or the check of page {page} '
        "shows every page at once."
        for page in missing
    ]
    for result in sorted(pages, key=lambda p: p.verification.score):
        verdict = "passes" if result.verification.passed else "differs"
        lines.append(f"Page {result.page} {verdict} (score {result.verification.score:.3f}).")
        lines.extend(f"Page {result.page}: {line}" for line in result.verification.critique)
    renders = [p.verification.render for p in pages]
    return Verification(
        score,
        all(p.verification.passed for p in pages) and not missing,
        components,
        lines,
        next((p.verification.run for p in pages if p.verification.run is not None), None),
        render=renders[0],
        more_renders=tuple(r for r in renders[1:] if r is not None),
        sandbox_s=sum(p.verification.sandbox_s for p in pages),
    )
