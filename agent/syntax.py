"""Syntax checks for model-written code, done before a sandbox run is spent on it.

A run in the sandbox costs a container and tens of milliseconds at best; a page render costs a browser.
A syntax error found here costs a few milliseconds and comes back with a line, a column and the source
line, which is what the model needs to fix it. Parsing uses tree-sitter (the grammars ship as wheels,
nothing is downloaded at run time): it recovers from errors, so one parse finds several of them, and it
parses HTML, the JavaScript in its ``<script>`` elements and the CSS in its ``<style>`` elements alike.

What tree-sitter does not judge is added here: HTML tags left open or closed twice (its grammar
recovers from them silently), and unified diffs (no grammar; checked line by line). For Python,
CPython's own parser has the last word whenever tree-sitter objects (see ``_check_python``).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import threading
import time
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

from viscodex.sandbox import LANGUAGE_SPECS, SYNTAX_LANGUAGES, SyntaxLanguage, language_spec, language_spec_for_path

LANGUAGE_ALIASES: Final[dict[str, SyntaxLanguage]] = {
    alias: name for name in SYNTAX_LANGUAGES for alias in LANGUAGE_SPECS[name].aliases
}
"""Other names of the checked languages (``py`` -> python), from ``viscodex.sandbox.LANGUAGE_SPECS``."""
MAX_ERRORS: Final = 10
"""Issues reported at most; past the first few, errors are mostly echoes of the first."""

_CHECKED: Final[dict[str, SyntaxLanguage]] = {name: name for name in SYNTAX_LANGUAGES}
_PARSED_AS: Final[dict[str, str]] = {
    name: next(other for other, spec in LANGUAGE_SPECS.items() if spec.grammar == grammar)
    for name, grammar in ((name, spec.grammar) for name, spec in LANGUAGE_SPECS.items())
    if grammar is not None
}
"""Each language with a grammar -> the first language with the same grammar, whose parser (and session
tree) it shares: tree-sitter-javascript parses JSX, so jsx is parsed as javascript."""

_HTML_QUERY: Final = """
(element) @element
(erroneous_end_tag) @stray
(script_element) @script
(style_element) @style
"""

# https://html.spec.whatwg.org/multipage/syntax.html#void-elements (plus obsolete ones browsers still know)
VOID_ELEMENTS: Final = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
    + "basefont bgsound frame keygen".split()
)
# https://html.spec.whatwg.org/multipage/syntax.html#optional-tags: these may be left open.
OPTIONAL_END_ELEMENTS: Final = frozenset(
    "html head body li dt dd p rt rp optgroup option colgroup caption thead tbody tfoot tr td th".split()
)
# `<div/>` opens a div in HTML: the slash is ignored on non-void HTML elements, so everything after it
# lands inside. Only well-known HTML names: in SVG and MathML (`<path/>`) the slash does close.
_NOT_SELF_CLOSING: Final = frozenset(
    "a article aside button canvas div footer form h1 h2 h3 h4 h5 h6 header iframe label li main nav ol "
    "p script section select span style table tbody td textarea th thead tr ul video audio".split()
)
_MAY_STAY_OPEN: Final = frozenset(name.encode() for name in VOID_ELEMENTS | OPTIONAL_END_ELEMENTS)
_JS_SCRIPT_TYPES: Final = frozenset(
    {"", "module", "text/javascript", "application/javascript", "text/ecmascript", "text/babel", "text/jsx"}
)
_JSON_SCRIPT_TYPES: Final = frozenset(
    {"application/json", "application/ld+json", "importmap", "speculationrules"},
)

_PY2_STATEMENT: Final = re.compile(r"^[ \t]*(?:print|exec)[ \t]+[\"'\w]", re.MULTILINE)
"""Python 2 statements: tree-sitter-python parses them (its grammar keeps them), CPython 3 does not."""
_HUNK_HEADER: Final = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
PARSE_DEADLINE_S: Final = 1.0
"""Time allowed to parse, plus a second per MB: tree-sitter's error recovery is quadratic on some
degenerate input (20 000 unclosed `<div>` take 4 s), which a model stuck in a loop can produce."""
_GUARD_BYTES: Final = 16 * 1024
"""Below this size a parse cannot take long enough to need the deadline (and its callbacks)."""
_SNIPPET_CHARS: Final = 80
_NEAR_CHARS: Final = 40


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


def normalize_language(language: str) -> SyntaxLanguage:
    """The canonical name for ``language`` (``"py"`` -> ``"python"``); ValueError if it is not checked."""
    try:
        name = language_spec(language).name
    except ValueError:
        name = None
    if name not in _CHECKED:
        raise ValueError(f"no syntax check for language {language!r}; known: {', '.join(SYNTAX_LANGUAGES)}")
    return _CHECKED[name]


class SyntaxSession:
    """The last tree parsed per grammar, so the next parse re-parses only what changed.

    The loop parses each answer while it streams in (``prime``), so the check after its last chunk
    only parses the tail: tree-sitter, given the old tree and the edit, reuses every subtree the edit
    did not touch. The edit is found as the common prefix and suffix of the old and new bytes, so any
    two texts give a correct (if large) edit. Measured on a 1000-line Python file (bench/syntax.py): a
    fresh parse 5-6 ms, the check after priming with all but the last chunk about 0.5 ms. Edits in the
    middle of Python code gain less: tree-sitter-python re-parses everything after an inserted line.
    """

    def __init__(self) -> None:
        self._trees: dict[str, tuple[bytes, Tree]] = {}
        self._lock = threading.Lock()

    def parse(
        self, parser: Parser, name: str, data: bytes, run: Callable[[Tree | None], Tree], confirm: bool = True
    ) -> Tree:
        """``run(old_tree)`` with the stored tree of ``name`` edited to match ``data``; keep the result.
        With ``confirm``, a tree with errors from an incremental parse is parsed again from scratch."""
        with self._lock:  # Tree.edit mutates the stored tree: one parse per session at a time
            previous = self._trees.pop(name, None)
            if previous is not None and previous[0] == data:
                tree = previous[1]  # checked already: the same bytes have the same tree
            else:
                old = _edited(previous[0], previous[1], data) if previous is not None else None
                tree = run(old)
                if confirm and old is not None and tree.root_node.has_error:
                    # An error is the rare, expensive path anyway: confirm it on a fresh parse, so a
                    # grammar's incremental quirk can never turn good code into a reported error.
                    tree = run(None)
            self._trees[name] = (data, tree)
            return tree

    def prime(self, code: str, language: str) -> None:
        """Parse ``code`` (a prefix of what will be checked) only to keep its tree; no verdict."""
        name = _PARSED_AS.get(normalize_language(language))
        if name is None:
            return
        data = code.encode("utf-8", "replace")
        parser = _parser(name)
        deadline = time.monotonic() + PARSE_DEADLINE_S * (1 + len(data) / 1e6)
        try:
            self.parse(parser, name, data, lambda old: _parse_with(parser, data, deadline, old), confirm=False)
        except _GaveUp:
            pass


_SESSION: ContextVar[SyntaxSession | None] = ContextVar("viscodex_syntax_session", default=None)


def _edited(old_data: bytes, tree: Tree, data: bytes) -> Tree | None:
    """``tree`` (of ``old_data``) edited to describe ``data``; None when they share nothing worth it."""
    prefix = _common_prefix(old_data, data)
    suffix = _common_prefix(old_data[prefix:][::-1], data[prefix:][::-1])
    while prefix > 0 and _continuation(data, prefix):  # edits start and end on UTF-8 characters
        prefix -= 1
    while suffix > 0 and _continuation(data, len(data) - suffix):
        suffix -= 1
    if prefix + suffix < min(len(old_data), len(data)) // 4:
        return None  # mostly new text: a fresh parse is as fast and keeps no stale state
    old_end, new_end = len(old_data) - suffix, len(data) - suffix
    tree.edit(
        start_byte=prefix,
        old_end_byte=old_end,
        new_end_byte=new_end,
        start_point=_point(data, prefix),
        old_end_point=_point(old_data, old_end),
        new_end_point=_point(data, new_end),
    )
    return tree


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix, compared as numpy arrays (no copies, one pass in C)."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differs = np.frombuffer(a, np.uint8, n) != np.frombuffer(b, np.uint8, n)
    first = int(differs.argmax())
    return first if differs[first] else n


def _continuation(data: bytes, offset: int) -> bool:
    return offset < len(data) and data[offset] & 0xC0 == 0x80


def _point(data: bytes, offset: int) -> tuple[int, int]:
    """(row, byte column) of ``offset``, as tree-sitter counts them."""
    return data.count(b"\n", 0, offset), offset - (data.rfind(b"\n", 0, offset) + 1)


def language_of_path(path: Path) -> SyntaxLanguage | None:
    """The checked language a file's suffix names (``app.py`` -> python), or None."""
    spec = language_spec_for_path(path)
    return _CHECKED.get(spec.name) if spec is not None else None


