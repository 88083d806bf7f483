"""Which languages the sandbox runs, and how: a file name and the command that runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

Language = Literal["python", "javascript"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

_PROGRAMS: dict[Language, tuple[str, list[str]]] = {
    "python": ("main.py", ["python3", "main.py"]),
    "javascript": ("main.js", ["node", "main.js"]),
}
_EXTENSIONS: dict[str, Language] = {".py": "python", ".js": "javascript", ".mjs": "javascript"}


def program_for(lang: Language) -> tuple[str, list[str]]:
    """The file name the code is written to and the argv that runs it."""
    name, argv = _PROGRAMS[lang]
    return name, list(argv)


def language_for_path(path: Path) -> Language | None:
    """The language a file's extension implies, or None when it implies none we run."""
    return _EXTENSIONS.get(path.suffix.lower())
