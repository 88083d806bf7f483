"""The languages VisCodex knows, in one table: names, aliases, file suffixes, Markdown fence tags, the
tree-sitter grammar that parses them and how the sandbox runs them.

Every other list of languages is derived from ``LANGUAGE_SPECS``: the code extraction's fence tags, the
syntax check's aliases and grammars, the languages of files, the sandbox's programs. It lives here, in
the lowest layer that needs it (the sandbox runs code by language); the grammar is named as a string
(``module:function``) so this leaf imports no tree-sitter: the agent loads it.

The three ``Literal`` types are written out once, next to the table, because a type checker cannot read
them off data; the module refuses to import if they and the table disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

LanguageName = Literal[
    "python", "javascript", "jsx", "typescript", "tsx", "css", "html", "diff", "json", "vue", "svelte"
]
"""Every language in ``LANGUAGE_SPECS``, in its order."""
SyntaxLanguage = Literal["python", "javascript", "jsx", "typescript", "tsx", "css", "html", "diff", "json"]
"""The languages whose syntax the agent checks before a run (``LanguageSpec.checked``)."""
Language = Literal["python", "javascript"]
"""The languages the sandbox runs as a program (``LanguageSpec.runner``)."""


@dataclass(frozen=True, slots=True)
class Runner:
    """How the sandbox runs a program: the file the code is written to and the argv that runs it."""

    file: str
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    """One language, everything VisCodex needs to know about it."""

    name: LanguageName
    suffixes: tuple[str, ...] = ()
    """File suffixes, lower case with the dot (``.py``): a file's language is read off its suffix, and
    code in the language is written to a file with the first."""
    aliases: tuple[str, ...] = ()
    """Other names for it (``py``, ``js``), accepted wherever a language is named, fences included."""
    fence_tags: tuple[str, ...] = ()
    """Further Markdown info strings whose block counts as this language's code (``jsx`` for javascript:
    a JSX block is JavaScript to the extraction); the name and aliases count already."""
    grammar: str | None = None
    """The tree-sitter grammar, ``module:function`` (``tree_sitter_python:language``); None: none."""
    checked: bool = False
    """The agent checks its syntax before a run: with the grammar, or (diff, JSON) a checker of its own."""
    runner: Runner | None = None
    """How the sandbox runs it as a program; None: it does not."""

    @property
    def names(self) -> frozenset[str]:
        """The name and its aliases."""
        return frozenset({self.name, *self.aliases})

    @property
    def fences(self) -> frozenset[str]:
        """Markdown info strings (first word, lower case) whose block is this language's code."""
        return frozenset({self.name, *self.aliases, *self.fence_tags})


LANGUAGE_SPECS: Final[dict[LanguageName, LanguageSpec]] = {
    spec.name: spec
    for spec in (
        LanguageSpec(
            "python",
            suffixes=(".py",),
            aliases=("py", "python3", "py3"),
            grammar="tree_sitter_python:language",
            checked=True,
            runner=Runner("main.py", ("python3", "main.py")),
        ),
        LanguageSpec(
            "javascript",
            suffixes=(".js", ".mjs", ".cjs"),
            aliases=("js", "mjs", "cjs", "node"),
            fence_tags=("jsx",),
            grammar="tree_sitter_javascript:language",
            checked=True,
            runner=Runner("main.js", ("node", "main.js")),
        ),
        LanguageSpec("jsx", suffixes=(".jsx",), grammar="tree_sitter_javascript:language", checked=True),
        LanguageSpec(
            "typescript",
            suffixes=(".ts", ".mts", ".cts"),
            aliases=("ts", "mts", "cts"),
            grammar="tree_sitter_typescript:language_typescript",
            checked=True,
        ),
        LanguageSpec("tsx", suffixes=(".tsx",), grammar="tree_sitter_typescript:language_tsx", checked=True),
        LanguageSpec("css", suffixes=(".css",), grammar="tree_sitter_css:language", checked=True),
        LanguageSpec(
            "html",
            suffixes=(".html", ".htm", ".xhtml"),
            aliases=("htm", "xhtml"),
            grammar="tree_sitter_html:language",
            checked=True,
        ),
        LanguageSpec("diff", suffixes=(".diff", ".patch"), aliases=("patch", "udiff"), checked=True),
        LanguageSpec("json", suffixes=(".json",), checked=True),
        LanguageSpec("vue", suffixes=(".vue",)),
        LanguageSpec("svelte", suffixes=(".svelte",)),
    )
}
"""The languages, in a fixed order (the order of ``LanguageName``)."""

LANGUAGE_NAMES: Final[tuple[LanguageName, ...]] = get_args(LanguageName)
SYNTAX_LANGUAGES: Final[tuple[SyntaxLanguage, ...]] = get_args(SyntaxLanguage)
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)

_BY_NAME: Final[dict[str, LanguageSpec]] = {alias: spec for spec in LANGUAGE_SPECS.values() for alias in spec.names}
_BY_SUFFIX: Final[dict[str, LanguageSpec]] = {
    suffix: spec for spec in LANGUAGE_SPECS.values() for suffix in spec.suffixes
}


def _agree() -> None:
    """The Literal types, the table and its lookups say the same; else the module does not import."""
    table = tuple(LANGUAGE_SPECS)
    checked = tuple(name for name, spec in LANGUAGE_SPECS.items() if spec.checked)
    runnable = tuple(name for name, spec in LANGUAGE_SPECS.items() if spec.runner is not None)
    problems = [
        f"{label} lists {declared}, the table {derived}"
        for label, declared, derived in (
            ("LanguageName", LANGUAGE_NAMES, table),
            ("SyntaxLanguage", SYNTAX_LANGUAGES, checked),
            ("Language", LANGUAGES, runnable),
        )
        if declared != derived
    ]
    names = [name for spec in LANGUAGE_SPECS.values() for name in spec.names]
    suffixes = [suffix for spec in LANGUAGE_SPECS.values() for suffix in spec.suffixes]
    if len(set(names)) != len(names):
        problems.append("a name or alias belongs to two languages")
    if len(set(suffixes)) != len(suffixes):
        problems.append("a file suffix belongs to two languages")
    if any(not s.startswith(".") or s != s.lower() for s in suffixes):
        problems.append("file suffixes are lower case and start with a dot")
    if problems:
        raise RuntimeError("the language table and its types disagree: " + "; ".join(problems))


_agree()


def language_spec(name: str) -> LanguageSpec:
    """The language called ``name`` or one of its aliases (any case, surrounding blanks ignored);
    ValueError for a name the table does not know."""
    spec = _BY_NAME.get(name.strip().lower())
    if spec is None:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(LANGUAGE_NAMES)}")
    return spec


def language_spec_for_path(path: Path) -> LanguageSpec | None:
    """The language a file's suffix names (any case), or None when it names none of ours."""
    return _BY_SUFFIX.get(path.suffix.lower())


def program_for(lang: Language) -> tuple[str, list[str]]:
    """The file name the code is written to and the argv that runs it."""
    runner = LANGUAGE_SPECS[lang].runner
    if runner is None:  # _agree() makes every Language runnable
        raise ValueError(f"the sandbox does not run {lang}")
    return runner.file, list(runner.argv)


def language_for_path(path: Path) -> Language | None:
    """The language a file's extension implies, or None when it implies none we run."""
    spec = language_spec_for_path(path)
    if spec is None or spec.runner is None:
        return None
    return next(name for name in LANGUAGES if name == spec.name)