def check_syntax(
    code: str, language: str, *, max_errors: int = MAX_ERRORS, session: SyntaxSession | None = None
) -> SyntaxReport:
    """Check ``code`` in ``language`` (a ``SyntaxLanguage`` or an alias in ``LANGUAGE_ALIASES``).

    Never raises on any code; raises ValueError only for a language it does not know. Thread-safe:
    parsers are per thread, grammars and queries shared. With a ``session``, the parse reuses the
    session's previous tree (same result, less work when the code changed little).
    """
    token = _SESSION.set(session)
    try:
        return _check(code, language, max_errors)
    finally:
        _SESSION.reset(token)


def _check(code: str, language: str, max_errors: int) -> SyntaxReport:
    lang = normalize_language(language)
    source = _Source(code)
    deadline = time.monotonic() + PARSE_DEADLINE_S * (1 + len(source.data) / 1e6)
    try:
        if lang == "diff":
            found = _check_diff(source)
        elif lang == "json":
            found = _check_json(source, code, 0)
        elif lang == "python":
            found = _check_python(source, code, deadline)
        elif lang == "html":
            found = _check_html(source, deadline)
        else:
            found = _tree_issues(_PARSED_AS[lang], source.data, 0, deadline)
    except _GaveUp as exc:
        message = f"gave up checking after {exc.seconds:.1f} s: the code is too long or too deeply nested"
        found = [(0, message)]
    found.sort(key=lambda issue: issue[0])
    issues = [source.issue(offset, message) for offset, message in found[: max(max_errors, 0)]]
    return SyntaxReport(ok=not found, errors=issues, language=lang, truncated=len(found) > len(issues))


