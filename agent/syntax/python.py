"""Python: tree-sitter first; CPython's own parser has the last word whenever tree-sitter objects."""

from __future__ import annotations

import ast
import re
import warnings
from typing import Final

from .parsers import tree_issues
from .report import Found, Source

_PY2_STATEMENT: Final = re.compile(r"^[ \t]*(?:print|exec)[ \t]+[\"'\w]", re.MULTILINE)
"""Python 2 statements: tree-sitter-python parses them (its grammar keeps them), CPython 3 does not."""


def check_python(source: Source, code: str, deadline: float) -> list[Found]:
    """tree-sitter first; CPython's parser settles every case where tree-sitter or a cheap scan objects.

    tree-sitter-python is more permissive than CPython (it accepts `print "x"` and a `def` with no
    indented body) and may lag new syntax, so its errors are confirmed by ``ast.parse`` (same cost as
    the parse itself, paid only on the error path): if CPython accepts the code it is valid, whatever
    tree-sitter says; if not, CPython's message (the one Python would print) comes first.
    """
    found = tree_issues("python", source.data, 0, deadline)
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


def _cpython_error(source: Source, code: str) -> Found | None:
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
