"""Incremental parsing: the last tree per grammar, edited to match the next text, so a re-parse reads
only what changed."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from tree_sitter import Parser, Tree

from .languages import PARSED_AS, normalize_language
from .parsers import GaveUp, deadline_for, parse_with, parser_for


class SyntaxSession:
    """The last tree parsed per grammar, so the next parse re-parses only what changed.

    The loop parses each answer while it streams in (``prime``), so the check after its last chunk
    only parses the tail: tree-sitter, given the old tree and the edit, reuses every subtree the edit
    did not touch. The edit is found as the common prefix and suffix of the old and new bytes, so any
    two texts give a correct (if large) edit. On a 1000-line Python file the check after priming with
    all but the last chunk costs a small fraction of a fresh parse (``bench/syntax.py``; figures in
    ``bench/RESULTS.md``). Edits in the middle of Python code gain less: tree-sitter-python re-parses
    everything after an inserted line.
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
        name = PARSED_AS.get(normalize_language(language))
        if name is None:
            return
        data = code.encode("utf-8", "replace")
        parser = parser_for(name)
        deadline = deadline_for(data)
        try:
            self.parse(parser, name, data, lambda old: parse_with(parser, data, deadline, old), confirm=False)
        except GaveUp:
            pass


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
