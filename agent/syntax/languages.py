"""The checked languages' names, read off the one table (``viscodex.sandbox.LANGUAGE_SPECS``): canonical
names and aliases, the language of a file, and which language's grammar parses which."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from viscodex.sandbox import LANGUAGE_SPECS, SYNTAX_LANGUAGES, SyntaxLanguage, language_spec, language_spec_for_path

LANGUAGE_ALIASES: Final[dict[str, SyntaxLanguage]] = {
    alias: name for name in SYNTAX_LANGUAGES for alias in LANGUAGE_SPECS[name].aliases
}
"""Other names of the checked languages (``py`` -> python), from ``viscodex.sandbox.LANGUAGE_SPECS``."""

CHECKED: Final[dict[str, SyntaxLanguage]] = {name: name for name in SYNTAX_LANGUAGES}
PARSED_AS: Final[dict[str, str]] = {
    name: next(other for other, spec in LANGUAGE_SPECS.items() if spec.grammar == grammar)
    for name, grammar in ((name, spec.grammar) for name, spec in LANGUAGE_SPECS.items())
    if grammar is not None
}
"""Each language with a grammar -> the first language with the same grammar, whose parser (and session
tree) it shares: tree-sitter-javascript parses JSX, so jsx is parsed as javascript."""


def normalize_language(language: str) -> SyntaxLanguage:
    """The canonical name for ``language`` (``"py"`` -> ``"python"``); ValueError if it is not checked."""
    try:
        name = language_spec(language).name
    except ValueError:
        name = None
    if name not in CHECKED:
        raise ValueError(f"no syntax check for language {language!r}; known: {', '.join(SYNTAX_LANGUAGES)}")
    return CHECKED[name]


def language_of_path(path: Path) -> SyntaxLanguage | None:
    """The checked language a file's suffix names (``app.py`` -> python), or None."""
    spec = language_spec_for_path(path)
    return CHECKED.get(spec.name) if spec is not None else None