def parse_tree(code: str, language: str) -> tuple[Node, bytes] | None:
    """The tree-sitter tree of ``code`` (and the bytes its offsets index), for callers that read code
    rather than judge it; None for a language without a grammar or input too slow to parse."""
    name = _PARSED_AS.get(normalize_language(language))
    if name is None:
        return None
    data = code.encode("utf-8", "replace")
    try:
        root = _parse(name, data, time.monotonic() + PARSE_DEADLINE_S * (1 + len(data) / 1e6))
    except _GaveUp:
        return None
    return root, data


# --- positions -------------------------------------------------------------------------------------

_Found = tuple[int, str]
"""An issue before it is placed: (byte offset into the checked code, message)."""


class _Source:
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
            snippet=_shorten(line_text.strip(), _SNIPPET_CHARS),
        )

    def char_offset_to_byte(self, text: str, char_offset: int, base: int) -> int:
        """Byte offset of ``text[char_offset]``, where ``text`` starts at byte ``base`` of the code."""
        return base + len(text[:char_offset].encode("utf-8", "replace"))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- tree-sitter -----------------------------------------------------------------------------------

_local = threading.local()


class _GaveUp(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


@cache
def _grammar(name: str) -> Language:
    """The grammar of language ``name``, loaded once per process (immutable, so shared by all threads)."""
    module, _, function = (language_spec(name).grammar or "").partition(":")
    return Language(getattr(importlib.import_module(module), function)())


@cache
def _html_query() -> Query:
    return Query(_grammar("html"), _HTML_QUERY)


def _parser(name: str) -> Parser:
    """This thread's parser for ``name``: a Parser holds parse state, so threads must not share one."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        parser = parsers[name] = Parser(_grammar(name))
    return parser


def _parse(name: str, data: bytes, deadline: float) -> Node:
    """Parse ``data`` (incrementally within a ``SyntaxSession``); past ``deadline``
    (``time.monotonic``) give up with ``_GaveUp``."""
    parser = _parser(name)
    session = _SESSION.get()
    if session is None:
        return _parse_with(parser, data, deadline, None).root_node
    return session.parse(parser, name, data, lambda old: _parse_with(parser, data, deadline, old)).root_node


def _parse_with(parser: Parser, data: bytes, deadline: float, old: Tree | None) -> Tree:
    if len(data) < _GUARD_BYTES:
        return parser.parse(data, old) if old is not None else parser.parse(data)
    started = time.monotonic()

    def read(offset: int, _point: object) -> bytes:
        # bytes, not memoryview slices: with those, Node.text segfaults (py-tree-sitter 0.26.1).
        return data[offset : offset + 65536]

    def progress(_offset: int, _has_error: bool) -> bool:
        return time.monotonic() > deadline

    try:
        if old is None:
            return parser.parse(read, progress_callback=progress)
        return parser.parse(read, old, progress_callback=progress)
    except ValueError as exc:  # "Parsing failed": cancelled by ``progress``
        parser.reset()  # else the next parse would resume this one
        raise _GaveUp(time.monotonic() - started) from exc


def _tree_issues(
    name: str,
    data: bytes,
    base: int,
    deadline: float,
    root: Node | None = None,
) -> list[_Found]:
    """ERROR and MISSING nodes of ``data`` parsed as ``name``, offset by ``base`` bytes.

    Found by walking down only the subtrees that hold an error (``has_error``), not with the query
    ``(ERROR) @e (MISSING) @m``: on deeply nested input that query's time grows with the square of
    the depth (29 s for 100 000 unclosed `(`), and it cannot see MISSING tokens that the grammar
    hides (CSS `a { color: ; }`). The walk costs nothing on valid code (``has_error`` is false at the
    root) and little on broken code.
    """
    if root is None:
        root = _parse(name, data, deadline)
    if not root.has_error:
        return []
    errors, missing = _walk_errors(root)
    found: list[_Found] = []
    for node in errors:
        if not _ignored_error(name, node, data):
            found.append((base + node.start_byte, _error_message(name, node, data)))
    for node in missing:
        if not _ignored_missing(name, node, data):
            found.append((base + node.start_byte, _missing_message(name, node)))
    return found


def _walk_errors(root: Node) -> tuple[list[Node], list[Node]]:
    """ERROR and MISSING nodes in source order; not inside ERROR nodes (echoes of the same error)."""
    errors: list[Node] = []
    missing: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing:
            if node.type != "_implicit_end_tag":
                missing.append(node)
        elif node.is_error:
            errors.append(node)
        elif node.has_error:
            children = node.children
            if any(child.has_error or child.is_missing for child in children):
                stack.extend(reversed(children))
            else:  # the missing token is a hidden one: name the node that lacks it
                missing.append(node)
    return errors, missing


def _error_message(name: str, node: Node, data: bytes) -> str:
    line_end = data.find(b"\n", node.start_byte, node.end_byte)
    text = data[node.start_byte : node.end_byte if line_end < 0 else line_end].decode("utf-8", "replace")
    text = text.strip()
    if name == "html":
        first = node.child(0) if node.child_count else None
        if first is not None and first.type == "start_tag":
            tag = _tag_name(first, data)
            if tag in ("script", "style"):
                return f"unclosed <{tag}>: no </{tag}> before the end"
        if text.startswith("</"):
            return f"unexpected end tag `{_shorten(text.split('>')[0] + '>', _NEAR_CHARS)}`"
    if not text:
        return "syntax error"
    return f"syntax error near `{_shorten(text, _NEAR_CHARS)}`"


def _missing_message(name: str, node: Node) -> str:
    if name == "css" and _ancestor(node, "declaration") is not None:
        return "missing value"
    kind = node.type
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", kind):
        words = re.sub(r"_token\d*$", "", kind).strip("_").replace("_", " ")
        return f"missing {words or kind}"
    return f"missing `{kind}`"


def _ignored_error(name: str, node: Node, data: bytes) -> bool:
    """Known false alarms of the CSS grammar, for syntax browsers accept.

    tree-sitter-css 0.25 does not know media range queries (`(width >= 600px)`), `@import ... layer()`
    or nesting with a trailing `&` (`.b & {}`). Errors in an at-rule's prelude are skipped as a class:
    a browser only drops such a rule, and the grammar lags the specs there.
    """
    if name != "css":
        return False
    if data[node.start_byte : node.end_byte] == b"&":
        return True
    parent = node.parent
    while parent is not None:
        if parent.type.endswith("_statement") or parent.type == "at_rule":
            block = next((c for c in parent.children if c.type in ("block", "keyframe_block_list")), None)
            return block is None or node.start_byte < block.start_byte
        if parent.type == "block":
            return False
        parent = parent.parent
    return False


def _ignored_missing(name: str, node: Node, data: bytes) -> bool:
    """A custom property may be empty (`--x: ;`), which tree-sitter-css reports as a missing value."""
    if name != "css":
        return False
    declaration = _ancestor(node, "declaration")
    if declaration is None or declaration.child_count == 0:
        return False
    prop = declaration.child(0)
    return prop is not None and data.startswith(b"--", prop.start_byte)


def _ancestor(node: Node, kind: str) -> Node | None:
    """``node`` itself or its nearest ancestor of type ``kind``."""
    current: Node | None = node
    while current is not None and current.type != kind:
        current = current.parent
    return current


# --- python ----------------------------------------------------------------------------------------


def _check_python(source: _Source, code: str, deadline: float) -> list[_Found]:
    """tree-sitter first; CPython's parser settles every case where tree-sitter or a cheap scan objects.

    tree-sitter-python is more permissive than CPython (it accepts `print "x"` and a `def` with no
    indented body) and may lag new syntax, so its errors are confirmed by ``ast.parse`` (same cost as
    the parse itself, paid only on the error path): if CPython accepts the code it is valid, whatever
    tree-sitter says; if not, CPython's message (the one Python would print) comes first.
    """
    found = _tree_issues("python", source.data, 0, deadline)
    if not found and not (("print " in code or "exec " in code) and _PY2_STATEMENT.search(code)):
        return []
    cpython = _cpython_error(source, code)
    if cpython is None:
        return []
    if cpython[1] == "invalid syntax":  # CPython's generic message: tree-sitter's may say more
        return [cpython, *found]
    data = source.data
    line_start = data.rfind(b"\n", 0, cpython[0]) + 1
    line_end = data.find(b"\n", cpython[0])
    line_end = len(data) if line_end < 0 else line_end
    return [cpython, *(f for f in found if not line_start <= f[0] <= line_end)]


def _cpython_error(source: _Source, code: str) -> _Found | None:
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and the like: not ours to print
            warnings.simplefilter("ignore")
            ast.parse(code)
    except SyntaxError as exc:  # IndentationError and TabError included
        lines = code.split("\n")
        line = min(max(exc.lineno or 1, 1), max(len(lines), 1))
        line_start = sum(len(text) + 1 for text in lines[: line - 1])
        char_offset = line_start + max((exc.offset or 1) - 1, 0)
        return source.char_offset_to_byte(code, char_offset, 0), exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; absurd nesting
        return 0, str(exc) or type(exc).__name__
    return None


# --- html ------------------------------------------------------------------------------------------


def _check_html(source: _Source, deadline: float) -> list[_Found]:
    """tree-sitter's errors, plus tags left open or closed twice, plus the scripts and styles inside."""
    data = source.data
    root = _parse("html", data, deadline)
    found = _tree_issues("html", data, 0, deadline, root)
    for capture, nodes in QueryCursor(_html_query()).captures(root).items():
        for node in nodes:
            if capture == "element":
                found.extend(_element_issues(node, data))
            elif capture == "stray":
                end_name = next((c for c in node.children if c.type == "erroneous_end_tag_name"), None)
                tag = _text(end_name, data).lower() if end_name is not None else "?"
                found.append((node.start_byte, f"stray end tag </{tag}>: no open <{tag}> to close"))
            else:
                found.extend(_embedded(node, capture, data, source, deadline))
    return found


def _element_issues(element: Node, data: bytes) -> list[_Found]:
    """An element that must be closed and is not (its last child is no end tag), or `<div/>`.

    This runs for every element of a page, so it sticks to cheap calls: ``Node.parent`` is not one
    (tree-sitter finds a parent by walking down from the root, which is quadratic on deep pages).
    """
    tag = element.child(0)
    name_node = tag.child(1) if tag is not None and tag.child_count > 1 else None
    if tag is None or name_node is None or name_node.type != "tag_name":
        return []
    raw_name = data[name_node.start_byte : name_node.end_byte].lower()
    if tag.type == "self_closing_tag":
        name = raw_name.decode("utf-8", "replace")
        if name in _NOT_SELF_CLOSING:
            return [(tag.start_byte, f"<{name}/> does not close in HTML; write <{name}></{name}>")]
        return []
    if tag.type != "start_tag" or raw_name in _MAY_STAY_OPEN:
        return []
    last = element.child(element.child_count - 1)
    if last is not None and last.type == "end_tag":
        return []
    name = raw_name.decode("utf-8", "replace")
    return [(tag.start_byte, f"unclosed <{name}> opened at line {tag.start_point.row + 1}")]


def _embedded(element: Node, kind: str, data: bytes, source: _Source, deadline: float) -> list[_Found]:
    """Check a <script>'s JavaScript (or JSON) or a <style>'s CSS, at their place in the page."""
    start_tag = element.child(0) if element.child_count else None
    raw = next((child for child in element.children if child.type == "raw_text"), None)
    if start_tag is None or raw is None:
        return []
    content = data[raw.start_byte : raw.end_byte]
    declared = _attribute(start_tag, "type", data)
    mime = (declared or "").strip().lower().split(";")[0].strip()
    if kind == "style":
        return _tree_issues("css", content, raw.start_byte, deadline) if mime in ("", "text/css") else []
    if mime in _JS_SCRIPT_TYPES:
        return _tree_issues("javascript", content, raw.start_byte, deadline)
    if mime in _JSON_SCRIPT_TYPES:
        return _check_json(source, content.decode("utf-8", "replace"), raw.start_byte)
    return []  # templates, shaders, other languages: not ours to judge


def _attribute(start_tag: Node, name: str, data: bytes) -> str | None:
    for attribute in start_tag.children:
        if attribute.type != "attribute" or not attribute.child_count:
            continue
        key = attribute.child(0)
        if key is None or _text(key, data).lower() != name:
            continue
        for value in attribute.children[1:]:
            if value.type == "attribute_value":
                return _text(value, data)
            if value.type == "quoted_attribute_value":
                inner = next((c for c in value.children if c.type == "attribute_value"), None)
                return _text(inner, data) if inner is not None else ""
        return ""
    return None


def _tag_name(tag: Node, data: bytes) -> str:
    name = next((child for child in tag.children if child.type == "tag_name"), None)
    return _text(name, data).lower() if name is not None else ""


def _text(node: Node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


# --- json ------------------------------------------------------------------------------------------


def _check_json(source: _Source, text: str, base: int) -> list[_Found]:
    """JSON needs no grammar: the standard library's parser says where it stopped."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return [(source.char_offset_to_byte(text, exc.pos, base), exc.msg)]
    except (ValueError, RecursionError) as exc:
        return [(base, str(exc) or type(exc).__name__)]
    return []


# --- diff ------------------------------------------------------------------------------------------


def _check_diff(source: _Source) -> list[_Found]:
    """Unified diff structure: `---`/`+++` headers, `@@ -a,b +c,d @@` hunks whose line counts add up.

    A hunk whose header miscounts its lines is the usual way a model's diff fails to apply (`git apply`
    calls it a corrupt patch). An empty line inside a hunk counts as an empty context line, as GNU patch
    takes it (models often strip the lone space). A `--- ` line inside a hunk is a removed line unless a
    `+++ ` line follows it (then it starts the next file).
    """
    text = source.data.decode("utf-8", "replace")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    starts: list[int] = []  # byte offset of each line, for placing issues
    offset = 0
    for raw_line in source.data.split(b"\n"):
        starts.append(offset)
        offset += len(raw_line) + 1
    found: list[_Found] = []

    def at(index: int, message: str) -> None:
        found.append((starts[min(index, len(starts) - 1)], message))

    if not any(line.strip() for line in lines):
        return [(0, "empty diff")]

    def file_header(index: int) -> bool:
        followed = index + 1 < len(lines) and lines[index + 1].startswith("+++ ")
        return followed and lines[index].startswith("--- ")

    hunks = 0
    git = False
    files = 0
    hunks_in_file = 0
    file_line = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            git = True
            i += 1
        elif line.startswith("--- "):
            if not file_header(i):
                at(i, "`--- ` header not followed by a `+++ ` header")
                i += 1
                continue
            if files and not hunks_in_file and not git:
                at(file_line, "file header with no hunks")
            files += 1
            hunks_in_file = 0
            file_line = i
            i += 2
        elif line.startswith("+++ "):
            at(i, "`+++ ` header without a `--- ` header before it")
            i += 1
        elif line.startswith("@@"):
            match = _HUNK_HEADER.match(line)
            if not match:
                at(i, "malformed hunk header; expected `@@ -start,count +start,count @@`")
                hunks_in_file += 1
                i = _skip_hunk_lines(lines, i + 1)
                continue
            if not files:
                at(i, "hunk before any `--- `/`+++ ` file header")
                files = 1
            hunks += 1
            hunks_in_file += 1
            i = _check_hunk(lines, i, match, at, file_header)
        else:
            if files and line[:1] in ("+", "-", " "):
                at(i, "line outside any hunk")
                i = _skip_hunk_lines(lines, i + 1)
                continue
            i += 1  # prose, `index ...`, `new file mode ...`: allowed between files
    if files and not hunks_in_file and not git:
        at(file_line, "file header with no hunks")
    if not hunks and not git and not files:
        at(0, "no hunks found; expected `--- a/file`, `+++ b/file` and `@@ -a,b +c,d @@` lines")
    return found


def _check_hunk(
    lines: list[str],
    header: int,
    match: re.Match[str],
    at: Callable[[int, str], None],
    file_header: Callable[[int], bool],
) -> int:
    """Count one hunk's lines against its header; return the index of the first line after it."""
    old_want = int(match[2]) if match[2] is not None else 1
    new_want = int(match[4]) if match[4] is not None else 1
    old = new = 0
    i = header + 1
    while i < len(lines) and (old < old_want or new < new_want):
        line = lines[i]
        first = line[:1]
        if first == "-" and file_header(i):
            break
        if first == " " or line == "":
            old += 1
            new += 1
        elif first == "-":
            old += 1
        elif first == "+":
            new += 1
        elif first != "\\":  # "\ No newline at end of file" counts for neither side
            break
        i += 1
    while i < len(lines) and lines[i].startswith("\\"):
        i += 1
    counts = f"-{match[1]},{old_want} +{match[3]},{new_want}"
    if (old, new) != (old_want, new_want):
        at(header, f"hunk header says {counts} but the hunk has {old} old and {new} new lines")
    elif i < len(lines) and lines[i][:1] in ("+", "-", " ") and not file_header(i):
        end = _skip_hunk_lines(lines, i)
        extra_old = sum(1 for line in lines[i:end] if line[:1] in ("-", " "))
        extra_new = sum(1 for line in lines[i:end] if line[:1] in ("+", " "))
        at(
            header,
            f"hunk header says {counts} but the hunk has {old_want + extra_old} old and "
            f"{new_want + extra_new} new lines",
        )
        return end
    return i


def _skip_hunk_lines(lines: list[str], i: int) -> int:
    while i < len(lines) and lines[i][:1] in ("+", "-", " ", "\\"):
        if lines[i].startswith(("--- ", "+++ ")):
            break
        i += 1
    return i
