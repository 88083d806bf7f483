"""What a check reports: issues at a 1-based line and column, placed from byte offsets into the code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

MAX_ERRORS: Final = 10
"""Issues reported at most; past the first few, errors are mostly echoes of the first."""
SNIPPET_CHARS: Final = 80


@dataclass(frozen=True, slots=True)
class SyntaxIssue:
    """One problem, at a 1-based line and column (in characters) of the checked code."""

    line: int
    column: int
    message: str
    snippet: str
    """The source line the issue is on, trimmed, so feedback reads without the code beside it."""

    def __str__(self) -> str:
        text = f"line {self.line}, column {self.column}: {self.message}"
        return f"{text}\n    {self.snippet}" if self.snippet else text


@dataclass(frozen=True, slots=True)
class SyntaxReport:
    """The outcome of one check; ``errors`` is in source order and cut at ``MAX_ERRORS``."""

    ok: bool
    errors: list[SyntaxIssue] = field(default_factory=list)
    language: str = ""
    truncated: bool = False
    """More issues were found than ``errors`` holds."""

    def feedback(self) -> str:
        """The issues as text for the model's next turn ("" when ok)."""
        if self.ok:
            return ""
        lines = [f"The {self.language} code has syntax errors:", *(str(issue) for issue in self.errors)]
        if self.truncated:
            lines.append("(more errors follow; fix these first)")
        return "\n".join(lines)


# --- positions -------------------------------------------------------------------------------------

Found = tuple[int, str]
"""An issue before it is placed: (byte offset into the checked code, message)."""


class Source:
    """The checked code as UTF-8 bytes (what tree-sitter indexes), turning byte offsets into issues."""

    __slots__ = ("data",)

    def __init__(self, code: str) -> None:
        # "replace": a lone surrogate becomes one byte, so character columns still come out right.
        self.data = code.encode("utf-8", "replace")

    def issue(self, offset: int, message: str) -> SyntaxIssue:
        data = self.data
        offset = min(max(offset, 0), len(data))
        start = data.rfind(b"\n", 0, offset) + 1
        end = data.find(b"\n", offset)
        line_text = data[start : len(data) if end < 0 else end].decode("utf-8", "replace")
        column = len(data[start:offset].decode("utf-8", "replace")) + 1
        return SyntaxIssue(
            line=data.count(b"\n", 0, offset) + 1,
            column=column,
            message=message,
            snippet=shorten(line_text.strip(), SNIPPET_CHARS),
        )

    def char_offset_to_byte(self, text: str, char_offset: int, base: int) -> int:
        """Byte offset of ``text[char_offset]``, where ``text`` starts at byte ``base`` of the code."""
        return base + len(text[:char_offset].encode("utf-8", "replace"))


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
