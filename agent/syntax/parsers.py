"""tree-sitter: grammars (named in the language table) and per-thread parsers, parsing under a deadline
(incrementally within a ``SyntaxSession``), and a tree's ERROR and MISSING nodes as issues."""

from __future__ import annotations

import importlib
import re
import threading
import time
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Final

from tree_sitter import Language, Node, Parser, Tree

from viscodex.sandbox import language_spec

from .css import ancestor, ignored_error, ignored_missing
from .languages import PARSED_AS, normalize_language
from .report import Found, shorten

if TYPE_CHECKING:
    from .session import SyntaxSession

PARSE_DEADLINE_S: Final = 1.0
"""Time allowed to parse, plus a second per MB: tree-sitter's error recovery is quadratic on some
degenerate input (tens of thousands of unclosed `<div>`), which a model stuck in a loop can produce."""
_GUARD_BYTES: Final = 16 * 1024
"""Below this size a parse cannot take long enough to need the deadline (and its callbacks)."""
_NEAR_CHARS: Final = 40

_local = threading.local()


def deadline_for(data: bytes) -> float:
    """The ``time.monotonic()`` past which parsing ``data`` gives up (``PARSE_DEADLINE_S``)."""
    return time.monotonic() + PARSE_DEADLINE_S * (1 + len(data) / 1e6)


class GaveUp(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


@cache
def grammar(name: str) -> Language:
    """The grammar of language ``name``, loaded once per process (immutable, so shared by all threads)."""
    module, _, function = (language_spec(name).grammar or "").partition(":")
    return Language(getattr(importlib.import_module(module), function)())


SESSION: ContextVar[SyntaxSession | None] = ContextVar("viscodex_syntax_session", default=None)


def parser_for(name: str) -> Parser:
    """This thread's parser for ``name``: a Parser holds parse state, so threads must not share one."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        parser = parsers[name] = Parser(grammar(name))
    return parser


def parse(name: str, data: bytes, deadline: float) -> Node:
    """Parse ``data`` (incrementally within a ``SyntaxSession``); past ``deadline``
    (``time.monotonic``) give up with ``GaveUp``."""
    parser = parser_for(name)
    session = SESSION.get()
    if session is None:
        return parse_with(parser, data, deadline, None).root_node
    return session.parse(parser, name, data, lambda old: parse_with(parser, data, deadline, old)).root_node


def parse_with(parser: Parser, data: bytes, deadline: float, old: Tree | None) -> Tree:
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
        raise GaveUp(time.monotonic() - started) from exc


def tree_issues(
    name: str,
    data: bytes,
    base: int,
    deadline: float,
    root: Node | None = None,
) -> list[Found]:
    """ERROR and MISSING nodes of ``data`` parsed as ``name``, offset by ``base`` bytes.

    Found by walking down only the subtrees that hold an error (``has_error``), not with the query
    ``(ERROR) @e (MISSING) @m``: on deeply nested input that query's time grows with the square of
    the depth (100 000 unclosed `(` take many seconds), and it cannot see MISSING tokens that the grammar
    hides (CSS `a { color: ; }`). The walk costs nothing on valid code (``has_error`` is false at the
    root) and little on broken code.
    """
    if root is None:
        root = parse(name, data, deadline)
    if not root.has_error:
        return []
    errors, missing = _walk_errors(root)
    found: list[Found] = []
    for node in errors:
        if not ignored_error(name, node, data):
            found.append((base + node.start_byte, _error_message(name, node, data)))
    for node in missing:
        if not ignored_missing(name, node, data):
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
            tag = tag_name(first, data)
            if tag in ("script", "style"):
                return f"unclosed <{tag}>: no </{tag}> before the end"
        if text.startswith("</"):
            return f"unexpected end tag `{shorten(text.split('>')[0] + '>', _NEAR_CHARS)}`"
    if not text:
        return "syntax error"
    return f"syntax error near `{shorten(text, _NEAR_CHARS)}`"


def _missing_message(name: str, node: Node) -> str:
    if name == "css" and ancestor(node, "declaration") is not None:
        return "missing value"
    kind = node.type
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", kind):
        words = re.sub(r"_token\d*$", "", kind).strip("_").replace("_", " ")
        return f"missing {words or kind}"
    return f"missing `{kind}`"


def tag_name(tag: Node, data: bytes) -> str:
    name = next((child for child in tag.children if child.type == "tag_name"), None)
    return node_text(name, data).lower() if name is not None else ""


def node_text(node: Node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def parse_tree(code: str, language: str) -> tuple[Node, bytes] | None:
    """The tree-sitter tree of ``code`` (and the bytes its offsets index), for callers that read code
    rather than judge it; None for a language without a grammar or input too slow to parse."""
    name = PARSED_AS.get(normalize_language(language))
    if name is None:
        return None
    data = code.encode("utf-8", "replace")
    try:
        root = parse(name, data, deadline_for(data))
    except GaveUp:
        return None
    return root, data
