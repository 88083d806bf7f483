"""One vocabulary of languages: the table in ``viscodex.sandbox`` and everything derived from it (fence
tags, syntax-check aliases and grammars, file suffixes, the sandbox's programs, ``auto``'s UI files)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import get_args

import pytest

from viscodex.agent.extract import FENCE_ALIASES, CodeLanguage, extract_code
from viscodex.agent.loop import UI_LANGUAGES
from viscodex.agent.syntax import LANGUAGE_ALIASES, check_syntax, language_of_path, normalize_language, parse_tree
from viscodex.agent.tasks import Kind, make_task
from viscodex.sandbox import (
    LANGUAGE_NAMES,
    LANGUAGE_SPECS,
    LANGUAGES,
    SYNTAX_LANGUAGES,
    Language,
    LanguageName,
    SyntaxLanguage,
    language_for_path,
    language_spec,
    language_spec_for_path,
)
from viscodex.sandbox.languages import program_for

# The contracts, written out: `sandbox run --lang` takes these, the syntax check knows these.
RUNNABLE = ("python", "javascript")
CHECKED = ("python", "javascript", "jsx", "typescript", "tsx", "css", "html", "diff", "json")


def test_the_literal_types_are_the_table() -> None:
    assert get_args(LanguageName) == LANGUAGE_NAMES == tuple(LANGUAGE_SPECS)
    assert get_args(SyntaxLanguage) == SYNTAX_LANGUAGES == CHECKED
    assert SYNTAX_LANGUAGES == tuple(name for name, spec in LANGUAGE_SPECS.items() if spec.checked)
    assert get_args(Language) == LANGUAGES == RUNNABLE
    assert LANGUAGES == tuple(name for name, spec in LANGUAGE_SPECS.items() if spec.runner is not None)
    assert get_args(CodeLanguage) == CHECKED
    assert UI_LANGUAGES <= set(LANGUAGE_NAMES)


def test_names_and_suffixes_belong_to_one_language() -> None:
    names = [name for spec in LANGUAGE_SPECS.values() for name in spec.names]
    suffixes = [suffix for spec in LANGUAGE_SPECS.values() for suffix in spec.suffixes]
    assert len(names) == len(set(names))
    assert len(suffixes) == len(set(suffixes))
    assert all(s.startswith(".") and s == s.lower() for s in suffixes)


@pytest.mark.parametrize("name", LANGUAGE_NAMES)
def test_every_name_alias_and_suffix_finds_its_language(name: str) -> None:
    spec = LANGUAGE_SPECS[name]  # type: ignore[index]
    for alias in spec.names:
        assert language_spec(alias) is spec
        assert language_spec(f" {alias.upper()} ") is spec
    for suffix in spec.suffixes:
        assert language_spec_for_path(Path(f"dir/file{suffix.upper()}")) is spec
        assert language_of_path(Path(f"file{suffix}")) == (name if spec.checked else None)
        assert language_for_path(Path(f"file{suffix}")) == (name if spec.runner is not None else None)


def test_unknown_names_and_suffixes() -> None:
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        language_spec("cobol")
    assert language_spec_for_path(Path("x.rb")) is None
    assert language_spec_for_path(Path("Makefile")) is None
    assert language_for_path(Path("x.jsx")) is None  # parsed, never run
    assert language_of_path(Path("x.vue")) is None  # known (a UI file), not checked
    with pytest.raises(ValueError, match="no syntax check"):
        normalize_language("vue")


@pytest.mark.parametrize("name", SYNTAX_LANGUAGES)
def test_checked_languages_are_named_fenced_and_checked(name: SyntaxLanguage) -> None:
    spec = LANGUAGE_SPECS[name]
    assert FENCE_ALIASES[name] == spec.fences >= spec.names
    for alias in spec.aliases:
        assert LANGUAGE_ALIASES[alias] == name
        assert normalize_language(alias) == name
    for tag in spec.fences:
        got = extract_code(f"```text\n{'x' * 200}\n```\n```{tag}\nTHE CODE\n```\n", name)
        assert got.code == "THE CODE\n" and got.notes == []
    assert isinstance(check_syntax("", name).ok, bool)


@pytest.mark.parametrize("name", [n for n in LANGUAGE_NAMES if LANGUAGE_SPECS[n].grammar is not None])
def test_grammars_load_and_parse(name: str) -> None:
    grammar = LANGUAGE_SPECS[name].grammar  # type: ignore[index]
    assert grammar is not None
    module, _, function = grammar.partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    parsed = parse_tree("x", name)
    assert parsed is not None and parsed[1] == b"x"


def test_fence_aliases_as_the_extraction_always_knew_them() -> None:
    assert FENCE_ALIASES["html"] == {"html", "htm", "xhtml"}
    assert FENCE_ALIASES["python"] == {"python", "py", "python3", "py3"}
    assert FENCE_ALIASES["javascript"] == {"javascript", "js", "jsx", "mjs", "cjs", "node"}
    assert FENCE_ALIASES["diff"] == {"diff", "patch", "udiff"}
    assert FENCE_ALIASES["json"] == {"json"}


@pytest.mark.parametrize("name", LANGUAGES)
def test_the_sandbox_runs_each_runnable_language(name: Language) -> None:
    file, argv = program_for(name)
    runner = LANGUAGE_SPECS[name].runner
    assert runner is not None and (file, tuple(argv)) == (runner.file, runner.argv)
    assert file in argv and Path(file).suffix in LANGUAGE_SPECS[name].suffixes


@pytest.mark.parametrize(
    ("kind", "file"), [("ui", "code.html"), ("chart", "code.py"), ("algorithm", "code.py"), ("fix", "code.diff")]
)
def test_each_task_writes_its_code_under_its_languages_suffix(kind: Kind, file: str) -> None:
    language = make_task(kind).language
    assert f"code{LANGUAGE_SPECS[language].suffixes[0]}" == file
