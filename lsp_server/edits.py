"""The ``WorkspaceEdit`` a result becomes: a fragment inserted at the position or replacing the range, a
whole file created next to the image (``CreateFile`` + its text), or a verified diff as edits over the
files it touches."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

SUFFIX = {"html": ".html", "python": ".py", "diff": ".diff"}
"""The suffix of a whole file of the result's language."""

_BABEL = re.compile(r"<script\b[^>]*type\s*=\s*[\"']text/(?:babel|jsx)[\"'][^>]*>(.*?)</script\s*>", re.I | re.S)
_RENDER = re.compile(r"^\s*(?:const\s+\w+\s*=\s*)?ReactDOM\.(?:createRoot|render)\b.*?;?\s*$", re.M)
_RENDER_CALL = re.compile(r"^\s*\w+\.render\(.*?\);?\s*$", re.M)
_REACT_GLOBAL = re.compile(r"^\s*const\s*\{([^}]*)\}\s*=\s*React\s*;?\s*$", re.M)
_MOUNT = re.compile(r"\bReactDOM\s*\.\s*(?:createRoot|render|hydrateRoot)\b|^\s*\w+\s*\.\s*render\s*\(")
_BODY = re.compile(r"<body\b[^>]*>(.*)</body\s*>", re.IGNORECASE | re.DOTALL)
_STYLE = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.IGNORECASE | re.DOTALL)


def _edit(uri: str, version: int | None, edits: list[types.TextEdit]) -> types.TextDocumentEdit:
    return types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
        edits=list(edits),
    )


def fragment_edit(uri: str, version: int | None, where: types.Range, code: str) -> types.WorkspaceEdit:
    """The code inserted at ``where`` (an empty range) or replacing it."""
    text = code if code.endswith("\n") or where.start != where.end else code + "\n"
    return types.WorkspaceEdit(document_changes=[_edit(uri, version, [types.TextEdit(range=where, new_text=text)])])


def html_fragment(code: str, document: str) -> str:
    """A generated HTML page as what fits into ``document``: into a page that already has its own
    ``<body>``, the new body's content with the new page's styles before it; elsewhere the page itself."""
    if not re.search(r"<body\b", document, re.IGNORECASE):
        return code
    body = _BODY.search(code)
    if body is None:
        return code
    head = code[: body.start()]
    styles = "\n".join(_STYLE.findall(head))
    inner = body.group(1).strip("\n")
    return f"{styles}\n{inner}\n" if styles else inner + "\n"


def react_component(code: str) -> str | None:
    """The React code of a generated page (``stack: react``: JSX in ``<script type="text/babel">``), as
    module code for a JSX/TSX file: the mounting (``ReactDOM.createRoot(...)``, ``root.render(...)``,
    ``ReactDOM.render(...)``, however many lines they span) taken out, ``const {useState} = React``
    made an import. Statements are read with tree-sitter (JSX grammar), so a mount written over several
    lines goes whole. None if the page has no such script."""
    from viscodex.agent.syntax import parse_tree

    scripts = _BABEL.findall(code)
    if not scripts:
        return None
    body = "\n".join(script.strip("\n") for script in scripts)
    parsed = parse_tree(body, "jsx")
    if parsed is None:  # too slow to parse: the line-by-line patterns are better than nothing
        return _react_component_by_lines(body)
    root, data = parsed
    hooks: set[str] = set()
    cuts: list[tuple[int, int]] = []
    for statement in root.named_children:
        text = data[statement.start_byte : statement.end_byte].decode("utf-8", "replace")
        if global_names := _REACT_GLOBAL.fullmatch(text.strip()):
            hooks |= {name.strip() for name in global_names.group(1).split(",") if name.strip()}
        elif not _MOUNT.search(text) or statement.type not in ("expression_statement", "lexical_declaration"):
            continue
        cuts.append((statement.start_byte, statement.end_byte))
    for start, end in reversed(cuts):
        data = data[:start] + data[end:]
    return _as_module(data.decode("utf-8", "replace"), hooks)


def _react_component_by_lines(body: str) -> str:
    hooks = {name.strip() for match in _REACT_GLOBAL.findall(body) for name in match.split(",") if name.strip()}
    body = _REACT_GLOBAL.sub("", body)
    return _as_module(_RENDER_CALL.sub("", _RENDER.sub("", body)), hooks)


def _as_module(body: str, hooks: set[str]) -> str:
    body = re.sub(r"\n[ \t]*(?=\n)", "\n", body)
    body = re.sub(r"\n{3,}", "\n\n", body).strip("\n") + "\n"
    imports = f'import {{ {", ".join(sorted(hooks))} }} from "react";\n\n' if hooks else ""
    return imports + body


