"""Pulling the code (or a JSON value) out of a model's answer.

A model answers in Markdown at best: prose, a fenced block or several, sometimes a reasoning section
first, sometimes a block cut off because the answer hit its token limit. The agent must run exactly
the code the model meant, so these functions pick it out by rules that are simple to predict (see
``extract_code``) and say in ``notes`` whenever they had to guess, so a wrong guess can be told from a
wrong program. Pure functions: no I/O, no model, no state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from viscodex.sandbox import LANGUAGE_SPECS, SYNTAX_LANGUAGES, SyntaxLanguage

CodeLanguage = SyntaxLanguage
"""What ``extract_code`` picks out: the languages whose syntax is checked (the loop checks what it
extracts); named, aliased and fence-tagged in ``viscodex.sandbox.LANGUAGE_SPECS``."""
Origin = Literal["fenced", "unfenced", "whole"]

FENCE_ALIASES: Final[dict[CodeLanguage, frozenset[str]]] = {
    name: LANGUAGE_SPECS[name].fences for name in SYNTAX_LANGUAGES
}
"""Info strings (first word, lower case) that count as each language's fenced block."""

_FENCE_OPEN: Final = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_REASONING_PAIR: Final = re.compile(r"<(think|thinking|reasoning)>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_REASONING_OPEN: Final = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_REASONING_CLOSE: Final = re.compile(r"</(?:think|thinking|reasoning)\s*>", re.IGNORECASE)
_HTML_START: Final = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_HTML_END: Final = re.compile(r"</html\s*>", re.IGNORECASE)
_DIFF_START: Final = re.compile(r"^(?:diff --git |--- \S.*\n\+\+\+ |@@ -\d)", re.MULTILINE)
_DIFF_LINE_STARTS: Final = frozenset({"+", "-", " ", "@", "\\"})
_JSON_STARTS: Final = re.compile(r"[\[{]")
_MAX_JSON_TRIES: Final = 2000
"""Bracket positions tried by ``extract_json``'s scan: an answer full of code has many that fail fast."""


class ExtractionError(ValueError):
    """The answer holds nothing of the kind asked for; the message says what was tried."""


@dataclass(frozen=True, slots=True)
class Extracted:
    """The code picked out of an answer, where it came from, and any guess made on the way.

    ``source`` is "fenced" (a Markdown code block), "unfenced" (a recognisable span of the prose, e.g.
    an HTML document or a diff), or "whole" (nothing recognisable: the whole answer, stripped).
    ``code`` ends with one newline unless it is empty.
    """

    code: str
    language: str
    source: Origin
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FencedBlock:
    """One Markdown code block: its info string's first word (lower case), content, and 1-based line."""

    info: str
    code: str
    line: int
    closed: bool


def extract_code(answer: str, language: CodeLanguage) -> Extracted:
    """The code for ``language`` in ``answer``.

    In order: reasoning sections (``<think>...</think>``) are dropped, since they hold drafts that are
    not the answer; then the fenced block tagged with the language (an alias in ``FENCE_ALIASES``;
    the longest if several); else the longest fenced block of any tag; else, for HTML, the
    ``<!doctype html>``/``<html>`` ... ``</html>`` span, for a diff the span from its first header,
    for JSON the first value that parses; else the whole answer, stripped. A final fence left open
    (the answer stopped at its token limit) yields the rest of the answer, with a note.
    """
    if language not in FENCE_ALIASES:
        raise ValueError(f"unknown language {language!r}; expected one of {', '.join(FENCE_ALIASES)}")
    text, notes = strip_reasoning(answer.replace("\r\n", "\n"))
    blocks = [block for block in fenced_blocks(text) if block.code.strip()]
    tagged = [block for block in blocks if block.info in FENCE_ALIASES[language]]
    if tagged or blocks:
        pool = tagged or blocks
        block = max(pool, key=lambda b: len(b.code))
        tag = f"```{block.info}" if block.info else "an untagged fenced block"
        if not tagged:
            notes.append(f"no ```{language} block; took the longest fenced block ({tag}, line {block.line})")
        elif len(tagged) > 1:
            notes.append(f"{len(tagged)} ```{language} blocks; took the longest (line {block.line})")
        if not block.closed:
            notes.append(f"the fence at line {block.line} is never closed (answer cut off?); took the rest")
        return Extracted(_finish(block.code, language), language, "fenced", notes)
    span = _unfenced(text, language, notes)
    if span is not None:
        return Extracted(_finish(span, language), language, "unfenced", notes)
    code = text.strip()
    if not code:
        notes.append("the answer is empty" if not answer.strip() else "nothing but reasoning in the answer")
    return Extracted(_finish(code, language), language, "whole", notes)


def extract_json(answer: str) -> Any:
    """The JSON value in ``answer``, for replies asked to be structured.

    Tried in order: fenced ``json`` blocks, the whole answer, other fenced blocks, then the first
    ``{...}`` or ``[...]`` in the text that parses (JSON's own parser finds where it ends). Raises
    ExtractionError (a ValueError) when nothing parses, with the parse error of a ``json`` block
    if there was one, since that is what the model has to fix.
    """
    text, _ = strip_reasoning(answer.replace("\r\n", "\n"))
    blocks = fenced_blocks(text)
    tagged = [block for block in blocks if block.info in FENCE_ALIASES["json"]]
    others = [block for block in blocks if block.info not in FENCE_ALIASES["json"]]
    problems: list[str] = []
    for block in tagged:
        try:
            return _loads(block.code)
        except ValueError as exc:
            problems.append(f"the ```json block at line {block.line} does not parse: {exc}")
    candidates = [text, *(block.code for block in others)]
    for candidate in candidates:
        try:
            return _loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for tries, match in enumerate(_JSON_STARTS.finditer(text)):
        if tries >= _MAX_JSON_TRIES:
            break
        try:
            value, _end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        return value
    detail = "; ".join(problems) if problems else "no JSON object or array in it parses"
    raise ExtractionError(f"no JSON value found in the answer: {detail}")


def strip_reasoning(answer: str) -> tuple[str, list[str]]:
    """``answer`` without its reasoning sections, and notes on what was dropped.

    Reasoning models wrap their thinking in ``<think>...</think>`` (some chat templates put the opening
    tag in the prompt, so the answer has only the closing one: everything before it is reasoning).
    An opening tag never closed means the answer stopped mid-thought: the rest is dropped.
    """
    notes: list[str] = []
    text = answer
    first_close = _REASONING_CLOSE.search(text)
    first_open = _REASONING_OPEN.search(text)
    if first_close is not None and (first_open is None or first_close.start() < first_open.start()):
        text = text[first_close.end() :]
        notes.append("dropped reasoning before a closing </think> tag")
    text, pairs = _REASONING_PAIR.subn("", text)
    if pairs:
        notes.append(f"dropped {pairs} <think> section{'s' if pairs > 1 else ''}")
    dangling = _REASONING_OPEN.search(text)
    if dangling is not None:
        text = text[: dangling.start()]
        notes.append("a <think> section is never closed (answer cut off?); dropped it to the end")
    return text, notes


def fenced_blocks(text: str) -> list[FencedBlock]:
    """The Markdown code blocks of ``text`` in order (CommonMark fences, a little more forgiving).

    A fence is three or more backticks or tildes, indented by any amount (models indent blocks in
    lists; that indentation is removed from the content). It closes at a line of the same character,
    at least as long, and nothing else, indented at most 3 more than the opening fence (a docstring's
    indented fence stays code). A fence never closed runs to the end of the text; if its last
    line ends with the fence (``</html>```), that is taken as the close.
    """
    lines = text.split("\n")
    blocks: list[FencedBlock] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        fence = match["fence"]
        indent = len(match["indent"])
        info = re.split(r"[\s:{},]", match["info"].strip().lstrip("{."), maxsplit=1)[0].lower()
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            stripped = lines[j].strip()
            closing_indent = len(lines[j]) - len(lines[j].lstrip())
            is_fence = len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)
            if is_fence and closing_indent <= indent + 3:
                closed = True
                break
            body.append(_dedent(lines[j], indent))
            j += 1
        if not closed:
            body, closed = _close_inline(body, fence)
        blocks.append(FencedBlock(info=info, code="\n".join(body), line=i + 1, closed=closed))
        i = j + 1
    return blocks


