"""Syntax checks for model-written code, done before a sandbox run is spent on it.

A run in the sandbox costs a container and tens of milliseconds at best; a page render costs a browser.
A syntax error found here costs a few milliseconds and comes back with a line, a column and the source
line, which is what the model needs to fix it. Parsing uses tree-sitter (the grammars ship as wheels,
nothing is downloaded at run time): it recovers from errors, so one parse finds several of them, and it
parses HTML, the JavaScript in its ``<script>`` elements and the CSS in its ``<style>`` elements alike.

What tree-sitter does not judge is added here: HTML tags left open or closed twice (its grammar
recovers from them silently), and unified diffs (no grammar; checked line by line). For Python,
CPython's own parser has the last word whenever tree-sitter objects (see ``python.check_python``).

The parts: ``check`` (the entry point), ``languages`` (names and aliases, from the language table in
``viscodex.sandbox``), ``parsers`` (tree-sitter, deadlines, a tree's errors), ``session`` (incremental
parsing), ``html`` and ``css``, ``python``, ``formats`` (JSON and diffs) and ``report`` (issues and
where they are). This module is the public face; the parts are not.
"""

from viscodex.sandbox import SYNTAX_LANGUAGES, SyntaxLanguage

from .check import check_syntax
from .html import OPTIONAL_END_ELEMENTS, VOID_ELEMENTS
from .languages import LANGUAGE_ALIASES, language_of_path, normalize_language
from .parsers import PARSE_DEADLINE_S, parse_tree
from .report import MAX_ERRORS, SyntaxIssue, SyntaxReport
from .session import SyntaxSession

__all__ = [
    "LANGUAGE_ALIASES",
    "MAX_ERRORS",
    "OPTIONAL_END_ELEMENTS",
    "PARSE_DEADLINE_S",
    "SYNTAX_LANGUAGES",
    "VOID_ELEMENTS",
    "SyntaxIssue",
    "SyntaxLanguage",
    "SyntaxReport",
    "SyntaxSession",
    "check_syntax",
    "language_of_path",
    "normalize_language",
    "parse_tree",
]
