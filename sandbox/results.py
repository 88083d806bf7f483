"""What a sandbox run returns. ``RunResult``'s JSON fields are a contract (`sandbox run --json`)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_FIELDS = (
    "exit_code",
    "stdout",
    "stderr",
    "timed_out",
    "oom_killed",
    "truncated",
    "duration_s",
)
EXTENDED_FIELDS = ("hint", "sandbox")
"""Added after the contract's first seven: the version note of a failed run, and the image's versions."""


class RunResult(BaseModel):
    """The outcome of one program run. ``exit_code`` is None when the program was killed for time."""

    model_config = ConfigDict(frozen=True)

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    oom_killed: bool
    truncated: bool
    duration_s: float
    hint: str | None = None
    """For a program that failed on an import or an API its library lacks: the version the sandbox has
    (also appended to ``stderr``). See ``versions.version_hint``."""
    png: bytes | None = Field(None, exclude=True, repr=False)
    trace: dict[str, Any] | None = Field(None, exclude=True, repr=False)
    """For ``run_chart(trace=True)``: what the figure is made of (chart types, series, texts with
    their boxes in pixels of ``png``); ``{"error": ...}`` if tracing failed. Not part of the contract."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed

    def contract_json(self, sandbox: dict[str, Any] | None = None) -> str:
        """The one-line JSON object that `viscodex-agent sandbox run --json` prints: the contract's
        fields, then ``hint`` and ``sandbox`` (package set, Python, Node and package versions)."""
        data = self.model_dump(mode="json", include={*CONTRACT_FIELDS, "hint"})
        return json.dumps({**{k: data[k] for k in (*CONTRACT_FIELDS, "hint")}, "sandbox": sandbox or {}})

    def summary(self) -> str:
        """A one-line human reason for a failed run, for error messages."""
        if self.timed_out:
            return f"timed out after {self.duration_s:.1f} s"
        if self.oom_killed:
            return "killed: out of memory"
        if self.exit_code is not None and self.exit_code < 0:
            return f"killed by signal {-self.exit_code}"
        tail = self.stderr.strip().splitlines()[-1:] or [""]
        return f"exit code {self.exit_code}: {tail[0][:300]}"


PageFonts = Literal["system", "dejavu"]
"""The fonts a page sees. ``system``: every font of the image (Liberation, metric-compatible with Arial,
Times New Roman and Courier New; Noto; DejaVu; the web fonts of ``sandbox.image.WEB_FONT_PACKAGES``, such
as Open Sans, Roboto and Lato, by name), the browser's default families as Chromium sets them.
``dejavu``: only the DejaVu family (Sans, Serif, Sans Mono, with the ExtraLight and Condensed faces of
``fonts-dejavu-extra``), and Droid Sans Fallback for the Chinese, Japanese and Korean characters DejaVu
lacks, as on a bare Linux machine: every family a page names that is not DejaVu, and the browser's default
font, fall back to DejaVu Sans (CJK characters to Droid Sans Fallback). That is how Design2Code's published
screenshots were rendered (a page naming Arial or no font at all is drawn in DejaVu Sans there, a Japanese
page's kana in Droid Sans Fallback), so pages scored against them are rendered with it.

In both modes a web font the page loads itself (an ``@font-face`` whose ``src`` is an absolute http(s)
address, as Google Fonts' CSS has) is served from the image's file of that face when the image has the
family, network off: the pictures' machine was online and drew those pages in it, while a family merely
named, or loaded from a relative or protocol-relative address, was DejaVu there."""


class Viewport(BaseModel):
    """The browser window a page is rendered in; full-page screenshots may be taller."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(1280, ge=16, le=8192)
    height: int = Field(800, ge=16, le=16384)


Box = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)`` in pixels of the screenshot, y down."""


class DomWord(BaseModel):
    """One visible word of a rendered page: its text (after ``text-transform``), box and style."""

    model_config = ConfigDict(frozen=True)

    text: str
    box: Box
    color: tuple[int, int, int] | None = None
    """The computed CSS colour; None when transparent (e.g. text filled by a background)."""
    font_size: float = 0.0


class DomBlock(BaseModel):
    """The words of one line of one block-level element (``tag``), in reading order."""

    model_config = ConfigDict(frozen=True)

    text: str
    box: Box
    color: tuple[int, int, int] | None = None
    """The colour of the block's largest word."""
    font_size: float = 0.0
    tag: str = ""
    words: tuple[DomWord, ...] = ()


class HtmlRender(BaseModel):
    """A page's screenshot and the text the browser laid out on it, from one render."""

    model_config = ConfigDict(frozen=True)

    png: bytes = Field(repr=False)
    blocks: tuple[DomBlock, ...]
    truncated: bool = False
    """True when the page had more words than the sandbox collects (the first ones are kept)."""
    error: str | None = None
    """Why the blocks could not be collected (the screenshot is still valid); None when they were."""
    missing_fonts: tuple[str, ...] = ()
    """Families the page loads from the web (``@font-face`` with an absolute address) that the image does
    not have: their text is drawn in a fallback font, so its layout (line widths, wrapping, heights)
    differs from a picture drawn with them."""