def _close_inline(body: list[str], fence: str) -> tuple[list[str], bool]:
    """For an unclosed block: a line ending in the fence (``</html>```) closes it there."""
    for index, line in enumerate(body):
        stripped = line.rstrip()
        if stripped.endswith(fence) and stripped.strip(fence[0]):
            return [*body[:index], stripped[: -len(fence)]], True
    return body, False


def _dedent(line: str, indent: int) -> str:
    """Remove up to ``indent`` leading blanks, as CommonMark does inside an indented fence."""
    removed = 0
    while removed < indent and removed < len(line) and line[removed] in " \t":
        removed += 1
    return line[removed:]


def _unfenced(text: str, language: CodeLanguage, notes: list[str]) -> str | None:
    """A recognisable span of prose for the languages that have one (HTML, diff, JSON)."""
    if language == "html":
        start = _HTML_START.search(text)
        if start is None:
            return None
        ends = list(_HTML_END.finditer(text, start.start()))
        if not ends:
            notes.append("no </html> after the document's start (answer cut off?); took the rest")
            return text[start.start() :]
        return text[start.start() : ends[-1].end()]
    if language == "diff":
        start = _DIFF_START.search(text)
        if start is None:
            return None
        lines = text[start.start() :].split("\n")
        last = max(
            (i for i, line in enumerate(lines) if line[:1] in _DIFF_LINE_STARTS or line.startswith("diff ")),
            default=0,
        )
        return "\n".join(lines[: last + 1])
    if language == "json":
        decoder = json.JSONDecoder()
        for tries, match in enumerate(_JSON_STARTS.finditer(text)):
            if tries >= _MAX_JSON_TRIES:
                break
            try:
                _value, end = decoder.raw_decode(text, match.start())
            except (ValueError, RecursionError):
                continue
            return text[match.start() : end]
    return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _finish(code: str, language: str) -> str:
    """Drop the blank lines around the code (not its indentation) and end it with one newline.

    In a diff a line holding one space is an empty context line, part of a hunk's count: only lines
    that are truly empty go.
    """
    lines = code.split("\n")

    def blank(line: str) -> bool:
        return line == "" if language == "diff" else not line.strip()

    while lines and blank(lines[0]):
        lines.pop(0)
    while lines and blank(lines[-1]):
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""