def free_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, or ``stem-2``, ``stem-3``... if taken: a created file never overwrites."""
    path = folder / f"{stem}{suffix}"
    number = 2
    while path.exists():
        path = folder / f"{stem}-{number}{suffix}"
        number += 1
    return path


def whole_file_edit(path: Path, code: str) -> types.WorkspaceEdit:
    """A new file at ``path`` holding ``code``."""
    uri = from_fs_path(str(path)) or path.as_uri()
    start = types.Position(line=0, character=0)
    return types.WorkspaceEdit(
        document_changes=[
            types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False)),
            _edit(uri, None, [types.TextEdit(range=types.Range(start=start, end=start), new_text=code)]),
        ]
    )


@dataclass
class Hunk:
    old_start: int
    old_lines: list[str] = field(default_factory=list)
    new_lines: list[str] = field(default_factory=list)


@dataclass
class FilePatch:
    old: str | None
    new: str | None
    hunks: list[Hunk] = field(default_factory=list)


def _strip(name: str) -> str | None:
    name = name.split("\t", 1)[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def parse_diff(diff: str) -> list[FilePatch]:
    """A unified diff's files and hunks (``-p1`` names, as the sandbox applied it)."""
    patches: list[FilePatch] = []
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            patches.append(FilePatch(_strip(line[4:]), _strip(lines[i + 1][4:])))
            i += 2
            continue
        head = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", line)
        if head and patches:
            hunk = Hunk(int(head.group(1)))
            old_left = int(head.group(2) or 1)
            new_left = int(head.group(4) or 1)
            i += 1
            while i < len(lines) and (old_left > 0 or new_left > 0):
                body = lines[i]
                if body.startswith("\\"):
                    i += 1
                    continue
                tag, text = (body[:1], body[1:]) if body else (" ", "")
                if tag in (" ", "-"):
                    hunk.old_lines.append(text)
                    old_left -= 1
                if tag in (" ", "+"):
                    hunk.new_lines.append(text)
                    new_left -= 1
                i += 1
            patches[-1].hunks.append(hunk)
            continue
        i += 1
    return patches


def _locate(lines: list[str], hunk: Hunk) -> int:
    """The 0-based line where the hunk's old lines are, searched outward from where it says."""
    want = hunk.old_lines
    stated = max(hunk.old_start - 1, 0) if want else hunk.old_start
    for distance in range(len(lines) + 1):
        for at in {stated - distance, stated + distance}:
            if 0 <= at <= len(lines) - len(want) and lines[at : at + len(want)] == want:
                return at
    raise ValueError(f"a hunk at line {hunk.old_start} does not match the file any more")


def diff_edit(diff: str, root: Path, source_of: Callable[[Path], tuple[str, int | None] | None]) -> types.WorkspaceEdit:
    """The diff as edits over the workspace under ``root``: one text edit per hunk, at the hunk's lines
    in the file's current text (``source_of`` gives an open buffer's text and version, else None for
    the file on disk); new files are created, deleted ones deleted. ValueError if a file changed so that
    a hunk no longer matches."""
    changes: list[types.TextDocumentEdit | types.CreateFile | types.RenameFile | types.DeleteFile] = []
    root = root.resolve()
    for patch in parse_diff(diff):
        name = patch.new if patch.new is not None else patch.old
        if name is None:
            continue
        path = (root / name).resolve()
        if root not in path.parents:
            raise ValueError(f"the diff names {name}, outside the workspace")
        uri = from_fs_path(str(path)) or path.as_uri()
        if patch.old is None:
            text = "".join(line + "\n" for hunk in patch.hunks for line in hunk.new_lines)
            changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False)))
            start = types.Position(line=0, character=0)
            changes.append(_edit(uri, None, [types.TextEdit(range=types.Range(start=start, end=start), new_text=text)]))
            continue
        if patch.new is None:
            changes.append(types.DeleteFile(uri=uri))
            continue
        opened = source_of(path)
        text, version = opened if opened is not None else (path.read_text(encoding="utf-8"), None)
        lines = text.split("\n")
        edits = []
        for hunk in patch.hunks:
            at = _locate(lines, hunk)
            old_end = at + len(hunk.old_lines)
            new_text = "".join(line + "\n" for line in hunk.new_lines)
            rng = types.Range(start=types.Position(line=at, character=0), end=types.Position(line=old_end, character=0))
            edits.append(types.TextEdit(range=rng, new_text=new_text))
        changes.append(_edit(uri, version, edits))
    if not changes:
        raise ValueError("the diff touches no file")
    return types.WorkspaceEdit(document_changes=changes)
